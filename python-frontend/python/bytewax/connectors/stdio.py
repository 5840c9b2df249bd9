"""Standard-stream outputs."""

from typing import Any

from bytewax.outputs import DynamicOutput, StatelessSink

__all__ = ["StdOutput"]


class _PrintSink(StatelessSink):
    """Prints each item on its own line."""

    def write(self, item: Any) -> None:
        print(item)


class StdOutput(DynamicOutput):
    """Print every item to standard output with `print(item)`.

    Each worker prints the items it holds as they arrive, so with several
    workers the order of lines across workers is not defined.
    """

    def build(self, worker_index: int, worker_count: int) -> _PrintSink:
        return _PrintSink()
