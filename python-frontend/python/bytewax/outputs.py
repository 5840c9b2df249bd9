"""Base classes for dataflow outputs.

Subclass `PartitionedOutput` for a destination split into a fixed set of
named partitions whose write position is snapshotted (writes happen when an
epoch closes, so a sink that can truncate or seek gets exactly-once), or
`DynamicOutput` for a destination every worker writes to directly as items
arrive (at-least-once).

An output step passes its items on downstream unchanged, so several outputs
can follow each other.
"""

from abc import ABC, abstractmethod
from typing import Any, Optional, Set

__all__ = [
    "DynamicOutput",
    "Output",
    "PartitionedOutput",
    "StatefulSink",
    "StatelessSink",
]


class Output(ABC):  # noqa: B024 - a marker base, deliberately without abstract methods
    """Common base of every output; subclass one of its two kinds instead."""

    def __json__(self):
        """Describe this output for the dataflow JSON view: its class name."""
        return {"type": type(self).__name__}


class StatefulSink(ABC):
    """Writer of one partition of a `PartitionedOutput`, able to snapshot its position."""

    @abstractmethod
    def write(self, value: Any) -> None:
        """Write one value (the value part of a `(key, value)` item)."""
        ...

    @abstractmethod
    def snapshot(self) -> Any:
        """Return a picklable position from which writing resumes after the last written value."""
        ...

    def close(self) -> None:
        """Release resources when the dataflow completes (not called on a crash)."""
        pass


class PartitionedOutput(Output):
    """Output made of a fixed set of named partitions, each with a resumable sink.

    Items must be `(key, value)` 2-tuples. `assign_part(key)` picks the
    partition; the item travels to the worker owning that partition and its
    value is written there when the epoch closes.
    """

    @abstractmethod
    def list_parts(self) -> Set[str]:
        """Return the names of all partitions; the same set on every worker."""
        ...

    @abstractmethod
    def assign_part(self, item_key: str) -> str:
        """Return the partition an item with key `item_key` goes to.

        Must give the same answer in every process and every run, so do not
        use the randomised built-in `hash()`.
        """
        ...

    @abstractmethod
    def build_part(self, for_part: str, resume_state: Optional[Any]) -> Optional[StatefulSink]:
        """Open partition `for_part`, resuming from `resume_state` (`None` = fresh start)."""
        ...


class StatelessSink(ABC):
    """Per-worker writer of a `DynamicOutput`."""

    @abstractmethod
    def write(self, item: Any) -> None:
        """Write one item as soon as it arrives on this worker."""
        ...

    def close(self) -> None:
        """Release resources when the dataflow completes (not called on a crash)."""
        pass


class DynamicOutput(Output):
    """Output every worker writes to directly, with no partitioning or resume state."""

    @abstractmethod
    def build(self, worker_index: int, worker_count: int) -> StatelessSink:
        """Return the sink for worker `worker_index` of `worker_count`; called once per worker."""
        ...
