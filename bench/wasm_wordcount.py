"""WASM wordcount benchmark: bytewax-wasm vs hand-written Rust vs Bytewax 0.16.2.

Runs the seed wordcount as a pure-WASM plan (examples/wordcount-wasm/plan.json)
with `bytewax-wasm run`, the same counting written by hand in Rust
(bench/native-wordcount) and the seed flow on Bytewax 0.16.2, over the same
generated text; checks they agree on every word's total and prints wall times
and ratios. bytewax-wasm runs once per worker count asked for (by default one
worker and one per core), and native and bytewax-wasm are timed over several
interleaved rounds, medians reported, since a shared machine's speed drifts
between runs. Then measures what a WASM step costs per item: a plan
file -> map -> file with the test guests' `echo` against the builtin
`identity`. See bench/README.md.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from wordcount import (
    DATA_DIR,
    BENCH_DIR,
    bench_env,
    compare_totals,
    ensure_bytewax016_python,
    flow_command,
    timed_run,
)
from zipf_text import ensure_text

REPO_DIR = BENCH_DIR.parent
WORDCOUNT_PLAN = REPO_DIR / "examples" / "wordcount-wasm" / "plan.json"
TEST_GUESTS = REPO_DIR / "runtime" / "tests" / "guests" / "test_guests.wasm"
NATIVE_DIR = BENCH_DIR / "native-wordcount"
NATIVE_BIN = NATIVE_DIR / "target" / "release" / "native-wordcount"
DEFAULT_HOST = REPO_DIR / "target" / "release" / "bytewax-wasm"
BYTEWAX016 = "bytewax 0.16.2"
NATIVE_GOAL = "goal: at most 2x"
BYTEWAX016_GOAL = "goal: at least 300x"


class SetupError(Exception):
    """Something the benchmark needs is missing; the message says how to get it."""


def find_host(explicit):
    host = Path(explicit or os.environ.get("BYTEWAX_WASM_BIN") or DEFAULT_HOST)
    if not host.is_file():
        raise SetupError(
            f"bytewax-wasm binary not found at {host}; build it with "
            "`cargo build --release -p bytewax-runtime` (or pass --bin / set "
            "BYTEWAX_WASM_BIN)")
    return host.resolve()


def wasm_components(plan):
    return {s[k]["component"] for s in plan["steps"] for k in ("mapper", "reducer")
            if k in s and s[k].get("kind") == "wasm"}


def check_guests(plan):
    for component in sorted(wasm_components(plan)) + [str(TEST_GUESTS)]:
        path = WORDCOUNT_PLAN.parent / component
        if not path.is_file():
            raise SetupError(f"WASM component {path} is missing; build the guests "
                             "with `scripts/build-guests`")


def ensure_native():
    """Build the native baseline unless its binary is newer than its sources."""
    sources = [NATIVE_DIR / "Cargo.toml", *sorted((NATIVE_DIR / "src").glob("*.rs"))]
    if NATIVE_BIN.is_file() and all(
            NATIVE_BIN.stat().st_mtime >= s.stat().st_mtime for s in sources):
        return NATIVE_BIN
    print("building bench/native-wordcount ...", flush=True)
    try:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path",
                        str(NATIVE_DIR / "Cargo.toml")], check=True)
    except (OSError, subprocess.CalledProcessError) as why:
        raise SetupError(f"cannot build the native baseline ({why}); run `cargo build "
                         "--release --manifest-path bench/native-wordcount/Cargo.toml`")
    return NATIVE_BIN


def write_wordcount_plan(tmp, text_path):
    """The example plan reading ``text_path``, its component paths made absolute."""
    plan = json.loads(WORDCOUNT_PLAN.read_text())
    for step in plan["steps"]:
        if step["op"] == "input":
            step["source"] = {"kind": "file", "path": str(text_path)}
        for key in ("mapper", "reducer"):
            if key in step and step[key].get("kind") == "wasm":
                component = WORDCOUNT_PLAN.parent / step[key]["component"]
                step[key]["component"] = str(component.resolve())
    path = Path(tmp) / "wordcount-plan.json"
    path.write_text(json.dumps(plan))
    return path


def write_passthrough_plan(tmp, name, items_path, mapper, out_path):
    plan = {"plan_version": 1, "steps": [
        {"op": "input", "step_id": "inp",
         "source": {"kind": "file", "path": str(items_path)}},
        {"op": "map", "step_id": "pass", "mapper": mapper},
        {"op": "output", "step_id": "out",
         "sink": {"kind": "file", "path": str(out_path)}},
    ]}
    path = Path(tmp) / f"{name}-plan.json"
    path.write_text(json.dumps(plan))
    return path


def ensure_items(count):
    """A file of ``count`` short lines (``item0``, ``item1``...), made once."""
    path = DATA_DIR / f"items-{count}.txt"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        with open(partial, "w") as out:
            out.writelines(f"item{i}\n" for i in range(count))
        os.replace(partial, path)
    return path


def best_wall_s(command, repeats, timeout_s):
    """The fastest of ``repeats`` runs of ``command``, stdout discarded."""
    best = None
    for _ in range(repeats):
        start = time.perf_counter()
        proc = subprocess.run(command, cwd=BENCH_DIR, env=bench_env(),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, timeout=timeout_s)
        wall_s = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{command} exited {proc.returncode}:\n"
                               f"{proc.stderr[-2000:]}")
        best = wall_s if best is None else min(best, wall_s)
    return best


def measure_call_overhead(host, count, repeats, timeout_s):
    """Wall times of file -> map -> file with `echo` vs builtin `identity`,
    over ``count`` items and over one item (the fixed start-up cost)."""
    echo = {"kind": "wasm", "component": str(TEST_GUESTS.resolve()), "export": "echo"}
    identity = {"kind": "builtin", "name": "identity"}
    times = {}
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        for n in (count, 1):
            items = ensure_items(n)
            outputs = []
            for name, mapper in (("echo", echo), ("identity", identity)):
                out = Path(tmp) / f"{name}-{n}.txt"
                plan = write_passthrough_plan(tmp, name, items, mapper, out)
                times[name, n] = best_wall_s([str(host), "run", str(plan)],
                                             repeats, timeout_s)
                outputs.append(out.read_bytes())
            if outputs[0] != outputs[1] or outputs[0] != items.read_bytes():
                raise RuntimeError(f"echo and identity outputs differ on {items.name}")
    return times


def print_overhead(times, count, repeats):
    per_item = lambda wasm, builtin: (wasm - builtin) / count * 1e9
    echo, ident = times["echo", count], times["identity", count]
    echo1, ident1 = times["echo", 1], times["identity", 1]
    print(f"\nper-batch call overhead: {count} items, file -> map -> file, "
          f"1 worker, best of {repeats}")
    print(f"  map `echo` (test_guests.wasm)  {echo:8.2f} s   (1 item: {echo1:.2f} s)")
    print(f"  map builtin `identity`         {ident:8.2f} s   (1 item: {ident1:.2f} s)")
    print(f"  (t_wasm - t_builtin) / N:          {per_item(echo, ident):8.0f} ns per item")
    print(f"  same, less the 1-item start-up:    "
          f"{per_item(echo - echo1, ident - ident1):8.0f} ns per item")


def wasm_name(workers):
    return f"bytewax-wasm -w {workers}"


def worker_counts(text):
    """``1,2`` -> [1, 2]; each at least 1, no repeats."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected worker counts like 1,2, got {text!r}")
    if not counts or min(counts) < 1 or len(set(counts)) != len(counts):
        raise argparse.ArgumentTypeError(f"expected distinct worker counts >= 1, got {text!r}")
    return counts


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def print_report(text_path, walls, results, failed, rounds):
    """``walls``: every round's wall time per contestant; ``results``: one measurement
    each (for the totals)."""
    size_mb = text_path.stat().st_size / 1e6
    words = sum(results["native"].totals.values()) if "native" in results else 0
    median = {name: statistics.median(times) for name, times in walls.items()}
    print(f"\ninput: {text_path.name} ({size_mb:.1f} MB, {words} words); "
          f"median of {rounds} interleaved rounds (0.16.2: one run)")
    print(f"{'contestant':<20}{'wall s':>10}{'MB/s':>10}   rounds")
    for name, wall_s in median.items():
        spread = " ".join(f"{t:.3f}" for t in sorted(walls[name]))
        print(f"{name:<20}{wall_s:>10.2f}{size_mb / wall_s:>10.2f}   {spread}")
    for name in failed:
        print(f"{name:<20}{'-':>10}{'-':>10}   (FAILED, see above)")
    print()
    for name in median:
        if not name.startswith("bytewax-wasm"):
            continue
        if "native" in median:
            print(f"{name} / native: {median[name] / median['native']:.2f}x  ({NATIVE_GOAL})")
        if BYTEWAX016 in median:
            print(f"{BYTEWAX016} / {name}: {median[BYTEWAX016] / median[name]:.0f}x  "
                  f"({BYTEWAX016_GOAL})")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=50,
                        help="size of the generated text (default 50)")
    cores = os.cpu_count() or 1
    parser.add_argument("-w", "--workers", type=worker_counts,
                        default=[1] if cores == 1 else [1, cores],
                        help="bytewax-wasm worker threads, one run per count, comma-"
                             f"separated (default 1,{cores}: one, and one per core)")
    parser.add_argument("--rounds", type=positive_int, default=3,
                        help="interleaved runs of native and each bytewax-wasm, the "
                             "median reported (default 3)")
    parser.add_argument("--bin", default=None,
                        help="the bytewax-wasm binary [env: BYTEWAX_WASM_BIN; "
                             "default target/release/bytewax-wasm]")
    parser.add_argument("--skip-bytewax016", action="store_true",
                        help="do not run Bytewax 0.16.2")
    parser.add_argument("--bytewax016-python", metavar="PYTHON",
                        default=os.environ.get("BENCH_BYTEWAX016_PYTHON"),
                        help="interpreter with Bytewax 0.16.2 [env: "
                             "BENCH_BYTEWAX016_PYTHON; default bench/.venv-bytewax016]")
    parser.add_argument("--overhead-items", type=int, default=2_000_000,
                        help="items for the call-overhead runs (default 2000000)")
    parser.add_argument("--overhead-repeats", type=int, default=3,
                        help="runs per call-overhead case, best kept (default 3)")
    parser.add_argument("--timeout", type=float, default=3600,
                        help="seconds allowed per run (default 3600)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        host = find_host(args.bin)
        check_guests(json.loads(WORDCOUNT_PLAN.read_text()))
        native = ensure_native()
    except SetupError as why:
        print(f"wasm_wordcount: {why}", file=sys.stderr)
        return 2
    text_path = ensure_text(DATA_DIR, args.size_mb)

    results, walls, failed = {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="bench-wasm-wordcount-") as tmp:
        plan = write_wordcount_plan(tmp, text_path)
        contestants = [("native", lambda: [str(native), str(text_path)])]
        contestants += [(wasm_name(w), lambda w=w: [str(host), "run", "-w", str(w), str(plan)])
                        for w in args.workers]
        # Rounds interleave the contestants, so a slow spell of the machine hits all alike.
        schedule = [c for _ in range(args.rounds) for c in contestants]
        if not args.skip_bytewax016:
            schedule.append((BYTEWAX016, lambda: flow_command(
                ensure_bytewax016_python(args.bytewax016_python), text_path)))
        for name, command in schedule:
            if name in failed:
                continue
            print(f"running {name} ...", flush=True)
            try:
                measured = timed_run(name, command(), args.timeout,
                                     keep_pythonpath=name != BYTEWAX016)
                # Every round's output is checked, not just one.
                why = "; ".join(compare_totals(results["native"], [measured])
                                if name != "native" and "native" in results else [])
            except (RuntimeError, OSError, subprocess.SubprocessError) as failure:
                why = f"FAILED: {failure}"
            if why:
                failed[name] = why
                print(f"{name}: {why}", file=sys.stderr)
                results.pop(name, None)
                walls.pop(name, None)
                continue
            walls.setdefault(name, []).append(measured.wall_s)
            results[name] = measured

    problems = [f"{name} failed" for name in failed]
    print_report(text_path, walls, results, failed, args.rounds)
    if not problems:
        print(f"word totals agree: {', '.join(results)}")

    print(f"\nmeasuring call overhead ({args.overhead_items} items) ...", flush=True)
    try:
        times = measure_call_overhead(host, args.overhead_items,
                                      args.overhead_repeats, args.timeout)
        print_overhead(times, args.overhead_items, args.overhead_repeats)
    except (RuntimeError, subprocess.TimeoutExpired) as failure:
        problems.append(f"call overhead: {failure}")
    if problems:
        print("\nPROBLEMS:\n" + "\n".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
