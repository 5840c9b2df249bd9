"""Running a `Dataflow` on the Rust engine: the functions behind `bytewax.testing` and
`python -m bytewax.run`."""

import json
import os
from datetime import timedelta
from typing import Any, Iterable, List, Optional

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


_CONNECT_TIMEOUT_ENV = "BYTEWAX_CLUSTER_CONNECT_TIMEOUT"
_DEFAULT_CONNECT_TIMEOUT_S = 60.0


def _connect_timeout_s() -> float:
    """How long a cluster process waits for the others: `BYTEWAX_CLUSTER_CONNECT_TIMEOUT`
    seconds, 60 by default."""
    text = os.environ.get(_CONNECT_TIMEOUT_ENV)
    if text is None:
        return _DEFAULT_CONNECT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{_CONNECT_TIMEOUT_ENV} must be a positive number of seconds; got {text!r}")
    return value


def _run(
    flow: Any,
    epoch_interval: Optional[timedelta],
    workers: int,
    process_id: int = 0,
    addresses: Optional[List[str]] = None,
) -> None:
    plan, callables = compile_flow(flow)
    _engine.run_main(
        json.dumps(plan),
        callables,
        epoch_interval_s=_epoch_seconds(epoch_interval),
        workers=workers,
        process_id=process_id,
        addresses=addresses,
        connect_timeout_s=_connect_timeout_s(),
    )


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
    """Run this process's share of `flow` in a cluster of processes.

    `addresses` lists every process's `host:port`, in process order; this process is
    `proc_id` among them and listens on its own address. Each process runs
    `worker_count_per_proc` worker threads. Without addresses (or with one), all
    workers are threads of this process. Waits for the other processes for
    `BYTEWAX_CLUSTER_CONNECT_TIMEOUT` seconds (60 by default). Raises
    `bytewax._engine.PeerFailure` when another process failed first.
    """
    _no_recovery_yet(recovery_config)
    addresses = list(addresses or [])
    if worker_count_per_proc < 1:
        raise ValueError("worker_count_per_proc must be at least 1")
    if len(addresses) > 1 and not 0 <= proc_id < len(addresses):
        raise ValueError(f"proc_id must be between 0 and {len(addresses) - 1} for {len(addresses)} addresses; got {proc_id}")
    _run(flow, epoch_interval, worker_count_per_proc, proc_id, addresses if len(addresses) > 1 else None)
