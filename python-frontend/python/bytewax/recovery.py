"""Recovery configurations: where a dataflow keeps its state snapshots.

With recovery enabled, the end of every epoch writes what changed in it (the
state of each key a stateful step touched, each input partition's position,
each partitioned output's position) to a store. A rerun resumes from the last
epoch that every worker completed: inputs continue from their positions,
stateful steps from their states, and `FileOutput` cuts its file back to the
matching size. Only the epoch that was in flight at a crash is processed
again, so outputs are at-least-once (exactly-once for files). A rerun of a
finished dataflow continues where it ended: only new input is processed.

Pass a config as `recovery_config=` to `bytewax.testing.run_main` or
`cluster_main`, or use `--sqlite-directory` with `python -m bytewax.run`;
`epoch_interval` (`--epoch-interval`) sets how often snapshots are taken.
A store written by one number of processes and workers can be resumed by
any other number.
"""

import os
from pathlib import Path
from typing import Any, Dict, Iterable, Union

from bytewax.window import _SettingsConfig

__all__ = [
    "KafkaRecoveryConfig",
    "RecoveryConfig",
    "SqliteRecoveryConfig",
]


class RecoveryConfig(_SettingsConfig):
    """Base class of recovery configurations; use one of its subclasses."""


class SqliteRecoveryConfig(RecoveryConfig):
    """Keep recovery data in SQLite files, one per worker, inside `db_dir`.

    Worker `i` uses `db_dir/worker{i}.sqlite3`. The directory must exist
    (running without it is a `RuntimeError` naming it); the files and their
    tables are created on first use. Delete the files to start over from
    scratch. `db_dir` is available as a `pathlib.Path`.
    """

    _FIELDS = ("db_dir",)

    def __init__(self, db_dir: Union[str, "os.PathLike[str]"]):
        if not isinstance(db_dir, (str, os.PathLike)):
            raise TypeError(
                f"argument 'db_dir': '{type(db_dir).__name__}' object cannot be converted to 'Path'"
            )
        self._set_fields(db_dir=Path(db_dir))

    def __getstate__(self) -> Dict[str, Any]:
        # A plain string keeps the state JSON-encodable, as in Bytewax 0.16.
        return {"type": type(self).__name__, "db_dir": str(self.db_dir)}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        super().__setstate__(state)
        self._set_fields(db_dir=Path(self.db_dir))


class KafkaRecoveryConfig(RecoveryConfig):
    """Keep recovery data in the Kafka topics `{topic_prefix}-progress` and `{topic_prefix}-state`.

    Deprecated since Bytewax 0.16 (removed in 0.17) and not supported here:
    running with it raises `NotImplementedError`. Use `SqliteRecoveryConfig`.
    """

    _FIELDS = ("brokers", "topic_prefix")

    def __init__(self, brokers: Iterable[str], topic_prefix: str):
        # A bare string is iterable but is never a list of brokers.
        if isinstance(brokers, str) or not _is_iterable(brokers):
            raise TypeError(
                f"argument 'brokers': expected a list of 'host:port' strings, "
                f"got '{type(brokers).__name__}'"
            )
        brokers = list(brokers)
        for broker in brokers:
            if not isinstance(broker, str):
                raise TypeError(
                    f"argument 'brokers': each broker must be a str, got '{type(broker).__name__}'"
                )
        if not isinstance(topic_prefix, str):
            raise TypeError(
                f"argument 'topic_prefix': '{type(topic_prefix).__name__}' object "
                "cannot be converted to 'str'"
            )
        self._set_fields(brokers=brokers, topic_prefix=topic_prefix)


def _is_iterable(value: Any) -> bool:
    try:
        iter(value)
    except TypeError:
        return False
    return True
