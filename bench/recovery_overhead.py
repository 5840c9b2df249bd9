"""Recovery overhead: the seed wordcount with SQLite snapshots every second vs without.

Runs the seed flow (bench/seed_flow.py) over a generated Zipf text three ways,
side by side in one run: the bare Python loop, `python -m bytewax.run ...
--epoch-interval 1`, and the same with `--sqlite-directory` (a fresh empty
directory per run). Checks that both flows agree with the bare loop on every
word's total and prints wall times and ratios (goal: recovery at most 10%
slower). See bench/README.md.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from wordcount import (
    DATA_DIR,
    ContestantUnavailable,
    check_ours_importable,
    compare_totals,
    flow_command,
    timed_run,
)
from zipf_text import ensure_text

GOAL_RATIO = 1.10


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=50, help="size of the generated text (default 50)")
    parser.add_argument("--epoch-interval", type=int, default=1,
                        help="seconds between snapshots, for both flows (default 1)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per contestant, alternating; the best is reported (default 3)")
    parser.add_argument("-w", "--workers", type=int, default=1, help="worker threads per flow (default 1)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run (default 3600)")
    return parser.parse_args(argv)


def recovering_run(name, command, timeout):
    """`command` with `--sqlite-directory` on a fresh directory; also reports the store size."""
    with tempfile.TemporaryDirectory(prefix="bench-recovery-") as db:
        measured = timed_run(name, command + ["--sqlite-directory", db], timeout)
        measured.store_mb = sum(p.stat().st_size for p in Path(db).iterdir()) / 1e6
    return measured


def best(runs):
    return min(runs, key=lambda m: m.wall_s)


def report(text_path, results, epoch_interval):
    size_mb = text_path.stat().st_size / 1e6
    words = sum(results["bare"].totals.values())
    print(f"\ninput: {text_path.name} ({size_mb:.1f} MB, {words} words), "
          f"--epoch-interval {epoch_interval}, best of each")
    print(f"{'contestant':<18}{'wall s':>10}{'MB/s':>10}")
    for measured in results.values():
        print(f"{measured.name:<18}{measured.wall_s:>10.2f}{size_mb / measured.wall_s:>10.2f}")
    store_mb = getattr(results["recovery"], "store_mb", None)
    if store_mb is not None:
        print(f"recovery store after the run: {store_mb:.1f} MB")
    print()
    for slow, fast in (("no recovery", "bare"), ("recovery", "bare"), ("recovery", "no recovery")):
        print(f"{slow} / {fast}: {results[slow].wall_s / results[fast].wall_s:.2f}x")
    overhead = results["recovery"].wall_s / results["no recovery"].wall_s
    verdict = "within" if overhead <= GOAL_RATIO else "OVER"
    print(f"recovery overhead: {(overhead - 1) * 100:+.1f}% ({verdict} the goal of "
          f"+{(GOAL_RATIO - 1) * 100:.0f}%)")


def main(argv=None):
    args = parse_args(argv)
    text_path = ensure_text(DATA_DIR, args.size_mb)
    try:
        check_ours_importable(sys.executable)
    except ContestantUnavailable as why:
        print(f"cannot run: {why}", file=sys.stderr)
        return 2

    plain = flow_command(sys.executable, text_path) + ["--epoch-interval", str(args.epoch_interval)]
    if args.workers > 1:
        plain += ["-w", str(args.workers)]
    contestants = {
        "bare": lambda: timed_run("bare", [sys.executable, "seed_flow.py", str(text_path)], args.timeout),
        "no recovery": lambda: timed_run("no recovery", plain, args.timeout),
        "recovery": lambda: recovering_run("recovery", plain, args.timeout),
    }
    runs = {name: [] for name in contestants}
    try:
        # Alternating, so that a slow spell of a shared machine hits every contestant.
        for repeat in range(1, args.repeats + 1):
            for name, measure in contestants.items():
                print(f"running {name} ({repeat}/{args.repeats}) ...", flush=True)
                runs[name].append(measure())
    except (RuntimeError, subprocess.TimeoutExpired) as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1

    results = {name: best(measured) for name, measured in runs.items()}
    problems = compare_totals(results["bare"], runs["no recovery"] + runs["recovery"])
    report(text_path, results, args.epoch_interval)
    if problems:
        print("\nPROBLEMS:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    print("word totals agree: bare, no recovery, recovery")
    return 0


if __name__ == "__main__":
    sys.exit(main())
