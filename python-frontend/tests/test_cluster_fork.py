"""The forked processes of `-p N` (`bytewax._cluster`): what a child sees and how it ends.

Each test forks real children; what they print to stdout comes back through the pipe
the parent relays, what they print to stderr goes where the test's stderr goes.
"""

import os
import subprocess
import sys
import time

import pytest

from bytewax import _cluster

pytestmark = pytest.mark.ours_only


def fork(main, env=None):
    child = _cluster._fork_child(env or {}, main, [])
    out = child.stdout.read()
    child.stdout.close()
    return child.wait(30), out


def raise_value_error():
    raise ValueError("no such value")


@pytest.mark.parametrize(
    "main, status, on_stderr",
    [
        (lambda: None, 0, ""),
        (lambda: sys.exit(), 0, ""),
        (lambda: sys.exit(7), 7, ""),
        (lambda: sys.exit("a message instead of a status"), 1, "a message instead of a status"),
        (raise_value_error, 1, "ValueError: no such value"),
    ],
    ids=["returns", "exit()", "exit(7)", "exit(text)", "raises"],
)
def test_a_child_ends_with_the_status_python_would_give(capfd, main, status, on_stderr):
    got, _ = fork(main)
    assert got == status
    assert on_stderr in capfd.readouterr().err


def test_a_child_writes_to_the_pipe_with_its_own_environment_and_session():
    def main():
        print(os.environ["__TEST_CHILD"], os.getsid(0) == os.getpid(), end="")
        # Buffered output must not be lost by the child's quick exit.
        sys.stdout.write("!" * 100_000)

    status, out = fork(main, {"__TEST_CHILD": "child 3"})
    assert status == 0
    assert out == b"child 3 True" + b"!" * 100_000
    assert "__TEST_CHILD" not in os.environ


def test_a_child_never_returns_into_the_parents_code():
    parent = os.getpid()
    status, out = fork(lambda: print("in the child"))
    # Only the parent gets here: a child that returned would run the rest of this test too.
    assert os.getpid() == parent
    assert (status, out) == (0, b"in the child\n")


def test_waiting_for_a_child_that_runs_on_times_out_and_kill_ends_it():
    child = _cluster._fork_child({}, lambda: time.sleep(60), [])
    with pytest.raises(subprocess.TimeoutExpired):
        child.wait(0.2)
    assert child.poll() is None
    child.kill()
    assert child.wait(10) == -9
    child.stdout.close()


def test_a_child_reaped_by_someone_else_counts_as_ended_not_running():
    child = _cluster._fork_child({}, lambda: sys.exit(5), [])
    child.stdout.read()
    child.stdout.close()
    os.waitpid(child.pid, 0)  # its status goes here, not to `child`
    # As `Popen` does: ended with 0, so the parent's wait loop does not spin forever.
    assert child.poll() == 0
    assert child.wait(1) == 0
