"""The JSON plan from Python's side: what `compile_flow` emits, the schema, and the engine's checks."""

import copy
import json
import os
import re
import runpy
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

# The plan is ours alone: against the reference Bytewax 0.16.2 this module is skipped.
pytest.importorskip("bytewax._compile")

import jsonschema  # noqa: E402 - after the skip above

import bytewax  # noqa: E402
from bytewax import _engine  # noqa: E402
from bytewax._compile import compile_flow  # noqa: E402
from bytewax.connectors.files import CSVInput, DirInput, FileInput, FileOutput  # noqa: E402
from bytewax.connectors.stdio import StdOutput  # noqa: E402
from bytewax.dataflow import Dataflow  # noqa: E402
from bytewax.inputs import DynamicInput, StatelessSource  # noqa: E402
from bytewax.testing import TestingInput, TestingOutput  # noqa: E402
from bytewax.window import (  # noqa: E402
    EventClockConfig,
    SessionWindow,
    SlidingWindow,
    SystemClockConfig,
    TumblingWindow,
)

pytestmark = pytest.mark.ours_only

SCHEMA = json.loads((Path(bytewax.__file__).parent / "plan.schema.json").read_text())
REPO = Path(__file__).resolve().parents[2]
WORDCOUNT = REPO / "examples" / "wordcount" / "dataflow.py"
ALIGN = datetime(2023, 1, 1, tzinfo=timezone.utc)


def _schema_errors(plan):
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(plan)]


def _engine_round_trip(plan):
    return json.loads(_engine.validate_plan(json.dumps(plan)))


def _engine_error(plan):
    with pytest.raises(ValueError) as info:
        _engine.validate_plan(json.dumps(plan))
    return str(info.value)


def _by_id(plan, step_id):
    return next(s for s in plan["steps"] if s["step_id"] == step_id)


def _python_refs(node):
    """Every `ref` of a python function, source or sink anywhere in `node`."""
    if isinstance(node, dict):
        own = [node["ref"]] if node.get("kind") == "python" else []
        return own + [r for v in node.values() for r in _python_refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _python_refs(v)]
    return []


class _NumberSource(StatelessSource):
    def __init__(self):
        self._left = [1, 2]

    def next(self):
        if not self._left:
            raise StopIteration()
        return self._left.pop()

    def close(self):
        pass


class NumbersInput(DynamicInput):
    """A dynamic input: the plan must say `partitioned: false`."""

    def build(self, worker_index, worker_count):
        return _NumberSource()


class LoudStdOutput(StdOutput):
    """A subclass of StdOutput: may change how items are printed, so it stays Python."""


def _key(x):
    return ("k", x)


def _every_operator_flow():
    flow = Dataflow()
    flow.input("inp", TestingInput([1, 2, 3]))
    flow.map(_key)
    flow.flat_map(lambda kv: [kv])
    flow.filter(lambda kv: True)
    flow.filter_map(lambda kv: kv)
    flow.inspect(print)
    flow.inspect_epoch(lambda epoch, kv: None)
    flow.reduce("total", lambda a, b: a + b, lambda v: v > 3)
    flow.stateful_map("running", lambda: 0, lambda s, v: (s + v, s))
    flow.reduce_window(
        "sum",
        EventClockConfig(lambda v: ALIGN, timedelta(milliseconds=1500)),
        TumblingWindow(timedelta(seconds=5), ALIGN),
        lambda a, b: a + b,
    )
    flow.fold_window(
        "fold",
        SystemClockConfig(),
        SlidingWindow(timedelta(seconds=10), timedelta(seconds=5), ALIGN),
        list,
        lambda acc, v: acc + [v],
    )
    flow.collect_window(
        "sessions", EventClockConfig(lambda v: ALIGN, timedelta(0)), SessionWindow(timedelta(milliseconds=250))
    )
    flow.output("out", TestingOutput([]))
    return flow


def _every_source_and_sink_flow(tmp_path):
    (tmp_path / "a.txt").write_text("x\n")
    flow = Dataflow()
    flow.input("file_in", FileInput(tmp_path / "a.txt"))
    flow.output("std_out", StdOutput())
    flow.input("csv_in", CSVInput(tmp_path / "a.txt"))
    flow.output("file_out", FileOutput(tmp_path / "out.txt"))
    flow.input("dir_in", DirInput(tmp_path))
    flow.output("loud_out", LoudStdOutput())
    flow.input("numbers_in", NumbersInput())
    flow.output("list_out", TestingOutput([]))
    return flow


def _wordcount_flow():
    return runpy.run_path(str(WORDCOUNT))["flow"]


FLOWS = {
    "every_operator": lambda tmp_path: _every_operator_flow(),
    "every_source_and_sink": _every_source_and_sink_flow,
    "wordcount": lambda tmp_path: _wordcount_flow(),
}


@pytest.fixture(params=sorted(FLOWS))
def compiled(request, tmp_path):
    return compile_flow(FLOWS[request.param](tmp_path))


def test_schema_is_a_valid_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_compiled_plan_matches_the_schema(compiled):
    plan, _ = compiled
    assert _schema_errors(plan) == []


def test_compiled_plan_round_trips_through_the_engine(compiled):
    plan, _ = compiled
    assert _engine_round_trip(plan) == plan


def test_registry_holds_the_live_object_under_every_ref(compiled):
    plan, callables = compiled
    refs = _python_refs(plan)
    assert len(refs) == len(set(refs))
    assert set(refs) == set(callables)


def test_every_operator_is_compiled_with_its_live_functions():
    flow = _every_operator_flow()
    plan, callables = compile_flow(flow)
    assert [s["op"] for s in plan["steps"]] == [
        "input", "map", "flat_map", "filter", "filter_map", "inspect", "inspect_epoch",
        "reduce", "stateful_map", "reduce_window", "fold_window", "collect_window", "output",
    ]
    for step, source in zip(plan["steps"], flow.steps):
        for role, ref in step.items():
            if isinstance(ref, dict) and ref.get("kind") == "python" and role in source:
                assert callables[ref["ref"]] is source[role]
                assert ref["name"] == source[role].__name__
    assert callables["inp.input"] is flow.steps[0]["input"]
    assert callables["out.output"] is flow.steps[-1]["output"]
    sum_clock = _by_id(plan, "sum")["clock"]
    assert callables[sum_clock["dt_getter"]["ref"]] is flow.steps[9]["clock_config"].dt_getter


def test_clocks_and_windows_are_in_milliseconds_and_utc():
    plan, _ = compile_flow(_every_operator_flow())
    assert _by_id(plan, "sum")["clock"]["wait_for_system_duration_ms"] == 1500
    assert _by_id(plan, "sum")["window"] == {
        "type": "tumbling", "length_ms": 5000, "align_to": "2023-01-01T00:00:00+00:00"
    }
    assert _by_id(plan, "fold")["clock"] == {"type": "system"}
    assert _by_id(plan, "fold")["window"]["offset_ms"] == 5000
    assert _by_id(plan, "sessions")["window"] == {"type": "session", "gap_ms": 250}


def test_align_to_in_another_zone_is_written_in_utc():
    flow = Dataflow()
    flow.input("inp", TestingInput([]))
    plus_two = timezone(timedelta(hours=2))
    flow.collect_window("c", SystemClockConfig(), TumblingWindow(timedelta(seconds=1), datetime(2023, 1, 1, 2, tzinfo=plus_two)))
    flow.output("out", TestingOutput([]))
    plan, _ = compile_flow(flow)
    assert _by_id(plan, "c")["window"]["align_to"] == "2023-01-01T00:00:00+00:00"


def test_exact_file_input_and_std_output_run_natively(tmp_path):
    plan, callables = compile_flow(_every_source_and_sink_flow(tmp_path))
    assert _by_id(plan, "file_in")["source"] == {"kind": "file", "path": str(tmp_path / "a.txt")}
    assert _by_id(plan, "std_out")["sink"] == {"kind": "stdout"}
    assert not any(ref.startswith(("file_in.", "std_out.")) for ref in callables)


def test_exact_dir_input_with_a_simple_pattern_runs_natively(tmp_path):
    plan, callables = compile_flow(_every_source_and_sink_flow(tmp_path))
    spec = _by_id(plan, "dir_in")["source"]
    assert spec["kind"] == "dir" and spec["path"] == str(tmp_path)
    assert not any(ref.startswith("dir_in.") for ref in callables)


def test_dir_input_with_a_recursive_pattern_stays_python(tmp_path):
    from bytewax.connectors.files import DirInput

    flow = Dataflow()
    flow.input("deep", DirInput(tmp_path, glob_pat="**/*.txt"))
    flow.output("out", StdOutput())
    plan, callables = compile_flow(flow)
    assert _by_id(plan, "deep")["source"]["kind"] == "python"
    assert type(callables["deep.input"]).__name__ == "DirInput"


def test_subclasses_and_other_connectors_stay_python(tmp_path):
    plan, callables = compile_flow(_every_source_and_sink_flow(tmp_path))
    expected = {
        "csv_in": ("source", True, "CSVInput"),
        "numbers_in": ("source", False, "NumbersInput"),
        "file_out": ("sink", True, "FileOutput"),
        "loud_out": ("sink", False, "LoudStdOutput"),
        "list_out": ("sink", False, "TestingOutput"),
    }
    for step_id, (field, partitioned, class_name) in expected.items():
        spec = _by_id(plan, step_id)[field]
        assert spec["kind"] == "python"
        assert spec["partitioned"] is partitioned
        assert spec["class"] == class_name
        assert type(callables[spec["ref"]]).__name__ == class_name


def test_stateless_steps_get_op_and_index_ids():
    flow = Dataflow()
    flow.input("inp", TestingInput([]))
    flow.map(_key)
    flow.filter(bool)
    flow.output("out", TestingOutput([]))
    plan, _ = compile_flow(flow)
    assert [s["step_id"] for s in plan["steps"]] == ["inp", "map#1", "filter#2", "out"]


def test_generated_ids_avoid_the_users_ids():
    flow = Dataflow()
    flow.input("map#1", TestingInput([]))
    flow.map(_key)
    flow.reduce("map#1'", lambda a, b: a, lambda v: True)
    flow.output("out", TestingOutput([]))
    plan, _ = compile_flow(flow)
    assert [s["step_id"] for s in plan["steps"]] == ["map#1", "map#1''", "map#1'", "out"]
    assert _engine_round_trip(plan) == plan


def test_flow_without_output_does_not_compile():
    flow = Dataflow()
    flow.input("inp", TestingInput([]))
    with pytest.raises(ValueError, match="at least one output"):
        compile_flow(flow)


def test_duplicate_step_ids_are_refused_naming_path_and_id():
    flow = Dataflow()
    flow.input("twice", TestingInput([]))
    flow.map(_key)
    flow.reduce("twice", lambda a, b: a, lambda v: True)
    flow.output("out", TestingOutput([]))
    plan, _ = compile_flow(flow)
    assert _engine_error(plan).startswith('steps[2].step_id ("twice"): ')


@pytest.mark.parametrize("align_to", ["2023-01-01T00:00:00", "2023-01-01", "soon"])
def test_bad_align_to_is_refused_naming_path_and_id(align_to):
    plan, _ = compile_flow(_wordcount_flow())
    plan = copy.deepcopy(plan)
    _by_id(plan, "sum")["window"]["align_to"] = align_to
    message = _engine_error(plan)
    assert message.startswith('steps[4].window.align_to ("sum"): ')
    assert align_to in message
    assert _schema_errors(plan) != []


@pytest.mark.parametrize(
    "edit, path",
    [
        (lambda s: s["window"].update(length_ms=0), "steps[4].window.length_ms"),
        (lambda s: s.update(colour="red"), "steps[4]"),
        (lambda s: s["reducer"].update(kind="builtin", name="sum"), "steps[4]"),
        (lambda s: s.update(reducer={"kind": "builtin", "name": "sum"}), "steps[4].reducer"),
        (lambda s: s.update(clock={"type": "event", "dt_getter": {"kind": "python", "ref": "g"},
                                   "wait_for_system_duration_ms": -5}),
         "steps[4].clock.wait_for_system_duration_ms"),
    ],
)
def test_bad_plans_are_refused_by_engine_and_schema(edit, path):
    plan, _ = compile_flow(_wordcount_flow())
    plan = copy.deepcopy(plan)
    edit(_by_id(plan, "sum"))
    assert _engine_error(plan).startswith(f'{path} ("sum"): ')
    assert _schema_errors(plan) != []


def test_bad_json_and_version_are_refused_without_step():
    with pytest.raises(ValueError, match=r"^\$: not valid JSON"):
        _engine.validate_plan("{")
    plan, _ = compile_flow(_wordcount_flow())
    with pytest.raises(ValueError, match=r"^plan_version: .*got 2$"):
        _engine.validate_plan(json.dumps(dict(plan, plan_version=2)))
    assert _schema_errors(dict(plan, plan_version=2)) != []
    assert _engine.PLAN_VERSION == plan["plan_version"] == 1


def test_schema_refuses_what_the_engine_refuses_by_shape():
    plan, _ = compile_flow(_wordcount_flow())
    first_not_input = dict(plan, steps=plan["steps"][1:])
    no_output = dict(plan, steps=plan["steps"][:-1])
    for bad in (first_not_input, no_output, dict(plan, extra=1)):
        with pytest.raises(ValueError):
            _engine.validate_plan(json.dumps(bad))
        assert _schema_errors(bad) != []


def _with_mapper(mapper):
    plan, _ = compile_flow(_wordcount_flow())
    plan = copy.deepcopy(plan)
    _by_id(plan, "map#1")["mapper"] = mapper
    return plan


@pytest.mark.parametrize("name", SCHEMA["$defs"]["builtin_fn"]["properties"]["name"]["enum"])
def test_schema_builtins_are_the_engines(name):
    plan = _with_mapper({"kind": "builtin", "name": name})
    assert _schema_errors(plan) == []
    assert _engine_round_trip(plan) == plan


def test_wasm_refs_pass_schema_and_engine():
    plan = _with_mapper({"kind": "wasm", "component": "steps.wasm", "export": "lower"})
    assert _schema_errors(plan) == []
    assert _engine_round_trip(plan) == plan
    empty_export = _with_mapper({"kind": "wasm", "component": "steps.wasm", "export": ""})
    assert _engine_error(empty_export).startswith('steps[1].mapper ("map#1"): ')
    assert _schema_errors(empty_export) != []


def _plan_cli(*args, cwd):
    pytest.importorskip("bytewax.run", reason="python -m bytewax.plan imports bytewax.run's helpers")
    result = subprocess.run(
        [sys.executable, "-m", "bytewax.plan", *args],
        cwd=cwd, env=dict(os.environ), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_plan_cli_prints_the_compiled_plan():
    out = _plan_cli("examples/wordcount/dataflow.py:flow", cwd=REPO)
    plan, _ = compile_flow(_wordcount_flow())
    assert json.loads(out) == plan
    assert "\n  " in out  # indented by default


def test_plan_cli_compact_is_one_line(tmp_path):
    (tmp_path / "a.txt").write_text("x\n")
    (tmp_path / "myflow.py").write_text(
        "from bytewax.dataflow import Dataflow\n"
        "from bytewax.connectors.files import FileInput\n"
        "from bytewax.connectors.stdio import StdOutput\n"
        "flow = Dataflow()\n"
        "flow.input('inp', FileInput('a.txt'))\n"
        "flow.map(str.upper)\n"
        "flow.output('out', StdOutput())\n"
    )
    out = _plan_cli("--compact", "myflow:flow", cwd=tmp_path)
    assert out.count("\n") == 1
    assert re.search(r'"step_id": ?"map#1"', out)
    assert json.loads(out)["steps"][1]["mapper"] == {"kind": "python", "ref": "map#1.mapper", "name": "upper"}
