"""Stateless operators: map, flat_map, filter, filter_map, inspect, inspect_epoch."""

from datetime import timedelta

from bytewax.dataflow import Dataflow
from bytewax.inputs import DynamicInput, StatelessSource
from bytewax.testing import TestingInput, TestingOutput, run_main


def _run(items, add_steps, epoch_interval=None):
    """Runs `items` through the steps `add_steps(flow)` appends; returns the output."""
    flow = Dataflow()
    flow.input("inp", TestingInput(items))
    add_steps(flow)
    out = []
    flow.output("out", TestingOutput(out))
    run_main(flow, epoch_interval=epoch_interval)
    return out


def test_map_calls_mapper_once_per_item_in_order():
    out = _run([1, 2, 3], lambda flow: flow.map(lambda x: x * 10))
    assert out == [10, 20, 30]


def test_map_can_change_item_type():
    out = _run(["a b", "c"], lambda flow: flow.map(str.split))
    assert out == [["a", "b"], ["c"]]


def test_map_may_return_none_and_none_is_passed_on():
    out = _run([1, 2], lambda flow: flow.map(lambda x: None))
    assert out == [None, None]


def test_consecutive_maps_compose():
    def steps(flow):
        flow.map(lambda x: x + 1)
        flow.map(lambda x: x * 2)

    assert _run([1, 2], steps) == [4, 6]


def test_flat_map_emits_each_element_of_returned_list():
    out = _run(["a b", "c d e"], lambda flow: flow.flat_map(str.split))
    assert out == ["a", "b", "c", "d", "e"]


def test_flat_map_accepts_generators():
    def count_up(n):
        for i in range(n):
            yield i

    out = _run([2, 0, 3], lambda flow: flow.flat_map(count_up))
    assert out == [0, 1, 0, 1, 2]


def test_flat_map_empty_iterable_emits_nothing():
    out = _run([1, 2], lambda flow: flow.flat_map(lambda x: []))
    assert out == []


def test_flat_map_iterates_strings_dicts_and_tuples():
    out = _run(["ab", "", ("t", 1), {"k": 1}], lambda flow: flow.flat_map(lambda x: x))
    assert out == ["a", "b", "t", 1, "k"]


def test_filter_keeps_items_where_predicate_is_true():
    out = _run(range(8), lambda flow: flow.filter(lambda x: x % 2 == 0))
    assert out == [0, 2, 4, 6]


def test_filter_all_false_emits_nothing():
    assert _run([1, 2], lambda flow: flow.filter(lambda x: False)) == []


def test_filter_map_drops_only_none():
    out = _run([0, 1, "", None, [], 5], lambda flow: flow.filter_map(lambda x: x))
    assert out == [0, 1, "", [], 5]


def test_filter_map_emits_mapped_values():
    out = _run([1, 2, 3], lambda flow: flow.filter_map(lambda x: None if x == 2 else x * 2))
    assert out == [2, 6]


def test_inspect_sees_every_item_and_passes_it_unchanged():
    seen = []
    out = _run([{"a": 1}, 2], lambda flow: flow.inspect(seen.append))
    assert seen == [{"a": 1}, 2]
    assert out == [{"a": 1}, 2]


def test_inspect_return_value_is_ignored():
    out = _run([1, 2], lambda flow: flow.inspect(lambda x: "ignored"))
    assert out == [1, 2]


def test_inspect_epoch_gets_int_epoch_and_item():
    seen = []
    out = _run(["a", "b", "c"], lambda flow: flow.inspect_epoch(lambda e, x: seen.append((e, x))))
    assert out == ["a", "b", "c"]
    assert [x for _, x in seen] == ["a", "b", "c"]
    assert all(type(e) is int for e, _ in seen)


def test_inspect_epoch_single_epoch_when_interval_is_long():
    seen = []
    _run(range(5), lambda flow: flow.inspect_epoch(lambda e, x: seen.append(e)),
         epoch_interval=timedelta(hours=1))
    assert seen == [0, 0, 0, 0, 0]


class _GappySource(StatelessSource):
    """Returns "nothing now" (None) between items, so input rounds separate them."""

    def __init__(self, items):
        self._script = []
        for item in items:
            self._script += [item, None]

    def next(self):
        if not self._script:
            raise StopIteration()
        return self._script.pop(0)


class _GappyInput(DynamicInput):
    def __init__(self, items):
        self._items = items

    def build(self, worker_index, worker_count):
        return _GappySource(self._items)


def test_inspect_epoch_epochs_advance_with_zero_interval():
    flow = Dataflow()
    flow.input("inp", _GappyInput(["a", "b", "c"]))
    seen = []
    flow.inspect_epoch(lambda e, x: seen.append((e, x)))
    flow.output("out", TestingOutput([]))
    run_main(flow, epoch_interval=timedelta(0))
    epochs = [e for e, _ in seen]
    assert [x for _, x in seen] == ["a", "b", "c"]
    assert epochs == sorted(epochs)
    assert len(set(epochs)) == 3
