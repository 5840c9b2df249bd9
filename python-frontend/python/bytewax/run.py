"""Run a dataflow from the command line: `python -m bytewax.run module:flow`.

The import string names where the `Dataflow` lives:

- `module` or `module:name`: a variable of an importable module (the name
  defaults to `flow`);
- `path/to/file.py[:name]`: a file; enclosing packages (directories with an
  `__init__.py`) become part of the module name;
- `module:make_flow('data.txt', n=3)`: a function called with Python literal
  arguments that returns the dataflow. A bare function name is called with
  no arguments.

Every option can also be given by an environment variable (see `--help`).
`-w N` runs N worker threads in this process; `-p N` starts N local processes
(on free loopback ports); `-i I -a "host:port;..."` runs process I of a
cluster spanning several machines. `--sqlite-directory DIR` turns on
recovery: snapshots go to SQLite files in DIR (which must exist) at the end
of every epoch (`--epoch-interval` seconds), and a rerun resumes from them,
with any number of processes and workers.
"""

import argparse
import contextlib
import os
import sys
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, List, Optional

__all__ = ["cli_main"]

_PROG = "python -m bytewax.run"
_DEFAULT_EPOCH_SECONDS = 10
_INTERRUPT_MESSAGE = "interrupt signal received, all processes have been shut down"
# Exit status of argparse errors; refused options use it too.
_USAGE_ERROR = 2


def __getattr__(name: str) -> Any:
    # Bytewax 0.16 had these here; imported on first use, since a `-p` parent never needs
    # them (they pull in `inspect` and `ast`).
    if name in ("_locate_dataflow", "_prepare_import"):
        from bytewax import _import_str

        return getattr(_import_str, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _epoch_interval_timedelta(epoch_interval: Optional[float]) -> timedelta:
    if epoch_interval is None:
        return timedelta(seconds=_DEFAULT_EPOCH_SECONDS)
    if isinstance(epoch_interval, bool) or not isinstance(epoch_interval, (int, float)):
        raise TypeError(
            f"argument 'epoch_interval': must be real number, not {type(epoch_interval).__name__}"
        )
    if epoch_interval < 0:
        raise ValueError(f"epoch_interval must not be negative; got {epoch_interval}")
    return timedelta(seconds=epoch_interval)


def cli_main(
    flow,
    *,
    processes: Optional[int] = 1,
    workers_per_process: Optional[int] = 1,
    process_id: Optional[int] = None,
    addresses: Optional[List[str]] = None,
    epoch_interval: Optional[float] = None,
    recovery_config: Any = None,
) -> None:
    """Run `flow` as `python -m bytewax.run` does; `epoch_interval` is in seconds.

    One process with `workers_per_process` threads; with `processes` above 1,
    that many local processes running this same command; with `addresses`,
    process `process_id` of that cluster. Starts the dataflow API server for
    the length of the run when `BYTEWAX_DATAFLOW_API_ENABLED` is set (in the
    process that was started by hand, not in the ones it starts).
    `recovery_config` (a `SqliteRecoveryConfig`) is checked before anything
    starts and reaches every process.
    """
    _run(
        lambda: flow,
        processes=processes,
        workers_per_process=workers_per_process,
        process_id=process_id,
        addresses=addresses,
        epoch_interval=epoch_interval,
        recovery_config=recovery_config,
    )


def _run(
    get_flow: Callable[[], Any],
    *,
    processes: Optional[int],
    workers_per_process: Optional[int],
    process_id: Optional[int],
    addresses: Optional[List[str]],
    epoch_interval: Optional[float],
    recovery_config: Any,
) -> None:
    """`cli_main` with the flow fetched by `get_flow` only where it is needed: the parent
    of `-p N` leaves importing it to its children (unless it serves the dataflow API), so
    they start at once instead of after the parent's own import."""
    from bytewax import _cluster

    if processes is not None and (process_id is not None or addresses is not None):
        raise RuntimeError("Can't specify both 'processes' and 'process_id/addresses'")
    for name, count in (("processes", processes), ("workers_per_process", workers_per_process)):
        if count is not None and count < 1:
            raise ValueError(f"{name} must be at least 1; got {count}")
    interval = _epoch_interval_timedelta(epoch_interval)
    if recovery_config is not None:
        # Imported on need: it loads the engine, which a `-p` parent never uses.
        from bytewax._runner import _recovery_db_dir

        # Before any process starts: a bad config is one error, not one per process.
        _recovery_db_dir(recovery_config)
    workers = workers_per_process or 1
    child_id = os.environ.get(_cluster.CHILD_PROCESS_ID)
    if child_id is not None:
        # Started by a parent's `-p`: this process's share, nothing else.
        _cluster.die_with_parent()
        flow = _cluster.child_flow(get_flow, int(child_id))
        child_addresses = os.environ[_cluster.CHILD_ADDRESSES].split(";")
        _run_cluster_member(
            flow, child_addresses, int(child_id), workers, interval, recovery_config, quiet=True
        )
        return

    starts_children = addresses is None and processes is not None and processes > 1
    serving = "BYTEWAX_DATAFLOW_API_ENABLED" in os.environ
    flow = get_flow() if serving or not starts_children else None
    if serving:
        from bytewax._api_server import serve_dataflow_api_if_enabled

        api = serve_dataflow_api_if_enabled(flow)
    else:
        api = contextlib.nullcontext()
    try:
        with api:
            if starts_children:
                def child_main() -> None:
                    # In a child, whose environment names its process: its share only.
                    _run(get_flow, processes=processes, workers_per_process=workers_per_process,
                         process_id=None, addresses=None, epoch_interval=epoch_interval,
                         recovery_config=recovery_config)

                status = _cluster.run_local_cluster(processes, _INTERRUPT_MESSAGE, child_main)
                if status != 0:
                    sys.exit(status)
                return
            from bytewax._runner import cluster_main, run_main

            if addresses is not None:
                _run_cluster_member(
                    flow, addresses, process_id or 0, workers, interval, recovery_config, quiet=False
                )
            elif workers > 1:
                cluster_main(
                    flow,
                    None,
                    0,
                    epoch_interval=interval,
                    recovery_config=recovery_config,
                    worker_count_per_proc=workers,
                )
            else:
                run_main(flow, epoch_interval=interval, recovery_config=recovery_config)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(_INTERRUPT_MESSAGE) from None


def _run_cluster_member(
    flow,
    addresses: List[str],
    process_id: int,
    workers: int,
    interval: timedelta,
    recovery_config: Any,
    quiet: bool,
) -> None:
    """Runs one process of a cluster. When another process failed first, its error is
    reported there: this one exits with `PEER_FAILED_STATUS`, silently when its parent
    (`-p`) reports for the cluster, else with one line on stderr."""
    from bytewax._cluster import PEER_FAILED_STATUS
    from bytewax._engine import PeerFailure
    from bytewax._runner import cluster_main

    try:
        cluster_main(
            flow,
            addresses,
            process_id,
            epoch_interval=interval,
            recovery_config=recovery_config,
            worker_count_per_proc=workers,
        )
    except PeerFailure as failure:
        if not quiet:
            print(f"{_PROG}: process {process_id}: {failure}", file=sys.stderr)
        sys.exit(PEER_FAILED_STATUS)
    except ConnectionError as failure:
        # The cluster never formed: a problem of setup, said in one line.
        print(f"{_PROG}: error: {failure}", file=sys.stderr)
        sys.exit(1)


def _env_default(name: str, fallback: Any = None) -> Any:
    # argparse converts a string default with the option's `type`, so a bad
    # environment value is reported like a bad flag value.
    return os.environ.get(name, fallback)


def _create_arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=_PROG, description="Run a Bytewax dataflow")
    parser.add_argument(
        "import_str",
        type=str,
        help="Where to find the dataflow, as <module_name>:<dataflow_variable_or_factory>; "
        "for example src.dataflow:flow or src.dataflow:get_flow('string_argument')",
    )
    scaling = parser.add_argument_group(
        "Scaling",
        "Use '-p' to start several processes on this machine, or '-i/-a' to start "
        "one process of a cluster that spans several machines",
    )
    scaling.add_argument(
        "-p",
        "--processes",
        type=int,
        default=_env_default("BYTEWAX_PROCESSES"),
        help="How many processes to start [env: BYTEWAX_PROCESSES]",
    )
    scaling.add_argument(
        "-w",
        "--workers-per-process",
        type=int,
        default=_env_default("BYTEWAX_WORKERS_PER_PROCESS"),
        help="How many worker threads each process runs [env: BYTEWAX_WORKERS_PER_PROCESS]",
    )
    scaling.add_argument(
        "-i",
        "--process-id",
        type=int,
        default=_env_default("BYTEWAX_PROCESS_ID"),
        help="Index of this process in the cluster [env: BYTEWAX_PROCESS_ID]",
    )
    scaling.add_argument(
        "-a",
        "--addresses",
        type=str,
        default=_env_default("BYTEWAX_ADDRESSES"),
        help="Addresses of all the cluster's processes, joined by semicolons: "
        '-a "localhost:2021;localhost:2022;localhost:2023" [env: BYTEWAX_ADDRESSES]',
    )
    recovery = parser.add_argument_group("Recovery")
    recovery.add_argument(
        "--sqlite-directory",
        type=Path,
        default=_env_default("BYTEWAX_SQLITE_DIRECTORY"),
        help="Turn on SQLite recovery, keeping its files in this directory "
        "[env: BYTEWAX_SQLITE_DIRECTORY]",
    )
    recovery.add_argument(
        "--epoch-interval",
        type=int,
        default=_env_default("BYTEWAX_EPOCH_INTERVAL", _DEFAULT_EPOCH_SECONDS),
        help="Seconds between state snapshots [env: BYTEWAX_EPOCH_INTERVAL]",
    )
    return parser


def _process_id_from_pod_name(parser: argparse.ArgumentParser) -> Optional[int]:
    """The StatefulSet ordinal of this Kubernetes pod, when both env variables are set."""
    pod_name = os.environ.get("BYTEWAX_POD_NAME")
    set_name = os.environ.get("BYTEWAX_STATEFULSET_NAME")
    if pod_name is None or set_name is None:
        return None
    prefix = f"{set_name}-"
    ordinal = pod_name[len(prefix) :] if pod_name.startswith(prefix) else pod_name
    try:
        return int(ordinal)
    except ValueError:
        parser.error(
            f"can not get a process id from BYTEWAX_POD_NAME={pod_name!r}: "
            f"expected '{prefix}<number>' (BYTEWAX_STATEFULSET_NAME={set_name!r})"
        )


def _addresses_from_hostfile(parser: argparse.ArgumentParser, hostfile: str) -> str:
    """The non-blank lines of the hostfile, joined as an `-a` value."""
    try:
        with open(hostfile) as lines:
            hosts = [line.strip() for line in lines if line.strip()]
    except OSError as error:
        parser.error(f"can not read BYTEWAX_HOSTFILE_PATH {hostfile!r}: {error.strerror}")
    return ";".join(hosts)


def _parse_args() -> argparse.Namespace:
    """Parse `sys.argv` with environment defaults, as Bytewax 0.16 does.

    Fills the process id from a Kubernetes StatefulSet pod name and the
    addresses from `BYTEWAX_HOSTFILE_PATH` when they are missing, drops
    `-p` (with a `UserWarning`) when `-i/-a` is given, and resolves
    `import_str` to `module:attr` (which may extend `sys.path`).
    """
    parser = _create_arg_parser()
    args = parser.parse_args()

    if args.process_id is None:
        args.process_id = _process_id_from_pod_name(parser)
    hostfile = os.environ.get("BYTEWAX_HOSTFILE_PATH")
    if args.process_id is not None and args.addresses is None and hostfile is not None:
        args.addresses = _addresses_from_hostfile(parser, hostfile)
    if args.process_id is not None and args.addresses is None:
        parser.error("the addresses option is required if a process_id is passed")

    if args.processes is not None and (args.process_id is not None or args.addresses is not None):
        warnings.warn(
            "Both '-p' and '-a/-i' specified. Ignoring the '-p' option, but this should be fixed",
            UserWarning,
            stacklevel=2,
        )
        args.processes = None

    from bytewax._import_str import _prepare_import

    args.import_str = _prepare_import(args.import_str)
    return args


def _refused_options(args: argparse.Namespace, addresses: Optional[List[str]]) -> Optional[str]:
    """Why these parsed options can not run here, or `None` when they can."""
    for option, count in (
        ("-p/--processes", args.processes),
        ("-w/--workers-per-process", args.workers_per_process),
    ):
        if count is not None and count < 1:
            return f"argument {option}: must be at least 1, got {count}"
    if args.epoch_interval < 0:
        return f"argument --epoch-interval: must not be negative, got {args.epoch_interval}"
    return _recovery_directory_problem(args.sqlite_directory)


def _recovery_directory_problem(sqlite_directory: Optional[Path]) -> Optional[str]:
    """Why `--sqlite-directory` can not be used, or `None` when it can (or is not given)."""
    if sqlite_directory is None:
        return None
    from bytewax._runner import _recovery_db_dir
    from bytewax.recovery import SqliteRecoveryConfig

    try:
        _recovery_db_dir(SqliteRecoveryConfig(sqlite_directory))
    except (RuntimeError, NotImplementedError) as problem:
        return f"argument --sqlite-directory: {problem}"
    return None


def _main() -> None:
    from bytewax._cluster import CHILD_PROCESS_ID

    args = _parse_args()
    if CHILD_PROCESS_ID in os.environ:
        # A child of `-p`: the parent's options are already handled.
        args.processes, args.process_id, args.addresses = None, None, None
    addresses = args.addresses.split(";") if args.addresses is not None else None
    # Refuse before importing the user's module, so nothing of it runs.
    refusal = _refused_options(args, addresses)
    if refusal is not None:
        print(f"{_PROG}: error: {refusal}", file=sys.stderr)
        sys.exit(_USAGE_ERROR)

    module_name, _, dataflow_name = args.import_str.partition(":")
    recovery_config = None
    if args.sqlite_directory is not None:
        from bytewax.recovery import SqliteRecoveryConfig

        recovery_config = SqliteRecoveryConfig(args.sqlite_directory)

    def get_flow():
        from bytewax._import_str import _locate_dataflow

        return _locate_dataflow(module_name, dataflow_name)

    _run(
        get_flow,
        processes=args.processes,
        workers_per_process=args.workers_per_process,
        process_id=args.process_id,
        addresses=addresses,
        epoch_interval=float(args.epoch_interval),
        recovery_config=recovery_config,
    )


def _print_interrupt(exc_type, exc, tb) -> None:
    """Report Ctrl-C in one line instead of a traceback; other errors as usual."""
    if issubclass(exc_type, KeyboardInterrupt):
        message = str(exc)
        print(f"KeyboardInterrupt: {message}" if message else "KeyboardInterrupt", file=sys.stderr)
    else:
        sys.__excepthook__(exc_type, exc, tb)


if __name__ == "__main__":
    try:
        _main()
    except KeyboardInterrupt:
        # Re-raising keeps Python's own ending for Ctrl-C: the process exits
        # killed by SIGINT (status 130 in a shell), as Bytewax 0.16 did.
        sys.excepthook = _print_interrupt
        raise
