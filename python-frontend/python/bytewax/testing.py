"""Helpers for running and testing dataflows in-process.

`TestingInput` feeds a Python iterable into a dataflow, `TestingOutput`
collects what reaches it into a list, `run_main` / `cluster_main` run a
dataflow inside the calling process, and `poll_next` pulls one item from a
source in unit tests of custom inputs.
"""

import itertools
import time
from datetime import timedelta
from typing import Any, Iterable, List, Optional

from bytewax.inputs import PartitionedInput, StatefulSource
from bytewax.outputs import DynamicOutput, StatelessSink

__all__ = [
    "run_main",
    "cluster_main",
    "poll_next",
    "TestingInput",
    "TestingOutput",
]


def run_main(flow, *, epoch_interval=None, recovery_config=None):
    """Run `flow` on one worker in the calling thread until all inputs end.

    `epoch_interval` is a `datetime.timedelta` (default 10 seconds);
    `recovery_config` a `bytewax.recovery.RecoveryConfig` (default: none).
    An exception raised in a step is re-raised here with its original type.
    """
    # Imported on call so this module (and TestingInput/TestingOutput) can be
    # used without the compiled engine.
    from bytewax._runner import run_main as engine_run_main

    return engine_run_main(
        flow, epoch_interval=epoch_interval, recovery_config=recovery_config
    )


def cluster_main(
    flow,
    addresses,
    proc_id,
    *,
    epoch_interval=None,
    recovery_config=None,
    worker_count_per_proc=1,
):
    """Run this process's share of `flow` in a cluster and wait for it to finish.

    With `addresses` empty or `None`, all `worker_count_per_proc` workers are
    threads of this process. Otherwise `addresses` lists every process's
    `"host:port"` and this one is `addresses[proc_id]`.
    """
    from bytewax._runner import cluster_main as engine_cluster_main

    return engine_cluster_main(
        flow,
        addresses,
        proc_id,
        epoch_interval=epoch_interval,
        recovery_config=recovery_config,
        worker_count_per_proc=worker_count_per_proc,
    )


class _IterSource(StatefulSource):
    """Emits an iterator's items; the snapshot is the index of the last item emitted."""

    def __init__(self, it: Iterable[Any], resume_state: Optional[int]):
        self._last_index = -1 if resume_state is None else resume_state
        self._it = itertools.islice(it, self._last_index + 1, None)

    def next(self) -> Optional[Any]:
        item = next(self._it)
        self._last_index += 1
        return item

    def snapshot(self) -> int:
        return self._last_index


class TestingInput(PartitionedInput):
    """Input emitting the items of `it`, in order, from a single partition `"iter"`.

    On resume the items up to the snapshotted index are skipped, so `it`
    must give the same items again (a list or range, not a generator). With
    several processes every process must be given the same iterable; only
    one worker reads it.
    """

    __test__ = False

    def __init__(self, it: Iterable[Any]):
        self._it = it

    def list_parts(self):
        return {"iter"}

    def build_part(self, for_part: str, resume_state: Optional[int]) -> _IterSource:
        if for_part != "iter":
            raise ValueError(f"TestingInput has only the partition 'iter', not {for_part!r}")
        return _IterSource(self._it, resume_state)


class _ListSink(StatelessSink):
    """Appends each item to a list."""

    def __init__(self, ls: List[Any]):
        self._ls = ls

    def write(self, item: Any) -> None:
        self._ls.append(item)


class TestingOutput(DynamicOutput):
    """Output appending every item that reaches it to the list `ls`.

    Worker threads of one process share the list; other processes append to
    their own copy. The list is not cleared between runs.
    """

    __test__ = False

    def __init__(self, ls: List[Any]):
        self._ls = ls

    def build(self, worker_index: int, worker_count: int) -> _ListSink:
        return _ListSink(self._ls)


def poll_next(source: StatefulSource, timeout: timedelta = timedelta(seconds=5)) -> Any:
    """Call `source.next()` until it returns something other than `None`, and return that.

    Raises `TimeoutError` after `timeout`; `StopIteration` from the source
    passes through.
    """
    deadline = time.monotonic() + timeout.total_seconds()
    while True:
        item = source.next()
        if item is not None:
            return item
        if time.monotonic() >= deadline:
            raise TimeoutError()
        # Sources must not block, so pause briefly rather than spin a core.
        time.sleep(0.001)
