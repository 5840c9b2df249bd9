"""The pure-Python API objects, exercised without running a dataflow.

Configs, `Dataflow` construction and pickling, and the built-in connectors'
sources and sinks driven directly (build_part / next / snapshot / write).
Tests marked `ours_only` check deliberate differences from Bytewax 0.16.2.
"""

import inspect
import operator
import pickle
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bytewax.connectors.files import CSVInput, DirInput, DirOutput, FileInput, FileOutput
from bytewax.connectors.stdio import StdOutput
from bytewax.dataflow import Dataflow
from bytewax.inputs import DynamicInput, Input, PartitionedInput, StatefulSource
from bytewax.outputs import DynamicOutput, Output, PartitionedOutput, StatefulSink
from bytewax.recovery import KafkaRecoveryConfig, SqliteRecoveryConfig
from bytewax.testing import TestingInput, TestingOutput, cluster_main, poll_next, run_main
from bytewax.window import (
    EventClockConfig,
    SessionWindow,
    SlidingWindow,
    SystemClockConfig,
    TumblingWindow,
)

ALIGN = datetime(2023, 1, 1, tzinfo=timezone.utc)
FIVE_S = timedelta(seconds=5)


def get_ts(value):
    return value["ts"]


def drain(source, limit=100):
    """(item, snapshot) pairs until StopIteration, then ("EOF", snapshot)."""
    pairs = []
    for _ in range(limit):
        try:
            item = source.next()
        except StopIteration:
            pairs.append(("EOF", source.snapshot()))
            return pairs
        pairs.append((item, source.snapshot()))
    raise AssertionError("source did not end")


# ---------------------------------------------------------------- configs


def test_window_config_attributes_and_state():
    tumbling = TumblingWindow(length=FIVE_S, align_to=ALIGN)
    sliding = SlidingWindow(FIVE_S, timedelta(seconds=2), ALIGN)
    session = SessionWindow(gap=timedelta(seconds=3))
    assert (tumbling.length, tumbling.align_to) == (FIVE_S, ALIGN)
    assert (sliding.length, sliding.offset, sliding.align_to) == (FIVE_S, timedelta(seconds=2), ALIGN)
    assert tumbling.__getstate__() == {"type": "TumblingWindow", "length": FIVE_S, "align_to": ALIGN}
    assert sliding.__getstate__() == {
        "type": "SlidingWindow",
        "length": FIVE_S,
        "offset": timedelta(seconds=2),
        "align_to": ALIGN,
    }
    assert session.__getstate__() == {"type": "SessionWindow", "gap": timedelta(seconds=3)}


def test_clock_config_attributes_and_state():
    clock = EventClockConfig(get_ts, wait_for_system_duration=timedelta(seconds=1))
    assert clock.dt_getter is get_ts
    assert clock.wait_for_system_duration == timedelta(seconds=1)
    assert clock.__getstate__() == {
        "type": "EventClockConfig",
        "dt_getter": get_ts,
        "wait_for_system_duration": timedelta(seconds=1),
    }
    assert SystemClockConfig().__getstate__() == {"type": "SystemClockConfig"}


@pytest.mark.parametrize(
    "build",
    [
        lambda: TumblingWindow(FIVE_S),
        lambda: SlidingWindow(FIVE_S, FIVE_S),
        lambda: EventClockConfig(get_ts),
    ],
)
def test_config_required_arguments(build):
    with pytest.raises(TypeError, match="missing 1 required positional argument"):
        build()


def test_config_argument_type_errors():
    with pytest.raises(TypeError, match="argument 'dt_getter': 'int' object is not callable"):
        EventClockConfig(5, FIVE_S)
    with pytest.raises(TypeError, match="argument 'length'"):
        TumblingWindow(5, ALIGN)
    with pytest.raises(TypeError, match="argument 'align_to': Not datetime.timezone.utc"):
        TumblingWindow(FIVE_S, datetime(2023, 1, 1))


def test_config_attributes_are_read_only():
    tumbling = TumblingWindow(FIVE_S, ALIGN)
    with pytest.raises(AttributeError):
        tumbling.length = timedelta(seconds=1)
    assert tumbling.length == FIVE_S


@pytest.mark.ours_only
def test_window_align_to_other_timezone_is_converted_to_utc():
    plus_one = timezone(timedelta(hours=1))
    window = TumblingWindow(FIVE_S, datetime(2023, 1, 1, 1, tzinfo=plus_one))
    assert window.align_to == ALIGN
    assert window.align_to.tzinfo is timezone.utc


@pytest.mark.ours_only
@pytest.mark.parametrize(
    "build",
    [
        lambda: TumblingWindow(timedelta(0), ALIGN),
        lambda: SlidingWindow(FIVE_S, timedelta(seconds=-1), ALIGN),
        lambda: SessionWindow(timedelta(microseconds=500)),
    ],
)
def test_window_spans_below_one_millisecond_are_refused(build):
    with pytest.raises(ValueError, match="at least 1 millisecond"):
        build()


@pytest.mark.ours_only
@pytest.mark.parametrize(
    "config",
    [
        SystemClockConfig(),
        EventClockConfig(get_ts, timedelta(seconds=2)),
        TumblingWindow(FIVE_S, ALIGN),
        SlidingWindow(FIVE_S, timedelta(seconds=1), ALIGN),
        SessionWindow(FIVE_S),
        SqliteRecoveryConfig("/tmp/recovery"),
        KafkaRecoveryConfig(["localhost:9092"], "flow"),
    ],
    ids=type,
)
def test_configs_pickle_and_compare_by_value(config):
    copy = pickle.loads(pickle.dumps(config))
    assert type(copy) is type(config)
    assert copy.__getstate__() == config.__getstate__()
    assert copy == config
    assert hash(copy) == hash(config)
    assert type(config).__name__ in repr(config)


@pytest.mark.ours_only
def test_configs_with_different_settings_differ():
    assert TumblingWindow(FIVE_S, ALIGN) != TumblingWindow(timedelta(seconds=6), ALIGN)
    assert TumblingWindow(FIVE_S, ALIGN) != SlidingWindow(FIVE_S, FIVE_S, ALIGN)


@pytest.mark.ours_only
def test_sqlite_recovery_config_db_dir_is_a_path(tmp_path):
    config = SqliteRecoveryConfig(tmp_path)
    assert config.db_dir == tmp_path
    assert isinstance(config.db_dir, Path)
    assert config.__getstate__() == {"type": "SqliteRecoveryConfig", "db_dir": str(tmp_path)}
    assert isinstance(pickle.loads(pickle.dumps(config)).db_dir, Path)


def test_recovery_config_argument_checks():
    with pytest.raises(TypeError, match="argument 'db_dir'"):
        SqliteRecoveryConfig(5)
    with pytest.raises(TypeError, match="argument 'brokers'"):
        KafkaRecoveryConfig("localhost:9092", "flow")
    config = KafkaRecoveryConfig(("a:1", "b:2"), "flow")
    assert config.brokers == ["a:1", "b:2"]
    assert config.topic_prefix == "flow"


# --------------------------------------------------------------- Dataflow


def full_flow():
    clock = SystemClockConfig()
    window = TumblingWindow(FIVE_S, ALIGN)
    inp, out = TestingInput([1]), StdOutput()
    flow = Dataflow()
    flow.input("inp", inp)
    flow.map(str)
    flow.flat_map(str.split)
    flow.filter(bool)
    flow.filter_map(len)
    flow.inspect(print)
    flow.inspect_epoch(print)
    flow.reduce("red", operator.add, bool)
    flow.stateful_map("sm", list, max)
    flow.reduce_window("rw", clock, window, operator.add)
    flow.fold_window("fw", clock, window, list, max)
    flow.collect_window("cw", clock, window)
    flow.output("out", out)
    return flow, inp, out, clock, window


def test_steps_shape():
    flow, inp, out, clock, window = full_flow()
    windowed = {"clock_config": clock, "window_config": window}
    assert flow.steps == [
        {"type": "Input", "step_id": "inp", "input": inp},
        {"type": "Map", "mapper": str},
        {"type": "FlatMap", "mapper": str.split},
        {"type": "Filter", "predicate": bool},
        {"type": "FilterMap", "mapper": len},
        {"type": "Inspect", "inspector": print},
        {"type": "InspectEpoch", "inspector": print},
        {"type": "Reduce", "step_id": "red", "reducer": operator.add, "is_complete": bool},
        {"type": "StatefulMap", "step_id": "sm", "builder": list, "mapper": max},
        {"type": "ReduceWindow", "step_id": "rw", **windowed, "reducer": operator.add},
        {"type": "FoldWindow", "step_id": "fw", **windowed, "builder": list, "folder": max},
        {"type": "CollectWindow", "step_id": "cw", **windowed},
        {"type": "Output", "step_id": "out", "output": out},
    ]
    assert flow.__getstate__() == {"type": "Dataflow", "steps": flow.steps}


def test_steps_is_a_copy():
    flow = Dataflow()
    flow.map(str)
    flow.steps.append({"type": "Map", "mapper": len})
    flow.steps[0]["mapper"] = len
    assert flow.steps == [{"type": "Map", "mapper": str}]
    with pytest.raises(AttributeError):
        flow.steps = []


@pytest.mark.parametrize(
    "add_step, arg",
    [
        (lambda f: f.map(1), "mapper"),
        (lambda f: f.flat_map("x"), "mapper"),
        (lambda f: f.filter(None), "predicate"),
        (lambda f: f.inspect_epoch(3.0), "inspector"),
        (lambda f: f.reduce("r", operator.add, 3), "is_complete"),
        (lambda f: f.stateful_map("s", 1, max), "builder"),
        (lambda f: f.fold_window("w", SystemClockConfig(), SessionWindow(FIVE_S), list, 2), "folder"),
    ],
)
def test_non_callable_is_refused_eagerly(add_step, arg):
    flow = Dataflow()
    with pytest.raises(TypeError, match=rf"^argument '{arg}': '\w+' object is not callable$"):
        add_step(flow)
    assert flow.steps == []


def test_wrong_argument_types_are_refused():
    flow = Dataflow()
    with pytest.raises(TypeError, match="argument 'input': input must subclass `bytewax.inputs.Input`"):
        flow.input("in", [1, 2])
    with pytest.raises(TypeError, match="output must subclass `bytewax.outputs.Output`"):
        flow.output("out", print)
    with pytest.raises(TypeError, match="argument 'step_id': 'int' object cannot be converted"):
        flow.input(1, TestingInput([]))
    with pytest.raises(TypeError, match="argument 'clock_config'"):
        flow.collect_window("cw", TumblingWindow(FIVE_S, ALIGN), TumblingWindow(FIVE_S, ALIGN))
    with pytest.raises(TypeError, match="argument 'window_config'"):
        flow.collect_window("cw", SystemClockConfig(), SystemClockConfig())
    assert flow.steps == []


def test_keyword_arguments_use_0_16_names():
    flow = Dataflow()
    flow.input(step_id="in", input=TestingInput([]))
    flow.reduce(step_id="r", reducer=operator.add, is_complete=bool)
    flow.fold_window(
        step_id="f",
        clock_config=SystemClockConfig(),
        window_config=SessionWindow(FIVE_S),
        builder=list,
        folder=max,
    )
    flow.output(step_id="out", output=StdOutput())
    assert [s["type"] for s in flow.steps] == ["Input", "Reduce", "FoldWindow", "Output"]


@pytest.mark.ours_only  # 0.16.2 panics pickling a TumblingWindow
def test_dataflow_pickles_with_module_level_callables():
    flow = Dataflow()
    flow.map(str.upper)
    flow.reduce_window("sum", EventClockConfig(get_ts, FIVE_S), TumblingWindow(FIVE_S, ALIGN), operator.add)
    copy = pickle.loads(pickle.dumps(flow))
    assert copy.steps[0] == {"type": "Map", "mapper": str.upper}
    assert copy.steps[1]["clock_config"].dt_getter is get_ts
    assert copy.steps[1]["window_config"].align_to == ALIGN


@pytest.mark.ours_only
def test_dataflow_equality_and_repr():
    flow, *_ = full_flow()
    assert pickle.loads(pickle.dumps(Dataflow())) == Dataflow()
    other = Dataflow()
    other.__setstate__(flow.__getstate__())
    assert other == flow
    other.map(str)
    assert other != flow
    assert "ReduceWindow 'rw'" in repr(flow)
    with pytest.raises(TypeError, match="error unpickling Dataflow steps"):
        Dataflow().__setstate__({"type": "Dataflow", "steps": 5})


# -------------------------------------------------------------- base ABCs


def test_abstract_bases():
    for cls in (PartitionedInput, DynamicInput, StatefulSource, PartitionedOutput, DynamicOutput, StatefulSink):
        with pytest.raises(TypeError):
            cls()

    class MyInput(DynamicInput):
        def build(self, worker_index, worker_count):
            return None

    assert MyInput().__json__() == {"type": "MyInput"}
    assert StdOutput().__json__() == {"type": "StdOutput"}
    assert isinstance(FileInput("x"), Input) and isinstance(FileOutput("x"), Output)


# ---------------------------------------------------------- file inputs


def test_file_input_lines_offsets_and_blank_line_eof(tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(b"one\r\n two \n\nafter blank\n")
    inp = FileInput(str(path))
    assert inp.list_parts() == {str(path)}
    source = inp.build_part(str(path), None)
    assert source.snapshot() == 0
    assert drain(source) == [("one", 5), (" two ", 11), ("EOF", 12)]
    source.close()


def test_file_input_resumes_from_snapshot(tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("a\nbb\nccc\n")
    source = FileInput(path).build_part(str(path), 2)
    assert drain(source) == [("bb", 5), ("ccc", 9), ("EOF", 9)]
    source.close()


@pytest.mark.ours_only
def test_file_input_refuses_other_partition(tmp_path):
    with pytest.raises(ValueError, match="different file"):
        FileInput(tmp_path / "a.txt").build_part(str(tmp_path / "b.txt"), None)


def test_csv_input_rows_as_dicts(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text('name,n\nab,1\n"c,d",2\n\nlast,3\n')
    inp = CSVInput(path)
    assert inp.fmtparams == {}
    source = inp.build_part(str(path), None)
    assert drain(source) == [
        ({"name": "ab", "n": "1"}, 12),
        ({"name": "c,d", "n": "2"}, 20),
        ({}, 21),
        ({"name": "last", "n": "3"}, 28),
        ("EOF", 28),
    ]
    resumed = inp.build_part(str(path), 20)
    assert [item for item, _ in drain(resumed)] == [{}, {"name": "last", "n": "3"}, "EOF"]


def test_csv_input_format_parameters(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("a;b\n1;2\n")
    inp = CSVInput(path, delimiter=";")
    assert inp.fmtparams == {"delimiter": ";"}
    assert pickle.loads(pickle.dumps(inp)).fmtparams == {"delimiter": ";"}
    assert inp.build_part(str(path), None).next() == {"a": "1", "b": "2"}


def test_dir_input_partitions_and_errors(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("x\n")
    (tmp_path / "sub" / "b.txt").write_text("y\nz\n")
    inp = DirInput(tmp_path, "**/*.txt")
    assert inp.list_parts() == {"a.txt", str(Path("sub") / "b.txt")}
    source = inp.build_part(str(Path("sub") / "b.txt"), 2)
    assert drain(source) == [("z", 4), ("EOF", 4)]
    with pytest.raises(ValueError, match="does not exist"):
        DirInput(tmp_path / "missing")
    with pytest.raises(ValueError, match="is not a directory"):
        DirInput(tmp_path / "a.txt")


@pytest.mark.ours_only
def test_dir_input_skips_directories_and_takes_str(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("x\n")
    assert DirInput(str(tmp_path)).list_parts() == {"a.txt"}


@pytest.mark.ours_only
def test_connector_parameters_are_readable(tmp_path):
    # The engine's compiler reads these to run connectors natively.
    assert FileInput(str(tmp_path)).path == tmp_path
    assert isinstance(FileInput(str(tmp_path)).path, Path)
    assert CSVInput(tmp_path).path == tmp_path
    assert (DirInput(tmp_path, "*.txt").dir, DirInput(tmp_path, "*.txt").glob_pat) == (tmp_path, "*.txt")
    out = FileOutput(str(tmp_path / "o"), end="|")
    assert (out.path, out.end) == (tmp_path / "o", "|")
    dir_out = DirOutput(tmp_path, 2, assign_file=len)
    assert (dir_out.dir, dir_out.file_count, dir_out.assign_file, dir_out.end) == (tmp_path, 2, len, "\n")
    assert dir_out.file_namer(1, 2) == "part_1"


# --------------------------------------------------------- file outputs


def test_file_output_writes_snapshots_and_truncates_on_resume(tmp_path):
    path = tmp_path / "out.txt"
    out = FileOutput(path)
    assert out.list_parts() == {str(path)}
    assert out.assign_part("any key") == str(path)
    sink = out.build_part(str(path), None)
    assert sink.snapshot() == 0
    sink.write("hello")
    assert sink.snapshot() == 6
    sink.write("world")
    with pytest.raises(TypeError):
        sink.write(5)
    sink.close()
    assert path.read_text() == "hello\nworld\n"

    sink = out.build_part(str(path), 6)
    assert path.read_text() == "hello\n"
    assert sink.snapshot() == 6
    sink.write("again")
    sink.close()
    assert path.read_text() == "hello\nagain\n"

    out.build_part(str(path), None).close()
    assert path.read_text() == ""


def test_file_output_custom_end(tmp_path):
    path = tmp_path / "out.txt"
    sink = FileOutput(path, end="|").build_part(str(path), None)
    sink.write("a")
    sink.write("b")
    sink.close()
    assert path.read_text() == "a|b|"


def test_dir_output_assigns_keys_by_adler32(tmp_path):
    out = DirOutput(tmp_path, 3)
    assert out.list_parts() == {"part_0", "part_1", "part_2"}
    assert [out.assign_part(k) for k in ["a", "b", "c", "hello"]] == ["part_1", "part_0", "part_2", "part_1"]
    sink = out.build_part("part_1", None)
    sink.write("v")
    sink.close()
    assert (tmp_path / "part_1").read_text() == "v\n"


def test_dir_output_custom_naming(tmp_path):
    out = DirOutput(tmp_path, 2, file_namer=lambda i, n: f"{i}-of-{n}.txt", assign_file=len)
    assert out.list_parts() == {"0-of-2.txt", "1-of-2.txt"}
    assert out.assign_part("abc") == "1-of-2.txt"


@pytest.mark.ours_only
def test_dir_output_with_defaults_pickles(tmp_path):
    copy = pickle.loads(pickle.dumps(DirOutput(tmp_path, 4)))
    assert copy.assign_part("hello") == DirOutput(tmp_path, 4).assign_part("hello")


def test_std_output_prints_items(capsys):
    sink = StdOutput().build(0, 1)
    sink.write(("k", 1))
    sink.write("line")
    sink.close()
    assert capsys.readouterr().out == "('k', 1)\nline\n"


# ---------------------------------------------------------------- testing


def test_testing_input_emits_and_resumes():
    inp = TestingInput(range(4))
    assert inp.list_parts() == {"iter"}
    assert drain(inp.build_part("iter", None)) == [(0, 0), (1, 1), (2, 2), (3, 3), ("EOF", 3)]
    assert drain(inp.build_part("iter", 1)) == [(2, 2), (3, 3), ("EOF", 3)]
    assert TestingInput.__test__ is False and TestingOutput.__test__ is False


def test_testing_output_appends_to_shared_list():
    items = []
    out = TestingOutput(items)
    first, second = out.build(0, 2), out.build(1, 2)
    first.write(1)
    second.write(2)
    assert items == [1, 2]


class CountdownSource(StatefulSource):
    """Returns None `waits` times, then "ready"."""

    def __init__(self, waits):
        self.waits = waits

    def next(self):
        if self.waits:
            self.waits -= 1
            return None
        return "ready"

    def snapshot(self):
        return None


def test_poll_next():
    assert poll_next(CountdownSource(3)) == "ready"
    with pytest.raises(TimeoutError):
        poll_next(CountdownSource(10**9), timeout=timedelta(milliseconds=20))
    with pytest.raises(StopIteration):
        poll_next(TestingInput([]).build_part("iter", None))


def test_runner_signatures_match_0_16():
    assert str(inspect.signature(run_main)) == "(flow, *, epoch_interval=None, recovery_config=None)"
    assert str(inspect.signature(cluster_main)) == (
        "(flow, addresses, proc_id, *, epoch_interval=None, recovery_config=None, worker_count_per_proc=1)"
    )
