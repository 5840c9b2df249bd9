"""Scaling benchmark: the seed wordcount on 1 process against `-p N` processes.

Runs the seed flow (bench/seed_flow.py) with `python -m bytewax.run ... -p N` for each N
given, on our engine and (on a smaller text, since it is ~50x slower) on Bytewax
0.16.2, plus the bare Python loop as baseline; checks that every run agrees on every
word's total and prints wall times and speed-ups against 1 process. See bench/README.md.
"""

import argparse
import os
import statistics
import subprocess
import sys

from wordcount import (
    DATA_DIR,
    ContestantUnavailable,
    check_ours_importable,
    compare_totals,
    ensure_bytewax016_python,
    flow_command,
    timed_run,
)
from zipf_text import ensure_text


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=50,
                        help="text size for the bare loop and our engine (default 50)")
    parser.add_argument("--processes", default="1,2",
                        help="comma-separated process counts to run (default 1,2)")
    parser.add_argument("--bytewax016-size-mb", type=int, default=2,
                        help="text size for Bytewax 0.16.2, which is much slower (default 2)")
    parser.add_argument("--skip-bytewax016", action="store_true", help="do not run Bytewax 0.16.2")
    parser.add_argument("--bytewax016-python", metavar="PYTHON",
                        default=os.environ.get("BENCH_BYTEWAX016_PYTHON"),
                        help="interpreter with Bytewax 0.16.2 [env: BENCH_BYTEWAX016_PYTHON]")
    parser.add_argument("--rounds", type=int, default=3,
                        help="times to run each process count on our engine, taking turns; "
                        "medians are reported (default 3)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run (default 3600)")
    return parser.parse_args(argv)


def run_series(label, python, text_path, counts, timeout, keep_pythonpath, rounds=1):
    """Runs the flow at each process count, `rounds` times over, the counts taking turns
    so that a slow spell of a shared machine hits them alike; returns {count: [Measurement]}."""
    series = {count: [] for count in counts}
    for round_no in range(rounds):
        for count in counts:
            name = f"{label} -p{count}"
            suffix = f", round {round_no + 1} of {rounds}" if rounds > 1 else ""
            print(f"running {name} ({text_path.name}{suffix}) ...", flush=True)
            command = flow_command(python, text_path) + ["-p", str(count)]
            try:
                series[count].append(timed_run(name, command, timeout, keep_pythonpath))
            except (RuntimeError, subprocess.TimeoutExpired) as failure:
                print(f"{name}: FAILED: {failure}", file=sys.stderr)
    return {count: runs for count, runs in series.items() if runs}


def report(label, text_path, bare, series):
    """Prints the median wall time per process count and its speed-up over -p1; with
    several rounds, also each round's own speed-up (runs of one round are neighbours)."""
    size_mb = text_path.stat().st_size / 1e6
    print(f"\n{label}: {text_path.name} ({size_mb:.1f} MB)")
    print(f"{'run':<22}{'wall s':>10}{'vs -p1':>10}{'vs bare':>10}{'rounds':>8}")
    if bare is not None:
        print(f"{'bare loop':<22}{bare.wall_s:>10.2f}{'':>10}{1.0:>9.2f}x")
    one = series.get(1)
    one_wall = statistics.median(m.wall_s for m in one) if one else None
    for count, runs in sorted(series.items()):
        wall = statistics.median(m.wall_s for m in runs)
        speedup = f"{one_wall / wall:.2f}x" if one_wall else "-"
        vs_bare = f"{wall / bare.wall_s:.2f}x" if bare else "-"
        print(f"{runs[0].name:<22}{wall:>10.2f}{speedup:>10}{vs_bare:>10}{len(runs):>8}")
    for count, runs in sorted(series.items()):
        if count == 1 or not one or len(runs) < 2:
            continue
        paired = [p1.wall_s / pn.wall_s for p1, pn in zip(one, runs)]
        listed = " ".join(f"{r:.2f}" for r in paired)
        print(f"-p{count} vs -p1 by round: {listed} (median {statistics.median(paired):.2f}x)")


def main(argv=None):
    args = parse_args(argv)
    counts = [int(c) for c in args.processes.split(",")]
    problems = []

    text_path = ensure_text(DATA_DIR, args.size_mb)
    print("running bare ...", flush=True)
    bare = timed_run("bare", [sys.executable, "seed_flow.py", str(text_path)], args.timeout)
    check_ours_importable(sys.executable)
    ours = run_series("ours", sys.executable, text_path, counts, args.timeout, True, args.rounds)
    problems += compare_totals(bare, [m for runs in ours.values() for m in runs])
    report("ours", text_path, bare, ours)

    if not args.skip_bytewax016:
        try:
            python016 = ensure_bytewax016_python(args.bytewax016_python)
        except ContestantUnavailable as why:
            print(f"bytewax 0.16.2: skipped: {why}", file=sys.stderr)
        else:
            small = ensure_text(DATA_DIR, args.bytewax016_size_mb)
            small_bare = timed_run("bare", [sys.executable, "seed_flow.py", str(small)], args.timeout)
            old = run_series("bytewax 0.16.2", python016, small, counts, args.timeout, False)
            problems += compare_totals(small_bare, [m for runs in old.values() for m in runs])
            report("bytewax 0.16.2", small, small_bare, old)

    if problems:
        print("\nPROBLEMS:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    print("\nword totals agree in every run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
