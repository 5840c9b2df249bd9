"""Chaos test of SQLite recovery: kill -9 a running flow at random moments, resume it, count.

One job is the flow `counting` below (file -> per-key count -> file) over a
generated input, run with `python -m bytewax.run ... --sqlite-directory DIR
--epoch-interval 0`. Each cycle (re)starts the job, with a worker and process
count drawn from `--workers` / `--processes` (so resuming also rescales), and
kills every process of it with SIGKILL after a random delay. A job whose run
finishes before its kill is checked and the next cycle starts a fresh one.
After the last cycle the open job runs to the end. Every finished job's output
file is compared with an uninterrupted run's: lines missing are `lost`, extra
copies `duplicated`. Exit status 1 when anything was lost (or a run failed).
See bench/README.md.
"""

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RUN_TIMEOUT_S = 600
MIN_DELAY_S = 0.05


# --- the flow, imported by `python -m bytewax.run "chaos_recovery:counting(...)"` ---


def _key_twice(line):
    key = line.split(",", 1)[0]
    return key, key


def _count(seen, key):
    seen += 1
    return seen, f"{key},{seen}"


def counting(inp, out):
    """Every input line's key and how many lines of that key came so far."""
    from bytewax.connectors.files import FileInput, FileOutput
    from bytewax.dataflow import Dataflow

    flow = Dataflow()
    flow.input("inp", FileInput(inp))
    flow.map(_key_twice)
    flow.stateful_map("count", lambda: 0, _count)
    flow.output("out", FileOutput(out))
    return flow


def expected_lines(line_count, keys):
    seen = Counter()
    out = []
    for n in range(line_count):
        key = f"k{n % keys}"
        seen[key] += 1
        out.append(f"{key},{seen[key]}")
    return out


# --- running and killing ---


def bench_env():
    # BYTEWAX_* variables are CLI defaults; the layout is chosen here.
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYTEWAX_")}
    entries = [str(BENCH_DIR)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    env["PYTHONPATH"] = os.pathsep.join(entries)
    return env


def flow_command(python, inp, out, db, workers, processes):
    command = [
        python, "-m", "bytewax.run", f"chaos_recovery:counting({str(inp)!r}, {str(out)!r})",
        "--sqlite-directory", str(db), "--epoch-interval", "0",
    ]
    if workers > 1:
        command += ["-w", str(workers)]
    if processes > 1:
        command += ["-p", str(processes)]
    return command


def _proc_state(pid):
    """(state letter, parent pid) from /proc, or None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def _wait_state(pid, states, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = _proc_state(pid)
        if state is None or state[0] in states:
            return
        time.sleep(0.005)
    raise RuntimeError(f"process {pid} did not reach state {states}")


def kill_hard(proc):
    """SIGKILL `proc` and the processes it started (`-p` children have sessions of their
    own); the parent is stopped first so it starts no child while they are found."""
    try:
        os.kill(proc.pid, signal.SIGSTOP)
    except ProcessLookupError:
        return
    _wait_state(proc.pid, "TtZX")
    children = [
        int(entry.name) for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and (_proc_state(int(entry.name)) or ("", -1))[1] == proc.pid
    ]
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


class RunFailed(Exception):
    """A run exited with an error status."""


def run(command, log_path, kill_after_s=None):
    """Runs `command`; returns True when it finished, False when it was killed first."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(command, cwd=BENCH_DIR, env=bench_env(), stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            code = proc.wait(timeout=kill_after_s if kill_after_s is not None else RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            if kill_after_s is None:
                proc.kill()
                raise
            kill_hard(proc)
            return False
    if code != 0:
        raise RunFailed(f"exit status {code}; last lines of {log_path}:\n"
                        + "\n".join(Path(log_path).read_text().splitlines()[-15:]))
    return True


class Job:
    """One recovery directory and output file, run until it finishes."""

    def __init__(self, work_dir, number, inp):
        self.number = number
        self.db = work_dir / f"job{number}-db"
        self.db.mkdir()
        self.out = work_dir / f"job{number}-out.txt"
        self.log = work_dir / f"job{number}.log"
        self.inp = inp

    def command(self, python, workers, processes):
        return flow_command(python, self.inp, self.out, self.db, workers, processes)


def compare(expected, out_path):
    got = Counter(out_path.read_text().splitlines())
    want = Counter(expected)
    lost = sum((want - got).values())
    extra = got - want
    duplicated = sum(n for line, n in extra.items() if line in want)
    unexpected = sum(n for line, n in extra.items() if line not in want)
    return lost, duplicated, unexpected


def parse_counts(text):
    counts = [int(c) for c in text.split(",")]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected positive counts like 1,2; got {text!r}")
    return counts


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=50, help="kill/resume cycles (default 50)")
    parser.add_argument("--workers", type=parse_counts, default=[1, 2],
                        help="worker counts per process to draw from each cycle (default 1,2)")
    parser.add_argument("--processes", type=parse_counts, default=[1],
                        help="process counts to draw from each cycle (default 1; e.g. 1,2)")
    parser.add_argument("--lines", type=int, default=5000, help="input lines (default 5000)")
    parser.add_argument("--keys", type=int, default=13, help="distinct keys (default 13)")
    parser.add_argument("--seed", type=int, default=20230101, help="random seed (default 20230101)")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter running our bytewax (default: this one)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and print it")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    rng = random.Random(args.seed)
    work_dir = Path(tempfile.mkdtemp(prefix="chaos-recovery-"))
    try:
        return chaos(args, rng, work_dir)
    finally:
        if args.keep:
            print(f"work directory kept: {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)


def chaos(args, rng, work_dir):
    inp = work_dir / "input.txt"
    inp.write_text("".join(f"k{n % args.keys},{n}\n" for n in range(args.lines)))
    expected = expected_lines(args.lines, args.keys)

    reference = Job(work_dir, "-reference", inp)
    started = time.perf_counter()
    run(reference.command(args.python, args.workers[0], args.processes[0]), reference.log)
    duration_s = time.perf_counter() - started
    ref_result = compare(expected, reference.out)
    print(f"uninterrupted run: {duration_s:.2f} s, {args.lines} lines, "
          f"lost/duplicated/unexpected vs expected: {ref_result}")
    if ref_result != (0, 0, 0):
        print("the uninterrupted run itself is wrong", file=sys.stderr)
        return 1

    totals = Counter()
    jobs = [Job(work_dir, 1, inp)]
    print(f"{'cycle':>5} {'job':>4} {'layout':>7} {'delay s':>8} {'lines at end':>13}  result")
    for cycle in range(1, args.cycles + 1):
        job = jobs[-1]
        workers, processes = rng.choice(args.workers), rng.choice(args.processes)
        delay = rng.uniform(MIN_DELAY_S, duration_s)
        try:
            finished = run(job.command(args.python, workers, processes), job.log, kill_after_s=delay)
        except RunFailed as failure:
            print(f"cycle {cycle}: run FAILED: {failure}", file=sys.stderr)
            return 1
        result = "killed"
        if finished:
            lost, duplicated, unexpected = compare(expected, job.out)
            totals.update(lost=lost, duplicated=duplicated, unexpected=unexpected, jobs=1)
            result = f"finished: lost {lost}, duplicated {duplicated}, unexpected {unexpected}"
            jobs.append(Job(work_dir, job.number + 1, inp))
        else:
            totals.update(kills=1)
        layout = f"p{processes}w{workers}"
        print(f"{cycle:>5} {job.number:>4} {layout:>7} {delay:>8.3f} {line_count(job.out):>13}  {result}",
              flush=True)

    last = jobs[-1]
    if last.log.exists():
        # The open job was killed at least once: let it finish.
        run(last.command(args.python, args.workers[0], args.processes[0]), last.log)
        lost, duplicated, unexpected = compare(expected, last.out)
        totals.update(lost=lost, duplicated=duplicated, unexpected=unexpected, jobs=1)
        print(f"job {last.number} run to the end: lost {lost}, duplicated {duplicated}, "
              f"unexpected {unexpected}")

    print(f"\n{args.cycles} cycles, {totals['kills']} kills, {totals['jobs']} jobs finished")
    print(f"lost: {totals['lost']}  duplicated: {totals['duplicated']}"
          + (f"  unexpected: {totals['unexpected']}" if totals["unexpected"] else ""))
    return 1 if totals["lost"] or totals["unexpected"] else 0


if __name__ == "__main__":
    sys.exit(main())
