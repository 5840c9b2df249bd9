"""`bytewax.testing`: TestingInput, TestingOutput, poll_next, run_main, cluster_main."""

from datetime import timedelta

import pytest

from bytewax.dataflow import Dataflow
from bytewax.inputs import PartitionedInput, StatefulSource, StatelessSource
from bytewax.outputs import DynamicOutput
from bytewax.testing import TestingInput, TestingOutput, cluster_main, poll_next, run_main


def _identity_flow(items, out):
    flow = Dataflow()
    flow.input("inp", TestingInput(items))
    flow.output("out", TestingOutput(out))
    return flow


def test_testing_input_is_a_single_partition_input():
    testing_input = TestingInput([1])
    assert isinstance(testing_input, PartitionedInput)
    assert testing_input.list_parts() == {"iter"}


def test_testing_input_source_emits_items_then_stops():
    source = TestingInput(["a", "b"]).build_part("iter", None)
    assert isinstance(source, StatefulSource)
    assert source.next() == "a"
    assert source.next() == "b"
    with pytest.raises(StopIteration):
        source.next()


def test_testing_input_snapshot_is_index_of_last_emitted_item():
    source = TestingInput([10, 20, 30]).build_part("iter", None)
    source.next()
    assert source.snapshot() == 0
    source.next()
    assert source.snapshot() == 1


def test_testing_input_resumes_after_the_snapshotted_index():
    resumed = TestingInput([10, 20, 30]).build_part("iter", 1)
    assert resumed.next() == 30
    with pytest.raises(StopIteration):
        resumed.next()


def test_testing_input_accepts_generators_and_ranges():
    def gen():
        yield "x"
        yield "y"

    out = []
    run_main(_identity_flow(gen(), out))
    run_main(_identity_flow(range(3), out))
    assert out == ["x", "y", 0, 1, 2]


def test_empty_testing_input_finishes_with_no_output():
    out = []
    run_main(_identity_flow([], out))
    assert out == []


def test_testing_input_and_output_are_not_collected_as_tests():
    assert TestingInput.__test__ is False
    assert TestingOutput.__test__ is False


def test_testing_output_sink_appends_to_the_given_list():
    collected = ["already here"]
    testing_output = TestingOutput(collected)
    assert isinstance(testing_output, DynamicOutput)
    sink = testing_output.build(0, 1)
    sink.write(1)
    sink.write({"two": 2})
    assert collected == ["already here", 1, {"two": 2}]


def test_testing_output_list_is_not_cleared_between_runs():
    out = []
    flow = _identity_flow([1, 2], out)
    run_main(flow)
    run_main(flow)
    assert out == [1, 2, 1, 2]


class _SlowStartSource(StatelessSource):
    """Has nothing for the first two polls, then one item."""

    def __init__(self):
        self.polls = 0

    def next(self):
        self.polls += 1
        return None if self.polls < 3 else "ready"


class _EmptySource(StatelessSource):
    def next(self):
        return None


def test_poll_next_polls_until_an_item_arrives():
    source = _SlowStartSource()
    assert poll_next(source) == "ready"
    assert source.polls == 3


def test_poll_next_times_out_when_nothing_arrives():
    with pytest.raises(TimeoutError):
        poll_next(_EmptySource(), timeout=timedelta(milliseconds=50))


def test_poll_next_works_on_a_testing_input_source():
    source = TestingInput(["only"]).build_part("iter", None)
    assert poll_next(source) == "only"


def test_run_main_returns_none_after_all_input_is_processed():
    out = []
    assert run_main(_identity_flow(range(100), out)) is None
    assert out == list(range(100))


def test_run_main_accepts_keyword_options():
    out = []
    run_main(_identity_flow([1, 2, 3], out), epoch_interval=timedelta(0), recovery_config=None)
    assert out == [1, 2, 3]


def test_run_main_options_are_keyword_only():
    with pytest.raises(TypeError):
        run_main(_identity_flow([1], []), timedelta(0))


def test_cluster_main_with_worker_threads_outputs_each_item_once():
    out = []
    cluster_main(_identity_flow(range(20), out), [], 0, worker_count_per_proc=2)
    assert sorted(out) == list(range(20))


def test_cluster_main_with_no_addresses_and_one_worker():
    out = []
    cluster_main(_identity_flow(["a", "b"], out), None, 0, epoch_interval=timedelta(0))
    assert out == ["a", "b"]
