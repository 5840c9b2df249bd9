"""Contract of the private compiled module ``bytewax._engine``.

Nothing here is public API: ``bytewax.testing``, ``bytewax.run`` and ``bytewax.plan`` wrap it.
"""

from typing import Any, Dict, List, Optional

PLAN_VERSION: int
"""The plan format version this engine reads."""

RECOVERY_FORMAT: int
"""The version of the binary format of Rust-held state in recovery snapshots."""

class PeerFailure(RuntimeError):
    """Another worker or process of the cluster failed first; its own error is reported
    where it ran."""

def run_main(
    plan_json: str,
    callables: Dict[str, Any],
    *,
    epoch_interval_s: float = 10.0,
    workers: int = 1,
    process_id: int = 0,
    addresses: Optional[List[str]] = None,
    connect_timeout_s: float = 60.0,
    recovery_db_dir: Optional[str] = None,
) -> None:
    """Run a JSON plan until every input is exhausted.

    ``callables`` maps each ``{"kind": "python", "ref": ...}`` reference of the plan to the
    Python object it names (functions, inputs, outputs). With ``workers == 1`` the flow runs in
    the calling thread; otherwise on that many threads while the caller waits. The GIL is
    released while Rust works and taken once per batch of items.

    With two or more ``addresses`` (``host:port`` of every process, in process order) this
    process is ``process_id`` of a cluster connected by TCP, running ``workers`` threads;
    it waits at most ``connect_timeout_s`` for the others to connect, and raises
    ``PeerFailure`` if another process fails first.

    With ``recovery_db_dir`` (an existing directory), worker ``i`` snapshots every epoch
    into ``recovery_db_dir/worker{i}.sqlite3`` and a run resumes from the last epoch every
    worker of the previous run committed, with any number of workers; ``RuntimeError``
    when the store cannot be read or written.

    Raises the user's own exception (with a note naming the step) when user code fails,
    ``TypeError`` (naming the step) when user code returns the wrong shape, ``ValueError``
    for an invalid plan and ``KeyboardInterrupt`` on Ctrl-C.
    """

def validate_plan(plan_json: str) -> str:
    """Parse and check a plan; return its canonical JSON.

    Raises ``ValueError`` whose message gives the JSON path and the step id.
    """
