//! The window set against hand-worked timelines.

use super::*;
use crate::window::MappedWindows;

type Out = Vec<(String, WindowId, i64)>;

/// Places `v` at `t` for `key`, adds it into each window, settles the key.
fn add(set: &mut WindowSet<i64>, key: &str, t: Millis, now: Millis, v: i64, out: &mut Out) -> Placed {
    let mut ids = Vec::new();
    let placed = set.place(key, t, now, &mut ids, |a, b| *a += b);
    for id in ids {
        match set.get_mut(placed.slot, id) {
            Some(acc) => *acc += v,
            None => set.set(placed.slot, id, v),
        }
    }
    set.settle(placed.slot, now, |k, w, acc| out.push((k.to_owned(), w.id, acc)));
    placed
}

fn drain(set: &mut WindowSet<i64>, out: &mut Out) {
    set.close_all(|k, w, acc| out.push((k.to_owned(), w.id, acc)));
}

fn sorted(mut v: Out) -> Out {
    v.sort();
    v
}

fn s(key: &str, id: WindowId, v: i64) -> (String, WindowId, i64) {
    (key.to_owned(), id, v)
}

#[test]
fn system_clock_folds_per_key_and_window_and_closes_on_wake() {
    let mut set = WindowSet::new(Clock::System, Shape::Grid(GridWindower::tumbling(0, 10)));
    let mut out = Vec::new();
    add(&mut set, "a", 1, 1, 1, &mut out);
    add(&mut set, "a", 5, 5, 2, &mut out);
    add(&mut set, "b", 12, 12, 7, &mut out);
    assert_eq!(set.next_wake(), Some(11));
    set.wake(11, |k, w, acc| out.push((k.to_owned(), w.id, acc)));
    assert_eq!(out, [s("a", 0, 3)]);
    drain(&mut set, &mut out);
    assert_eq!(sorted(out), [s("a", 0, 3), s("b", 1, 7)]);
    assert_eq!(set.next_wake(), None);
}

#[test]
fn event_watermark_is_per_key() {
    let mut set = WindowSet::new(Clock::Event { wait: 0 }, Shape::Grid(GridWindower::tumbling(0, 10)));
    let mut out = Vec::new();
    add(&mut set, "a", 1, 0, 1, &mut out);
    // b's newer item neither closes a's window nor makes a's next item late.
    add(&mut set, "b", 50, 0, 5, &mut out);
    let placed = add(&mut set, "a", 2, 0, 1, &mut out);
    assert_eq!(placed.late, 0);
    assert!(out.is_empty());
    // a's own newer item does both.
    add(&mut set, "a", 30, 0, 1, &mut out);
    assert_eq!(out, [s("a", 0, 2)]);
    let placed = add(&mut set, "a", 3, 0, 100, &mut out);
    assert_eq!((placed.late, placed.late_window), (1, Some(0)));
    drain(&mut set, &mut out);
    assert_eq!(sorted(out), [s("a", 0, 2), s("a", 3, 1), s("b", 5, 5)]);
}

#[test]
fn event_windows_close_as_system_time_passes() {
    let mut set = WindowSet::new(Clock::Event { wait: 5 }, Shape::Grid(GridWindower::tumbling(0, 10)));
    let mut out = Vec::new();
    add(&mut set, "a", 8, 1_000, 1, &mut out);
    // Watermark 3 at 1000; it passes the close time 10 at system time 1000 + 7 + 1.
    assert_eq!(set.next_wake(), Some(1_008));
    set.wake(1_007, |k, w, acc| out.push((k.to_owned(), w.id, acc)));
    assert!(out.is_empty());
    set.wake(1_008, |k, w, acc| out.push((k.to_owned(), w.id, acc)));
    assert_eq!(out, [s("a", 0, 1)]);
}

#[test]
fn overlapping_sliding_windows_are_kept_apart_and_lateness_is_per_window() {
    let mut set = WindowSet::new(Clock::Event { wait: 0 }, Shape::Grid(GridWindower::sliding(0, 10, 5)));
    let mut out = Vec::new();
    add(&mut set, "a", 7, 0, 1, &mut out); // windows 0 [0,10) and 1 [5,15)
    add(&mut set, "a", 12, 0, 10, &mut out); // windows 1 and 2; watermark 12 closes 0
    assert_eq!(out, [s("a", 0, 1)]);
    // At 9 the item is late for window 0 but still on time for window 1.
    let placed = add(&mut set, "a", 9, 0, 100, &mut out);
    assert_eq!((placed.late, placed.late_window), (1, Some(0)));
    drain(&mut set, &mut out);
    assert_eq!(sorted(out), [s("a", 0, 1), s("a", 1, 111), s("a", 2, 10)]);
}

#[test]
fn sessions_split_at_the_gap_and_merge_when_bridged() {
    let mut set = WindowSet::new(Clock::Event { wait: 1_000 }, Shape::Session { gap: 5 });
    let mut out = Vec::new();
    for (t, v) in [(0, 1), (3, 2), (20, 4), (7, 8), (12, 16)] {
        add(&mut set, "a", t, 0, v, &mut out);
    }
    // 0 and 3 share a session (3 < 0 + 5); 7 is within 5 of 3, so it joins too; 20 is
    // alone; 12 is exactly 5 after 7, which is one gap too far: a session of its own.
    drain(&mut set, &mut out);
    assert_eq!(sorted(out), [s("a", 0, 11), s("a", 1, 4), s("a", 2, 16)]);

    let mut out = Vec::new();
    for (t, v) in [(0, 1), (8, 2), (4, 4)] {
        add(&mut set, "b", t, 0, v, &mut out);
    }
    // 4 bridges [0] and [8]: one session keeps every value.
    drain(&mut set, &mut out);
    assert_eq!(out, [s("b", 0, 7)]);
}

#[test]
fn a_session_closes_once_the_watermark_reaches_last_plus_gap() {
    let mut set = WindowSet::new(Clock::Event { wait: 0 }, Shape::Session { gap: 5 });
    let mut out = Vec::new();
    add(&mut set, "a", 10, 0, 1, &mut out);
    add(&mut set, "a", 14, 0, 1, &mut out);
    assert!(out.is_empty());
    add(&mut set, "a", 19, 0, 1, &mut out); // 19 = 14 + 5: closes [10, 14], opens [19]
    assert_eq!(out, [s("a", 0, 2)]);
    let placed = add(&mut set, "a", 12, 0, 1, &mut out);
    assert_eq!(placed.late, 1);
}

#[test]
fn late_items_are_counted_not_added_and_leave_no_key_behind() {
    let mut set = WindowSet::new(Clock::Event { wait: 0 }, Shape::Grid(GridWindower::tumbling(0, 10)));
    let mut out = Vec::new();
    add(&mut set, "a", 50, 0, 1, &mut out);
    assert_eq!(add(&mut set, "a", 3, 0, 1, &mut out).late, 1);
    drain(&mut set, &mut out);
    assert_eq!(out, [s("a", 5, 1)]);
    assert_eq!(set.snapshot().count(), 0);
    assert_eq!(set.next_wake(), None);
}

#[test]
fn a_freed_slot_starts_clean_for_its_next_key() {
    let mut set = WindowSet::new(Clock::Event { wait: 0 }, Shape::Grid(GridWindower::tumbling(0, 10)));
    let mut out = Vec::new();
    add(&mut set, "a", 5, 0, 1, &mut out);
    add(&mut set, "a", 15, 0, 1, &mut out);
    drain(&mut set, &mut out);
    // "b" reuses a's slot; a's clock (watermark 15) must not make b's item late.
    assert_eq!(add(&mut set, "b", 1, 0, 9, &mut out).late, 0);
    drain(&mut set, &mut out);
    assert_eq!(out.last(), Some(&s("b", 0, 9)));
}

#[test]
fn snapshots_restore_clocks_and_windows() {
    let mut set = WindowSet::new(Clock::Event { wait: 0 }, Shape::Grid(GridWindower::tumbling(0, 10)));
    let mut out = Vec::new();
    add(&mut set, "a", 5, 0, 1, &mut out);
    add(&mut set, "a", 12, 0, 2, &mut out);
    let saved: Vec<(String, KeyWindows<i64>)> = set.snapshot().map(|(k, w)| (k.to_owned(), w.clone())).collect();
    let json = serde_json::to_string(&saved).unwrap();
    let back: Vec<(String, KeyWindows<i64>)> = serde_json::from_str(&json).unwrap();
    let mut resumed = WindowSet::new(Clock::Event { wait: 0 }, Shape::Grid(GridWindower::tumbling(0, 10)));
    for (key, state) in back {
        resumed.restore(&key, state);
    }
    // The restored clock still makes an old item late; the open window keeps its sum.
    assert_eq!(add(&mut resumed, "a", 3, 0, 1, &mut out).late, 1);
    add(&mut resumed, "a", 13, 0, 3, &mut out);
    drain(&mut resumed, &mut out);
    assert_eq!(out, [s("a", 0, 1), s("a", 1, 5)]);
}

/// The keys `take_changed` reports, with their open window ids (`None`: no windows left).
fn changed(set: &mut WindowSet<i64>) -> Vec<(String, Option<Vec<WindowId>>)> {
    let mut seen = Vec::new();
    set.take_changed(|k, state| seen.push((k.to_owned(), state.map(|s| s.windows.iter().map(|w| w.id).collect()))));
    seen.sort();
    seen
}

#[test]
fn changes_are_tracked_per_key_including_keys_whose_windows_all_closed() {
    let mut set = WindowSet::new(Clock::Event { wait: 0 }, Shape::Grid(GridWindower::tumbling(0, 10)));
    let mut out = Vec::new();
    add(&mut set, "a", 5, 0, 1, &mut out);
    assert!(changed(&mut set).is_empty(), "nothing is tracked before track_changes");
    set.track_changes();
    add(&mut set, "a", 6, 0, 1, &mut out);
    add(&mut set, "b", 1, 0, 1, &mut out);
    assert_eq!(changed(&mut set), [("a".into(), Some(vec![0])), ("b".into(), Some(vec![0]))]);
    assert!(changed(&mut set).is_empty(), "reported once");
    // `b` moves on: its window 0 closes and it has window 1 open; `a` is untouched.
    add(&mut set, "b", 15, 0, 1, &mut out);
    assert_eq!(changed(&mut set), [("b".into(), Some(vec![1]))]);
    // End of input: every key loses its last window, and a freed slot's reuse by a new key
    // does not hide the old key's removal.
    drain(&mut set, &mut out);
    add(&mut set, "c", 30, 0, 1, &mut out);
    assert_eq!(changed(&mut set), [("a".into(), None), ("b".into(), None), ("c".into(), Some(vec![3]))]);
}

#[test]
fn mapped_windows_serialize_as_the_mapped_type_would() {
    let mut set = WindowSet::new(Clock::Event { wait: 0 }, Shape::Grid(GridWindower::tumbling(0, 10)));
    let mut out = Vec::new();
    add(&mut set, "a", 5, 0, 2, &mut out);
    add(&mut set, "a", 12, 0, 3, &mut out);
    let (_, state) = set.snapshot().next().unwrap();
    let built = state.clone().try_into_map(|acc| Ok::<_, ()>(acc.to_string())).unwrap();
    let mapped = MappedWindows { state, map: |acc: &i64| acc.to_string() };
    assert_eq!(rmp_serde::to_vec(&mapped).unwrap(), rmp_serde::to_vec(&built).unwrap());
    assert_eq!(serde_json::to_string(&mapped).unwrap(), serde_json::to_string(&built).unwrap());
}
