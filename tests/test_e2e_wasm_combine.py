"""A chain feeding a system-clock `reduce_window` whose reducer is declared
`#[reducer(associative)]`: `bytewax-wasm run` folds each batch's values per key inside the
component before they reach the window.

The test guests' `join` writes its grouping out as brackets, so a test can tell values
that were folded together early from values folded one by one. The file source hands out
8192 lines per batch and the input reads up to 32 batches at a time. The chain's first call
takes one batch, which times it; after that it combines the batches waiting for it in one
call (262,144 lines at most).
"""

import ast
import functools

import pytest

from test_e2e_wasm import TEST_GUESTS, file_input, run_cli, stdout_output, wasm, write_lines, write_plan

FOREVER = {"type": "tumbling", "length_ms": 100000 * 86400000, "align_to": "2023-01-01T00:00:00Z"}
WORDS = 120000
SOURCE_BATCH = 8192


def join_plan(tmp_path, lines, reducer):
    return write_plan(tmp_path, [
        file_input(write_lines(tmp_path, lines)),
        {"op": "map", "step_id": "keyed", "mapper": wasm(TEST_GUESTS, "key_by_initial")},
        {"op": "reduce_window", "step_id": "joined", "clock": {"type": "system"},
         "window": FOREVER, "reducer": wasm(TEST_GUESTS, reducer)},
        stdout_output(),
    ])


def left_fold(values):
    return functools.reduce(lambda a, b: f"({a} {b})", values)


def joined_by_key(stdout):
    return dict(ast.literal_eval(line) for line in stdout.splitlines())


def unbracketed(text):
    return text.replace("(", "").replace(")", "").split()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_associative_reducer_folds_each_batch_before_the_window(tmp_path, workers):
    lines = ["a1", "b1", "a2"] * (WORDS // 3)
    result = run_cli("run", "-w", workers, join_plan(tmp_path, lines, "join"))
    assert result.returncode == 0, result.stderr
    joined = joined_by_key(result.stdout)
    assert sorted(joined) == ["a", "b"]
    for key in joined:
        values = [line for line in lines if line.startswith(key)]
        # Every value; in file order with one worker (with two, the lines are shared out
        # and batches from both workers meet at the key's worker in either order)...
        if workers == "1":
            assert unbracketed(joined[key]) == values
        else:
            assert sorted(unbracketed(joined[key])) == sorted(values)
        # ...but not folded one at a time: whole batches were folded first.
        assert joined[key] != left_fold(values)


def values_reaching_the_window(text):
    """How many combined values the window folded into a `join` result. A run folded in
    the component is a bracketed left fold whose right operands are single words; the
    window folds such runs left to right, so each run after the first starts with " (".
    (A run of a single word would not count; the runs here hold many words each.)"""
    return 1 + text.count(" (")


def values_joined_in_order(tmp_path, batches):
    """Runs `join` over `batches` source batches of a1/b1/a2 lines; checks each key got
    every value in file order and returns, per key, how many values reached the window."""
    lines = ["a1", "b1", "a2"] * (batches * SOURCE_BATCH // 3)
    result = run_cli("run", join_plan(tmp_path, lines, "join"))
    assert result.returncode == 0, result.stderr
    joined = joined_by_key(result.stdout)
    assert sorted(joined) == ["a", "b"]
    for key in ("a", "b"):
        assert unbracketed(joined[key]) == [line for line in lines if line.startswith(key)]
    return [values_reaching_the_window(joined[key]) for key in ("a", "b")]


def test_batches_read_together_combine_as_one(tmp_path):
    # Eight source batches, read in one go. The chain's first call takes one batch, to time
    # the chain, the next two and then four (a call at most doubles until two calls show
    # that the step's pace holds as calls grow, which `join`'s, copying its string, does
    # not), and the last one what is left: four values per key, more on a machine slow
    # enough to make the calls smaller. Combining each batch on its own would give eight.
    for count in values_joined_in_order(tmp_path, batches=8):
        assert 2 <= count <= 6


def test_a_reducer_slowing_as_calls_grow_stays_within_its_deadline(tmp_path):
    # 24 batches arrive together. `join` copies its growing string at every value, so a
    # call's cost is the square of its size: the 23 batches after the first in one call
    # would run for seconds, past the 2 s deadline. Calls grow twofold at most instead
    # (1, 2, 4, 8, then 9 batches), each well inside it.
    for count in values_joined_in_order(tmp_path, batches=24):
        assert count <= 12


def test_a_reducer_not_declared_associative_folds_value_by_value(tmp_path):
    lines = ["a1", "b1", "a2"] * (WORDS // 3)
    result = run_cli("run", join_plan(tmp_path, lines, "join_in_order"))
    assert result.returncode == 0, result.stderr
    joined = joined_by_key(result.stdout)
    for key in ("a", "b"):
        assert joined[key] == left_fold([line for line in lines if line.startswith(key)])


def test_a_reducer_failing_while_combining_names_the_window_step(tmp_path):
    lines = ["a1", "b1", "boom", "a2"]
    result = run_cli("run", join_plan(tmp_path, lines, "join"))
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "step 'joined'" in result.stderr, result.stderr
    assert "cannot join `boom`" in result.stderr, result.stderr
    assert "panicked" not in result.stderr, result.stderr
