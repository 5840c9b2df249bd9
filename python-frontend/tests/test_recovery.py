"""SQLite recovery, in-process: crash a run, rerun it, compare with a run that never failed.

A step raises at a chosen item in the first run only (the module-level
`ARMED` set), standing in for a crash. With `epoch_interval=0` each item is
its own epoch, so one worker resumes exactly at the item that failed.
With several workers several epochs may be in flight at once; those tests
check that the rerun emits the results of a suffix of the input starting
no later than the failed item, and that the first run emitted everything
before that suffix: nothing lost, repeats only from unfinished epochs.
"""

import sqlite3
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from bytewax.connectors.files import FileOutput
from bytewax.dataflow import Dataflow
from bytewax.recovery import KafkaRecoveryConfig, SqliteRecoveryConfig
from bytewax.testing import TestingInput, TestingOutput, cluster_main, run_main
from bytewax.window import EventClockConfig, TumblingWindow


def _engine_recovers():
    try:
        from bytewax import _engine
    except ImportError:
        return False
    return hasattr(_engine, "RECOVERY_FORMAT")


needs_recovery = pytest.mark.skipif(
    not _engine_recovers(), reason="bytewax._engine has no RECOVERY_FORMAT: recovery not built yet"
)

ZERO = timedelta(0)
ALIGN = datetime(2023, 1, 1, tzinfo=timezone.utc)

# Values (the second element of an item) at which `crash_at_armed` raises.
ARMED = set()


class Crash(Exception):
    """The failure the first run of a test dies of."""


@pytest.fixture(autouse=True)
def disarm():
    ARMED.clear()
    yield
    ARMED.clear()


def crash_at_armed(item):
    if item[1] in ARMED:
        raise Crash(f"crash at {item!r}")
    return item


def running_total(total, value):
    total += value
    return total, (value, total)


def count_up(count, _value):
    return count + 1, count + 1


def keyed_numbers(count, keys=3):
    return [(f"k{i % keys}", i) for i in range(count)]


def totals_flow(items, out):
    """Each item's value and its key's running total."""
    flow = Dataflow()
    flow.input("inp", TestingInput(items))
    flow.map(crash_at_armed)
    flow.stateful_map("total", lambda: 0, running_total)
    flow.output("out", TestingOutput(out))
    return flow


def counts_flow(items, out):
    """Each item's key and how many items of that key came so far: one result per item,
    the same multiset in any processing order."""
    flow = Dataflow()
    flow.input("inp", TestingInput(items))
    flow.map(crash_at_armed)
    flow.stateful_map("count", lambda: 0, count_up)
    flow.output("out", TestingOutput(out))
    return flow


def run(flow, db_dir, workers=1):
    config = SqliteRecoveryConfig(db_dir)
    if workers == 1:
        run_main(flow, epoch_interval=ZERO, recovery_config=config)
    else:
        cluster_main(flow, [], 0, epoch_interval=ZERO, recovery_config=config, worker_count_per_proc=workers)


def crash_then_resume(build, items, fail_at, db_dir, workers=(1, 1)):
    """First run (raising at value `fail_at`) with workers[0], rerun with workers[1];
    returns both outputs."""
    first, second = [], []
    ARMED.add(fail_at)
    with pytest.raises(Crash):
        run(build(items, first), db_dir, workers[0])
    ARMED.clear()
    run(build(items, second), db_dir, workers[1])
    return first, second


def uninterrupted(build, items, db_dir):
    out = []
    run(build(items, out), db_dir)
    return out


def assert_resumed_without_loss(expected, first, second, fail_index):
    """`expected[i]` is the result of input item i. The rerun emits exactly
    `expected[r:]` for some r <= fail_index, the first run emitted all of
    `expected[:r]`, and nothing else appears."""
    first_counts = Counter(first)
    assert all(n == 1 for n in first_counts.values()), f"first run repeated results: {first}"
    assert not first_counts - Counter(expected), f"first run emitted results never expected: {first}"
    second_counts = Counter(second)
    resumed_at = [r for r in range(fail_index + 1) if Counter(expected[r:]) == second_counts]
    assert resumed_at, (
        f"the rerun's output is not the results of the input from some item up to "
        f"#{fail_index} on: {sorted(second)}"
    )
    lost = Counter(expected[: resumed_at[0]]) - first_counts
    assert not lost, f"lost: {sorted(lost.elements())}"


def counts_expected(items):
    seen = Counter()
    expected = []
    for key, _ in items:
        seen[key] += 1
        expected.append((key, seen[key]))
    return expected


# --- one worker ---


@needs_recovery
def test_rerun_resumes_at_the_failed_item_with_running_totals_intact(tmp_path):
    items = keyed_numbers(12)
    expected = uninterrupted(totals_flow, items, _fresh(tmp_path, "clean"))

    first, second = crash_then_resume(totals_flow, items, 7, _fresh(tmp_path, "db"))

    assert first == expected[:7]
    assert second == expected[7:]


@needs_recovery
def test_finished_run_continues_with_new_items_only(tmp_path):
    db = _fresh(tmp_path, "db")
    items = keyed_numbers(6, keys=2)
    out = []
    run(totals_flow(items, out), db)
    assert out == [("k0", (0, 0)), ("k1", (1, 1)), ("k0", (2, 2)), ("k1", (3, 4)), ("k0", (4, 6)), ("k1", (5, 9))]

    again = []
    run(totals_flow(items, again), db)
    assert again == []

    more = []
    run(totals_flow(items + [("k1", 10), ("k0", 20), ("k2", 30)], more), db)
    assert more == [("k1", (10, 19)), ("k0", (20, 26)), ("k2", (30, 30))]


def reset_or_count(count, value):
    # Returning None as the state discards the key.
    if value == "reset":
        return None, ("reset", count)
    return count + 1, count + 1


def reset_flow(items, out):
    flow = Dataflow()
    flow.input("inp", TestingInput(items))
    flow.map(crash_at_armed)
    flow.stateful_map("count", lambda: 0, reset_or_count)
    flow.output("out", TestingOutput(out))
    return flow


@needs_recovery
def test_state_discarded_before_a_crash_stays_discarded(tmp_path):
    items = [("a", "x"), ("a", "y"), ("a", "reset"), ("b", "boom"), ("a", "z")]

    first, second = crash_then_resume(reset_flow, items, "boom", _fresh(tmp_path, "db"))

    assert first == [("a", 1), ("a", 2), ("a", ("reset", 2))]
    # "a" starts from the builder again: its discarded count was not restored.
    assert second == [("b", 1), ("a", 1)]


@needs_recovery
def test_key_untouched_for_many_epochs_keeps_its_state(tmp_path):
    db = _fresh(tmp_path, "db")
    items = [("old", 1)] + [("busy", n) for n in range(2, 62)] + [("old", 100)]

    first, second = crash_then_resume(totals_flow, items, 50, db)

    assert first[0] == ("old", (1, 1))
    assert second[0] == ("busy", (50, sum(range(2, 51))))
    assert second[-1] == ("old", (100, 101))
    # And still there in a later continuation, after more epochs without it.
    later = []
    run(totals_flow(items + [("busy", 0)] * 20 + [("old", 1000)], later), db)
    assert later[-1] == ("old", (1000, 1101))


def collect_values(acc, value):
    return acc + [value[1]]


def minutes(n):
    return ALIGN + timedelta(minutes=n)


def crash_at_armed_timed(item):
    """`(key, (minute, value))` to `(key, (event time, value))`, raising at an armed value."""
    key, (minute, value) = item
    crash_at_armed((key, value))
    return key, (minutes(minute), value)


def windowed_flow(items, out):
    """fold_window over 1-hour event-time windows; items are (key, (minute, value))."""
    flow = Dataflow()
    flow.input("inp", TestingInput(items))
    flow.map(crash_at_armed_timed)
    # A whole day of system-time patience would keep windows open until EOF; waiting 0
    # closes a window as soon as an item's time passes its end, so it closes mid-run.
    clock = EventClockConfig(lambda v: v[0], wait_for_system_duration=ZERO)
    window = TumblingWindow(length=timedelta(hours=1), align_to=ALIGN)
    flow.fold_window("windows", clock, window, list, collect_values)
    flow.output("out", TestingOutput(out))
    return flow


WINDOW_ITEMS = [
    ("a", (0, 1)),
    ("a", (10, 2)),
    ("a", (70, 3)),  # closes a's first hour
    ("a", (80, 4)),
    ("a", (90, 5)),  # the crash: a's second hour is open, holding 3 and 4
    ("a", (100, 6)),
    ("a", (130, 7)),  # closes a's second hour
]


@needs_recovery
def test_window_open_at_the_crash_closes_with_all_its_values(tmp_path):
    first, second = crash_then_resume(windowed_flow, WINDOW_ITEMS, 5, _fresh(tmp_path, "db"))

    assert first == [("a", [1, 2])]
    assert second == [("a", [3, 4, 5, 6]), ("a", [7])]


def collect_until_three(acc, more):
    return acc + more


def reduce_flow(items, out):
    flow = Dataflow()
    flow.input("inp", TestingInput(items))
    flow.map(crash_at_armed)
    flow.map(lambda item: (item[0], [item[1]]))
    flow.reduce("three", collect_until_three, lambda acc: len(acc) == 3)
    flow.output("out", TestingOutput(out))
    return flow


@needs_recovery
def test_reduce_accumulator_survives_the_crash(tmp_path):
    items = [("a", 1), ("b", 2), ("a", 3), ("a", 4), ("b", 5), ("a", 6), ("b", 7)]

    first, second = crash_then_resume(reduce_flow, items, 5, _fresh(tmp_path, "db"))

    assert first == [("a", [1, 3, 4])]
    assert second == [("b", [2, 5, 7])]


# --- several workers and rescaling ---

LAYOUTS = [(2, 2), (2, 1), (1, 2)]


@needs_recovery
@pytest.mark.parametrize("workers", LAYOUTS, ids=lambda w: f"{w[0]}to{w[1]}")
@pytest.mark.parametrize("fail_index", [1, 37, 80])
def test_crash_and_resume_across_worker_counts(tmp_path, workers, fail_index):
    items = keyed_numbers(100, keys=7)

    first, second = crash_then_resume(counts_flow, items, fail_index, _fresh(tmp_path, "db"), workers)

    assert_resumed_without_loss(counts_expected(items), first, second, fail_index)


@needs_recovery
@pytest.mark.parametrize("workers", LAYOUTS, ids=lambda w: f"{w[0]}to{w[1]}")
def test_continuation_across_worker_counts(tmp_path, workers):
    db = _fresh(tmp_path, "db")
    items = keyed_numbers(40, keys=5)
    out = []
    run(counts_flow(items, out), db, workers[0])
    assert Counter(out) == Counter(counts_expected(items))

    again = []
    run(counts_flow(items, again), db, workers[1])
    assert again == []

    more = items + keyed_numbers(60, keys=5)[40:]
    new = []
    run(counts_flow(more, new), db, workers[1])
    assert Counter(new) == Counter(counts_expected(more)[40:])


@needs_recovery
@pytest.mark.parametrize("workers", LAYOUTS, ids=lambda w: f"{w[0]}to{w[1]}")
def test_windows_open_at_the_crash_across_worker_counts(tmp_path, workers):
    # Each key's windows behave like WINDOW_ITEMS', under its own name.
    items = []
    for minute_value in (item[1] for item in WINDOW_ITEMS):
        for key in ("a", "b", "c"):
            items.append((key, (minute_value[0], minute_value[1] * 10 + ord(key) - ord("a"))))
    fail_value = items[13][1][1]
    assert fail_value == 51

    first, second = crash_then_resume(windowed_flow, items, fail_value, _fresh(tmp_path, "db"), workers)

    expected = uninterrupted(windowed_flow, items, _fresh(tmp_path, "clean"))
    assert sorted(map(repr, expected)) == sorted(
        repr((k, [v * 10 + ord(k) - ord("a") for v in values]))
        for k in "abc"
        for values in ([1, 2], [3, 4, 5, 6], [7])
    )
    assert len(set(map(repr, first))) == len(first)
    assert len(set(map(repr, second))) == len(second)
    assert set(map(repr, first)) | set(map(repr, second)) == set(map(repr, expected))
    # The windows still open at the crash held values from both runs, so only the
    # rerun can have emitted them.
    assert {repr(w) for w in expected if len(w[1]) != 2} <= set(map(repr, second))


# --- the store itself ---


def _fresh(tmp_path, name):
    path = tmp_path / name
    path.mkdir()
    return path


def store_files(db_dir):
    return sorted(p.name for p in db_dir.glob("worker*.sqlite3"))


def assert_unlocked_with_tables(path):
    # timeout=0: fail at once instead of waiting for a lock someone left behind.
    connection = sqlite3.connect(path, timeout=0)
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"execution", "progress", "state"} <= tables, tables
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
    finally:
        connection.close()


@needs_recovery
def test_one_file_per_worker_and_no_lock_left_after_a_failure(tmp_path):
    db = _fresh(tmp_path, "db")
    items = keyed_numbers(30)
    ARMED.add(20)
    with pytest.raises(Crash):
        run(counts_flow(items, []), db, workers=2)
    ARMED.clear()

    assert store_files(db) == ["worker0.sqlite3", "worker1.sqlite3"]
    for name in store_files(db):
        assert_unlocked_with_tables(db / name)
    # The store is usable: a rerun finishes.
    run(counts_flow(items, []), db, workers=2)


@needs_recovery
def test_single_worker_writes_worker0(tmp_path):
    db = _fresh(tmp_path, "db")
    run(counts_flow(keyed_numbers(3), []), db)
    assert store_files(db) == ["worker0.sqlite3"]
    assert_unlocked_with_tables(db / "worker0.sqlite3")


def test_file_output_flushes_each_line_and_syncs_at_snapshots(tmp_path, monkeypatch):
    import bytewax.connectors.files as files

    synced = []
    real_fsync = files.os.fsync
    monkeypatch.setattr(files.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    path = tmp_path / "out.txt"
    sink = FileOutput(path).build_part(str(path), None)
    sink.write("one")
    # Visible to a reader (and to a process that outlives a kill -9) before any snapshot.
    assert path.read_text() == "one\n"
    assert synced == []
    assert sink.snapshot() == 4
    assert len(synced) == 1
    sink.write("two")
    sink.close()

    # Resuming from the snapshot drops what was written after it.
    resumed = FileOutput(path).build_part(str(path), 4)
    assert path.read_text() == "one\n"
    resumed.write("three")
    resumed.close()
    assert path.read_text() == "one\nthree\n"


# --- configuration errors ---


@pytest.mark.parametrize("workers", [1, 2])
def test_missing_directory_is_a_runtime_error_naming_it(tmp_path, workers):
    missing = tmp_path / "no-such-dir"
    with pytest.raises(RuntimeError) as info:
        run(counts_flow(keyed_numbers(3), []), missing, workers)
    assert str(missing) in str(info.value)
    assert "does not exist" in str(info.value)
    assert not missing.exists()


def test_a_file_in_place_of_the_directory_is_a_runtime_error(tmp_path):
    not_dir = tmp_path / "file"
    not_dir.write_text("")
    with pytest.raises(RuntimeError, match="not a directory"):
        run(counts_flow(keyed_numbers(3), []), not_dir)


@pytest.mark.parametrize("workers", [1, 2])
def test_kafka_recovery_is_not_implemented(workers):
    config = KafkaRecoveryConfig(["localhost:9092"], "flow")
    out = []
    flow = counts_flow(keyed_numbers(3), out)
    with pytest.raises(NotImplementedError, match="SqliteRecoveryConfig"):
        if workers == 1:
            run_main(flow, recovery_config=config)
        else:
            cluster_main(flow, [], 0, recovery_config=config, worker_count_per_proc=2)
    assert out == []


@pytest.mark.parametrize("config", ["rec", 5, object()])
def test_other_recovery_config_objects_are_type_errors(config):
    with pytest.raises(TypeError, match="recovery_config"):
        run_main(counts_flow(keyed_numbers(3), []), recovery_config=config)
