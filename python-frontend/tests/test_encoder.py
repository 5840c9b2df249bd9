"""The dataflow JSON view (`bytewax._encoder`), compared with Bytewax 0.16.2's exact text.

The expected strings were produced by Bytewax 0.16.2; run this file against
it with `-m "not ours_only"`.
"""

import functools
import json
import operator
import re
from datetime import date, datetime, timedelta, timezone

import pytest

from bytewax._encoder import DataflowEncoder, encode_dataflow
from bytewax.connectors.files import CSVInput, DirInput, DirOutput, FileInput, FileOutput
from bytewax.connectors.stdio import StdOutput
from bytewax.dataflow import Dataflow
from bytewax.inputs import DynamicInput, PartitionedInput
from bytewax.outputs import DynamicOutput, PartitionedOutput
from bytewax.recovery import KafkaRecoveryConfig, SqliteRecoveryConfig
from bytewax.testing import TestingInput, TestingOutput
from bytewax.window import (
    EventClockConfig,
    SessionWindow,
    SlidingWindow,
    SystemClockConfig,
    TumblingWindow,
)

ALIGN = datetime(2023, 1, 1, tzinfo=timezone.utc)


def encode(obj):
    return json.dumps(obj, cls=DataflowEncoder, sort_keys=True)


# The seed program of `upgrading-to-v0.16.md`, step functions included.
def lower(line):
    return line.lower()


def tokenize(line):
    return re.findall(r'[^\s!,.?":;0-9]+', line)


def initial_count(word):
    return word, 1


def add(count1, count2):
    return count1 + count2


SEED_JSON = (
    '{"steps": [{"input": {"type": "FileInput"}, "step_id": "inp", "type": "Input"}, '
    '{"mapper": "lower", "type": "Map"}, {"mapper": "tokenize", "type": "FlatMap"}, '
    '{"mapper": "initial_count", "type": "Map"}, {"clock_config": {"type": "SystemClockConfig"}, '
    '"reducer": "add", "step_id": "sum", "type": "ReduceWindow", "window_config": '
    '{"align_to": "2023-01-01T00:00:00+00:00", "length": "0:00:05", "type": "TumblingWindow"}}, '
    '{"output": {"type": "StdOutput"}, "step_id": "out", "type": "Output"}], "type": "Dataflow"}'
)


def test_seed_flow_is_encoded_exactly():
    flow = Dataflow()
    flow.input("inp", FileInput("examples/sample_data/wordcount.txt"))
    flow.map(lower)
    flow.flat_map(tokenize)
    flow.map(initial_count)
    flow.reduce_window(
        "sum", SystemClockConfig(), TumblingWindow(length=timedelta(seconds=5), align_to=ALIGN), add
    )
    flow.output("out", StdOutput())
    assert encode_dataflow(flow) == SEED_JSON


def get_dt(item):
    return item[1]


def build():
    return []


def fold(acc, item):
    return acc + [item]


EVERY_STEP_JSON = (
    '{"steps": [{"input": {"type": "TestingInput"}, "step_id": "inp", "type": "Input"}, '
    '{"mapper": "str", "type": "Map"}, {"mapper": "split", "type": "FlatMap"}, '
    '{"predicate": "<lambda>", "type": "Filter"}, {"mapper": "len", "type": "FilterMap"}, '
    '{"inspector": "print", "type": "Inspect"}, {"inspector": "print", "type": "InspectEpoch"}, '
    '{"is_complete": "<lambda>", "reducer": "add", "step_id": "red", "type": "Reduce"}, '
    '{"builder": "<lambda>", "mapper": "<lambda>", "step_id": "sm", "type": "StatefulMap"}, '
    '{"clock_config": {"type": "SystemClockConfig"}, "reducer": "add", "step_id": "rw", '
    '"type": "ReduceWindow", "window_config": {"align_to": "2023-01-01T00:00:00+00:00", '
    '"length": "0:00:05", "type": "TumblingWindow"}}, {"builder": "build", "clock_config": '
    '{"dt_getter": "get_dt", "type": "EventClockConfig", "wait_for_system_duration": "0:00:10"}, '
    '"folder": "fold", "step_id": "fw", "type": "FoldWindow", "window_config": '
    '{"align_to": "2023-01-01T00:00:00+00:00", "length": "0:01:00", "offset": "0:00:30", '
    '"type": "SlidingWindow"}}, {"clock_config": {"type": "SystemClockConfig"}, "step_id": "cw", '
    '"type": "CollectWindow", "window_config": {"gap": "2 days, 0:00:00.000005", '
    '"type": "SessionWindow"}}, {"output": {"type": "TestingOutput"}, "step_id": "out", '
    '"type": "Output"}], "type": "Dataflow"}'
)


def test_every_step_type_is_encoded_exactly():
    flow = Dataflow()
    flow.input("inp", TestingInput(range(3)))
    flow.map(str)
    flow.flat_map(str.split)
    flow.filter(lambda x: True)
    flow.filter_map(len)
    flow.inspect(print)
    flow.inspect_epoch(print)
    flow.reduce("red", operator.add, lambda acc: True)
    flow.stateful_map("sm", lambda: None, lambda state, x: (state, x))
    flow.reduce_window("rw", SystemClockConfig(), TumblingWindow(timedelta(seconds=5), ALIGN), operator.add)
    flow.fold_window(
        "fw",
        EventClockConfig(get_dt, timedelta(seconds=10)),
        SlidingWindow(timedelta(minutes=1), timedelta(seconds=30), ALIGN),
        build,
        fold,
    )
    flow.collect_window("cw", SystemClockConfig(), SessionWindow(timedelta(days=2, microseconds=5)))
    flow.output("out", TestingOutput([]))
    assert encode_dataflow(flow) == EVERY_STEP_JSON


def test_empty_flow():
    assert encode_dataflow(Dataflow()) == '{"steps": [], "type": "Dataflow"}'


def test_encoder_without_sorting_gives_the_same_document():
    flow = Dataflow()
    flow.input("inp", TestingInput([]))
    flow.map(str.upper)
    assert json.loads(json.dumps(flow, cls=DataflowEncoder)) == json.loads(encode_dataflow(flow))


class Holder:
    @staticmethod
    def static_fn(x):
        return x

    def method(self, x):
        return x


def make_local_class():
    class Local:
        pass

    return Local


@pytest.mark.parametrize(
    "fn, name",
    [
        (lambda x: x, "<lambda>"),
        (lower, "lower"),
        (str.split, "split"),
        (str.lower, "lower"),
        ("text".lower, "lower"),
        (len, "len"),
        (operator.add, "add"),
        (json.dumps, "dumps"),
        (dict.fromkeys, "fromkeys"),
        (Holder.static_fn, "static_fn"),
        (Holder.method, "method"),
    ],
)
def test_callables_are_named(fn, name):
    assert encode(fn) == json.dumps(name)


@pytest.mark.parametrize(
    "cls, name", [(dict, "dict"), (Holder, "Holder"), (make_local_class(), "make_local_class.<locals>.Local")]
)
def test_classes_are_their_qualname(cls, name):
    assert encode(cls) == json.dumps(name)


@pytest.mark.parametrize(
    "value, text",
    [
        (datetime(2023, 1, 1, tzinfo=timezone.utc), "2023-01-01T00:00:00+00:00"),
        (datetime(2023, 1, 1, 12, 30, 15, 123456, tzinfo=timezone.utc), "2023-01-01T12:30:15.123456+00:00"),
        (datetime(2020, 1, 1), "2020-01-01T00:00:00"),
        (date(2020, 1, 2), "2020-01-02"),
        (timedelta(seconds=5), "0:00:05"),
        (timedelta(seconds=1.5), "0:00:01.500000"),
        (timedelta(days=1, seconds=1), "1 day, 0:00:01"),
        (timedelta(microseconds=-1), "-1 day, 23:59:59.999999"),
        (timedelta(0), "0:00:00"),
    ],
)
def test_times_are_text(value, text):
    assert encode(value) == json.dumps(text)


class MyDynamicInput(DynamicInput):
    def build(self, worker_index, worker_count):
        raise NotImplementedError


class MyPartitionedInput(PartitionedInput):
    def list_parts(self):
        return set()

    def build_part(self, for_part, resume_state):
        raise NotImplementedError


class MyDynamicOutput(DynamicOutput):
    def build(self, worker_index, worker_count):
        raise NotImplementedError


class MyPartitionedOutput(PartitionedOutput):
    def list_parts(self):
        return set()

    def assign_part(self, item_key):
        return item_key

    def build_part(self, for_part, resume_state):
        raise NotImplementedError


@pytest.mark.parametrize(
    "connector",
    [
        FileInput("in.txt"),
        CSVInput("in.csv"),
        TestingInput([1]),
        MyDynamicInput(),
        MyPartitionedInput(),
        FileOutput("out.txt"),
        DirOutput("out", 2),
        StdOutput(),
        TestingOutput([]),
        MyDynamicOutput(),
        MyPartitionedOutput(),
    ],
    ids=lambda c: type(c).__name__,
)
def test_connectors_are_their_type_name(connector):
    assert encode(connector) == json.dumps({"type": type(connector).__name__})


def test_dir_input(tmp_path):
    assert encode(DirInput(tmp_path)) == '{"type": "DirInput"}'


@pytest.mark.parametrize(
    "config, text",
    [
        (SystemClockConfig(), '{"type": "SystemClockConfig"}'),
        (
            EventClockConfig(get_dt, timedelta(seconds=10)),
            '{"dt_getter": "get_dt", "type": "EventClockConfig", "wait_for_system_duration": "0:00:10"}',
        ),
        (
            TumblingWindow(timedelta(days=1), ALIGN),
            '{"align_to": "2023-01-01T00:00:00+00:00", "length": "1 day, 0:00:00", "type": "TumblingWindow"}',
        ),
        (SessionWindow(timedelta(seconds=30)), '{"gap": "0:00:30", "type": "SessionWindow"}'),
        (SqliteRecoveryConfig("."), '{"db_dir": ".", "type": "SqliteRecoveryConfig"}'),
        (
            KafkaRecoveryConfig(["localhost:9092"], "pre"),
            '{"brokers": ["localhost:9092"], "topic_prefix": "pre", "type": "KafkaRecoveryConfig"}',
        ),
    ],
    ids=lambda c: type(c).__name__,
)
def test_configs_are_their_state(config, text):
    assert encode(config) == text


def test_plain_json_values_pass_through():
    assert encode({"b": [1, (2, 3)], "a": None}) == '{"a": null, "b": [1, [2, 3]]}'


@pytest.mark.parametrize("value, type_name", [({1, 2}, "set"), (b"x", "bytes"), (object(), "object")])
def test_unencodable_value_is_type_error_naming_it(value, type_name):
    with pytest.raises(TypeError) as info:
        encode(value)
    assert str(info.value) == (
        f"{value} can not be JSON encoded: Object of type {type_name} is not JSON serializable"
    )


def test_unencodable_step_function_fails_the_flow():
    flow = Dataflow()
    flow.map(functools.partial(operator.add, 1))
    with pytest.raises(TypeError, match="can not be JSON encoded: Object of type partial"):
        encode_dataflow(flow)


# Deliberate differences: Bytewax 0.16.2 raises TypeError for bound Python
# methods and for an input class itself, and (on Python 3.11) shows a
# decorated function as its `__dict__`.


@pytest.mark.ours_only
def test_bound_methods_are_named():
    assert encode(Holder().method) == '"method"'
    assert encode(dict.fromkeys) == '"fromkeys"'


@pytest.mark.ours_only
def test_decorated_function_is_named():
    @functools.lru_cache(maxsize=None)
    def cached(x):
        return x

    def traced(fn):
        @functools.wraps(fn)
        def wrapper(*args):
            return fn(*args)

        return wrapper

    assert encode(traced(lower)) == '"lower"'
    assert encode(cached) == '"cached"'


@pytest.mark.ours_only
def test_connector_class_itself_is_its_qualname():
    assert encode(MyDynamicInput) == '"MyDynamicInput"'
