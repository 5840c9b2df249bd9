"""Event-time clocks, sliding and session windows, fold_window and collect_window.

Event times are seconds after 2023-01-01 UTC. Unless a test is about lateness,
the clock waits a whole day of system time, so no window can close before EOF
and results do not depend on how fast the run is.
"""

from datetime import datetime, timedelta, timezone

import pytest

from bytewax.dataflow import Dataflow
from bytewax.testing import TestingInput, TestingOutput, run_main
from bytewax.window import (
    EventClockConfig,
    SessionWindow,
    SlidingWindow,
    SystemClockConfig,
    TumblingWindow,
)

pytestmark = pytest.mark.windowing

ALIGN_2023 = datetime(2023, 1, 1, tzinfo=timezone.utc)
HUGE = timedelta(days=100000)


def at(seconds):
    """The event time `seconds` after the alignment instant."""
    return ALIGN_2023 + timedelta(seconds=seconds)


def event_time(value):
    return value[0]


PATIENT_CLOCK = EventClockConfig(event_time, wait_for_system_duration=timedelta(days=1))
EAGER_CLOCK = EventClockConfig(event_time, wait_for_system_duration=timedelta(0))
TUMBLING_5S = TumblingWindow(length=timedelta(seconds=5), align_to=ALIGN_2023)


def _run(items, add_window_step):
    flow = Dataflow()
    flow.input("inp", TestingInput(items))
    add_window_step(flow)
    out = []
    flow.output("out", TestingOutput(out))
    run_main(flow)
    return out


def _fold_values(clock, window, items):
    """fold_window collecting the payload (second element) of each value."""
    return _run(items, lambda flow: flow.fold_window(
        "fold", clock, window, list, lambda acc, v: acc + [v[1]]))


def test_system_clock_fold_window_uses_builder_without_arguments():
    built = []

    def builder(*args):
        built.append(args)
        return []

    out = _run([("a", 1), ("b", 2), ("a", 3)], lambda flow: flow.fold_window(
        "fold", SystemClockConfig(), TumblingWindow(length=HUGE, align_to=ALIGN_2023),
        builder, lambda acc, v: acc + [v]))
    assert sorted(out) == [("a", [1, 3]), ("b", [2])]
    assert built and all(args == () for args in built)


def test_system_clock_collect_window_lists_values_in_arrival_order():
    out = _run([("a", 3), ("a", 1), ("b", 2)], lambda flow: flow.collect_window(
        "collect", SystemClockConfig(), TumblingWindow(length=HUGE, align_to=ALIGN_2023)))
    assert sorted(out) == [("a", [3, 1]), ("b", [2])]


def test_event_time_tumbling_windows_split_by_item_time():
    items = [("a", (at(0), 1)), ("a", (at(4), 2)), ("a", (at(5), 3)),
             ("b", (at(1), 10)), ("a", (at(12), 4))]
    out = _run(items, lambda flow: flow.reduce_window(
        "sum", PATIENT_CLOCK, TUMBLING_5S, lambda acc, v: (acc[0], acc[1] + v[1])))
    assert sorted((k, v[1]) for k, v in out) == [("a", 3), ("a", 3), ("a", 4), ("b", 10)]


def test_windows_exist_before_the_alignment_instant():
    out = _fold_values(PATIENT_CLOCK, TUMBLING_5S,
                       [("a", (at(-3), "early")), ("a", (at(-6), "earlier")), ("a", (at(1), "x"))])
    assert sorted(out) == [("a", ["earlier"]), ("a", ["early"]), ("a", ["x"])]


def test_late_items_are_dropped_silently():
    items = [("a", (at(0), 1)), ("a", (at(12), 2)), ("a", (at(1), 100))]
    out = _fold_values(EAGER_CLOCK, TUMBLING_5S, items)
    assert sorted(out) == [("a", [1]), ("a", [2])]


def test_collect_window_sorts_values_by_event_time():
    items = [("a", (at(3), "c")), ("a", (at(1), "a")), ("a", (at(2), "b"))]
    out = _run(items, lambda flow: flow.collect_window("collect", PATIENT_CLOCK, TUMBLING_5S))
    assert [(k, [v[1] for v in vs]) for k, vs in out] == [("a", ["a", "b", "c"])]


def test_fold_window_folds_in_arrival_order():
    items = [("a", (at(3), "c")), ("a", (at(1), "a")), ("a", (at(2), "b"))]
    assert _fold_values(PATIENT_CLOCK, TUMBLING_5S, items) == [("a", ["c", "a", "b"])]


def test_fold_window_starts_a_fresh_accumulator_per_window():
    items = [("a", (at(0), 1)), ("a", (at(6), 2)), ("a", (at(1), 3))]
    assert sorted(_fold_values(PATIENT_CLOCK, TUMBLING_5S, items)) == [("a", [1, 3]), ("a", [2])]


def test_overlapping_sliding_windows_put_items_in_several_windows():
    sliding = SlidingWindow(length=timedelta(seconds=10), offset=timedelta(seconds=5),
                            align_to=ALIGN_2023)
    items = [("a", (at(1), 1)), ("a", (at(6), 2)), ("a", (at(11), 3))]
    out = _fold_values(PATIENT_CLOCK, sliding, items)
    # Windows [-5,5) [0,10) [5,15) [10,20).
    assert sorted(out) == [("a", [1]), ("a", [1, 2]), ("a", [2, 3]), ("a", [3])]


def test_sliding_windows_with_gaps_drop_items_between_windows():
    gappy = SlidingWindow(length=timedelta(seconds=2), offset=timedelta(seconds=5),
                          align_to=ALIGN_2023)
    items = [("a", (at(1), 1)), ("a", (at(3), 2)), ("a", (at(6), 3))]
    assert sorted(_fold_values(PATIENT_CLOCK, gappy, items)) == [("a", [1]), ("a", [3])]


def test_session_windows_split_where_the_gap_is_exceeded():
    sessions = SessionWindow(gap=timedelta(seconds=5))
    items = [("a", (at(t), t)) for t in (0, 3, 20, 23, 40)]
    out = _fold_values(PATIENT_CLOCK, sessions, items)
    assert sorted(out) == [("a", [0, 3]), ("a", [20, 23]), ("a", [40])]


def test_session_windows_are_per_key():
    sessions = SessionWindow(gap=timedelta(seconds=5))
    items = [("a", (at(0), "a0")), ("b", (at(1), "b1")), ("a", (at(2), "a2"))]
    assert sorted(_fold_values(PATIENT_CLOCK, sessions, items)) == [
        ("a", ["a0", "a2"]), ("b", ["b1"])]


@pytest.mark.ours_only
def test_late_item_bridging_two_sessions_merges_them_without_losing_values():
    # 0.16.2 drops the value at 8 when the item at 4 merges the two sessions.
    sessions = SessionWindow(gap=timedelta(seconds=5))
    items = [("a", (at(0), 0)), ("a", (at(8), 8)), ("a", (at(4), 4))]
    out = _run(items, lambda flow: flow.collect_window("collect", PATIENT_CLOCK, sessions))
    assert [(k, [v[1] for v in vs]) for k, vs in out] == [("a", [0, 4, 8])]


def test_naive_datetime_from_dt_getter_is_an_error():
    naive = EventClockConfig(lambda v: datetime(2023, 1, 1), timedelta(0))
    with pytest.raises((TypeError, ValueError, RuntimeError)):
        _run([("a", 1)], lambda flow: flow.collect_window("collect", naive, TUMBLING_5S))


class DtGetterError(Exception):
    pass


@pytest.mark.ours_only
def test_dt_getter_exception_keeps_its_type_and_names_the_step(notes_of):
    def broken_getter(value):
        raise DtGetterError("no time")

    clock = EventClockConfig(broken_getter, timedelta(0))
    with pytest.raises(DtGetterError) as info:
        _run([("a", 1)], lambda flow: flow.collect_window("gather_times", clock, TUMBLING_5S))
    assert any("gather_times" in note for note in notes_of(info.value))
