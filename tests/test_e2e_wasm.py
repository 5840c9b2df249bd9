"""The `bytewax-wasm` binary run as users run it: `run`, `validate` and `graph` on plans.

The binary is `$BYTEWAX_WASM_BIN`, default `target/release/bytewax-wasm`; the components
are the wordcount example's and the host's test guests (`scripts/build-guests`). Plans
are written into each test's tmp_path with absolute component paths, except where a test
is about relative ones.
"""

import ast
import json
import os
import re
import shutil
import socket
import subprocess
from collections import Counter
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
BINARY = Path(os.environ.get("BYTEWAX_WASM_BIN") or REPO_ROOT / "target" / "release" / "bytewax-wasm")
EXAMPLE_DIR = REPO_ROOT / "examples" / "wordcount-wasm"
EXAMPLE_PLAN = EXAMPLE_DIR / "plan.json"
WORDCOUNT_STEPS = EXAMPLE_DIR / "wordcount_steps.wasm"
TEST_GUESTS = REPO_ROOT / "runtime" / "tests" / "guests" / "test_guests.wasm"
SEED_WORD_PATTERN = r'[^\s!,.?":;0-9]+'
TIMEOUT_S = 120

pytestmark = [
    pytest.mark.skipif(not BINARY.is_file(), reason=f"{BINARY} is missing; build it with "
                       "`cargo build --release -p bytewax-runtime --bin bytewax-wasm`"),
    pytest.mark.skipif(not (WORDCOUNT_STEPS.is_file() and TEST_GUESTS.is_file()),
                       reason="guest components are missing; run scripts/build-guests"),
]


def run_cli(*args, cwd=REPO_ROOT):
    """Run the binary; BYTEWAX_* variables are dropped because it reads them as defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYTEWAX_")}
    return subprocess.run(
        [str(BINARY), *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )


def summed_counts(stdout):
    """Add up `('word', n)` lines per word (a run may span several 5 s windows)."""
    totals = Counter()
    for line in stdout.splitlines():
        if line.strip():
            word, count = ast.literal_eval(line)
            totals[word] += count
    return totals


def expected_counts(sample_text):
    """The seed's counting rule applied to the sample, without any dataflow."""
    counts = Counter()
    for line in sample_text.read_text().splitlines():
        counts.update(re.findall(SEED_WORD_PATTERN, line.lower()))
    return counts


def wasm(component, export, **limits):
    ref = {"kind": "wasm", "component": str(component), "export": export}
    if limits:
        ref["limits"] = limits
    return ref


def file_input(path, step_id="inp"):
    return {"op": "input", "step_id": step_id, "source": {"kind": "file", "path": str(path)}}


def stdout_output(step_id="out"):
    return {"op": "output", "step_id": step_id, "sink": {"kind": "stdout"}}


def write_plan(tmp_path, steps, name="plan.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"plan_version": 1, "steps": steps}))
    return path


def write_lines(tmp_path, lines, name="in.txt"):
    path = tmp_path / name
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def assert_one_clean_error_line(result, code):
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("bytewax-wasm: error: "), result.stderr
    assert "panicked" not in result.stderr and "RUST_BACKTRACE" not in result.stderr
    return lines[0]


# --- the wordcount example -------------------------------------------------------------


@pytest.fixture(scope="module")
def wasm_wordcount_totals():
    result = run_cli("run", EXAMPLE_PLAN.relative_to(REPO_ROOT))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return summed_counts(result.stdout)


def test_wasm_wordcount_counts_every_word(wasm_wordcount_totals, sample_text):
    assert wasm_wordcount_totals == expected_counts(sample_text)


def test_wasm_wordcount_matches_python_wordcount(wasm_wordcount_totals, run_bytewax):
    result = run_bytewax("examples/wordcount/dataflow.py:flow")
    assert result.returncode == 0, result.stderr
    assert summed_counts(result.stdout) == wasm_wordcount_totals


@pytest.mark.ours_only
def test_wasm_wordcount_matches_mixed_python_and_wasm_flow(wasm_wordcount_totals, run_bytewax):
    result = run_bytewax("examples/wordcount-wasm/mixed.py:flow")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert summed_counts(result.stdout) == wasm_wordcount_totals


def test_two_workers_give_the_same_totals(wasm_wordcount_totals):
    result = run_cli("run", "-w", "2", EXAMPLE_PLAN)
    assert result.returncode == 0, result.stderr
    assert summed_counts(result.stdout) == wasm_wordcount_totals


def test_a_two_process_cluster_gives_the_same_totals(wasm_wordcount_totals):
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    addresses = ";".join(f"127.0.0.1:{p}" for p in ports)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYTEWAX_")}
    procs = [
        subprocess.Popen([str(BINARY), "run", "-i", str(i), "-a", addresses, "-w", "2", str(EXAMPLE_PLAN)],
                         cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    results = [p.communicate(timeout=TIMEOUT_S) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    assert summed_counts("".join(out for out, _ in results)) == wasm_wordcount_totals


def test_a_cluster_process_alone_gives_up_naming_the_missing_one(tmp_path):
    addresses = "127.0.0.1:1;127.0.0.1:2"
    result = run_cli("run", "-i", "1", "-a", addresses, "--connect-timeout", "0.5", EXAMPLE_PLAN)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "process 1 could not connect to process 0 (127.0.0.1:1)" in result.stderr


def test_validate_accepts_the_example():
    result = run_cli("validate", EXAMPLE_PLAN)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout
    assert result.stderr == ""


def test_graph_draws_every_step_of_the_example():
    result = run_cli("graph", EXAMPLE_PLAN)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].strip() == "flowchart TD"
    for step in json.loads(EXAMPLE_PLAN.read_text())["steps"]:
        assert step["step_id"] in result.stdout


def test_graph_links_steps_in_chain_order(tmp_path):
    plan = write_plan(tmp_path, [
        file_input(tmp_path / "in.txt", "source_alpha"),
        {"op": "flat_map", "step_id": "split_beta", "mapper": wasm(TEST_GUESTS, "explode")},
        {"op": "filter", "step_id": "keep_gamma", "predicate": wasm(TEST_GUESTS, "is_even")},
        stdout_output("sink_delta"),
    ])
    result = run_cli("graph", plan)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].strip() == "flowchart TD"
    ids = ["source_alpha", "split_beta", "keep_gamma", "sink_delta"]
    for step_id in ids:
        assert step_id in result.stdout
    assert sum("-->" in line for line in lines) == len(ids) - 1


# --- help --------------------------------------------------------------------------


def test_help_lists_the_subcommands():
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    for word in ("run", "validate", "graph"):
        assert re.search(rf"^\s+{word}\b", result.stdout, re.MULTILINE), result.stdout


def test_run_help_lists_its_options():
    result = run_cli("run", "--help")
    assert result.returncode == 0, result.stderr
    assert "--workers-per-process" in result.stdout
    assert "-w" in result.stdout
    assert "--epoch-interval" in result.stdout
    assert "PLAN" in result.stdout


# --- validate errors ---------------------------------------------------------------


def test_validate_reports_a_missing_export_with_path_and_step_id(tmp_path):
    plan = write_plan(tmp_path, [
        file_input(tmp_path / "in.txt"),
        {"op": "map", "step_id": "shout", "mapper": wasm(TEST_GUESTS, "no_such_step")},
        stdout_output(),
    ])
    line = assert_one_clean_error_line(run_cli("validate", plan), 2)
    assert 'steps[1].mapper ("shout")' in line
    assert "no_such_step" in line


def test_validate_reports_a_step_of_the_wrong_kind(tmp_path):
    plan = write_plan(tmp_path, [
        file_input(tmp_path / "in.txt"),
        {"op": "map", "step_id": "adder", "mapper": wasm(WORDCOUNT_STEPS, "add")},
        stdout_output(),
    ])
    line = assert_one_clean_error_line(run_cli("validate", plan), 2)
    assert 'steps[1].mapper ("adder")' in line
    assert "reducer" in line and "map" in line


def test_validate_checks_every_role_of_a_stateful_step(tmp_path):
    plan = write_plan(tmp_path, [
        file_input(tmp_path / "in.txt"),
        {"op": "reduce", "step_id": "total", "reducer": wasm(TEST_GUESTS, "sum"),
         "is_complete": wasm(TEST_GUESTS, "is_even")},
        stdout_output(),
    ])
    line = assert_one_clean_error_line(run_cli("validate", plan), 2)
    assert 'steps[1].is_complete ("total")' in line


def test_validate_reports_a_missing_component(tmp_path):
    plan = write_plan(tmp_path, [
        file_input(tmp_path / "in.txt"),
        {"op": "map", "step_id": "m", "mapper": wasm(tmp_path / "absent.wasm", "echo")},
        stdout_output(),
    ])
    line = assert_one_clean_error_line(run_cli("validate", plan), 2)
    assert 'steps[1].mapper ("m")' in line


def test_invalid_json_is_a_usage_error(tmp_path):
    plan = tmp_path / "broken.json"
    plan.write_text('{"plan_version": 1, "steps": [')
    for command in ("run", "validate", "graph"):
        assert_one_clean_error_line(run_cli(command, plan), 2)


# --- run: refusals and failures --------------------------------------------------------


@pytest.mark.parametrize(
    "python_step",
    [
        {"op": "map", "step_id": "py_map", "mapper": {"kind": "python", "ref": "py_map.mapper"}},
        {"op": "output", "step_id": "py_map",
         "sink": {"kind": "python", "ref": "py_map.output", "partitioned": True}},
    ],
    ids=["python-function", "python-sink"],
)
def test_plan_with_python_step_is_refused(tmp_path, python_step):
    plan = write_plan(tmp_path, [file_input(write_lines(tmp_path, ["x"])), python_step, stdout_output()])
    for command in ("run", "validate"):
        line = assert_one_clean_error_line(run_cli(command, plan), 2)
        assert "py_map" in line
        assert "python -m bytewax.run" in line


@pytest.mark.parametrize(
    "export, limits, words",
    [
        ("spin", {"deadline_ms": 100}, "CPU deadline"),
        ("hog", {"memory_mb": 16}, "memory cap"),
        ("crash", {}, "trapped"),
    ],
)
def test_runtime_failure_exits_1_naming_the_step(tmp_path, export, limits, words):
    plan = write_plan(tmp_path, [
        file_input(write_lines(tmp_path, ["1"])),
        {"op": "map", "step_id": "misbehaver", "mapper": wasm(TEST_GUESTS, export, **limits)},
        stdout_output(),
    ])
    line = assert_one_clean_error_line(run_cli("run", plan), 1)
    assert "misbehaver" in line
    assert words in line


def test_guest_error_exits_1_with_its_message(tmp_path):
    plan = write_plan(tmp_path, [
        file_input(write_lines(tmp_path, ["7", "seven"])),
        {"op": "map", "step_id": "to_int", "mapper": wasm(TEST_GUESTS, "parse")},
        stdout_output(),
    ])
    line = assert_one_clean_error_line(run_cli("run", plan), 1)
    assert "to_int" in line
    assert "invalid digit found in string" in line


def test_run_refuses_a_step_of_the_wrong_kind(tmp_path):
    plan = write_plan(tmp_path, [
        file_input(write_lines(tmp_path, ["1"])),
        {"op": "map", "step_id": "adder", "mapper": wasm(WORDCOUNT_STEPS, "add")},
        stdout_output(),
    ])
    result = run_cli("run", plan)
    assert result.returncode != 0
    line = assert_one_clean_error_line(result, result.returncode)
    assert "adder" in line and "reducer" in line


# --- run: what comes out ---------------------------------------------------------------


def test_output_chained_after_output_also_gets_items(tmp_path):
    plan = write_plan(tmp_path, [
        file_input(write_lines(tmp_path, ["ab", "cd"])),
        stdout_output("first"),
        {"op": "flat_map", "step_id": "chars", "mapper": wasm(TEST_GUESTS, "explode")},
        stdout_output("second"),
        stdout_output("third"),
    ])
    result = run_cli("run", plan)
    assert result.returncode == 0, result.stderr
    expected = ["ab", "cd"] + 2 * ["a", "b", "c", "d"]
    assert sorted(result.stdout.splitlines()) == sorted(expected)


def test_stateless_kinds_in_one_plan(tmp_path):
    plan = write_plan(tmp_path, [
        file_input(write_lines(tmp_path, ["1", "2", "3", "4", "12"])),
        {"op": "map", "step_id": "to_int", "mapper": wasm(TEST_GUESTS, "parse")},
        {"op": "inspect", "step_id": "look", "inspector": wasm(TEST_GUESTS, "peek")},
        {"op": "filter", "step_id": "evens", "predicate": wasm(TEST_GUESTS, "is_even")},
        {"op": "filter_map", "step_id": "halves", "mapper": wasm(TEST_GUESTS, "maybe_half")},
        stdout_output(),
    ])
    result = run_cli("run", plan)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["1", "2", "6"]


def test_stateful_steps_from_two_components(tmp_path):
    forever = {"type": "tumbling", "length_ms": 100000 * 86400000, "align_to": "2023-01-01T00:00:00Z"}
    plan = write_plan(tmp_path, [
        file_input(write_lines(tmp_path, ["a"] * 12 + ["b"] * 3)),
        {"op": "map", "step_id": "pair", "mapper": wasm(WORDCOUNT_STEPS, "initial_count")},
        {"op": "stateful_map", "step_id": "count", "builder": wasm(TEST_GUESTS, "count_builder"),
         "mapper": wasm(TEST_GUESTS, "running_count")},
        {"op": "output", "step_id": "counts", "sink": {"kind": "stdout"}},
        {"op": "reduce", "step_id": "total", "reducer": wasm(TEST_GUESTS, "sum"),
         "is_complete": wasm(TEST_GUESTS, "at_least_10")},
        stdout_output("totals"),
        {"op": "map", "step_id": "pass_through", "mapper": wasm(TEST_GUESTS, "echo")},
        {"op": "fold_window", "step_id": "lists", "clock": {"type": "system"}, "window": forever,
         "builder": wasm(TEST_GUESTS, "list_builder"), "folder": wasm(TEST_GUESTS, "push")},
        stdout_output("folded"),
    ])
    result = run_cli("run", plan)
    assert result.returncode == 0, result.stderr
    items = [ast.literal_eval(line) for line in result.stdout.splitlines()]
    # running_count: 1, 2, 3, then the key is forgotten and counting restarts.
    a_counts = [1, 2, 3] * 4
    b_counts = [1, 2, 3]
    # reduce over those counts: a = 1+2+3+1+2+3 = 12 completes, then 1+2+3+1+2+3 = 12 again;
    # b = 1+2+3 = 6 never reaches 10.
    counted = [(k, v) for k, v in items if isinstance(v, int) and v <= 3]
    assert [v for k, v in counted if k == "a"] == a_counts
    assert [v for k, v in counted if k == "b"] == b_counts
    assert sorted(i for i in items if isinstance(i[1], int) and i[1] > 3) == [("a", 12), ("a", 12)]
    assert [i for i in items if isinstance(i[1], tuple)] == [("a", (12, 12))]


def test_sliding_system_windows_fold_every_item_into_each_of_its_windows(tmp_path):
    # Windows of 2 days every day: every item (all at about the same system time) is in
    # two windows, both still open at end of input. Keys repeat within each batch, which
    # the host folds per key and window in one component call.
    sliding = {"type": "sliding", "length_ms": 2 * 86400000, "offset_ms": 86400000,
               "align_to": "2023-01-01T00:00:00Z"}
    lines = [f"k{n % 7}" for n in range(20000)]
    plan = write_plan(tmp_path, [
        file_input(write_lines(tmp_path, lines)),
        {"op": "map", "step_id": "pair", "mapper": wasm(WORDCOUNT_STEPS, "initial_count")},
        {"op": "reduce_window", "step_id": "sums", "clock": {"type": "system"}, "window": sliding,
         "reducer": wasm(TEST_GUESTS, "sum")},
        stdout_output(),
    ])
    result = run_cli("run", plan)
    assert result.returncode == 0, result.stderr
    items = sorted(ast.literal_eval(line) for line in result.stdout.splitlines())
    expected = sorted(2 * [(f"k{k}", len(range(k, 20000, 7))) for k in range(7)])
    assert items == expected


def test_component_path_is_relative_to_the_plan_and_data_path_to_cwd(tmp_path):
    plan_dir = tmp_path / "plans"
    plan_dir.mkdir()
    shutil.copy(TEST_GUESTS, plan_dir / "guests.wasm")
    work = tmp_path / "work"
    work.mkdir()
    write_lines(work, ["xy"], name="data.txt")
    plan = write_plan(plan_dir, [
        file_input("data.txt"),
        {"op": "flat_map", "step_id": "chars", "mapper": wasm("guests.wasm", "explode")},
        stdout_output(),
    ])
    for command in ("validate", "run"):
        result = run_cli(command, plan, cwd=work)
        assert result.returncode == 0, (command, result.stderr)
    assert result.stdout.splitlines() == ["x", "y"]


def test_binary_does_not_link_libpython():
    ldd = shutil.which("ldd")
    if ldd is None:
        pytest.skip("ldd is not installed")
    result = subprocess.run([ldd, str(BINARY)], capture_output=True, text=True, timeout=TIMEOUT_S)
    assert result.returncode == 0, result.stderr
    assert "libpython" not in result.stdout


# --- windows on event time, with no Python at all ----------------------------------

T0 = 1_672_531_200_000  # 2023-01-01T00:00:00Z in milliseconds
TEN_SECONDS = {"type": "tumbling", "length_ms": 10_000, "align_to": "2023-01-01T00:00:00Z"}


def given_items(items, step_id="inp"):
    return {"op": "input", "step_id": step_id, "source": {"kind": "testing", "items": items}}


def event_clock(dt_getter, wait_ms=0):
    return {"type": "event", "dt_getter": dt_getter, "wait_for_system_duration_ms": wait_ms}


def reading(key, seconds, v):
    return [key, {"t": T0 + seconds * 1000, "v": v}]


def test_event_time_reduce_window_with_wasm_functions_drops_and_reports_late_items(tmp_path):
    plan = write_plan(tmp_path, [
        given_items([reading("a", 1, 1), reading("a", 2, 2), reading("b", 5, 10),
                       reading("a", 12, 4), reading("a", 3, 100), reading("b", 1, 7)]),
        {"op": "reduce_window", "step_id": "sum", "clock": event_clock(wasm(TEST_GUESTS, "ts")),
         "window": TEN_SECONDS, "reducer": wasm(TEST_GUESTS, "add_readings")},
        stdout_output(),
    ])
    result = run_cli("run", plan)
    assert result.returncode == 0, result.stderr
    sums = sorted((k, v["v"]) for k, v in map(ast.literal_eval, result.stdout.splitlines()))
    # a@3 came after a@12 had moved a's watermark past its window; b's watermark is b's own.
    assert sums == [("a", 3), ("a", 4), ("b", 17)]
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, result.stderr
    assert "step 'sum'" in warnings[0] and "2023-01-01T00:00:00Z..2023-01-01T00:00:10Z" in warnings[0]


def test_session_windows_collect_values_by_time_and_merge_when_bridged(tmp_path):
    plan = write_plan(tmp_path, [
        given_items([reading("a", 0, 0), reading("a", 8, 8), reading("a", 20, 20), reading("a", 4, 4)]),
        {"op": "collect_window", "step_id": "sessions",
         "clock": event_clock(wasm(TEST_GUESTS, "ts"), wait_ms=86_400_000),
         "window": {"type": "session", "gap_ms": 5_000}},
        stdout_output(),
    ])
    result = run_cli("run", plan)
    assert result.returncode == 0, result.stderr
    sessions = sorted([r["v"] for r in v] for _, v in map(ast.literal_eval, result.stdout.splitlines()))
    # 4 bridges the sessions of 0 and 8: one session keeps all three values.
    assert sessions == [[0, 4, 8], [20]]


def test_builtin_millis_and_add_window_plain_integers(tmp_path):
    plan = write_plan(tmp_path, [
        given_items([["a", T0 + 1_000], ["a", T0 + 2_000], ["a", T0 + 15_000]]),
        {"op": "reduce_window", "step_id": "sum",
         "clock": event_clock({"kind": "builtin", "name": "millis"}),
         "window": TEN_SECONDS, "reducer": {"kind": "builtin", "name": "add"}},
        stdout_output(),
    ])
    result = run_cli("run", plan)
    assert result.returncode == 0, result.stderr
    assert sorted(ast.literal_eval(line) for line in result.stdout.splitlines()) == sorted([
        ("a", 2 * T0 + 3_000), ("a", T0 + 15_000)])


def test_a_dt_getter_failure_names_the_step(tmp_path):
    plan = write_plan(tmp_path, [
        given_items([["a", "not a reading"]]),
        {"op": "collect_window", "step_id": "when", "clock": event_clock(wasm(TEST_GUESTS, "ts")),
         "window": TEN_SECONDS},
        stdout_output(),
    ])
    result = run_cli("run", plan)
    assert result.returncode == 1
    assert "when" in result.stderr and "dt_getter" in result.stderr
    assert "cannot decode an item as `Stamped`" in result.stderr


def test_builtin_list_and_append_fold_a_window_and_a_session(tmp_path):
    items = [["a", T0 + 1_000], ["a", T0 + 3_000], ["a", T0 + 12_000], ["a", T0 + 2_000]]
    for window, expected in [
        (TEN_SECONDS, [[T0 + 1_000, T0 + 3_000, T0 + 2_000], [T0 + 12_000]]),
        ({"type": "session", "gap_ms": 5_000}, [[T0 + 1_000, T0 + 3_000, T0 + 2_000], [T0 + 12_000]]),
    ]:
        plan = write_plan(tmp_path, [
            given_items(items),
            {"op": "fold_window", "step_id": "lists",
             "clock": event_clock({"kind": "builtin", "name": "millis"}, wait_ms=86_400_000),
             "window": window, "builder": {"kind": "builtin", "name": "list"},
             "folder": {"kind": "builtin", "name": "append"}},
            stdout_output(),
        ])
        result = run_cli("run", plan)
        assert result.returncode == 0, result.stderr
        folded = sorted(list(v) for _, v in map(ast.literal_eval, result.stdout.splitlines()))
        assert folded == sorted(expected), window
