//! The open windows of one windowing step on one worker: per key, its clock and its
//! windows; across keys, one wake-up time per key kept in order, so closing never scans
//! every key.

use std::collections::{BTreeSet, HashMap};

use compact_str::CompactString;
use foldhash::fast::RandomState;
use super::clock::{Clock, KeyClock};
use super::key_windows::{KeyWindows, Window, WindowList};
use super::windower::{GridWindower, WindowId};
use super::Millis;

/// Which windows items fall into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Tumbling or sliding windows on a fixed grid.
    Grid(GridWindower),
    /// Per-key sessions: items less than `gap` apart share one.
    Session {
        /// The inactivity gap, in milliseconds (> 0).
        gap: Millis,
    },
}

/// A key's place in a [`WindowSet`]: stable while the key has open windows, so a host can
/// look a key up once and reach its windows again without hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeySlot(u32);

impl KeySlot {
    /// The slot's index, for hosts that keep per-slot scratch data in a vector.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    #[cfg(test)]
    pub(crate) fn at(index: u32) -> Self {
        KeySlot(index)
    }
}

/// The slots changed since the last snapshot, tracked only when recovery is on: a flag
/// per slot rather than a set of keys, so noting a change neither hashes nor allocates.
#[derive(Default)]
struct ChangedSlots {
    on: bool,
    dirty: Vec<bool>,
    slots: Vec<KeySlot>,
    // Keys that lost their last window (their slot may hold another key by now).
    gone: Vec<String>,
}

impl ChangedSlots {
    fn note(&mut self, slot: KeySlot) {
        if !self.on {
            return;
        }
        if self.dirty.len() <= slot.index() {
            self.dirty.resize(slot.index() + 1, false);
        }
        if !self.dirty[slot.index()] {
            self.dirty[slot.index()] = true;
            self.slots.push(slot);
        }
    }

    fn gone(&mut self, key: &str) {
        if self.on {
            self.gone.push(key.to_owned());
        }
    }
}

struct Slot<A> {
    key: CompactString,
    state: KeyWindows<A>,
    // When this key's earliest window closes, in system time, if it is scheduled.
    wake: Option<Millis>,
}

/// What [`WindowSet::place`] did with an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// The key's slot.
    pub slot: KeySlot,
    /// How many windows the item came too late for (a session: 1 if it was late).
    pub late: usize,
    /// The first grid window it was late for.
    pub late_window: Option<WindowId>,
}

/// Open windows per key, each with an accumulator `A`.
pub struct WindowSet<A> {
    clock: Clock,
    shape: Shape,
    index: HashMap<CompactString, KeySlot, RandomState>,
    slots: Vec<Slot<A>>,
    free: Vec<KeySlot>,
    wakes: BTreeSet<(Millis, KeySlot)>,
    changed: ChangedSlots,
}

impl<A> WindowSet<A> {
    /// An empty set.
    pub fn new(clock: Clock, shape: Shape) -> Self {
        WindowSet {
            clock,
            shape,
            index: HashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            wakes: BTreeSet::new(),
            changed: ChangedSlots::default(),
        }
    }

    /// The step's clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The step's window shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// How many slots exist (the bound of [`KeySlot::index`]).
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The key in `slot`.
    pub fn key(&self, slot: KeySlot) -> &str {
        &self.slots[slot.index()].key
    }

    /// The key's slot, opening one without windows if it has none. A host that places
    /// many items of one batch looks each key up once here and groups by slot, rather than
    /// hashing keys a second time; a slot left without windows is freed by the next
    /// [`WindowSet::settle`] of it.
    pub fn slot_of(&mut self, key: &str) -> KeySlot {
        if let Some(&slot) = self.index.get(key) {
            return slot;
        }
        let fresh = KeyWindows { clock: KeyClock::default(), windows: WindowList::new(), next_session: 0 };
        let slot = match self.free.pop() {
            Some(slot) => {
                let entry = &mut self.slots[slot.index()];
                entry.key.clear();
                entry.key.push_str(key);
                entry.state = fresh;
                slot
            }
            None => {
                self.slots.push(Slot { key: CompactString::from(key), state: fresh, wake: None });
                KeySlot(self.slots.len() as u32 - 1)
            }
        };
        self.index.insert(CompactString::from(key), slot);
        slot
    }

    /// Times an item of `key` at `t` (system time `now`) and finds the windows it belongs
    /// to, pushing their ids onto `ids`; windows new to the key are opened without an
    /// accumulator. Sessions an item bridges are merged, their accumulators with `merge`.
    /// Call [`WindowSet::settle`] for the slot once the item's value is folded in.
    pub fn place(&mut self, key: &str, t: Millis, now: Millis, ids: &mut Vec<WindowId>, merge: impl FnMut(&mut A, A)) -> Placed {
        let slot = self.slot_of(key);
        self.place_in(slot, t, now, ids, merge)
    }

    /// [`WindowSet::place`] for a key already looked up with [`WindowSet::slot_of`].
    pub fn place_in(&mut self, slot: KeySlot, t: Millis, now: Millis, ids: &mut Vec<WindowId>, merge: impl FnMut(&mut A, A)) -> Placed {
        self.changed.note(slot);
        let clock = self.clock;
        let state = &mut self.slots[slot.index()].state;
        clock.observe(&mut state.clock, t, now);
        let watermark = clock.watermark(&state.clock, now);
        let mut placed = Placed { slot, late: 0, late_window: None };
        match self.shape {
            Shape::Grid(grid) => {
                for id in grid.windows_for(t) {
                    let close = grid.close_time(id);
                    if watermark > close {
                        placed.late += 1;
                        placed.late_window.get_or_insert(id);
                        continue;
                    }
                    if !state.windows.iter().any(|w| w.id == id) {
                        state.windows.push(Window { id, start: grid.open_time(id), last: close - 1, close, acc: None });
                    }
                    ids.push(id);
                }
            }
            Shape::Session { gap } => {
                if t < watermark {
                    placed.late = 1;
                } else {
                    ids.push(join_session(state, t, gap, merge));
                }
            }
        }
        placed
    }

    /// The accumulator of window `id` of the key in `slot`, if it has one.
    pub fn get(&self, slot: KeySlot, id: WindowId) -> Option<&A> {
        self.slots[slot.index()].state.windows.iter().find(|w| w.id == id).and_then(|w| w.acc.as_ref())
    }

    /// The accumulator of window `id` of the key in `slot`, mutably, if it has one.
    pub fn get_mut(&mut self, slot: KeySlot, id: WindowId) -> Option<&mut A> {
        self.window_mut(slot, id).and_then(|w| w.acc.as_mut())
    }

    /// Sets the accumulator of window `id` (opened by [`WindowSet::place`]).
    pub fn set(&mut self, slot: KeySlot, id: WindowId, acc: A) {
        if let Some(w) = self.window_mut(slot, id) {
            w.acc = Some(acc);
        }
    }

    fn window_mut(&mut self, slot: KeySlot, id: WindowId) -> Option<&mut Window<A>> {
        self.slots[slot.index()].state.windows.iter_mut().find(|w| w.id == id)
    }

    /// Closes the windows of the key in `slot` that its watermark at `now` is past,
    /// earliest first, and schedules its next wake-up (or forgets the key if none is left).
    pub fn settle(&mut self, slot: KeySlot, now: Millis, mut emit: impl FnMut(&str, &Window<A>, A)) {
        let entry = &mut self.slots[slot.index()];
        let watermark = self.clock.watermark(&entry.state.clock, now);
        if entry.state.windows.iter().any(|w| watermark > w.close) {
            entry.state.windows.sort_by_key(|w| w.close);
            let due = entry.state.windows.iter().take_while(|w| watermark > w.close).count();
            self.changed.note(slot);
            for mut window in entry.state.windows.drain(..due) {
                if let Some(acc) = window.acc.take() {
                    emit(&entry.key, &window, acc);
                }
            }
        }
        self.reschedule(slot);
    }

    fn reschedule(&mut self, slot: KeySlot) {
        let entry = &mut self.slots[slot.index()];
        let earliest = entry.state.windows.iter().map(|w| w.close).min();
        let wake = earliest.and_then(|close| self.clock.passes_at(&entry.state.clock, close));
        if wake != entry.wake {
            if let Some(old) = entry.wake {
                self.wakes.remove(&(old, slot));
            }
            if let Some(new) = wake {
                self.wakes.insert((new, slot));
            }
            entry.wake = wake;
        }
        if entry.state.windows.is_empty() {
            self.index.remove(entry.key.as_str());
            self.free.push(slot);
            self.changed.gone(&entry.key);
        }
    }

    /// Closes what is due at system time `now` in every key whose wake-up time has come.
    pub fn wake(&mut self, now: Millis, mut emit: impl FnMut(&str, &Window<A>, A)) {
        while let Some(&(at, slot)) = self.wakes.first() {
            if at > now {
                break;
            }
            self.wakes.pop_first();
            self.slots[slot.index()].wake = None;
            self.settle(slot, now, &mut emit);
        }
    }

    /// Closes every open window (end of input), each key's earliest first.
    pub fn close_all(&mut self, mut emit: impl FnMut(&str, &Window<A>, A)) {
        let live: Vec<KeySlot> = self.index.values().copied().collect();
        for slot in live {
            let entry = &mut self.slots[slot.index()];
            self.changed.note(slot);
            entry.state.windows.sort_by_key(|w| w.close);
            for mut window in std::mem::take(&mut entry.state.windows) {
                if let Some(acc) = window.acc.take() {
                    emit(&entry.key, &window, acc);
                }
            }
            self.reschedule(slot);
        }
    }

    /// The system time of the next wake-up, if any key is waiting for one.
    pub fn next_wake(&self) -> Option<Millis> {
        self.wakes.first().map(|(at, _)| *at)
    }

    /// Every key's window state, for a snapshot.
    pub fn snapshot(&self) -> impl Iterator<Item = (&str, &KeyWindows<A>)> + '_ {
        self.index.values().map(|slot| {
            let entry = &self.slots[slot.index()];
            (entry.key.as_str(), &entry.state)
        })
    }

    /// From now on, note which keys' windows change, for [`WindowSet::take_changed`].
    pub fn track_changes(&mut self) {
        self.changed.on = true;
    }

    /// Calls `f` with each key whose windows changed since the last call, and its state
    /// now (`None`: it has no open windows any more).
    pub fn take_changed(&mut self, mut f: impl FnMut(&str, Option<&KeyWindows<A>>)) {
        for slot in std::mem::take(&mut self.changed.slots) {
            self.changed.dirty[slot.index()] = false;
            let entry = &self.slots[slot.index()];
            if self.index.get(entry.key.as_str()) == Some(&slot) {
                f(&entry.key, Some(&entry.state));
            }
        }
        let mut gone = std::mem::take(&mut self.changed.gone);
        gone.sort_unstable();
        gone.dedup();
        for key in gone.iter().filter(|k| !self.index.contains_key(k.as_str())) {
            f(key, None);
        }
    }

    /// A key's window state, if it has open windows.
    pub fn state_of(&self, key: &str) -> Option<&KeyWindows<A>> {
        self.index.get(key).map(|slot| &self.slots[slot.index()].state)
    }

    /// Puts back a key's state from a snapshot, replacing what the key had.
    pub fn restore(&mut self, key: &str, state: KeyWindows<A>) {
        let slot = self.slot_of(key);
        self.slots[slot.index()].state = state;
        self.reschedule(slot);
    }
}

/// Puts an item at `t` into the key's session that it falls in, opening one if none does;
/// merges every session it bridges into the earliest of them. Returns the session's id.
fn join_session<A>(state: &mut KeyWindows<A>, t: Millis, gap: Millis, mut merge: impl FnMut(&mut A, A)) -> WindowId {
    // Sessions never overlap one another, so only sessions the item itself reaches can
    // merge: one before it whose gap it falls in, one after it that starts within its gap.
    let reaches = |w: &Window<A>| {
        if w.start <= t {
            t < w.last.saturating_add(gap)
        } else {
            w.start < t.saturating_add(gap)
        }
    };
    let mut joined = Vec::new();
    let mut i = 0;
    while i < state.windows.len() {
        if reaches(&state.windows[i]) {
            joined.push(state.windows.swap_remove(i));
        } else {
            i += 1;
        }
    }
    joined.sort_by_key(|w| w.start);
    let mut joined = joined.into_iter();
    let mut target = match joined.next() {
        Some(earliest) => earliest,
        None => {
            let id = state.next_session;
            state.next_session += 1;
            Window { id, start: t, last: t, close: t, acc: None }
        }
    };
    for other in joined {
        target.last = target.last.max(other.last);
        match (&mut target.acc, other.acc) {
            (Some(acc), Some(more)) => merge(acc, more),
            (acc @ None, more) => *acc = more,
            (Some(_), None) => {}
        }
    }
    target.start = target.start.min(t);
    target.last = target.last.max(t);
    // Open while `last + gap` is ahead of the watermark.
    target.close = target.last.saturating_add(gap - 1);
    let id = target.id;
    state.windows.push(target);
    id
}

#[cfg(test)]
mod tests;
