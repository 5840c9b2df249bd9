"""The JSON view of a `Dataflow` served by the dataflow API (same text as Bytewax 0.16).

Only names are kept of the code a flow holds: a step function becomes its
`__name__` (`"<lambda>"` for a lambda, `"split"` for `str.split`), a class
its `__qualname__`, an input or output `{"type": ClassName}`. The dataflow
and the window, clock and recovery configs become their `__getstate__()`
dicts; datetimes their ISO 8601 text and timedeltas their `str()`
(`"0:00:05"`).
"""

import json
from datetime import date, timedelta
from typing import Any

__all__ = ["DataflowEncoder", "encode_dataflow"]


class DataflowEncoder(json.JSONEncoder):
    """`json.JSONEncoder` that knows dataflows, their steps, configs and connectors."""

    def default(self, obj: Any) -> Any:
        """Return a JSON-encodable stand-in for `obj`, or raise `TypeError`."""
        if isinstance(obj, type):
            return obj.__qualname__
        to_json = getattr(obj, "__json__", None)
        if to_json is not None:
            return to_json()
        # Functions, C functions and methods, bound methods and decorator
        # wrappers all carry a `__name__`. Checked before `__getstate__`:
        # since Python 3.11 every object has one, and a decorated function
        # would show as its `__dict__`.
        name = getattr(obj, "__name__", None)
        if callable(obj) and isinstance(name, str):
            return name
        get_state = getattr(obj, "__getstate__", None)
        if get_state is not None:
            state = get_state()
            if state is not None:
                return state
        if isinstance(obj, date):
            return obj.isoformat()
        if isinstance(obj, timedelta):
            return str(obj)
        try:
            return super().default(obj)
        except TypeError as error:
            raise TypeError(f"{obj} can not be JSON encoded: {error}") from error


def encode_dataflow(flow) -> str:
    """The JSON text of `flow`, with keys sorted as the API serves it."""
    return json.dumps(flow, cls=DataflowEncoder, sort_keys=True)
