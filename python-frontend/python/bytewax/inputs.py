"""Base classes for dataflow inputs.

Subclass `PartitionedInput` for a source whose data is split into a fixed
set of named partitions that can be resumed from a snapshot (at-least-once
or exactly-once), or `DynamicInput` for a source that each worker reads
independently without resume state (at-most-once).

Sources are polled: `next()` must never block. It returns `None` when
nothing is available right now and raises `StopIteration` when the
partition or source is finished.
"""

from abc import ABC, abstractmethod
from typing import Any, Optional, Set

__all__ = [
    "DynamicInput",
    "Input",
    "PartitionedInput",
    "StatefulSource",
    "StatelessSource",
]


class Input(ABC):  # noqa: B024 - a marker base, deliberately without abstract methods
    """Common base of every input; subclass one of its two kinds instead."""

    def __json__(self):
        """Describe this input for the dataflow JSON view: its class name."""
        return {"type": type(self).__name__}


class StatefulSource(ABC):
    """Reader of one partition of a `PartitionedInput`, able to snapshot its position."""

    @abstractmethod
    def next(self) -> Optional[Any]:
        """Return the next item, `None` if none is ready yet; raise `StopIteration` at the end."""
        ...

    @abstractmethod
    def snapshot(self) -> Any:
        """Return a picklable position from which reading resumes after the last item returned.

        Called at the end of each epoch in which this partition emitted, and
        once at its end; never after `close`.
        """
        ...

    def close(self) -> None:
        """Release resources once the partition is finished (not called on a crash)."""
        pass


class PartitionedInput(Input):
    """Input made of a fixed set of named partitions, each resumable from a snapshot.

    The engine calls `list_parts` on every worker (it must give the same set
    everywhere), assigns each partition to exactly one worker, and calls
    `build_part` only on that worker with the partition's last snapshot.
    """

    @abstractmethod
    def list_parts(self) -> Set[str]:
        """Return the names of all partitions of this input."""
        ...

    @abstractmethod
    def build_part(self, for_part: str, resume_state: Optional[Any]) -> Optional[StatefulSource]:
        """Open partition `for_part`, resuming from `resume_state` (`None` = from the start).

        Returning `None` skips the partition.
        """
        ...


class StatelessSource(ABC):
    """Per-worker reader of a `DynamicInput`; it has no resume state."""

    @abstractmethod
    def next(self) -> Optional[Any]:
        """Return the next item, `None` if none is ready yet; raise `StopIteration` at the end."""
        ...

    def close(self) -> None:
        """Release resources once the source is finished (not called on a crash)."""
        pass


class DynamicInput(Input):
    """Input read independently by every worker, with no recovery of its position.

    The sources built for different workers must produce disjoint data.
    """

    @abstractmethod
    def build(self, worker_index: int, worker_count: int) -> StatelessSource:
        """Return the source for worker `worker_index` of `worker_count`; called once per worker."""
        ...
