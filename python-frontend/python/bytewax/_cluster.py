"""Running a flow on several local processes (``python -m bytewax.run -p N``).

The parent forks once per process and each child runs the flow's share of that
process, told its process id and the cluster's addresses; the parent waits. A forked
child starts with everything the parent already imported, so it skips the interpreter's
start-up and the CLI's imports (a new interpreter per child took ~60 ms before its flow
even began to load). Where forking is unsafe (another thread is running, as the
dataflow API server's) or impossible, the parent re-runs its own command instead.
Addresses use free loopback ports picked here, so two clusters on one machine never
collide. Each child's stdout comes back through a pipe and is written out a whole line
at a time, so lines of different processes never run into one another. When a child
fails, the others are told by the engine and stop; the parent exits with the failing
child's status, and the user sees its error once. Ctrl-C stops every child.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Callable, List, Optional, Union

# Environment of a child: its process id and the cluster's addresses.
CHILD_PROCESS_ID = "__BYTEWAX_PROC_ID"
CHILD_ADDRESSES = "__BYTEWAX_ADDRESSES"
CHILD_PARENT_PID = "__BYTEWAX_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a `-p` child: ask the kernel to kill this process when the parent dies.

    Children run in their own session (so Ctrl-C reaches the parent only), so a parent
    killed outright would otherwise leave them running, still writing their output and
    recovery files. Linux only; elsewhere a no-op.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return
    # The parent may have died before the request was made.
    parent = os.environ.get(CHILD_PARENT_PID)
    if parent is not None and os.getppid() != int(parent):
        os._exit(3)

# Exit status of a child that stopped because another one failed.
PEER_FAILED_STATUS = 3
# Exit status of a child that could not get the dataflow. Process 0 prints why first;
# the others say nothing, since they import the same module and fail the same way.
FLOW_FAILED_STATUS = 4
# How long the other children get to stop by themselves after one fails.
_STOP_GRACE_S = 5.0


def child_flow(get_flow, proc_id: int):
    """In a `-p` child: the dataflow, from `get_flow`, or exit with `FLOW_FAILED_STATUS`."""
    try:
        return get_flow()
    except Exception:
        if proc_id == 0:
            import traceback

            traceback.print_exc()
        sys.exit(FLOW_FAILED_STATUS)


def free_addresses(count: int) -> List[str]:
    """`count` loopback addresses whose ports are free now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _own_command() -> List[str]:
    """The command this process was started with, to start the children the same way."""
    orig = getattr(sys, "orig_argv", None)
    if orig:
        return [sys.executable, *orig[1:]]
    return [sys.executable, *sys.argv]


def _relay(stream, lock: threading.Lock) -> None:
    # Whatever has arrived, cut after its last newline, goes out in one write: whole lines
    # only, so two children's lines never run together, and one write (and one GIL hand-over
    # between the relay threads) per chunk rather than per line.
    out = sys.stdout.buffer
    pending = bytearray()
    while True:
        chunk = stream.read1(1 << 16)
        if not chunk:
            break
        pending += chunk
        cut = pending.rfind(b"\n") + 1
        if cut:
            with lock:
                out.write(pending[:cut])
                out.flush()
            del pending[:cut]
    if pending:
        with lock:
            out.write(pending)
            out.flush()
    stream.close()


class ForkedChild:
    """A forked child process, with the parts of `subprocess.Popen` the parent uses."""

    def __init__(self, pid: int, stdout):
        self.pid = pid
        self.stdout = stdout
        self.returncode: Optional[int] = None

    def poll(self) -> Optional[int]:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                # Reaped by someone else (SIGCHLD ignored, say): its status is lost. Taken
                # as 0, as `Popen` does, rather than waiting forever for it.
                self.returncode = 0
                return self.returncode
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: Optional[float] = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"process {self.pid}", timeout)
            time.sleep(0.01)
        return self.returncode

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, signum: signal.Signals) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass


Child = Union[subprocess.Popen, ForkedChild]


def _exit_status(code) -> int:
    """The status `sys.exit(code)` gives a process, as Python computes it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _fork_child(env: dict, child_main: Callable[[], None], close_fds: List[int]) -> ForkedChild:
    """Forks a child that runs `child_main` with `env` added to its environment, its
    stdout a pipe back to this process; the child never returns from here."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid != 0:
        os.close(write_fd)
        return ForkedChild(pid, os.fdopen(read_fd, "rb"))
    status = 1
    try:
        os.close(read_fd)
        for fd in close_fds:
            os.close(fd)
        # Its own session: Ctrl-C in the terminal reaches the parent only, which then
        # stops every child itself.
        os.setsid()
        os.dup2(write_fd, 1)
        os.close(write_fd)
        # The interpreter's own streams on fds 1 and 2, as a started child has them, even
        # where the parent had put others in their place (a test's capture, say).
        sys.stdout = sys.__stdout__ or sys.stdout
        sys.stderr = sys.__stderr__ or sys.stderr
        # Now a pipe, maybe a terminal before: written a buffer at a time, as a started
        # child's stdout would be, not a line at a time.
        if hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(line_buffering=False)
        os.environ.update(env)
        try:
            child_main()
            status = 0
        except SystemExit as done:
            status = _exit_status(done.code)
        except BaseException:
            sys.excepthook(*sys.exc_info())
    finally:
        # Never back into the parent's code: flush what was written and leave at once.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os._exit(status)


def run_local_cluster(processes: int, interrupt_message: str, child_main: Callable[[], None]) -> int:
    """Starts `processes` children, each running `child_main` as its process of the
    cluster (or this same command, where it cannot fork); returns the exit status."""
    addresses = free_addresses(processes)
    lock = threading.Lock()
    children: List[Child] = []
    relays: List[threading.Thread] = []
    for stream in {sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__} - {None}:
        # Or a child would write out what was waiting in them a second time.
        stream.flush()
    # Forking while another thread runs could leave a child holding a lock that thread
    # had taken; the relay threads below start only after every child is forked.
    fork = hasattr(os, "fork") and threading.active_count() == 1
    try:
        for proc_id in range(processes):
            env = {
                CHILD_PROCESS_ID: str(proc_id),
                CHILD_ADDRESSES: ";".join(addresses),
                CHILD_PARENT_PID: str(os.getpid()),
            }
            if fork:
                earlier = [c.stdout.fileno() for c in children]
                children.append(_fork_child(env, child_main, earlier))
            else:
                children.append(subprocess.Popen(_own_command(), env={**os.environ, **env},
                                                 stdout=subprocess.PIPE, start_new_session=True))
        for child in children:
            relay = threading.Thread(target=_relay, args=(child.stdout, lock), daemon=True)
            relay.start()
            relays.append(relay)
        status = _wait(children)
    except KeyboardInterrupt:
        _stop(children)
        raise KeyboardInterrupt(interrupt_message) from None
    for relay in relays:
        relay.join()
    return status


def _wait(children: List[Child]) -> int:
    """Waits for every child; after the first failure, gives the rest a grace period."""
    failed_at: Optional[float] = None
    status = 0
    while True:
        codes = [c.poll() for c in children]
        for proc_id, code in enumerate(codes):
            if code in (None, 0):
                continue
            if code == FLOW_FAILED_STATUS and proc_id != 0:
                # Not a failure of its own yet: process 0 either fails on the flow too, and
                # says why, or finds this child missing when it connects.
                continue
            if failed_at is None:
                failed_at = time.monotonic()
            if code != PEER_FAILED_STATUS and status == 0:
                status = 1 if code < 0 or code == FLOW_FAILED_STATUS else code
                if code < 0:
                    print(f"bytewax: process {proc_id} was killed by signal {-code}", file=sys.stderr)
        if all(code is not None for code in codes):
            break
        if failed_at is not None and time.monotonic() - failed_at > _STOP_GRACE_S:
            _stop(children)
            break
        if failed_at is None:
            _block_until_a_child_exits(children)
        else:
            time.sleep(0.02)
    if children[0].returncode != FLOW_FAILED_STATUS:
        for proc_id, child in enumerate(children):
            if child.returncode == FLOW_FAILED_STATUS:
                print(f"bytewax: process {proc_id} could not get the dataflow, though process 0 "
                      "could; run that process alone (-i/-a) to see why", file=sys.stderr)
                status = status or 1
    if status == 0 and any(c.returncode == PEER_FAILED_STATUS for c in children):
        # Only "a peer failed" reports: the failure itself left no status behind.
        status = 1
    return status


def _block_until_a_child_exits(children: List[Child]) -> None:
    """Sleeps until some child exits (without reaping it, so `poll` still sees its status),
    instead of waking every few milliseconds for the whole run."""
    if not hasattr(os, "waitid"):
        time.sleep(0.02)
        return
    try:
        exited = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
    except ChildProcessError:
        return
    if exited is None or exited.si_pid not in {c.pid for c in children}:
        # Some other child of this process, left unreaped: waiting again would not block.
        time.sleep(0.02)


def _stop(children: List[Child]) -> None:
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 2.0
    for child in children:
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
