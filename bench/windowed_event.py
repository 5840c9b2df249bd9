"""Event-time window benchmark: our bytewax vs Bytewax 0.16.2 vs a bare Python loop.

One flow (``get_flow``) sums integers per key in tumbling event-time windows
over up to a million keys, with ``EventClockConfig(wait_for_system_duration=0)``
so that a key's windows close as its own watermark passes them. The same flow
file runs on our engine and on Bytewax 0.16.2; a plain dict loop does the same
sums. Wall times and ratios are printed side by side and the three results
(window count, sum of all window sums, an order-free checksum) must agree.
See bench/README.md.

The input is generated, not read: item ``i`` is ``("k<i % keys>", i)`` at event
time ``2023-01-01T00:00Z + i * step_ms``. Each key's items are therefore in
time order and ``keys * step_ms`` apart (10,000 s by default), which must
exceed any run's wall time: the watermark also advances with system time, and
only then can no item be late, whatever the speed of the engine.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

from wordcount import ContestantUnavailable, bench_env, check_ours_importable, ensure_bytewax016_python

BENCH_DIR = Path(__file__).resolve().parent
START = datetime(2023, 1, 1, tzinfo=timezone.utc)
SUMMARY_LINE = re.compile(r"^windows=(\d+) sum=(\d+) checksum=(\d+)$", re.MULTILINE)


def generate_items(items, keys):
    """The benchmark input: ``("k<i % keys>", i)`` for ``i`` in ``range(items)``."""
    for i in range(items):
        yield (f"k{i % keys}", i)


def event_time_getter(step_ms):
    """The dt_getter: item ``i`` happens ``i * step_ms`` milliseconds after START."""
    def event_time(i):
        return START + timedelta(milliseconds=i * step_ms)
    return event_time


def add(total, i):
    return total + i


class Summary:
    """Order-free digest of ``(key, window_sum)`` results, printed as one line."""

    def __init__(self):
        self.windows = 0
        self.total = 0
        self.checksum = 0

    def add_result(self, key, window_sum):
        self.windows += 1
        self.total += window_sum
        self.checksum = (self.checksum + zlib.crc32(f"{key}={window_sum}".encode())) % 2**64

    def line(self):
        return f"windows={self.windows} sum={self.total} checksum={self.checksum}"


def get_flow(items, keys, step_ms, window_s):
    """The benchmarked dataflow; run with ``python -m bytewax.run "windowed_event:get_flow(...)"``."""
    # Imported here so the bare loop and the harness run without bytewax.
    from bytewax.dataflow import Dataflow
    from bytewax.outputs import DynamicOutput, StatelessSink
    from bytewax.testing import TestingInput
    from bytewax.window import EventClockConfig, TumblingWindow

    class SummarySink(StatelessSink):
        def __init__(self):
            self.summary = Summary()

        def write(self, item):
            self.summary.add_result(*item)

        def close(self):
            print(self.summary.line(), flush=True)

    class SummaryOutput(DynamicOutput):
        def build(self, worker_index, worker_count):
            return SummarySink()

    clock = EventClockConfig(event_time_getter(step_ms), wait_for_system_duration=timedelta(0))
    windows = TumblingWindow(length=timedelta(seconds=window_s), align_to=START)
    flow = Dataflow()
    flow.input("inp", TestingInput(generate_items(items, keys)))
    flow.reduce_window("sum", clock, windows, add)
    flow.output("out", SummaryOutput())
    return flow


def bare_summary(items, keys, step_ms, window_s):
    """The same windowed sums with a dict keyed by (key, window index)."""
    event_time = event_time_getter(step_ms)
    length = timedelta(seconds=window_s)
    sums = {}
    for key, i in generate_items(items, keys):
        window = (key, (event_time(i) - START) // length)
        if window in sums:
            sums[window] = add(sums[window], i)
        else:
            sums[window] = i
    summary = Summary()
    for (key, _), window_sum in sums.items():
        summary.add_result(key, window_sum)
    return summary


class Outcome:
    """One contestant's wall time and summary, or why it has none."""

    def __init__(self, name, wall_s=None, summary=None, problem=None, timed_out=False):
        self.name = name
        self.wall_s = wall_s
        self.summary = summary
        self.problem = problem
        self.timed_out = timed_out


def timed_contestant(name, command, timeout_s, keep_pythonpath=True):
    """Run ``command`` in a fresh process, time it, and read its summary line."""
    with tempfile.TemporaryDirectory(prefix="bench-windowed-") as tmp:
        out_path, err_path = Path(tmp) / "out.txt", Path(tmp) / "err.txt"
        with open(out_path, "w") as out, open(err_path, "w") as err:
            start = time.perf_counter()
            try:
                proc = subprocess.run(command, cwd=BENCH_DIR, env=bench_env(keep_pythonpath),
                                      stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                      timeout=timeout_s)
            except subprocess.TimeoutExpired:
                return Outcome(name, problem=f"timed out after {timeout_s:g} s", timed_out=True)
            wall_s = time.perf_counter() - start
        if proc.returncode != 0:
            tail = err_path.read_text().strip().splitlines()[-6:] or ["(no stderr)"]
            return Outcome(name, problem=f"exited {proc.returncode}: {tail[-1]}\n    " + "\n    ".join(tail))
        found = SUMMARY_LINE.findall(out_path.read_text())
        if len(found) != 1:
            return Outcome(name, problem=f"printed {len(found)} summary lines, expected 1")
        windows, total, checksum = (int(x) for x in found[0])
        return Outcome(name, wall_s, (windows, total, checksum))


def flow_command(python, args):
    import_str = f"windowed_event:get_flow({args.items}, {args.keys}, {args.step_ms}, {args.window_s})"
    return [str(python), "-m", "bytewax.run", import_str]


def bare_command(args):
    return [sys.executable, Path(__file__).name, "--run-bare", "--items", str(args.items),
            "--keys", str(args.keys), "--step-ms", str(args.step_ms), "--window-s", str(args.window_s)]


def print_report(args, outcomes):
    print(f"\ninput: {args.items} items over {args.keys} keys, {args.step_ms} ms apart, "
          f"{args.window_s} s tumbling windows, event clock waiting 0 s")
    print(f"{'contestant':<16}{'wall s':>10}{'items/s':>12}")
    for o in outcomes.values():
        if o.summary:
            print(f"{o.name:<16}{o.wall_s:>10.2f}{args.items / o.wall_s:>12.0f}")
        else:
            print(f"{o.name:<16}{'-':>10}{'-':>12}  ({o.problem.splitlines()[0]})")
    print()
    for slow, fast in (("ours", "bare"), ("bytewax 0.16.2", "bare"), ("bytewax 0.16.2", "ours")):
        if all(name in outcomes and outcomes[name].summary for name in (slow, fast)):
            print(f"{slow} / {fast}: {outcomes[slow].wall_s / outcomes[fast].wall_s:.2f}x")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2_000_000, help="input items (default 2,000,000)")
    parser.add_argument("--keys", type=int, default=1_000_000, help="distinct keys (default 1,000,000)")
    parser.add_argument("--step-ms", type=int, default=None,
                        help="event time between consecutive items, ms (default: "
                             "10,000,000 / keys, so a key's items are 10,000 s apart)")
    parser.add_argument("--window-s", type=int, default=4 * 3600,
                        help="tumbling window length, s (default 14400)")
    parser.add_argument("--skip-bytewax016", action="store_true", help="do not run Bytewax 0.16.2")
    parser.add_argument("--bytewax016-python", metavar="PYTHON",
                        default=os.environ.get("BENCH_BYTEWAX016_PYTHON"),
                        help="interpreter with Bytewax 0.16.2 instead of bench/.venv-bytewax016 "
                             "[env: BENCH_BYTEWAX016_PYTHON]")
    parser.add_argument("--ours-python", metavar="PYTHON", default=sys.executable,
                        help="interpreter with our bytewax installed (default: this one)")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds allowed per contestant (default 1800)")
    parser.add_argument("--run-bare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step_ms is None and args.keys > 0:
        args.step_ms = max(1, 10_000_000 // args.keys)
    if min(args.items, args.keys, args.step_ms, args.window_s) < 1:
        parser.error("--items, --keys, --step-ms and --window-s must be positive")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.run_bare:
        print(bare_summary(args.items, args.keys, args.step_ms, args.window_s).line())
        return 0
    if args.items > args.keys and args.keys * args.step_ms / 1000 <= args.timeout:
        print(f"warning: a key's items are only {args.keys * args.step_ms / 1000:g} s of event time "
              "apart; a slower run may see late items and disagree", file=sys.stderr)

    contestants = [("bare", lambda: bare_command(args))]

    def ours():
        check_ours_importable(args.ours_python)
        return flow_command(args.ours_python, args)

    contestants.append(("ours", ours))
    if not args.skip_bytewax016:
        contestants.append(("bytewax 0.16.2", lambda: flow_command(
            ensure_bytewax016_python(args.bytewax016_python), args)))

    outcomes, skipped = {}, []
    for name, command in contestants:
        try:
            cmd = command()
        except ContestantUnavailable as why:
            skipped.append(name)
            print(f"{name}: skipped: {why}", file=sys.stderr)
            continue
        print(f"running {name} ...", flush=True)
        # Our bytewax may be found through PYTHONPATH; the 0.16.2 venv must not see it.
        outcome = timed_contestant(name, cmd, args.timeout, keep_pythonpath=name != "bytewax 0.16.2")
        if outcome.problem:
            print(f"{name}: {'' if outcome.timed_out else 'FAILED: '}{outcome.problem}", file=sys.stderr)
        outcomes[name] = outcome

    print_report(args, outcomes)
    bare = outcomes["bare"]
    problems = [f"{o.name} {o.problem.splitlines()[0]}" for o in outcomes.values()
                if o.problem and not o.timed_out]
    if bare.summary:
        print(f"\n{'contestant':<16}{'windows':>10}{'sum of sums':>20}{'checksum':>22}")
        for o in outcomes.values():
            if o.summary:
                print(f"{o.name:<16}{o.summary[0]:>10}{o.summary[1]:>20}{o.summary[2]:>22}")
                if o.summary != bare.summary:
                    problems.append(f"{o.name} disagrees with bare")
    if problems:
        print("\nPROBLEMS:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    agreeing = [o.name for o in outcomes.values() if o.summary]
    print("\nonly the bare loop finished: nothing to compare" if len(agreeing) == 1
          else f"\nresults agree: {', '.join(agreeing)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
