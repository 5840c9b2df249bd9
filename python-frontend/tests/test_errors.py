"""Error types and texts users see from building and running a dataflow.

Texts are Bytewax 0.16.2's, found by running it; they are matched as
substrings because 0.16.2 prefixes source locations and appends causes.
"""

import re
from datetime import datetime, timedelta, timezone

import pytest

from bytewax.dataflow import Dataflow
from bytewax.inputs import DynamicInput, StatelessSource
from bytewax.outputs import DynamicOutput, StatelessSink
from bytewax.testing import TestingInput, TestingOutput, run_main
from bytewax.window import SystemClockConfig, TumblingWindow

TUMBLING_HUGE = TumblingWindow(length=timedelta(days=100000),
                               align_to=datetime(2023, 1, 1, tzinfo=timezone.utc))

NEEDS_PAIR = ("Dataflow requires a `(key, value)` 2-tuple as input to every stateful "
              "operator for routing; got `{}` instead")
NEEDS_STR_KEY = ("Stateful logic functions must return string or integer keys in "
                 "`(key, value)`; got `{}` instead")
FILTER_NOT_BOOL = "return value of `predicate` in filter operator must be a bool; got `{}` instead"
IS_COMPLETE_NOT_BOOL = ("return value of `is_complete` in reduce operator must be a bool; "
                        "got `{}` instead")
MAPPER_NOT_PAIR = ("return value of `mapper` in stateful map operator must be a 2-tuple of "
                   "`(updated_state, updated_value)`; got `{}` instead")


class Boom(Exception):
    """A user-defined exception type that must reach the caller unchanged."""


def _run(items, add_steps):
    flow = Dataflow()
    flow.input("inp", TestingInput(items))
    add_steps(flow)
    flow.output("out", TestingOutput([]))
    run_main(flow)


STATEFUL_STEPS = {
    "reduce": lambda flow: flow.reduce("count_words", lambda a, b: a + b, lambda a: True),
    "stateful_map": lambda flow: flow.stateful_map("count_words", lambda: 0,
                                                   lambda s, v: (s, v)),
    "reduce_window": lambda flow: flow.reduce_window("count_words", SystemClockConfig(),
                                                     TUMBLING_HUGE, lambda a, b: a + b),
}


def test_missing_input_is_a_value_error_at_run_time():
    flow = Dataflow()
    flow.output("out", TestingOutput([]))
    with pytest.raises(ValueError, match=re.escape("Dataflow needs to contain at least one input")):
        run_main(flow)


def test_empty_dataflow_reports_the_missing_input():
    with pytest.raises(ValueError, match=re.escape("Dataflow needs to contain at least one input")):
        run_main(Dataflow())


def test_missing_output_is_a_value_error_at_run_time():
    flow = Dataflow()
    flow.input("inp", TestingInput([1]))
    flow.map(str)
    missing_output = "Dataflow needs to contain at least one output"
    with pytest.raises(ValueError, match=re.escape(missing_output)):
        run_main(flow)


@pytest.mark.parametrize("step", sorted(STATEFUL_STEPS))
@pytest.mark.parametrize("item", [1, ("a", 1, 2), ["a", 1], "ab"], ids=repr)
def test_stateful_step_rejects_items_that_are_not_pairs(step, item):
    with pytest.raises(TypeError, match=re.escape(NEEDS_PAIR.format(repr(item)))):
        _run([item], STATEFUL_STEPS[step])


@pytest.mark.parametrize("step", sorted(STATEFUL_STEPS))
@pytest.mark.parametrize("key", [1, None, b"a"], ids=repr)
def test_stateful_step_rejects_keys_that_are_not_str(step, key):
    with pytest.raises(TypeError, match=re.escape(NEEDS_STR_KEY.format(repr(key)))):
        _run([(key, 1)], STATEFUL_STEPS[step])


@pytest.mark.ours_only
@pytest.mark.parametrize("step", sorted(STATEFUL_STEPS))
def test_routing_errors_name_the_step(step):
    with pytest.raises(TypeError) as not_pair:
        _run([1], STATEFUL_STEPS[step])
    assert "count_words" in str(not_pair.value)
    with pytest.raises(TypeError) as int_key:
        _run([(1, 1)], STATEFUL_STEPS[step])
    assert "count_words" in str(int_key.value)


def test_filter_predicate_must_return_a_real_bool():
    with pytest.raises(TypeError, match=re.escape(FILTER_NOT_BOOL.format("1"))):
        _run([5], lambda flow: flow.filter(lambda x: 1))


def test_filter_predicate_returning_none_is_rejected():
    with pytest.raises(TypeError, match=re.escape(FILTER_NOT_BOOL.format("None"))):
        _run([5], lambda flow: flow.filter(lambda x: None))


def test_is_complete_must_return_a_real_bool():
    with pytest.raises(TypeError, match=re.escape(IS_COMPLETE_NOT_BOOL.format("1"))):
        _run([("a", 1)], lambda flow: flow.reduce("count_words", lambda a, b: a + b,
                                                  lambda acc: acc))


@pytest.mark.parametrize("returned", [0, (0, 1, 1), [0, 1]], ids=repr)
def test_stateful_map_mapper_must_return_a_pair(returned):
    with pytest.raises(TypeError, match=re.escape(MAPPER_NOT_PAIR.format(repr(returned)))):
        _run([("a", 1)], lambda flow: flow.stateful_map("count_words", lambda: 0,
                                                        lambda s, v: returned))


@pytest.mark.ours_only
def test_bool_and_pair_errors_of_stateful_steps_name_the_step():
    with pytest.raises(TypeError) as not_bool:
        _run([("a", 1)], lambda flow: flow.reduce("count_words", lambda a, b: a, lambda a: 1))
    assert "count_words" in str(not_bool.value)
    with pytest.raises(TypeError) as not_pair:
        _run([("a", 1)], lambda flow: flow.stateful_map("count_words", lambda: 0,
                                                        lambda s, v: s))
    assert "count_words" in str(not_pair.value)


@pytest.mark.parametrize("method", ["map", "flat_map", "filter", "filter_map",
                                    "inspect", "inspect_epoch"])
def test_stateless_operators_check_callable_when_building(method):
    with pytest.raises(TypeError, match="'int' object is not callable"):
        getattr(Dataflow(), method)(1)


def test_stateful_operators_check_callables_when_building():
    flow = Dataflow()
    with pytest.raises(TypeError, match="'str' object is not callable"):
        flow.reduce("r", "add", lambda acc: True)
    with pytest.raises(TypeError, match="'NoneType' object is not callable"):
        flow.reduce("r", lambda a, b: a, None)
    with pytest.raises(TypeError, match="'str' object is not callable"):
        flow.stateful_map("s", "list", lambda s, v: (s, v))
    with pytest.raises(TypeError, match="'int' object is not callable"):
        flow.fold_window("f", SystemClockConfig(), TUMBLING_HUGE, list, 3)


def test_input_must_be_an_input_subclass():
    with pytest.raises(TypeError, match=re.escape("input must subclass `bytewax.inputs.Input`")):
        flow = Dataflow()
        flow.input("inp", [1, 2])
        flow.output("out", TestingOutput([]))
        run_main(flow)


def test_output_must_be_an_output_subclass():
    with pytest.raises(TypeError,
                       match=re.escape("output must subclass `bytewax.outputs.Output`")):
        flow = Dataflow()
        flow.input("inp", TestingInput([1]))
        flow.output("out", [])
        run_main(flow)


@pytest.mark.parametrize("clock, window", [("system", TUMBLING_HUGE),
                                           (SystemClockConfig(), 5)])
def test_window_configs_must_have_the_config_types(clock, window):
    with pytest.raises(TypeError):
        _run([("a", 1)], lambda flow: flow.collect_window("w", clock, window))


@pytest.mark.parametrize("exc_type, func", [
    (ZeroDivisionError, lambda x: x / 0),
    (ValueError, lambda x: int("not a number")),
    (AttributeError, lambda x: x.no_such_attribute),
    (IndexError, lambda x: [][x]),
])
def test_builtin_exceptions_from_map_keep_their_type(exc_type, func):
    with pytest.raises(exc_type):
        _run([1], lambda flow: flow.map(func))


def _boom(*args):
    raise Boom("boom from user code")


USER_CODE_STEPS = {
    "map": lambda flow: flow.map(_boom),
    "flat_map": lambda flow: flow.flat_map(_boom),
    "filter": lambda flow: flow.filter(_boom),
    "filter_map": lambda flow: flow.filter_map(_boom),
    "inspect": lambda flow: flow.inspect(_boom),
    "inspect_epoch": lambda flow: flow.inspect_epoch(_boom),
    "reduce_reducer": lambda flow: flow.reduce("sum", _boom, lambda acc: False),
    "reduce_is_complete": lambda flow: flow.reduce("sum", lambda a, b: a, _boom),
    "stateful_map_builder": lambda flow: flow.stateful_map("sum", _boom, lambda s, v: (s, v)),
    "stateful_map_mapper": lambda flow: flow.stateful_map("sum", list, _boom),
    "reduce_window": lambda flow: flow.reduce_window("sum", SystemClockConfig(),
                                                     TUMBLING_HUGE, _boom),
    "fold_window_builder": lambda flow: flow.fold_window("sum", SystemClockConfig(),
                                                         TUMBLING_HUGE, _boom, _boom),
    "fold_window_folder": lambda flow: flow.fold_window("sum", SystemClockConfig(),
                                                        TUMBLING_HUGE, list, _boom),
}


@pytest.mark.parametrize("step", sorted(USER_CODE_STEPS))
def test_user_exception_type_and_message_reach_the_caller(step):
    with pytest.raises(Boom, match="boom from user code"):
        _run([("a", 1), ("a", 2)], USER_CODE_STEPS[step])


def test_exception_raised_midway_through_a_flat_map_generator_keeps_its_type():
    def half_good(x):
        yield x
        raise Boom("generator broke")

    with pytest.raises(Boom, match="generator broke"):
        _run([1], lambda flow: flow.flat_map(half_good))


class _BrokenSource(StatelessSource):
    def next(self):
        raise Boom("source broke")


class _BrokenInput(DynamicInput):
    def build(self, worker_index, worker_count):
        return _BrokenSource()


class _BrokenSink(StatelessSink):
    def write(self, item):
        raise Boom("sink broke")


class _BrokenOutput(DynamicOutput):
    def build(self, worker_index, worker_count):
        return _BrokenSink()


def test_exception_from_a_source_keeps_its_type():
    flow = Dataflow()
    flow.input("inp", _BrokenInput())
    flow.output("out", TestingOutput([]))
    with pytest.raises(Boom, match="source broke"):
        run_main(flow)


def test_exception_from_a_sink_keeps_its_type():
    flow = Dataflow()
    flow.input("inp", TestingInput([1]))
    flow.output("out", _BrokenOutput())
    with pytest.raises(Boom, match="sink broke"):
        run_main(flow)


@pytest.mark.ours_only
def test_key_error_keeps_its_type():
    with pytest.raises(KeyError):
        _run([{"present": 1}], lambda flow: flow.map(lambda d: d["missing"]))


@pytest.mark.ours_only
@pytest.mark.parametrize("step", ["reduce_reducer", "stateful_map_mapper", "reduce_window",
                                  "fold_window_folder"])
def test_user_exception_notes_name_the_stateful_step(step, notes_of):
    with pytest.raises(Boom) as info:
        _run([("a", 1), ("a", 2)], USER_CODE_STEPS[step])
    assert any("'sum'" in note for note in notes_of(info.value))


@pytest.mark.ours_only
def test_user_exception_notes_name_input_and_output_steps(notes_of):
    flow = Dataflow()
    flow.input("read_events", _BrokenInput())
    flow.output("out", TestingOutput([]))
    with pytest.raises(Boom) as from_input:
        run_main(flow)
    assert any("read_events" in note for note in notes_of(from_input.value))

    flow = Dataflow()
    flow.input("inp", TestingInput([1]))
    flow.output("write_events", _BrokenOutput())
    with pytest.raises(Boom) as from_output:
        run_main(flow)
    assert any("write_events" in note for note in notes_of(from_output.value))


@pytest.mark.ours_only
def test_user_exception_keeps_the_traceback_of_the_user_function():
    def failing_mapper(x):
        raise Boom("deep")

    with pytest.raises(Boom) as info:
        _run([1], lambda flow: flow.map(failing_mapper))
    assert "failing_mapper" in [entry.name for entry in info.traceback]
