"""Recovery as users meet it: ``kill -9`` a running ``python -m bytewax.run``, run it again.

A file -> stateful -> file flow runs with ``--sqlite-directory`` and
``--epoch-interval 0``. Each variant starts it, kills it (SIGKILL, every
process of a ``-p`` cluster at once) after a random delay, and starts it
again until a run finishes; the output file must then hold exactly the
lines of a run that was never interrupted: ``FileOutput`` cuts the file
back to its last snapshot on resume, so nothing is lost and nothing
repeated. Delays are drawn from a seeded generator between 0.05 s and the
uninterrupted run's duration; after a few kills the last run is left to
finish, so every test ends.
"""

import os
import random
import signal
import socket
import subprocess
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from conftest import _clean_env, interpreter_under_test

FLOWS = '''
import threading
import time
from datetime import datetime, timedelta, timezone

from bytewax.connectors.files import FileInput, FileOutput
from bytewax.dataflow import Dataflow
from bytewax.window import EventClockConfig, TumblingWindow

ALIGN = datetime(2023, 1, 1, tzinfo=timezone.utc)


def noting(path, fn):
    """`fn`, also appending each line's number to `path`: what every run processed,
    killed runs included (a line is flushed as soon as it is written)."""
    lock = threading.Lock()
    log = []

    def noted(line):
        with lock:
            if not log:
                log.append(open(path, "a"))
            log[0].write(line.split(",")[1] + "\\n")
            log[0].flush()
        return fn(line)

    return noted


def key_twice(line):
    key = line.split(",", 1)[0]
    return key, key


def count(seen, key):
    seen += 1
    return seen, f"{key},{seen}"


def counting(inp, out, keying=key_twice):
    """Every line's key and how many lines of that key came so far."""
    flow = Dataflow()
    flow.input("inp", FileInput(inp))
    flow.map(noting(out + ".processed", keying))
    flow.stateful_map("count", lambda: 0, count)
    flow.output("out", FileOutput(out))
    return flow


def slow_counting(inp, out):
    """`counting` at about 0.1 ms a line: over `TIMED_LINES` lines, 1 s epochs split the run
    into several, and each poll's batch of lines takes a while to get through."""
    def slow_key_twice(line):
        time.sleep(0.0001)
        return key_twice(line)

    return counting(inp, out, slow_key_twice)


def key_and_number(line):
    key, number = line.split(",")
    return key, int(number)


def event_time(number):
    return ALIGN + timedelta(seconds=number)


def window_line(key_numbers):
    key, numbers = key_numbers
    return key, f"{key},{min(numbers)},{max(numbers)},{len(numbers)}"


def windowed(inp, out):
    """Per key, the first, last and count of line numbers in each 100 s of event time
    (line n happens n seconds after ALIGN)."""
    clock = EventClockConfig(event_time, wait_for_system_duration=timedelta(seconds=30))
    window = TumblingWindow(length=timedelta(seconds=100), align_to=ALIGN)
    flow = Dataflow()
    flow.input("inp", FileInput(inp))
    flow.map(noting(out + ".processed", key_and_number))
    flow.fold_window("windows", clock, window, list, lambda acc, n: acc + [n])
    flow.map(window_line)
    flow.output("out", FileOutput(out))
    return flow
'''

KEYS = 7
LINES = 3000
KILLS_PER_RUN = 4
RUN_TIMEOUT_S = 120
MIN_DELAY_S = 0.05

ONE = []
W2 = ["-w", "2"]
P2 = ["-p", "2"]
# Timed epochs (the last --epoch-interval wins): the input reads the next epoch while the
# last one is being written, so up to two epochs are in flight at a kill.
TIMED = ["--epoch-interval", "1"]
# Enough lines for several of the file source's polls (8192 lines each).
TIMED_LINES = 40000


def _probe_engine():
    """Whether the interpreter under test can recover (our engine with RECOVERY_FORMAT,
    or real Bytewax)."""
    probe = (
        "import importlib.util as u, sys\n"
        "if u.find_spec('bytewax.bytewax') is not None and u.find_spec('bytewax._engine') is None:\n"
        "    sys.exit(0)\n"
        "import bytewax._engine as e\n"
        "sys.exit(0 if hasattr(e, 'RECOVERY_FORMAT') else 1)\n"
    )
    result = subprocess.run([interpreter_under_test(), "-c", probe], capture_output=True, timeout=60)
    return result.returncode == 0


pytestmark = pytest.mark.skipif(
    not _probe_engine(), reason="bytewax._engine has no RECOVERY_FORMAT: recovery not built yet"
)


def data_lines(start, stop, keys=KEYS):
    return "".join(f"k{n % keys},{n}\n" for n in range(start, stop))


@pytest.fixture
def flows_dir(tmp_path):
    (tmp_path / "flows.py").write_text(textwrap.dedent(FLOWS))
    (tmp_path / "input.txt").write_text(data_lines(0, LINES))
    return tmp_path


def command(flows_dir, flow, out_name, db_dir, layout):
    inp = flows_dir / "input.txt"
    out = flows_dir / out_name
    return [
        interpreter_under_test(), "-m", "bytewax.run",
        f"flows:{flow}({str(inp)!r}, {str(out)!r})",
        "--sqlite-directory", str(db_dir),
        "--epoch-interval", "0",
        *layout,
    ]


def start(flows_dir, argv, log):
    return subprocess.Popen(
        argv, cwd=flows_dir, env=_clean_env([flows_dir]), stdin=subprocess.DEVNULL,
        stdout=log, stderr=subprocess.STDOUT,
    )


def run_to_end(flows_dir, argv, log_path):
    with open(log_path, "ab") as log:
        started = time.monotonic()
        proc = start(flows_dir, argv, log)
        code = proc.wait(timeout=RUN_TIMEOUT_S)
    assert code == 0, Path(log_path).read_text()[-3000:]
    return time.monotonic() - started


def _proc_state(pid):
    """(state letter, parent pid) from /proc, or None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: read after the last one.
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def _children(pid):
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            state = _proc_state(int(entry.name))
            if state is not None and state[1] == pid:
                kids.append(int(entry.name))
    return kids


def _wait_state(pid, states, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = _proc_state(pid)
        if state is None or state[0] in states:
            return
        time.sleep(0.005)
    raise AssertionError(f"process {pid} did not reach state {states}")


def kill_hard(proc):
    """SIGKILL the process and every process it started, as a crash of the machine would.

    `-p` children run in sessions of their own, so a process group kill would miss them;
    the parent is stopped first so that it starts no new child while they are found."""
    try:
        os.kill(proc.pid, signal.SIGSTOP)
    except ProcessLookupError:
        return
    _wait_state(proc.pid, "TtZX")
    children = _children(proc.pid)
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    os.kill(proc.pid, signal.SIGKILL)
    for pid in children:
        _wait_state(pid, "ZX")
    proc.wait(timeout=30)


def line_count(path):
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def wait_for_output(proc, path):
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while proc.poll() is None and line_count(path) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)


def crash_until_done(flows_dir, flow, layouts, seed, max_delay_s):
    """Run with layouts[0], then layouts[1] for every restart, killing each run after a
    random delay, until a run finishes. Returns the output lines seen at each kill."""
    db = flows_dir / f"db-{seed}"
    db.mkdir()
    out_name = f"out-{seed}.txt"
    log_path = flows_dir / f"log-{seed}.txt"
    rng = random.Random(seed)
    seen_at_kills = []
    attempt = 0
    while True:
        argv = command(flows_dir, flow, out_name, db, layouts[min(attempt, len(layouts) - 1)])
        if len(seen_at_kills) >= KILLS_PER_RUN:
            run_to_end(flows_dir, argv, log_path)
            break
        # The first run is killed once it has written output, within half a run's time,
        # so that every variant resumes at least once from a run cut short mid-way.
        delay = rng.uniform(MIN_DELAY_S, max_delay_s / 2 if attempt == 0 else max_delay_s)
        with open(log_path, "ab") as log:
            log.write(f"\n--- attempt {attempt}, kill after {delay:.3f} s\n".encode())
            log.flush()
            proc = start(flows_dir, argv, log)
            if attempt == 0:
                wait_for_output(proc, flows_dir / out_name)
            try:
                code = proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                kill_hard(proc)
                seen_at_kills.append(line_count(flows_dir / out_name))
                attempt += 1
                continue
        assert code == 0, log_path.read_text()[-3000:]
        break
    return sorted((flows_dir / out_name).read_text().splitlines()), seen_at_kills


def assert_resumed_not_restarted(flows_dir, seed, seen_at_kills):
    """The runs after the first kill continued from its snapshots: they never read line 0
    again (the first run was killed well after writing output, so had finished that epoch)."""
    processed = Counter((flows_dir / f"out-{seed}.txt.processed").read_text().split())
    repeats = sum(processed.values()) - len(processed)
    assert processed["0"] == 1, (
        f"line 0 was processed {processed['0']} times: a rerun started from scratch "
        f"({repeats} lines processed again in all, output lines at the kills: {seen_at_kills})"
    )


def reference(flows_dir, flow, layout):
    """Lines and wall time of an uninterrupted run with this layout."""
    name = f"ref-{flow}-{'_'.join(layout) or 'one'}"
    db = flows_dir / f"db-{name}"
    db.mkdir()
    wall_s = run_to_end(flows_dir, command(flows_dir, flow, f"{name}.txt", db, layout), flows_dir / f"{name}.log")
    return sorted((flows_dir / f"{name}.txt").read_text().splitlines()), wall_s


def expected_counts(lines_text):
    seen = {}
    out = []
    for line in lines_text.splitlines():
        key = line.split(",")[0]
        seen[key] = seen.get(key, 0) + 1
        out.append(f"{key},{seen[key]}")
    return out


VARIANTS = {
    "1 worker": [ONE],
    "-w2": [W2],
    "-p2": [P2],
    "rescale -w2 to 1": [W2, ONE],
    "rescale 1 to -w2": [ONE, W2],
}


def variants(*names):
    # Bytewax 0.16 recovers one worker only: every other layout is ours to check.
    return [
        pytest.param(name, marks=[] if VARIANTS[name] == [ONE] else [pytest.mark.ours_only])
        for name in names
    ]


@pytest.mark.parametrize("variant", variants(*VARIANTS))
def test_kill_and_resume_gives_the_uninterrupted_output(flows_dir, variant):
    layouts = VARIANTS[variant]
    expected = sorted(expected_counts(data_lines(0, LINES)))
    ref_lines, wall_s = reference(flows_dir, "counting", layouts[0])
    assert ref_lines == expected

    lines, seen_at_kills = crash_until_done(flows_dir, "counting", layouts, variant, wall_s)

    missing = sorted(set(expected) - set(lines))
    repeated = len(lines) - len(set(lines))
    assert (missing[:5], repeated) == ([], 0), f"{len(missing)} lost, {repeated} repeated"
    assert lines == expected
    assert seen_at_kills and 0 < seen_at_kills[0] < len(expected), "the first run was not cut short mid-way"
    assert_resumed_not_restarted(flows_dir, variant, seen_at_kills)


@pytest.mark.ours_only
@pytest.mark.parametrize("layout", [ONE, W2], ids=["1 worker", "-w2"])
def test_kill_with_timed_epochs_gives_the_uninterrupted_output(flows_dir, layout):
    """1 s epochs: a kill can land while one epoch is being written to SQLite and the next
    one read, so the resume repeats up to two epochs, which FileOutput cuts back."""
    layouts = [layout + TIMED]
    (flows_dir / "input.txt").write_text(data_lines(0, TIMED_LINES))
    expected = sorted(expected_counts(data_lines(0, TIMED_LINES)))
    ref_lines, wall_s = reference(flows_dir, "slow_counting", layouts[0])
    assert ref_lines == expected

    seed = f"timed-{len(layout)}"
    lines, seen_at_kills = crash_until_done(flows_dir, "slow_counting", layouts, seed, wall_s)

    assert lines == expected
    assert seen_at_kills and 0 < seen_at_kills[0] < len(expected), "the first run was not cut short mid-way"


@pytest.mark.parametrize("variant", variants("1 worker", "rescale -w2 to 1"))
def test_windows_open_at_the_kill_close_with_all_their_items(flows_dir, variant):
    layouts = VARIANTS[variant]
    ref_lines, wall_s = reference(flows_dir, "windowed", layouts[0])
    # 3000 s of event time in 100 s windows, 7 keys: every key has 30 windows.
    assert len(ref_lines) == 30 * KEYS
    assert "k0,0,98,15" in ref_lines

    lines, seen_at_kills = crash_until_done(flows_dir, "windowed", layouts, f"windows {variant}", wall_s)

    assert lines == ref_lines
    assert seen_at_kills and 0 < seen_at_kills[0] < len(ref_lines), "the first run was not cut short mid-way"
    assert_resumed_not_restarted(flows_dir, f"windows {variant}", seen_at_kills)


@pytest.mark.parametrize(
    "layout", [ONE, pytest.param(W2, marks=pytest.mark.ours_only)], ids=["1 worker", "-w2"]
)
def test_rerun_after_appending_lines_processes_only_the_new_ones(flows_dir, layout):
    db = flows_dir / "db"
    db.mkdir()
    argv = command(flows_dir, "counting", "out.txt", db, layout)
    old = data_lines(0, 500)
    (flows_dir / "input.txt").write_text(old)
    run_to_end(flows_dir, argv, flows_dir / "log.txt")
    first = (flows_dir / "out.txt").read_text().splitlines()
    assert sorted(first) == sorted(expected_counts(old))

    run_to_end(flows_dir, argv, flows_dir / "log.txt")
    assert (flows_dir / "out.txt").read_text().splitlines() == first, "a rerun with nothing new wrote something"

    new = data_lines(500, 650, keys=KEYS + 2)
    with open(flows_dir / "input.txt", "a") as inp:
        inp.write(new)
    run_to_end(flows_dir, argv, flows_dir / "log.txt")

    after = (flows_dir / "out.txt").read_text().splitlines()
    assert after[: len(first)] == first
    assert sorted(after[len(first):]) == sorted(expected_counts(old + new)[500:])
    # Every line was read by exactly one of the three runs.
    processed = (flows_dir / "out.txt.processed").read_text().split()
    assert sorted(map(int, processed)) == list(range(650))


def free_addresses(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    addresses = ";".join(f"127.0.0.1:{s.getsockname()[1]}" for s in sockets)
    for s in sockets:
        s.close()
    return addresses


@pytest.mark.ours_only
def test_cluster_started_by_hand_recovers_and_a_single_process_continues_it(flows_dir):
    db = flows_dir / "db"
    db.mkdir()
    old = data_lines(0, 400)
    (flows_dir / "input.txt").write_text(old)
    addresses = free_addresses(2)
    logs = [open(flows_dir / f"log{i}.txt", "wb") for i in range(2)]
    try:
        procs = [
            start(flows_dir, command(flows_dir, "counting", "out.txt", db, ["-i", str(i), "-a", addresses]), log)
            for i, log in enumerate(logs)
        ]
        codes = [p.wait(timeout=RUN_TIMEOUT_S) for p in procs]
    finally:
        for log in logs:
            log.close()
    assert codes == [0, 0], [(flows_dir / f"log{i}.txt").read_text()[-2000:] for i in range(2)]
    first = (flows_dir / "out.txt").read_text().splitlines()
    assert sorted(first) == sorted(expected_counts(old))

    new = data_lines(400, 480)
    with open(flows_dir / "input.txt", "a") as inp:
        inp.write(new)
    run_to_end(flows_dir, command(flows_dir, "counting", "out.txt", db, ONE), flows_dir / "log.txt")

    after = (flows_dir / "out.txt").read_text().splitlines()
    assert after[: len(first)] == first
    assert sorted(after[len(first):]) == sorted(expected_counts(old + new)[400:])
