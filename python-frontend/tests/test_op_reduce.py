"""`Dataflow.reduce`: per-key accumulation that emits when `is_complete` says so."""

from datetime import timedelta

from bytewax.dataflow import Dataflow
from bytewax.testing import TestingInput, TestingOutput, cluster_main, run_main


def _reduce(items, reducer, is_complete, epoch_interval=None):
    flow = Dataflow()
    flow.input("inp", TestingInput(items))
    flow.reduce("sum", reducer, is_complete)
    out = []
    flow.output("out", TestingOutput(out))
    run_main(flow, epoch_interval=epoch_interval)
    return out


def _add(acc, value):
    return acc + value


def test_emits_key_and_accumulator_when_complete():
    out = _reduce([("a", 1), ("a", 2), ("a", 3)], _add, lambda acc: acc >= 6)
    assert out == [("a", 6)]


def test_keys_accumulate_independently():
    items = [("a", 1), ("b", 10), ("a", 1), ("b", 10), ("a", 1)]
    out = _reduce(items, _add, lambda acc: acc in (3, 20))
    assert sorted(out) == [("a", 3), ("b", 20)]


def test_first_value_becomes_accumulator_without_calling_reducer():
    calls = []

    def reducer(acc, value):
        calls.append((acc, value))
        return acc + value

    out = _reduce([("a", "x")], reducer, lambda acc: True)
    assert out == [("a", "x")]
    assert calls == []


def test_reducer_gets_previous_accumulator_and_new_value_in_order():
    calls = []

    def reducer(acc, value):
        calls.append((acc, value))
        return acc + value

    out = _reduce([("a", "x"), ("a", "y"), ("a", "z")], reducer, lambda acc: len(acc) == 3)
    assert calls == [("x", "y"), ("xy", "z")]
    assert out == [("a", "xyz")]


def test_is_complete_is_called_after_every_value_including_the_first():
    checked = []

    def is_complete(acc):
        checked.append(acc)
        return False

    _reduce([("a", 1), ("a", 2), ("a", 3)], _add, is_complete)
    assert checked == [1, 3, 6]


def test_state_is_dropped_after_emit_and_key_starts_over():
    items = [("a", 1), ("a", 1), ("a", 5), ("a", 1)]
    out = _reduce(items, _add, lambda acc: acc >= 2)
    # After ("a", 2) is emitted, 5 starts a fresh accumulator (complete at once).
    assert out == [("a", 2), ("a", 5)]


def test_incomplete_accumulators_emit_nothing_at_eof():
    out = _reduce([("a", 1), ("b", 2), ("a", 3)], _add, lambda acc: False)
    assert out == []


def test_only_complete_keys_are_emitted():
    out = _reduce([("a", 1), ("b", 2), ("a", 3)], _add, lambda acc: acc > 3)
    assert out == [("a", 4)]


def test_accumulator_may_be_any_object():
    def collect(acc, value):
        return acc + [value] if isinstance(acc, list) else [acc, value]

    out = _reduce([("k", "u"), ("k", "v")], collect, lambda acc: isinstance(acc, list))
    assert out == [("k", ["u", "v"])]


def test_same_result_with_an_epoch_per_item():
    items = [("a", 1), ("b", 1), ("a", 1), ("b", 1)]
    out = _reduce(items, _add, lambda acc: acc == 2, epoch_interval=timedelta(0))
    assert sorted(out) == [("a", 2), ("b", 2)]


def test_two_workers_route_each_key_to_one_accumulator():
    flow = Dataflow()
    flow.input("inp", TestingInput([(k, 1) for k in "abcdef" * 4]))
    flow.reduce("count", _add, lambda acc: acc == 4)
    out = []
    flow.output("out", TestingOutput(out))
    cluster_main(flow, [], 0, worker_count_per_proc=2)
    assert sorted(out) == [(k, 4) for k in "abcdef"]
