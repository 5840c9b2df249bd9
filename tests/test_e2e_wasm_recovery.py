"""Recovery under `bytewax-wasm run --sqlite-directory`: real processes killed with
SIGKILL at random moments, resumed until they finish, and compared with a run that was
never interrupted. The plan's file sink is cut back to its snapshot on resume, so the
output must match exactly: nothing lost, nothing written twice.
"""

import json
import os
import random
import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from test_e2e_wasm import BINARY, TEST_GUESTS, WORDCOUNT_STEPS, pytestmark  # noqa: F401

KEYS = 13
RUN_TIMEOUT_S = 120


def write_input(path: Path, first: int, count: int, mode: str = "w") -> None:
    with path.open(mode) as f:
        f.writelines(f"k{i % KEYS}\n" for i in range(first, first + count))


def write_plan(tmp_path: Path) -> Path:
    """lines -> (line, 1) -> a per-key count that restarts after 3 (state deleted) -> file."""
    wasm = lambda component, export: {"kind": "wasm", "component": str(component), "export": export}  # noqa: E731
    plan = {"plan_version": 1, "steps": [
        {"op": "input", "step_id": "inp", "source": {"kind": "file", "path": "in.txt"}},
        {"op": "map", "step_id": "pair", "mapper": wasm(WORDCOUNT_STEPS, "initial_count")},
        {"op": "stateful_map", "step_id": "count",
         "builder": wasm(TEST_GUESTS, "count_builder"), "mapper": wasm(TEST_GUESTS, "running_count")},
        {"op": "output", "step_id": "out", "sink": {"kind": "file", "path": "out.txt"}},
    ]}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    return path


def start(tmp_path: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYTEWAX_")}
    return subprocess.Popen([str(BINARY), "run", "plan.json", "--epoch-interval", "0", *args],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def expected_lines(lines: int) -> Counter:
    """What an uninterrupted run writes: each key counts 1, 2, 3 and starts again."""
    seen = Counter(f"k{i % KEYS}" for i in range(lines))
    return Counter(f"('{key}', {n % 3 + 1})" for key, total in seen.items() for n in range(total))


def run_with_kills(tmp_path: Path, worker_counts, seed: int, max_delay_s: float) -> int:
    """Runs to completion, killing each attempt after a random delay; the worker count
    of attempt k is worker_counts[k % len]. Returns how many attempts were killed."""
    rng = random.Random(seed)
    kills = 0
    while True:
        workers = worker_counts[kills % len(worker_counts)]
        proc = start(tmp_path, "--sqlite-directory", "db", "-w", str(workers))
        try:
            proc.wait(timeout=rng.uniform(0.05, max_delay_s))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            kills += 1
            assert kills < 60, "the run never finished"
            continue
        _, err = proc.communicate()
        assert proc.returncode == 0, err.decode()
        return kills


@pytest.mark.parametrize("worker_counts,seed", [([1], 1), ([2], 2), ([2, 1], 3), ([1, 2], 4)],
                         ids=["1-worker", "2-workers", "rescale-2-to-1", "rescale-1-to-2"])
def test_kill_and_resume_writes_every_line_exactly_once(tmp_path, worker_counts, seed):
    lines = 3000
    write_input(tmp_path / "in.txt", 0, lines)
    write_plan(tmp_path)
    (tmp_path / "db").mkdir()
    # An uninterrupted run of this size takes a few seconds (an epoch per item).
    kills = run_with_kills(tmp_path, worker_counts, seed, max_delay_s=2.5)
    assert kills >= 1, "no attempt was killed mid-run; the test proves nothing"
    written = Counter((tmp_path / "out.txt").read_text().splitlines())
    assert written == expected_lines(lines)
    assert sorted(p.name for p in (tmp_path / "db").glob("worker*.sqlite3")) == [
        f"worker{i}.sqlite3" for i in range(worker_counts[(kills) % len(worker_counts)])]


def test_a_finished_run_continues_with_appended_lines_only(tmp_path):
    write_input(tmp_path / "in.txt", 0, 50)
    write_plan(tmp_path)
    (tmp_path / "db").mkdir()
    for _ in range(2):
        proc = start(tmp_path, "--sqlite-directory", "db")
        _, err = proc.communicate(timeout=RUN_TIMEOUT_S)
        assert proc.returncode == 0, err.decode()
    assert Counter((tmp_path / "out.txt").read_text().splitlines()) == expected_lines(50)
    write_input(tmp_path / "in.txt", 50, 20, mode="a")
    proc = start(tmp_path, "--sqlite-directory", "db")
    _, err = proc.communicate(timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, err.decode()
    # The counts carry on from the stored state, as if all 70 lines were one run.
    assert Counter((tmp_path / "out.txt").read_text().splitlines()) == expected_lines(70)


def test_a_missing_recovery_directory_is_a_usage_error(tmp_path):
    write_input(tmp_path / "in.txt", 0, 3)
    write_plan(tmp_path)
    proc = start(tmp_path, "--sqlite-directory", "no-such-dir")
    out, err = proc.communicate(timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "no-such-dir" in lines[0] and "create it" in lines[0]
