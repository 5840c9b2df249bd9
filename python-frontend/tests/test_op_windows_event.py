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


# Boundaries, empty windows and sliding-window overlap.


def test_tumbling_window_start_is_inclusive_and_end_exclusive():
    items = [("a", (at(t), t)) for t in (0, 5, 4.999, 10, -0.001)]
    out = _fold_values(PATIENT_CLOCK, TUMBLING_5S, items)
    assert sorted(out) == [("a", [-0.001]), ("a", [0, 4.999]), ("a", [5]), ("a", [10])]


def test_windows_that_receive_no_items_are_never_emitted():
    out = _fold_values(PATIENT_CLOCK, TUMBLING_5S, [("a", (at(0), 0)), ("a", (at(20), 20))])
    assert sorted(out) == [("a", [0]), ("a", [20])]


def test_overlapping_sliding_windows_share_boundary_items():
    sliding = SlidingWindow(length=timedelta(seconds=10), offset=timedelta(seconds=5),
                            align_to=ALIGN_2023)
    out = _fold_values(PATIENT_CLOCK, sliding, [("a", (at(5), 5)), ("a", (at(10), 10))])
    # 5 opens [5,15) and is the last instant of [0,10); 10 opens [10,20).
    assert sorted(out) == [("a", [5]), ("a", [5, 10]), ("a", [10])]


def test_sliding_windows_with_gaps_exclude_the_end_instant():
    gappy = SlidingWindow(length=timedelta(seconds=2), offset=timedelta(seconds=5),
                          align_to=ALIGN_2023)
    items = [("a", (at(t), t)) for t in (0, 2, 1.999, 5, 7)]
    # Windows [0,2) [5,7): 2 and 7 fall in the gaps.
    assert sorted(_fold_values(PATIENT_CLOCK, gappy, items)) == [("a", [0, 1.999]), ("a", [5])]


def test_fold_window_on_sliding_windows_folds_each_window_in_arrival_order():
    sliding = SlidingWindow(length=timedelta(seconds=10), offset=timedelta(seconds=5),
                            align_to=ALIGN_2023)
    items = [("a", (at(1), 1)), ("a", (at(6), 2)), ("a", (at(3), 3))]
    # Windows [-5,5) [0,10) [5,15).
    assert sorted(_fold_values(PATIENT_CLOCK, sliding, items)) == [
        ("a", [1, 2, 3]), ("a", [1, 3]), ("a", [2])]


def test_collect_window_on_sliding_windows_sorts_each_window_by_time():
    sliding = SlidingWindow(length=timedelta(seconds=10), offset=timedelta(seconds=5),
                            align_to=ALIGN_2023)
    items = [("a", (at(6), "six")), ("a", (at(1), "one")), ("a", (at(3), "three"))]
    out = _run(items, lambda flow: flow.collect_window("collect", PATIENT_CLOCK, sliding))
    assert sorted((k, [v[1] for v in vs]) for k, vs in out) == [
        ("a", ["one", "three"]), ("a", ["one", "three", "six"]), ("a", ["six"])]


def test_reduce_window_emits_key_and_accumulator_pairs():
    items = [("a", (at(0), 1)), ("a", (at(1), 2)), ("b", (at(2), 5))]
    out = _run(items, lambda flow: flow.reduce_window(
        "sum", PATIENT_CLOCK, TUMBLING_5S, lambda acc, v: (acc[0], acc[1] + v[1])))
    # The accumulator starts as the first value itself, event time included.
    assert sorted(out) == [("a", (at(0), 3)), ("b", (at(2), 5))]


# Sessions.


def test_session_grows_while_in_order_items_arrive_within_the_gap():
    sessions = SessionWindow(gap=timedelta(seconds=5))
    items = [("a", (at(t), t)) for t in (0, 4, 8, 12.5, 20)]
    out = _fold_values(PATIENT_CLOCK, sessions, items)
    assert sorted(out) == [("a", [0, 4, 8, 12.5]), ("a", [20])]


def test_item_exactly_one_gap_after_a_session_starts_a_new_one():
    sessions = SessionWindow(gap=timedelta(seconds=5))
    out = _fold_values(PATIENT_CLOCK, sessions, [("a", (at(0), 0)), ("a", (at(5), 5))])
    assert sorted(out) == [("a", [0]), ("a", [5])]


def test_out_of_order_item_inside_an_earlier_session_joins_it():
    sessions = SessionWindow(gap=timedelta(seconds=5))
    items = [("a", (at(0), 0)), ("a", (at(10), 10)), ("a", (at(3), 3))]
    assert sorted(_fold_values(PATIENT_CLOCK, sessions, items)) == [("a", [0, 3]), ("a", [10])]


@pytest.mark.ours_only
def test_item_just_before_a_session_extends_it_backwards_keeping_its_values():
    # 0.16.2 emits only [6]: the value at 10 is lost when the sessions merge.
    sessions = SessionWindow(gap=timedelta(seconds=5))
    items = [("a", (at(10), 10)), ("a", (at(6), 6))]
    out = _run(items, lambda flow: flow.collect_window("collect", PATIENT_CLOCK, sessions))
    assert [(k, [v[1] for v in vs]) for k, vs in out] == [("a", [6, 10])]


# Watermarks and lateness. Event times jump by far more than a test can take in
# system time, so the drift of the watermark with wall-clock time cannot matter.


def test_watermark_is_per_key():
    items = [("a", (at(0), 0)), ("b", (at(1000), 1000)), ("a", (at(1), 1)), ("b", (at(2), 2))]
    out = _fold_values(EAGER_CLOCK, TUMBLING_5S, items)
    # b's newest time makes b's own old item late, never a's.
    assert sorted(out) == [("a", [0, 1]), ("b", [1000])]


def test_waiting_for_system_time_keeps_an_out_of_order_item():
    items = [("a", (at(0), 0)), ("a", (at(20), 20)), ("a", (at(1), 1))]
    waiting = EventClockConfig(event_time, wait_for_system_duration=timedelta(hours=1))
    assert sorted(_fold_values(waiting, TUMBLING_5S, items)) == [("a", [0, 1]), ("a", [20])]


def test_too_short_a_wait_drops_the_out_of_order_item():
    items = [("a", (at(0), 0)), ("a", (at(20), 20)), ("a", (at(1), 1))]
    short = EventClockConfig(event_time, wait_for_system_duration=timedelta(seconds=10))
    assert sorted(_fold_values(short, TUMBLING_5S, items)) == [("a", [0]), ("a", [20])]


def test_item_older_than_the_watermark_joins_a_window_still_open():
    thirty = TumblingWindow(length=timedelta(seconds=30), align_to=ALIGN_2023)
    wait_10s = EventClockConfig(event_time, wait_for_system_duration=timedelta(seconds=10))
    items = [("a", (at(t), t)) for t in (0, 50, 35, 25)]
    # After 50 the watermark is 40: [0,30) has closed, [30,60) has not.
    assert sorted(_fold_values(wait_10s, thirty, items)) == [("a", [0]), ("a", [50, 35])]


def test_item_is_late_only_for_the_sliding_windows_already_closed():
    sliding = SlidingWindow(length=timedelta(seconds=1000), offset=timedelta(seconds=500),
                            align_to=ALIGN_2023)
    items = [("a", (at(0), 0)), ("a", (at(1200), 1200)), ("a", (at(700), 700))]
    out = _fold_values(EAGER_CLOCK, sliding, items)
    # 700 misses the closed [0,1000) but joins the open [500,1500).
    assert sorted(out) == [("a", [0]), ("a", [0]), ("a", [1200]), ("a", [1200, 700])]


def test_session_item_older_than_the_watermark_is_dropped():
    sessions = SessionWindow(gap=timedelta(seconds=5))
    wait_10s = EventClockConfig(event_time, wait_for_system_duration=timedelta(seconds=10))
    items = [("a", (at(0), 0)), ("a", (at(50), 50)), ("a", (at(38), 38))]
    assert sorted(_fold_values(wait_10s, sessions, items)) == [("a", [0]), ("a", [50])]


def test_windows_close_mid_stream_once_the_watermark_passes_them():
    day = 24 * 3600
    daily = TumblingWindow(length=timedelta(days=1), align_to=ALIGN_2023)
    log = []

    def items():
        for t in (0, 2 * day):
            log.append(("pulled", t))
            yield ("a", (at(t), t))
        # More items than any input batch, so the end of input is far off.
        for n in range(3000):
            log.append(("pulled", "filler"))
            yield ("z", (at(0), n))

    flow = Dataflow()
    flow.input("inp", TestingInput(items()))
    flow.fold_window("fold", EAGER_CLOCK, daily, list, lambda acc, v: acc + [v[1]])
    flow.filter(lambda key_values: key_values[0] == "a")
    flow.inspect(lambda key_values: log.append(("emitted", key_values[1])))
    flow.output("out", TestingOutput([]))
    run_main(flow)
    emitted_first = log.index(("emitted", [0]))
    assert ("pulled", 2 * day) in log[:emitted_first]
    assert ("pulled", "filler") in log[emitted_first:]
    # The second window can only close at the end of input.
    assert log[-1] == ("emitted", [2 * day])


# Time zones.


def test_naive_align_to_is_refused_when_the_window_is_made():
    for make in (lambda when: TumblingWindow(length=timedelta(seconds=5), align_to=when),
                 lambda when: SlidingWindow(length=timedelta(seconds=5),
                                            offset=timedelta(seconds=5), align_to=when)):
        with pytest.raises(TypeError, match="align_to"):
            make(datetime(2023, 1, 1))


@pytest.mark.ours_only
def test_align_to_in_another_time_zone_is_the_same_instant_in_utc():
    # 0.16.2 refuses any align_to whose tzinfo is not timezone.utc.
    plus_two = timezone(timedelta(hours=2))
    three_hours = TumblingWindow(length=timedelta(hours=3),
                                 align_to=datetime(2023, 1, 1, 1, 0, tzinfo=plus_two))
    # The grid is anchored at 2022-12-31 23:00 UTC: [23:00, 02:00), [02:00, 05:00).
    items = [("a", (at(2 * 3600 - 1), "before")), ("a", (at(2 * 3600), "at"))]
    out = _fold_values(PATIENT_CLOCK, three_hours, items)
    assert sorted(out) == [("a", ["at"]), ("a", ["before"])]


@pytest.mark.ours_only
def test_dt_getter_may_return_times_in_another_time_zone():
    # 0.16.2 fails with "Not datetime.timezone.utc" for any non-UTC tzinfo.
    plus_two = timezone(timedelta(hours=2))
    items = [("a", (datetime(2023, 1, 1, 2, 0, 3, tzinfo=plus_two), "local")),
             ("a", (at(4), "utc")), ("a", (at(5), "next"))]
    out = _fold_values(PATIENT_CLOCK, TUMBLING_5S, items)
    assert sorted(out) == [("a", ["local", "utc"]), ("a", ["next"])]


@pytest.mark.ours_only
def test_naive_datetime_from_dt_getter_is_a_type_error_naming_the_step(notes_of):
    # 0.16.2 panics and surfaces a RuntimeError wrapping the TypeError.
    naive = EventClockConfig(lambda v: datetime(2023, 1, 1), timedelta(0))
    with pytest.raises(TypeError) as info:
        _run([("a", 1)], lambda flow: flow.collect_window("stamp_items", naive, TUMBLING_5S))
    assert any("stamp_items" in text for text in [str(info.value)] + notes_of(info.value))


@pytest.mark.ours_only
def test_late_items_are_logged_once_per_window(caplog):
    items = [("a", (at(0), 1)), ("a", (at(12), 2)), ("a", (at(1), 100)), ("a", (at(2), 200)),
             ("b", (at(20), 1)), ("b", (at(3), 5))]
    with caplog.at_level("WARNING", logger="bytewax"):
        out = _fold_values(EAGER_CLOCK, TUMBLING_5S, items)
    assert sorted(out) == [("a", [1]), ("a", [2]), ("b", [1])]
    warnings = [r.getMessage() for r in caplog.records if r.name == "bytewax"]
    # Three late items, all for the window [0 s, 5 s): one warning, naming step and window.
    assert len(warnings) == 1, warnings
    assert "step 'fold'" in warnings[0]
    assert "2023-01-01T00:00:00Z..2023-01-01T00:00:05Z" in warnings[0]
