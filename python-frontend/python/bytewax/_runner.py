"""Running a `Dataflow` on the Rust engine: the functions behind `bytewax.testing` and
`python -m bytewax.run`."""

import json
import os
from datetime import timedelta
from typing import Any, Iterable, List, Optional

from bytewax import _engine
from bytewax._compile import compile_flow
from bytewax.recovery import KafkaRecoveryConfig, RecoveryConfig, SqliteRecoveryConfig

_DEFAULT_EPOCH_INTERVAL = timedelta(seconds=10)


def _epoch_seconds(epoch_interval: Optional[timedelta]) -> float:
    if epoch_interval is None:
        epoch_interval = _DEFAULT_EPOCH_INTERVAL
    if not isinstance(epoch_interval, timedelta):
        raise TypeError(f"epoch_interval must be a datetime.timedelta; got {type(epoch_interval).__name__}")
    return epoch_interval.total_seconds()


def _recovery_db_dir(recovery_config: Any) -> Optional[str]:
    """The SQLite directory the engine should write snapshots to, or `None` without recovery.

    Checked here, before any worker starts, so that a mistake is one clear error
    rather than one per worker: `KafkaRecoveryConfig` is `NotImplementedError`,
    anything but a `SqliteRecoveryConfig` a `TypeError`, and a directory that
    does not exist a `RuntimeError` naming it (Bytewax 0.16 raised a
    `RuntimeError` too, saying only that SQLite could not open the database).
    """
    if recovery_config is None:
        return None
    if isinstance(recovery_config, KafkaRecoveryConfig):
        raise NotImplementedError(
            "KafkaRecoveryConfig is not supported (Kafka recovery was deprecated in "
            "Bytewax 0.16 and removed in 0.17); use SqliteRecoveryConfig(db_dir) instead"
        )
    if not isinstance(recovery_config, RecoveryConfig):
        raise TypeError(
            f"argument 'recovery_config': '{type(recovery_config).__name__}' object "
            "cannot be converted to 'RecoveryConfig'"
        )
    if not isinstance(recovery_config, SqliteRecoveryConfig):
        raise TypeError(
            f"argument 'recovery_config': unknown recovery config type "
            f"'{type(recovery_config).__name__}'; use SqliteRecoveryConfig(db_dir)"
        )
    db_dir = recovery_config.db_dir
    if not db_dir.exists():
        raise RuntimeError(
            f"recovery directory '{db_dir}' does not exist; create it before running "
            "the dataflow (SqliteRecoveryConfig keeps worker{i}.sqlite3 files in it)"
        )
    if not db_dir.is_dir():
        raise RuntimeError(f"recovery directory '{db_dir}' is not a directory")
    try:
        _engine.RECOVERY_FORMAT
    except AttributeError:
        # A source checkout whose compiled engine predates recovery.
        raise NotImplementedError(
            "this build of bytewax._engine cannot recover; rebuild the package"
        ) from None
    return str(db_dir)


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
    recovery_db_dir: Optional[str] = None,
) -> None:
    plan, callables = compile_flow(flow)
    # Passed only when set, so that runs without recovery need nothing new of the engine.
    recovery = {} if recovery_db_dir is None else {"recovery_db_dir": recovery_db_dir}
    _engine.run_main(
        json.dumps(plan),
        callables,
        epoch_interval_s=_epoch_seconds(epoch_interval),
        workers=workers,
        process_id=process_id,
        addresses=addresses,
        connect_timeout_s=_connect_timeout_s(),
        **recovery,
    )


def run_main(flow: Any, *, epoch_interval: Optional[timedelta] = None, recovery_config: Any = None) -> None:
    """Run `flow` on one worker in this thread until its inputs are exhausted.

    With a `SqliteRecoveryConfig`, each epoch's snapshots are written to its
    directory and a rerun resumes from the last epoch that was completed.
    """
    db_dir = _recovery_db_dir(recovery_config)
    _run(flow, epoch_interval, 1, recovery_db_dir=db_dir)


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

    With a `SqliteRecoveryConfig`, worker `i` of the cluster keeps its
    snapshots in `db_dir/worker{i}.sqlite3`; a rerun with any number of
    processes and workers resumes from the files of the previous run.
    """
    db_dir = _recovery_db_dir(recovery_config)
    addresses = list(addresses or [])
    if worker_count_per_proc < 1:
        raise ValueError("worker_count_per_proc must be at least 1")
    if len(addresses) > 1 and not 0 <= proc_id < len(addresses):
        raise ValueError(f"proc_id must be between 0 and {len(addresses) - 1} for {len(addresses)} addresses; got {proc_id}")
    _run(
        flow,
        epoch_interval,
        worker_count_per_proc,
        proc_id,
        addresses if len(addresses) > 1 else None,
        recovery_db_dir=db_dir,
    )
