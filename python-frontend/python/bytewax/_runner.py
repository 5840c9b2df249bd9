"""Running a `Dataflow` on the Rust engine: the functions behind `bytewax.testing` and
`python -m bytewax.run`."""

import json
from datetime import timedelta
from typing import Any, Iterable, Optional

from bytewax import _engine
from bytewax._compile import compile_flow

_DEFAULT_EPOCH_INTERVAL = timedelta(seconds=10)


def _epoch_seconds(epoch_interval: Optional[timedelta]) -> float:
    if epoch_interval is None:
        epoch_interval = _DEFAULT_EPOCH_INTERVAL
    if not isinstance(epoch_interval, timedelta):
        raise TypeError(f"epoch_interval must be a datetime.timedelta; got {type(epoch_interval).__name__}")
    return epoch_interval.total_seconds()


def _no_recovery_yet(recovery_config: Any) -> None:
    if recovery_config is not None:
        raise NotImplementedError("recovery (recovery_config) is not supported by this version yet")


def _run(flow: Any, epoch_interval: Optional[timedelta], workers: int) -> None:
    plan, callables = compile_flow(flow)
    _engine.run_main(json.dumps(plan), callables, epoch_interval_s=_epoch_seconds(epoch_interval), workers=workers)


def run_main(flow: Any, *, epoch_interval: Optional[timedelta] = None, recovery_config: Any = None) -> None:
    """Run `flow` on one worker in this thread until its inputs are exhausted."""
    _no_recovery_yet(recovery_config)
    _run(flow, epoch_interval, 1)


def cluster_main(
    flow: Any,
    addresses: Optional[Iterable[str]],
    proc_id: int,
    *,
    epoch_interval: Optional[timedelta] = None,
    recovery_config: Any = None,
    worker_count_per_proc: int = 1,
) -> None:
    """Run this process's share of `flow`. Without addresses, all workers are threads here."""
    _no_recovery_yet(recovery_config)
    addresses = list(addresses or [])
    if len(addresses) > 1:
        raise NotImplementedError("clusters of several processes (addresses) are not supported by this version yet")
    if worker_count_per_proc < 1:
        raise ValueError("worker_count_per_proc must be at least 1")
    _run(flow, epoch_interval, worker_count_per_proc)
