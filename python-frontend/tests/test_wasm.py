"""WebAssembly steps (`bytewax.wasm.step`) inside Python flows, run with `run_main`.

The steps come from the host's test component (`runtime/tests/guests/`): one of each kind
with a known answer (`echo`, `is_even`, `sum`...) and three that misbehave (`spin` loops,
`hog` allocates without end, `crash` panics). Expected outputs are worked out by hand
from the guests' source.
"""

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import bytewax
from bytewax import wasm
from bytewax._compile import compile_flow
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingInput, TestingOutput, run_main
from bytewax.window import EventClockConfig, SystemClockConfig, TumblingWindow

REPO_ROOT = Path(__file__).resolve().parents[2]
GUESTS = REPO_ROOT / "runtime" / "tests" / "guests" / "test_guests.wasm"

if not GUESTS.is_file():
    pytest.skip(
        f"test component {GUESTS} is missing; run scripts/build-guests to build it",
        allow_module_level=True,
    )

pytestmark = pytest.mark.ours_only

# Long enough that every item of a test lands in one window, which then closes at EOF.
ONE_WINDOW = TumblingWindow(
    length=timedelta(days=100000), align_to=datetime(2023, 1, 1, tzinfo=timezone.utc)
)


def guest(export, **limits):
    """A step of the test component."""
    return wasm.step(GUESTS, export, **limits)


def run_flow(items, *add_steps):
    """Run input -> each `add_steps(flow)` -> output; returns what the output received."""
    received = []
    flow = Dataflow()
    flow.input("inp", TestingInput(items))
    for add in add_steps:
        add(flow)
    flow.output("out", TestingOutput(received))
    run_main(flow)
    return received


def assert_echo_still_works():
    """A failed flow must leave the process able to run WASM steps again."""
    assert run_flow(["still", 1], lambda f: f.map(guest("echo"))) == ["still", 1]


def all_text(exc):
    """The message and any notes the engine added, as one string."""
    return "\n".join([str(exc), *getattr(exc, "__notes__", [])])


# --- stateless kinds ---------------------------------------------------------------


def test_map_echo_returns_each_item():
    assert run_flow([1, "two", 3.0], lambda f: f.map(guest("echo"))) == [1, "two", 3.0]


def test_flat_map_explode_emits_each_character_in_order():
    out = run_flow(["ab", "", "cde"], lambda f: f.flat_map(guest("explode")))
    assert out == ["a", "b", "c", "d", "e"]


def test_filter_is_even_keeps_even_numbers():
    assert run_flow([1, 2, 3, 4, 5, 6, -8], lambda f: f.filter(guest("is_even"))) == [2, 4, 6, -8]


def test_filter_map_maybe_half_halves_evens_and_drops_odds():
    assert run_flow([1, 2, 3, 4, 10], lambda f: f.filter_map(guest("maybe_half"))) == [1, 2, 5]


def test_inspect_peek_passes_items_unchanged():
    items = [1, "x", (2, 3), {"k": None}]
    assert run_flow(items, lambda f: f.inspect(guest("peek"))) == items


def test_python_then_wasm_then_python_in_one_chain():
    out = run_flow(
        ["1", "2", "3", "4", "12"],
        lambda f: f.map(int),
        lambda f: f.filter_map(guest("maybe_half")),
        lambda f: f.map(lambda n: f"half={n}"),
    )
    assert out == ["half=1", "half=2", "half=6"]


# --- values through the codec ------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (True, True),
        (False, False),
        (0, 0),
        (-5, -5),
        (2**63 - 1, 2**63 - 1),
        (-(2**63), -(2**63)),
        # Every MessagePack integer width, on both sides of each boundary.
        *[(n, n) for n in (127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32)],
        *[(n, n) for n in (-32, -33, -128, -129, -32768, -32769, -(2**31), -(2**31) - 1)],
        (2**64 - 1, 2**64 - 1),
        (float("inf"), float("inf")),
        ("x" * 40, "x" * 40),
        ("y" * 300, "y" * 300),
        ("z" * 70000, "z" * 70000),
        (1.5, 1.5),
        (-0.25, -0.25),
        ("héllo ✓", "héllo ✓"),
        ("", ""),
        (b"\x00\xffbytes", b"\x00\xffbytes"),
        (b"", b""),
        ((1, "a"), (1, "a")),
        ([1, [2, 3]], (1, (2, 3))),
        ([], ()),
        ({"a": 1, "b": [1, 2], "c": {"d": None}}, {"a": 1, "b": (1, 2), "c": {"d": None}}),
        ({}, {}),
    ],
    ids=repr,
)
def test_value_round_trips_through_echo(value, expected):
    (out,) = run_flow([value], lambda f: f.map(guest("echo")))
    assert out == expected
    assert type(out) is type(expected)


def test_none_round_trips_through_echo():
    # TestingInput treats a None item as "nothing yet", so make the None in a Python step.
    out = run_flow(
        [0, 1],
        lambda f: f.map(lambda x: None if x == 0 else x),
        lambda f: f.map(guest("echo")),
        lambda f: f.map(lambda x: ("got", x)),
    )
    assert out == [("got", None), ("got", 1)]


# --- stateful steps ----------------------------------------------------------------


def test_reduce_sum_emits_when_at_least_10_and_forgets_the_key():
    items = [("a", 3), ("a", 4), ("b", 1), ("a", 5), ("b", 20), ("a", 1), ("a", 9)]
    out = run_flow(items, lambda f: f.reduce("total", guest("sum"), guest("at_least_10")))
    # a: 3+4+5=12 completes, then 1+9=10 completes again; b: 1+20=21.
    assert sorted(out) == [("a", 10), ("a", 12), ("b", 21)]
    assert [v for k, v in out if k == "a"] == [12, 10]


def test_reduce_never_complete_emits_nothing():
    out = run_flow([("a", 1), ("a", 2)], lambda f: f.reduce("total", guest("sum"), guest("at_least_10")))
    assert out == []


def test_stateful_map_running_count_restarts_after_third_value():
    items = [("a", "x")] * 5 + [("b", None), ("b", 7)]
    out = run_flow(
        items, lambda f: f.stateful_map("count", guest("count_builder"), guest("running_count"))
    )
    assert [v for k, v in out if k == "a"] == [1, 2, 3, 1, 2]
    assert [v for k, v in out if k == "b"] == [1, 2]


def test_reduce_window_sum_per_key():
    items = [("a", 1), ("b", 2), ("a", 3), ("a", 10), ("b", -2)]
    out = run_flow(
        items, lambda f: f.reduce_window("wsum", SystemClockConfig(), ONE_WINDOW, guest("sum"))
    )
    assert sorted(out) == [("a", 14), ("b", 0)]


def _left_fold(values):
    acc = values[0]
    for v in values[1:]:
        acc = f"({acc} {v})"
    return acc


JOIN_ITEMS = ["a1", "b1", "a2"] * 3000


def _joined_by_initial(items, reducer):
    """Keys each word by its first letter and joins a key's words in one window."""
    out = run_flow(
        items,
        lambda f: f.map(guest("key_by_initial")),
        lambda f: f.reduce_window("joined", SystemClockConfig(), ONE_WINDOW, guest(reducer)),
    )
    return dict(out)


def test_reduce_window_with_an_associative_wasm_reducer_folds_batches_early():
    # `join` is declared associative and brackets its grouping: whole batches folded in
    # the component before the window show up as brackets a left fold would not make.
    joined = _joined_by_initial(JOIN_ITEMS, "join")
    assert sorted(joined) == ["a", "b"]
    for key, text in joined.items():
        values = [i for i in JOIN_ITEMS if i.startswith(key)]
        assert text.replace("(", "").replace(")", "").split() == values
        assert text != _left_fold(values)


def test_reduce_window_with_a_reducer_not_declared_associative_folds_one_by_one():
    joined = _joined_by_initial(JOIN_ITEMS, "join_in_order")
    for key in ("a", "b"):
        assert joined[key] == _left_fold([i for i in JOIN_ITEMS if i.startswith(key)])


def test_an_associative_reducer_failing_while_combining_names_the_window_step():
    with pytest.raises(Exception) as info:
        _joined_by_initial(["a1", "b1", "boom", "a2"], "join")
    text = all_text(info.value)
    assert "joined" in text, text
    assert "cannot join `boom`" in text, text
    assert_echo_still_works()


T0_MS = 1_672_531_200_000  # 2023-01-01T00:00:00Z


def reading(seconds, v):
    return {"t": T0_MS + seconds * 1000, "v": v}


TEN_SECONDS = TumblingWindow(length=timedelta(seconds=10), align_to=datetime(2023, 1, 1, tzinfo=timezone.utc))


def test_event_time_with_wasm_dt_getter_and_wasm_reducer():
    items = [("a", reading(1, 1)), ("a", reading(2, 2)), ("a", reading(12, 4)), ("a", reading(3, 100))]
    clock = EventClockConfig(guest("ts"), wait_for_system_duration=timedelta(0))
    out = run_flow(items, lambda f: f.reduce_window("wsum", clock, TEN_SECONDS, guest("add_readings")))
    # The item at 3 s is late: a's watermark is at 12 s, past its window's end.
    assert sorted(v["v"] for _, v in out) == [3, 4]


def test_event_time_with_wasm_dt_getter_and_python_reducer():
    items = [("a", reading(1, 1)), ("b", reading(2, 2)), ("a", reading(12, 4)), ("a", reading(5, 10))]
    clock = EventClockConfig(guest("ts"), wait_for_system_duration=timedelta(seconds=30))

    def add(acc, value):
        return {"t": max(acc["t"], value["t"]), "v": acc["v"] + value["v"]}

    out = run_flow(items, lambda f: f.reduce_window("wsum", clock, TEN_SECONDS, add))
    assert sorted((k, v["v"]) for k, v in out) == [("a", 4), ("a", 11), ("b", 2)]


def test_fold_window_push_collects_values_in_order():
    items = [("a", 1), ("b", 2), ("a", 3), ("a", 5)]
    out = run_flow(
        items,
        lambda f: f.fold_window(
            "wlist", SystemClockConfig(), ONE_WINDOW, guest("list_builder"), guest("push")
        ),
    )
    assert sorted(out) == [("a", (1, 3, 5)), ("b", (2,))]


def test_wasm_and_python_stateful_steps_share_a_flow():
    out = run_flow(
        ["a", "b", "a", "a"],
        lambda f: f.map(lambda w: (w, 1)),
        lambda f: f.reduce_window("wsum", SystemClockConfig(), ONE_WINDOW, guest("sum")),
        lambda f: f.map(lambda kv: (kv[0], kv[1] * 100)),
    )
    assert sorted(out) == [("a", 300), ("b", 100)]


# --- failures ----------------------------------------------------------------------


def test_spin_past_deadline_names_step_and_cpu_deadline():
    with pytest.raises(Exception) as info:
        run_flow([1], lambda f: f.map(guest("spin", deadline_ms=100)))
    text = all_text(info.value)
    assert "map#1" in text
    assert "CPU deadline" in text
    assert_echo_still_works()


def test_hog_past_memory_cap_names_step_and_memory_cap():
    with pytest.raises(Exception) as info:
        run_flow([1], lambda f: f.map(guest("hog", memory_mb=16)))
    text = all_text(info.value)
    assert "map#1" in text
    assert "memory cap" in text
    assert_echo_still_works()


def test_consecutive_wasm_steps_run_fused_with_the_same_results():
    # explode -> parse -> is_even -> maybe_half -> peek share one component call per batch.
    out = run_flow(
        ["1234", "56", "7"],
        lambda f: f.flat_map(guest("explode")),
        lambda f: f.map(guest("parse")),
        lambda f: f.filter(guest("is_even")),
        lambda f: f.filter_map(guest("maybe_half")),
        lambda f: f.inspect(guest("peek")),
    )
    assert out == [1, 2, 3]


def test_a_failure_inside_a_fused_run_names_the_step_that_failed():
    with pytest.raises(Exception) as info:
        run_flow(
            ["12x"],
            lambda f: f.flat_map(guest("explode")),
            lambda f: f.map(guest("echo")),
            lambda f: f.map(guest("parse")),
            lambda f: f.filter(guest("is_even")),
        )
    text = all_text(info.value)
    assert "map#3" in text and "parse" in text
    assert "invalid digit found in string" in text
    assert "map#2" not in text and "flat_map#1" not in text
    assert_echo_still_works()


def test_a_trap_inside_a_fused_run_names_every_step_of_the_call():
    with pytest.raises(Exception) as info:
        run_flow([1], lambda f: f.map(guest("echo")), lambda f: f.map(guest("crash")))
    text = all_text(info.value)
    assert "trapped" in text
    assert "'map#1', 'map#2'" in text
    assert_echo_still_works()


def test_steps_with_other_limits_are_not_fused_and_keep_their_own():
    out = run_flow(
        ["ab"],
        lambda f: f.flat_map(guest("explode")),
        lambda f: f.map(guest("echo", memory_mb=32)),
    )
    assert out == ["a", "b"]
    with pytest.raises(Exception) as info:
        run_flow([1], lambda f: f.map(guest("echo")), lambda f: f.map(guest("spin", deadline_ms=50)))
    text = all_text(info.value)
    # Alone in its call, the spinning step is named by itself, with its own deadline.
    assert "map#2" in text and "50 ms" in text and "map#1" not in text


def test_crash_trap_names_step_and_trapped():
    with pytest.raises(Exception) as info:
        run_flow([1], lambda f: f.map(guest("crash")))
    text = all_text(info.value)
    assert "map#1" in text
    assert "trapped" in text
    assert_echo_still_works()


def test_parse_error_carries_the_guests_message():
    assert run_flow([" 42", "-7"], lambda f: f.map(guest("parse"))) == [42, -7]
    with pytest.raises(Exception) as info:
        run_flow(["12", "twelve"], lambda f: f.map(guest("parse")))
    text = all_text(info.value)
    assert "map#1" in text
    # Rust's ParseIntError text for a non-digit, passed through as the step's error.
    assert "invalid digit found in string" in text
    assert_echo_still_works()


def test_failure_in_stateful_step_names_its_step_id():
    with pytest.raises(Exception) as info:
        run_flow([("a", 1), ("a", "not a number")], lambda f: f.reduce("total", guest("sum"), guest("at_least_10")))
    assert "total" in all_text(info.value)
    assert_echo_still_works()


def test_step_of_wrong_kind_fails_naming_step():
    with pytest.raises(Exception) as info:
        run_flow([1], lambda f: f.map(guest("sum")))
    text = all_text(info.value)
    assert "map#1" in text
    assert "sum" in text and "reducer" in text
    assert_echo_still_works()


@pytest.mark.parametrize("value", [{1, 2}, object(), 2**64], ids=["set", "object", "int-over-64-bits"])
def test_value_without_messagepack_form_is_a_type_error_naming_step(value):
    with pytest.raises(TypeError) as info:
        run_flow([value], lambda f: f.map(guest("echo")))
    assert "map#1" in all_text(info.value)
    assert_echo_still_works()


def test_wasm_step_cannot_be_called_from_python():
    with pytest.raises(TypeError, match="echo"):
        guest("echo")(1)


# --- bytewax.wasm.step arguments and the compiled plan -----------------------------


def test_missing_component_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.wasm"):
        wasm.step(tmp_path / "nope.wasm", "echo")


@pytest.mark.parametrize(
    "limits",
    [{"memory_mb": 0}, {"memory_mb": -1}, {"deadline_ms": 0}, {"deadline_ms": 1.5}, {"memory_mb": True}, {"deadline_ms": "100"}],
    ids=repr,
)
def test_bad_limits_are_value_errors(limits):
    (name,) = limits
    with pytest.raises(ValueError, match=name):
        wasm.step(GUESTS, "echo", **limits)


@pytest.mark.parametrize("export", ["", None, 3])
def test_bad_export_is_rejected(export):
    with pytest.raises((TypeError, ValueError)):
        wasm.step(GUESTS, export)


def _schema_errors(plan):
    import jsonschema

    schema = json.loads((Path(bytewax.__file__).parent / "plan.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    return [e.message for e in validator.iter_errors(plan)]


def test_compiled_plan_holds_wasm_references(monkeypatch, tmp_path):
    # A relative component path becomes absolute in the plan, whatever the cwd is later.
    monkeypatch.chdir(GUESTS.parent)
    flow = Dataflow()
    flow.input("inp", TestingInput([1]))
    flow.map(wasm.step(GUESTS.name, "echo", memory_mb=16, deadline_ms=250))
    flow.filter(wasm.step(GUESTS, "is_even"))
    flow.reduce("total", wasm.step(GUESTS, "sum", deadline_ms=50), wasm.step(GUESTS, "at_least_10"))
    flow.output("out", TestingOutput([]))
    monkeypatch.chdir(tmp_path)

    plan, table = compile_flow(flow)
    steps = plan["steps"]
    component = str(GUESTS.resolve())
    assert steps[1]["mapper"] == {
        "kind": "wasm",
        "component": component,
        "export": "echo",
        "limits": {"memory_mb": 16, "deadline_ms": 250},
    }
    assert steps[2]["predicate"] == {"kind": "wasm", "component": component, "export": "is_even"}
    assert steps[3]["reducer"] == {
        "kind": "wasm",
        "component": component,
        "export": "sum",
        "limits": {"deadline_ms": 50},
    }
    assert steps[3]["is_complete"]["export"] == "at_least_10"
    assert Path(steps[1]["mapper"]["component"]).is_absolute()
    # WASM steps are not Python objects for the engine to call.
    assert not any(key.startswith(("map#1", "filter#2", "total")) for key in table)
    assert _schema_errors(plan) == []


def test_relative_component_still_runs_after_chdir(monkeypatch, tmp_path):
    monkeypatch.chdir(GUESTS.parent)
    relative = wasm.step(GUESTS.name, "echo")
    monkeypatch.chdir(tmp_path)
    assert run_flow([2, 3], lambda f: f.map(relative)) == [2, 3]


def test_env_clock_and_files_are_withheld_unless_granted(tmp_path, monkeypatch):
    monkeypatch.setenv("BYTEWAX_TEST_SECRET", "s3cret")
    (tmp_path / "note.txt").write_text("hello from the host\n")
    name = ["BYTEWAX_TEST_SECRET"]
    assert run_flow(name, lambda f: f.map(guest("env_var"))) == [None]
    assert run_flow(name, lambda f: f.map(wasm.step(GUESTS, "env_var", env=name))) == ["s3cret"]
    assert run_flow([0], lambda f: f.map(guest("wall_millis"))) == [0]
    (now,) = run_flow([0], lambda f: f.map(wasm.step(GUESTS, "wall_millis", clock=True)))
    assert now > 1_700_000_000_000
    host_file = [str(tmp_path / "note.txt")]
    assert run_flow(host_file, lambda f: f.map(guest("first_line"))) == [None]
    granted = wasm.step(GUESTS, "first_line", read_dirs={"/data": tmp_path})
    assert run_flow(["/data/note.txt"], lambda f: f.map(granted)) == ["hello from the host"]


def test_env_grant_must_be_names_not_one_string():
    with pytest.raises(TypeError, match="not a str"):
        wasm.step(GUESTS, "env_var", env="BYTEWAX_TEST_SECRET")
