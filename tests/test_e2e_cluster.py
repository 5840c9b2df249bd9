"""Workers, local processes and clusters: ``-w``, ``-p`` and ``-i/-a``, as users run them."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest

from conftest import _clean_env, interpreter_under_test

pytestmark = pytest.mark.ours_only

FLOWS = '''
import os
import threading
from datetime import datetime, timedelta, timezone

from bytewax.connectors.stdio import StdOutput
from bytewax.dataflow import Dataflow
from bytewax.inputs import DynamicInput, StatelessSource
from bytewax.testing import TestingInput
from bytewax.window import EventClockConfig, TumblingWindow

ALIGN = datetime(2023, 1, 1, tzinfo=timezone.utc)


def numbers():
    return TestingInput(range(2000))


def keyed(n):
    return (f"k{n % 37}", n)


def counting():
    # Emits each key's running count: the same lines in any arrival order.
    flow = Dataflow()
    flow.input("inp", numbers())
    flow.map(keyed)
    flow.stateful_map("running", lambda: 0, lambda count, n: (count + 1, count + 1))
    flow.output("out", StdOutput())
    return flow


def windowed():
    clock = EventClockConfig(lambda v: ALIGN + timedelta(seconds=v), timedelta(days=1))
    flow = Dataflow()
    flow.input("inp", numbers())
    flow.map(keyed)
    flow.reduce_window("sum", clock, TumblingWindow(timedelta(seconds=100), ALIGN), lambda a, b: a + b)
    flow.output("out", StdOutput())
    return flow


def where():
    """Each key with the process and thread that handled it, item by item."""
    flow = Dataflow()
    flow.input("inp", numbers())
    flow.map(keyed)
    flow.stateful_map("where", lambda: None,
                      lambda s, n: (s, (os.getpid(), threading.get_ident())))
    flow.output("out", StdOutput())
    return flow


def failing():
    def boom(n):
        if n == 1234:
            raise KeyError(f"no such thing as {n}")
        return keyed(n)

    flow = Dataflow()
    flow.input("inp", numbers())
    flow.map(boom)
    flow.reduce("sum", lambda a, b: a + b, lambda acc: False)
    flow.output("out", StdOutput())
    return flow


def slow():
    import time

    def nap(n):
        time.sleep(0.01)
        return n

    flow = Dataflow()
    flow.input("inp", TestingInput(range(1_000_000)))
    flow.map(nap)
    flow.output("out", StdOutput())
    return flow


class Sequences(DynamicInput):
    """Every worker numbers the items of its own keys: 20000 items over 50 keys."""

    def build(self, worker_index, worker_count):
        class Numbered(StatelessSource):
            def __init__(self):
                self.items = ((f"w{worker_index}-k{n % 50}", n) for n in range(20000))

            def next(self):
                return next(self.items)

        return Numbered()


def in_order():
    """Each item's key and number, as the stateful step sees them."""
    flow = Dataflow()
    flow.input("inp", Sequences())
    flow.stateful_map("seen", lambda: None, lambda s, n: (s, n))
    flow.output("out", StdOutput())
    return flow


def only_process_0():
    # A flow that the second process of `-p` cannot build.
    if os.environ.get("__BYTEWAX_PROC_ID") == "1":
        raise RuntimeError("this flow builds in process 0 only")
    return counting()


def long_lines():
    flow = Dataflow()
    flow.input("inp", TestingInput(range(3000)))
    flow.map(lambda n: f"<{n:05d}:" + "x" * 3000 + ">")
    flow.output("out", StdOutput())
    return flow
'''

LAYOUTS = {
    "1 worker": [],
    "-w2": ["-w", "2"],
    "-p2": ["-p", "2"],
    "-p2 -w2": ["-p", "2", "-w", "2"],
}


@pytest.fixture
def flows_dir(tmp_path):
    (tmp_path / "flows.py").write_text(textwrap.dedent(FLOWS))
    return tmp_path


def bytewax_run(flows_dir, *args, env=None, **kwargs):
    full_env = _clean_env([flows_dir])
    full_env.update(env or {})
    return subprocess.run(
        [interpreter_under_test(), "-m", "bytewax.run", *args],
        cwd=flows_dir, env=full_env, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL, **kwargs,
    )


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def manual_cluster(flows_dir, flow, extra=()):
    """Two processes started by hand with -i/-a, as in two terminals."""
    addresses = ";".join(f"127.0.0.1:{p}" for p in free_ports(2))
    env = _clean_env([flows_dir])
    procs = [
        subprocess.Popen([interpreter_under_test(), "-m", "bytewax.run", f"flows:{flow}",
                          "-i", str(i), "-a", addresses, *extra],
                         cwd=flows_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    return [p.returncode for p in procs], "".join(o for o, _ in outs), "".join(e for _, e in outs)


def lines(stdout):
    return Counter(stdout.splitlines())


@pytest.mark.parametrize("flow", ["counting", "windowed"])
def test_every_layout_gives_the_same_output(flows_dir, flow):
    expected = None
    for name, args in LAYOUTS.items():
        result = bytewax_run(flows_dir, f"flows:{flow}", *args)
        assert result.returncode == 0, f"{name}: {result.stderr}"
        assert result.stderr == "", name
        if expected is None:
            expected = lines(result.stdout)
            assert sum(expected.values()) > 30
        else:
            assert lines(result.stdout) == expected, name
    codes, out, err = manual_cluster(flows_dir, flow)
    assert codes == [0, 0], err
    assert lines(out) == expected


def test_each_key_stays_on_one_worker(flows_dir):
    result = bytewax_run(flows_dir, "flows:where", "-p", "2", "-w", "2")
    assert result.returncode == 0, result.stderr
    seen = {}
    for line in result.stdout.splitlines():
        key, place = eval(line)
        seen.setdefault(key, set()).add(place)
    assert len(seen) == 37
    assert all(len(places) == 1 for places in seen.values())
    # The keys are spread over every worker of both processes.
    assert len({place for places in seen.values() for place in places}) == 4
    assert len({pid for places in seen.values() for pid, _ in places}) == 2


@pytest.mark.parametrize("args", [["-p", "2"], ["-p", "2", "-w", "2"]], ids=" ".join)
def test_each_keys_items_reach_the_stateful_step_in_input_order(flows_dir, args):
    # Every key comes from one worker's input, in increasing numbers; crossing to the
    # key's owner (in big batches, between processes) must not reorder them.
    result = bytewax_run(flows_dir, "flows:in_order", *args)
    assert result.returncode == 0, result.stderr
    seen = {}
    for line in result.stdout.splitlines():
        key, n = eval(line)
        seen.setdefault(key, []).append(n)
    workers = 2 * int(args[-1]) if "-w" in args else 2
    assert len(seen) == 50 * workers
    for key, numbers in seen.items():
        assert len(numbers) == 400, key
        assert numbers == sorted(numbers), f"{key} arrived out of order"
    assert sorted(n for numbers in seen.values() for n in numbers) == sorted(list(range(20000)) * workers)


@pytest.mark.parametrize("args", [["-p", "2"], ["-p", "3", "-w", "2"], ["-w", "3"]])
def test_a_failure_anywhere_stops_everything_and_is_reported_once(flows_dir, args):
    start = time.monotonic()
    result = bytewax_run(flows_dir, "flows:failing", *args)
    assert result.returncode == 1
    assert result.stderr.count("KeyError: 'no such thing as 1234'") == 1, result.stderr
    assert "raised in step 'map#1'" in result.stderr
    assert time.monotonic() - start < 60


def test_a_failure_in_a_manual_cluster_stops_the_other_process(flows_dir):
    codes, _, err = manual_cluster(flows_dir, "failing")
    assert sorted(codes) == [1, 3], err
    assert err.count("KeyError: 'no such thing as 1234'") == 1
    assert "another worker of the cluster failed" in err


@pytest.mark.parametrize("import_str, error", [
    ("no_such_module_for_e2e:flow", "ImportError: Could not import 'no_such_module_for_e2e'."),
    ("flows:no_such_flow", "AttributeError: Failed to find attribute 'no_such_flow' in 'flows'."),
])
def test_a_flow_that_cannot_be_loaded_is_reported_once(flows_dir, import_str, error):
    result = bytewax_run(flows_dir, import_str, "-p", "3")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines().count(error) == 1, result.stderr


def test_a_process_that_alone_cannot_load_the_flow_is_named(flows_dir):
    result = bytewax_run(flows_dir, "flows:only_process_0", "-p", "2",
                         env={"BYTEWAX_CLUSTER_CONNECT_TIMEOUT": "2"})
    assert result.returncode == 1
    assert "process 1 could not get the dataflow, though process 0 could" in result.stderr


def test_ctrl_c_stops_every_process(flows_dir):
    env = _clean_env([flows_dir])
    # A shell's background job inherits SIGINT ignored, and Python then never turns
    # Ctrl-C into KeyboardInterrupt; a terminal user's process gets the default.
    parent = subprocess.Popen([interpreter_under_test(), "-m", "bytewax.run", "flows:slow", "-p", "2"],
                              cwd=flows_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # Wait until the flow is running: output arrives.
    first = parent.stdout.readline()
    assert first.strip().isdigit()
    parent.send_signal(signal.SIGINT)
    _, err = parent.communicate(timeout=60)
    assert parent.returncode != 0
    assert err.strip().splitlines()[-1] == (
        "KeyboardInterrupt: interrupt signal received, all processes have been shut down")
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(flows_dir) not in ps and "flows:slow" not in ps


def test_a_peer_that_never_comes_up_is_a_clear_error(flows_dir):
    addresses = ";".join(f"127.0.0.1:{p}" for p in free_ports(2))
    result = bytewax_run(flows_dir, "flows:counting", "-i", "1", "-a", addresses,
                         env={"BYTEWAX_CLUSTER_CONNECT_TIMEOUT": "2"})
    assert result.returncode == 1
    assert result.stdout == ""
    first = addresses.split(";")[0]
    assert result.stderr.splitlines() == [
        f"python -m bytewax.run: error: process 1 could not connect to process 0 ({first}) of the "
        "cluster (Connection refused (os error 111)); check that all 2 processes are started with "
        f"the same addresses ({addresses}) and that their ports are reachable"
    ]


def test_lines_of_several_processes_never_run_together(flows_dir):
    result = bytewax_run(flows_dir, "flows:long_lines", "-p", "3")
    assert result.returncode == 0, result.stderr
    out = result.stdout.splitlines()
    assert len(out) == 3000
    assert all(line.startswith("<") and line.endswith(">") and len(line) == 3008 for line in out)
    assert sorted(int(line[1:6]) for line in out) == list(range(3000))


def test_two_local_clusters_at_once_do_not_collide(flows_dir):
    env = _clean_env([flows_dir])
    runs = [subprocess.Popen([interpreter_under_test(), "-m", "bytewax.run", "flows:counting", "-p", "2"],
                             cwd=flows_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    results = [p.communicate(timeout=120) for p in runs]
    assert [p.returncode for p in runs] == [0, 0], [e for _, e in results]
    assert lines(results[0][0]) == lines(results[1][0])


def test_killing_the_parent_outright_stops_its_children(tmp_path):
    """SIGKILL gives the `-p` parent no chance to stop its children: the kernel must."""
    (tmp_path / "slowflow.py").write_text(
        "import time\n"
        "from bytewax.dataflow import Dataflow\n"
        "from bytewax.testing import TestingInput\n"
        "from bytewax.connectors.stdio import StdOutput\n"
        "def slow(x):\n"
        "    time.sleep(0.05)\n"
        "    return x\n"
        "flow = Dataflow()\n"
        "flow.input('inp', TestingInput(range(100000)))\n"
        "flow.map(slow)\n"
        "flow.output('out', StdOutput())\n"
    )
    parent = subprocess.Popen([interpreter_under_test(), "-m", "bytewax.run", "slowflow:flow", "-p", "2"],
                              cwd=tmp_path, env=_clean_env([tmp_path]),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    children = []
    while len(children) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        children = subprocess.run(["pgrep", "-P", str(parent.pid)], capture_output=True, text=True).stdout.split()
    assert len(children) == 2
    time.sleep(1.0)  # let them get into the dataflow
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    alive = children
    while alive and time.monotonic() < deadline:
        alive = [c for c in children if os.path.exists(f"/proc/{c}") and
                 "Z" not in open(f"/proc/{c}/stat").read().split()[2]]
        time.sleep(0.1)
    assert alive == [], f"children outlived their parent: {alive}"


SCRIPT_CALLING_CLI_MAIN = '''
import os
import sys

from bytewax.run import cli_main
import flows

print(f"script top ran in {os.getpid()}", file=sys.stderr, flush=True)
cli_main(flows.counting(), processes=2)
'''


def test_a_script_calling_cli_main_with_processes_runs_its_top_once(flows_dir):
    """The processes are forked from the script's own process: they run the flow it built,
    and what the script did before `cli_main` happens once, not once per process."""
    (flows_dir / "script.py").write_text(SCRIPT_CALLING_CLI_MAIN)
    result = subprocess.run([interpreter_under_test(), "script.py"], cwd=flows_dir, env=_clean_env([flows_dir]),
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("script top ran") == 1, result.stderr
    assert lines(result.stdout) == lines(bytewax_run(flows_dir, "flows:counting").stdout)


def test_a_parent_serving_the_dataflow_api_runs_the_flow_on_every_process(flows_dir):
    """The API server's thread runs when the processes start, so this parent starts them
    by running its command again rather than forking (a forked child could inherit a lock
    that thread held)."""
    port = free_ports(1)[0]
    result = bytewax_run(flows_dir, "flows:counting", "-p", "2",
                         env={"BYTEWAX_DATAFLOW_API_ENABLED": "1", "BYTEWAX_DATAFLOW_API_PORT": str(port)})
    assert result.returncode == 0, result.stderr
    assert lines(result.stdout) == lines(bytewax_run(flows_dir, "flows:counting").stdout)
