"""The `Dataflow`: a blueprint of a streaming computation.

A dataflow is an ordered list of steps applied to one stream: start with
`input`, transform with the operator methods, end with `output`. Building
a dataflow runs nothing; hand it to `python -m bytewax.run` or
`bytewax.testing.run_main` to execute it.

Stateful steps (`reduce`, `stateful_map`, the window operators) need items
shaped as `(key, value)` 2-tuples with a `str` key; state is kept per key
and they emit `(key, result)`.
"""

from typing import Any, Callable, Dict, Iterable, List, Optional

from bytewax.inputs import Input
from bytewax.outputs import Output
from bytewax.window import ClockConfig, WindowConfig

__all__ = ["Dataflow"]


def _expect_callable(arg: str, value: Any) -> Any:
    if not callable(value):
        raise TypeError(f"argument '{arg}': '{type(value).__name__}' object is not callable")
    return value


def _expect_step_id(step_id: Any) -> str:
    if not isinstance(step_id, str):
        raise TypeError(
            f"argument 'step_id': '{type(step_id).__name__}' object cannot be converted to 'str'"
        )
    # A str subclass would leak into the plan and into pickles; keep the plain value.
    return str(step_id)


def _expect_config(arg: str, value: Any, base: type) -> Any:
    if not isinstance(value, base):
        raise TypeError(
            f"argument '{arg}': '{type(value).__name__}' object cannot be converted to "
            f"'{base.__name__}'"
        )
    return value


class Dataflow:
    """Blueprint of a dataflow: the ordered list of its steps.

    Each method appends one step and returns `None`. Callables are checked
    when the step is added; everything else about the items is checked when
    the dataflow runs. `steps` lists the steps as dicts (`{"type": ..., ...}`)
    holding the objects given.
    """

    def __init__(self):
        self._steps: List[Dict[str, Any]] = []

    @property
    def steps(self) -> List[Dict[str, Any]]:
        """The steps added so far, as a fresh list of fresh dicts (editing it changes nothing)."""
        return [dict(step) for step in self._steps]

    def _add(self, step_type: str, **fields: Any) -> None:
        self._steps.append({"type": step_type, **fields})

    def input(self, step_id: str, input: Input) -> None:  # noqa: A002 - 0.16 keyword name
        """Start the stream with the items of `input` (a `PartitionedInput` or `DynamicInput`).

        A later `input` starts a new stream; steps before it are left without
        output (there is no merge in this API version).
        """
        step_id = _expect_step_id(step_id)
        if not isinstance(input, Input):
            raise TypeError("argument 'input': input must subclass `bytewax.inputs.Input`")
        self._add("Input", step_id=step_id, input=input)

    def output(self, step_id: str, output: Output) -> None:
        """Write every item to `output`, and pass the items on unchanged."""
        step_id = _expect_step_id(step_id)
        if not isinstance(output, Output):
            raise TypeError("argument 'output': output must subclass `bytewax.outputs.Output`")
        self._add("Output", step_id=step_id, output=output)

    def map(self, mapper: Callable[[Any], Any]) -> None:
        """Replace each item by `mapper(item)`."""
        self._add("Map", mapper=_expect_callable("mapper", mapper))

    def flat_map(self, mapper: Callable[[Any], Iterable[Any]]) -> None:
        """Replace each item by all the elements of the iterable `mapper(item)`."""
        self._add("FlatMap", mapper=_expect_callable("mapper", mapper))

    def filter(self, predicate: Callable[[Any], bool]) -> None:
        """Keep only the items for which `predicate(item)` returns `True` (a real `bool`)."""
        self._add("Filter", predicate=_expect_callable("predicate", predicate))

    def filter_map(self, mapper: Callable[[Any], Optional[Any]]) -> None:
        """Replace each item by `mapper(item)`, dropping it when that is `None`."""
        self._add("FilterMap", mapper=_expect_callable("mapper", mapper))

    def inspect(self, inspector: Callable[[Any], None]) -> None:
        """Call `inspector(item)` on each item for its side effect; items pass unchanged."""
        self._add("Inspect", inspector=_expect_callable("inspector", inspector))

    def inspect_epoch(self, inspector: Callable[[int, Any], None]) -> None:
        """Call `inspector(epoch, item)` on each item; items pass unchanged."""
        self._add("InspectEpoch", inspector=_expect_callable("inspector", inspector))

    def reduce(
        self,
        step_id: str,
        reducer: Callable[[Any, Any], Any],
        is_complete: Callable[[Any], bool],
    ) -> None:
        """Combine the values of each key with `reducer(acc, value)` until `is_complete(acc)`.

        The first value of a key is its initial accumulator. After every value
        `is_complete(acc)` (a real `bool`) is asked; when `True`, `(key, acc)`
        is emitted and the key starts over. Incomplete accumulators are not
        emitted at the end of input.
        """
        self._add(
            "Reduce",
            step_id=_expect_step_id(step_id),
            reducer=_expect_callable("reducer", reducer),
            is_complete=_expect_callable("is_complete", is_complete),
        )

    def stateful_map(
        self,
        step_id: str,
        builder: Callable[[], Any],
        mapper: Callable[[Any, Any], Any],
    ) -> None:
        """Map each value with per-key state: `mapper(state, value) -> (new_state, out)`.

        `builder()` (called with no arguments) makes the state for a new key.
        Emits `(key, out)`; a `new_state` of `None` forgets the key.
        """
        self._add(
            "StatefulMap",
            step_id=_expect_step_id(step_id),
            builder=_expect_callable("builder", builder),
            mapper=_expect_callable("mapper", mapper),
        )

    def reduce_window(
        self,
        step_id: str,
        clock_config: ClockConfig,
        window_config: WindowConfig,
        reducer: Callable[[Any, Any], Any],
    ) -> None:
        """Combine the values of each key and window with `reducer(acc, value)`.

        Emits `(key, acc)` once per window when it closes.
        """
        self._add(
            "ReduceWindow",
            step_id=_expect_step_id(step_id),
            clock_config=_expect_config("clock_config", clock_config, ClockConfig),
            window_config=_expect_config("window_config", window_config, WindowConfig),
            reducer=_expect_callable("reducer", reducer),
        )

    def fold_window(
        self,
        step_id: str,
        clock_config: ClockConfig,
        window_config: WindowConfig,
        builder: Callable[[], Any],
        folder: Callable[[Any, Any], Any],
    ) -> None:
        """Fold the values of each key and window into `builder()` with `folder(acc, value)`.

        `builder` is called with no arguments. Emits `(key, acc)` once per
        window when it closes.
        """
        self._add(
            "FoldWindow",
            step_id=_expect_step_id(step_id),
            clock_config=_expect_config("clock_config", clock_config, ClockConfig),
            window_config=_expect_config("window_config", window_config, WindowConfig),
            builder=_expect_callable("builder", builder),
            folder=_expect_callable("folder", folder),
        )

    def collect_window(
        self,
        step_id: str,
        clock_config: ClockConfig,
        window_config: WindowConfig,
    ) -> None:
        """Emit `(key, [values...])` per key and window, values in clock-time order."""
        self._add(
            "CollectWindow",
            step_id=_expect_step_id(step_id),
            clock_config=_expect_config("clock_config", clock_config, ClockConfig),
            window_config=_expect_config("window_config", window_config, WindowConfig),
        )

    def __getstate__(self) -> Dict[str, Any]:
        return {"type": "Dataflow", "steps": self.steps}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        steps = state.get("steps") if isinstance(state, dict) else None
        if not isinstance(steps, (list, tuple)) or not all(
            isinstance(step, dict) and "type" in step for step in steps
        ):
            raise TypeError(
                f"error unpickling Dataflow steps: expected a list of step dicts, got {steps!r}"
            )
        self._steps = [dict(step) for step in steps]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dataflow):
            return NotImplemented
        return self._steps == other._steps

    # Mutable, compared by content: like a list, not hashable.
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = []
        for step in self._steps:
            label = step["type"]
            if "step_id" in step:
                label += f" {step['step_id']!r}"
            parts.append(label)
        return f"<Dataflow steps=[{', '.join(parts)}]>"
