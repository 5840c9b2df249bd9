"""`reduce_window` on the system clock with tumbling windows.

Wall-clock time makes window boundaries unpredictable, so every test uses one
window far longer than any run (aligned in 2023, 100000 days long): all items
land in it and it closes at EOF, giving exactly one result per key.
"""

from datetime import datetime, timedelta, timezone

from bytewax.dataflow import Dataflow
from bytewax.testing import TestingInput, TestingOutput, cluster_main, run_main
from bytewax.window import SystemClockConfig, TumblingWindow

ALIGN_2023 = datetime(2023, 1, 1, tzinfo=timezone.utc)
HUGE = timedelta(days=100000)


def _reduce_window(items, reducer, window=None, epoch_interval=None):
    flow = Dataflow()
    flow.input("inp", TestingInput(items))
    flow.reduce_window("sum", SystemClockConfig(),
                       window or TumblingWindow(length=HUGE, align_to=ALIGN_2023), reducer)
    out = []
    flow.output("out", TestingOutput(out))
    run_main(flow, epoch_interval=epoch_interval)
    return out


def _add(acc, value):
    return acc + value


def test_one_result_per_key_when_the_window_closes_at_eof():
    out = _reduce_window([("a", 1), ("b", 2), ("a", 3)], _add)
    assert sorted(out) == [("a", 4), ("b", 2)]


def test_reducer_folds_values_in_arrival_order():
    out = _reduce_window([("a", "x"), ("a", "y"), ("b", "z"), ("a", "w")], _add)
    assert sorted(out) == [("a", "xyw"), ("b", "z")]


def test_single_value_is_emitted_without_calling_reducer():
    calls = []

    def reducer(acc, value):
        calls.append((acc, value))
        return acc + value

    out = _reduce_window([("a", 7)], reducer)
    assert out == [("a", 7)]
    assert calls == []


def test_reducer_gets_accumulator_then_value():
    calls = []

    def reducer(acc, value):
        calls.append((acc, value))
        return acc + value

    _reduce_window([("a", 1), ("a", 2), ("a", 3)], reducer)
    assert calls == [(1, 2), (3, 3)]


def test_no_items_gives_no_windows():
    assert _reduce_window([], _add) == []


def test_window_grid_may_be_aligned_in_the_future():
    future = datetime(2200, 1, 1, tzinfo=timezone.utc)
    out = _reduce_window([("a", 1), ("a", 2)], _add,
                         window=TumblingWindow(length=HUGE, align_to=future))
    assert out == [("a", 3)]


def test_same_result_with_an_epoch_per_item():
    out = _reduce_window([("a", 1), ("b", 2), ("a", 3)], _add, epoch_interval=timedelta(0))
    assert sorted(out) == [("a", 4), ("b", 2)]


def test_items_downstream_of_a_map_can_be_windowed():
    flow = Dataflow()
    flow.input("inp", TestingInput(["a b", "b c", "b"]))
    flow.flat_map(str.split)
    flow.map(lambda word: (word, 1))
    flow.reduce_window("count", SystemClockConfig(),
                       TumblingWindow(length=HUGE, align_to=ALIGN_2023), _add)
    out = []
    flow.output("out", TestingOutput(out))
    run_main(flow)
    assert sorted(out) == [("a", 1), ("b", 3), ("c", 1)]


def test_two_workers_give_one_result_per_key():
    flow = Dataflow()
    flow.input("inp", TestingInput([(k, 1) for k in "abcdef" * 3]))
    flow.reduce_window("count", SystemClockConfig(),
                       TumblingWindow(length=HUGE, align_to=ALIGN_2023), _add)
    out = []
    flow.output("out", TestingOutput(out))
    cluster_main(flow, [], 0, worker_count_per_proc=2)
    assert sorted(out) == [(k, 3) for k in "abcdef"]
