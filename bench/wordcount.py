"""Wordcount benchmark: our bytewax vs Bytewax 0.16.2 vs a bare Python loop.

Runs the seed wordcount (bench/seed_flow.py) over a generated Zipf text with
three contestants, side by side in one run, checks they agree on every word's
total, and prints wall times and ratios. See bench/README.md.
"""

import argparse
import ast
import re
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from zipf_text import ensure_text

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / "data"
BYTEWAX016_VENV = BENCH_DIR / ".venv-bytewax016"
BYTEWAX016_REQUIREMENT = "bytewax==0.16.2"


class ContestantUnavailable(Exception):
    """A contestant cannot run here; the message says why and what to do."""


class Measurement:
    """One contestant's wall time and per-word totals."""

    def __init__(self, name, wall_s, totals):
        self.name = name
        self.wall_s = wall_s
        self.totals = totals


def bench_env(keep_pythonpath=True):
    # BYTEWAX_* variables are CLI defaults (-p, -w, ...); a benchmark must
    # not pick them up from the caller's shell.
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYTEWAX_")}
    # An inherited PYTHONPATH may be how our bytewax is found, but it must not
    # shadow the real Bytewax inside the 0.16.2 venv.
    entries = [str(BENCH_DIR)]
    if keep_pythonpath and env.get("PYTHONPATH"):
        entries.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(entries)
    return env


# What Bytewax 0.16.2's cluster start-up prints on stdout among the results.
CONNECTION_CHATTER = re.compile(r"^(worker \d+:\t|awaiting connections)")


def summed_totals(output_path):
    """Add up ``(word, count)`` lines per word (windows may split a word).

    Bytewax 0.16.2's connection messages (``-p``) are skipped, not counted."""
    totals = Counter()
    with open(output_path) as lines:
        for line in lines:
            if not line.strip() or CONNECTION_CHATTER.match(line):
                continue
            for word, count in _pairs(line):
                totals[word] += count
    return totals


# One printed `(word, count)`: 0.16.2 with `-p` sometimes writes two on one line.
_PAIR = re.compile(r"""\((?:'[^'\\]*'|"[^"\\]*"), -?\d+\)""")


def _pairs(line):
    try:
        return [ast.literal_eval(line)]
    except (ValueError, SyntaxError, TypeError):
        pieces = _PAIR.findall(line)
        if "".join(pieces) != line.strip():
            raise RuntimeError(f"not a (word, count) line: {line!r}")
        return [ast.literal_eval(piece) for piece in pieces]


def timed_run(name, command, timeout_s, keep_pythonpath=True):
    """Run ``command`` with stdout to a temp file; time it; parse totals."""
    with tempfile.TemporaryDirectory(prefix="bench-wordcount-") as tmp:
        out_path = Path(tmp) / "out.txt"
        err_path = Path(tmp) / "err.txt"
        with open(out_path, "w") as out, open(err_path, "w") as err:
            start = time.perf_counter()
            proc = subprocess.run(
                command,
                cwd=BENCH_DIR,
                env=bench_env(keep_pythonpath),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                timeout=timeout_s,
            )
            wall_s = time.perf_counter() - start
        if proc.returncode != 0:
            tail = err_path.read_text()[-2000:]
            raise RuntimeError(f"{name} exited {proc.returncode}:\n{tail}")
        return Measurement(name, wall_s, summed_totals(out_path))


def flow_command(python, text_path):
    import_str = f"seed_flow:get_flow({str(text_path)!r})"
    return [str(python), "-m", "bytewax.run", import_str]


def check_ours_importable(python):
    probe = subprocess.run(
        [python, "-c", "import bytewax._engine, bytewax.run"],
        capture_output=True,
        text=True,
        env=bench_env(),
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        raise ContestantUnavailable(
            f"bytewax._engine or bytewax.run is not importable by {python} "
            f"({last}); "
            "build and install our package into this interpreter first "
            "(`pip install ./python-frontend` from the repository root)"
        )


def ensure_bytewax016_python(explicit):
    """Return a python that runs Bytewax 0.16.2, creating its venv if needed."""
    if explicit:
        return Path(explicit)
    python = BYTEWAX016_VENV / "bin" / "python"
    if python.exists():
        return python
    print(f"creating {BYTEWAX016_VENV} with {BYTEWAX016_REQUIREMENT} ...", flush=True)
    # Bytewax 0.16.2 has wheels for CPython 3.7-3.11 only.
    subprocess.run([sys.executable, "-m", "venv", str(BYTEWAX016_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", BYTEWAX016_REQUIREMENT],
        check=True,
    )
    return python


def compare_totals(reference, others):
    """Return a list of disagreement descriptions (empty when all agree)."""
    problems = []
    for measured in others:
        if measured.totals == reference.totals:
            continue
        words = set(reference.totals) | set(measured.totals)
        differing = sorted(
            w for w in words if reference.totals[w] != measured.totals[w]
        )
        sample = ", ".join(
            f"{w!r}: {reference.name}={reference.totals[w]} "
            f"{measured.name}={measured.totals[w]}"
            for w in differing[:5]
        )
        problems.append(
            f"{measured.name} disagrees with {reference.name} on "
            f"{len(differing)} words ({sample})"
        )
    return problems


def print_report(text_path, results, unavailable, failed):
    size_mb = text_path.stat().st_size / 1e6
    bare = results.get("bare")
    words = sum(bare.totals.values()) if bare else 0
    print(f"\ninput: {text_path.name} ({size_mb:.1f} MB, {words} words)")
    print(f"{'contestant':<16}{'wall s':>10}{'MB/s':>10}")
    for measured in results.values():
        rate = size_mb / measured.wall_s
        print(f"{measured.name:<16}{measured.wall_s:>10.2f}{rate:>10.2f}")
    for name in unavailable:
        print(f"{name:<16}{'-':>10}{'-':>10}  (skipped, see above)")
    for name in failed:
        print(f"{name:<16}{'-':>10}{'-':>10}  (FAILED, see above)")
    print()
    for slow, fast in (("ours", "bare"), ("bytewax 0.16.2", "bare"),
                       ("bytewax 0.16.2", "ours")):
        if slow in results and fast in results:
            ratio = results[slow].wall_s / results[fast].wall_s
            print(f"{slow} / {fast}: {ratio:.2f}x")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=50,
                        help="size of the generated text (default 50)")
    parser.add_argument("--skip-bytewax016", action="store_true",
                        help="do not run Bytewax 0.16.2")
    parser.add_argument("--bytewax016-python", metavar="PYTHON",
                        default=os.environ.get("BENCH_BYTEWAX016_PYTHON"),
                        help="use this interpreter for Bytewax 0.16.2 instead "
                             "of bench/.venv-bytewax016 "
                             "[env: BENCH_BYTEWAX016_PYTHON]")
    parser.add_argument("--timeout", type=float, default=3600,
                        help="seconds allowed per contestant (default 3600)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    text_path = ensure_text(DATA_DIR, args.size_mb)

    contestants = [("bare", lambda: [sys.executable, "seed_flow.py", str(text_path)])]

    def ours():
        check_ours_importable(sys.executable)
        return flow_command(sys.executable, text_path)

    contestants.append(("ours", ours))
    if not args.skip_bytewax016:
        contestants.append(("bytewax 0.16.2", lambda: flow_command(
            ensure_bytewax016_python(args.bytewax016_python), text_path)))

    results, unavailable, failed = {}, {}, {}
    for name, command in contestants:
        try:
            cmd = command()
        except ContestantUnavailable as why:
            unavailable[name] = str(why)
            print(f"{name}: skipped: {why}", file=sys.stderr)
            continue
        print(f"running {name} ...", flush=True)
        keep_pythonpath = name != "bytewax 0.16.2"
        try:
            results[name] = timed_run(name, cmd, args.timeout, keep_pythonpath)
        except (RuntimeError, subprocess.TimeoutExpired) as failure:
            failed[name] = str(failure)
            print(f"{name}: FAILED: {failure}", file=sys.stderr)

    if "bare" not in results:
        return 1
    problems = compare_totals(results["bare"], [
        m for name, m in results.items() if name != "bare"])
    print_report(text_path, results, unavailable, failed)
    problems += [f"{name} failed" for name in failed]
    if problems:
        print("\nPROBLEMS:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    if len(results) == 1:
        print("only the bare loop ran: nothing to compare")
    else:
        print(f"word totals agree: {', '.join(results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
