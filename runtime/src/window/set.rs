//! The open windows of one windowing step on one worker, with their close timers kept in
//! order so closing never scans every key.

use std::collections::{BTreeMap, HashMap};

use foldhash::fast::RandomState;

use super::windower::{GridWindower, WindowId};
use super::Millis;

/// A key's place in a [`WindowSet`]: stable while the key has open windows, so a host can
/// look a key up once per batch and reach its windows again without hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySlot(u32);

impl KeySlot {
    /// The slot's index, for hosts that keep per-slot scratch data in a vector.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

struct Slot<A> {
    key: String,
    // Bumped when the slot is freed, so timers set for its previous key are ignored.
    generation: u32,
    // A key rarely has more than a couple of open windows: a short vector beats a map.
    windows: Vec<(WindowId, A)>,
}

/// Open windows per key, each with an accumulator `A`.
pub struct WindowSet<A> {
    windower: GridWindower,
    index: HashMap<String, KeySlot, RandomState>,
    slots: Vec<Slot<A>>,
    free: Vec<KeySlot>,
    // Windows closing at the same instant (all of one tumbling period) share an entry;
    // entries name slots, not keys, so opening a window copies no string.
    timers: BTreeMap<Millis, Vec<(KeySlot, u32, WindowId)>>,
}

impl<A> WindowSet<A> {
    /// An empty set over `windower`'s grid.
    pub fn new(windower: GridWindower) -> Self {
        WindowSet { windower, index: HashMap::default(), slots: Vec::new(), free: Vec::new(), timers: BTreeMap::new() }
    }

    /// The slot of `key`, made if the key has none. A slot without open windows is given
    /// back when windows close, so take slots only for keys about to get a window.
    pub fn slot(&mut self, key: &str) -> KeySlot {
        if let Some(&slot) = self.index.get(key) {
            return slot;
        }
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot.index()].key.clear();
                self.slots[slot.index()].key.push_str(key);
                slot
            }
            None => {
                self.slots.push(Slot { key: key.to_owned(), generation: 0, windows: Vec::new() });
                KeySlot(self.slots.len() as u32 - 1)
            }
        };
        self.index.insert(key.to_owned(), slot);
        slot
    }

    /// How many slots exist (the bound of [`KeySlot::index`]).
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Adds an item of `key` at time `t` to each of its windows that is not late
    /// (closes at or after `watermark`). `fold` gets the window's accumulator to update in
    /// place, or `None` for a new window, for which it returns the first accumulator.
    /// Returns how many windows the item was late for.
    pub fn insert<E>(
        &mut self,
        key: &str,
        t: Millis,
        watermark: Millis,
        mut fold: impl FnMut(Option<&mut A>) -> Result<Option<A>, E>,
    ) -> Result<usize, E> {
        let mut late = 0;
        let mut slot = None;
        for id in self.windower.windows_for(t) {
            if self.windower.close_time(id) < watermark {
                late += 1;
                continue;
            }
            let slot = *slot.get_or_insert_with(|| self.slot(key));
            match self.get_mut(slot, id) {
                Some(acc) => {
                    fold(Some(acc))?;
                }
                None => {
                    if let Some(acc) = fold(None)? {
                        self.open_window(slot, id, acc);
                    }
                }
            }
        }
        if let Some(slot) = slot {
            self.release_if_empty(slot);
        }
        Ok(late)
    }

    /// The accumulator of window `id` of the key in `slot`, if that window is open.
    pub fn get_mut(&mut self, slot: KeySlot, id: WindowId) -> Option<&mut A> {
        self.slots[slot.index()].windows.iter_mut().find(|(w, _)| *w == id).map(|(_, a)| a)
    }

    /// Opens window `id` of the key in `slot` with its first accumulator.
    pub fn open_window(&mut self, slot: KeySlot, id: WindowId, acc: A) {
        let close = self.windower.close_time(id);
        let entry = &mut self.slots[slot.index()];
        entry.windows.push((id, acc));
        self.timers.entry(close).or_default().push((slot, entry.generation, id));
    }

    /// Gives a slot back if its key has no open window (a host took it, then opened none).
    pub fn release_if_empty(&mut self, slot: KeySlot) {
        let entry = &mut self.slots[slot.index()];
        if entry.windows.is_empty() {
            self.index.remove(entry.key.as_str());
            entry.generation = entry.generation.wrapping_add(1);
            self.free.push(slot);
        }
    }

    /// Closes every window whose close time is before `watermark`, earliest first.
    pub fn close_before(&mut self, watermark: Millis, mut emit: impl FnMut(&str, WindowId, A)) {
        while let Some(entry) = self.timers.first_entry() {
            if *entry.key() >= watermark {
                break;
            }
            for (slot, generation, id) in entry.remove() {
                let entry = &mut self.slots[slot.index()];
                if entry.generation != generation {
                    continue;
                }
                if let Some(pos) = entry.windows.iter().position(|(w, _)| *w == id) {
                    let (_, acc) = entry.windows.swap_remove(pos);
                    emit(&entry.key, id, acc);
                }
                self.release_if_empty(slot);
            }
        }
    }

    /// Closes every open window (end of input).
    pub fn close_all(&mut self, emit: impl FnMut(&str, WindowId, A)) {
        self.close_before(Millis::MAX, emit);
    }

    /// When the earliest open window closes.
    pub fn next_close(&self) -> Option<Millis> {
        self.timers.keys().next().copied()
    }

    /// The grid this set uses.
    pub fn windower(&self) -> &GridWindower {
        &self.windower
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(set: &mut WindowSet<i64>, key: &str, t: Millis, wm: Millis, v: i64) -> usize {
        set.insert::<()>(key, t, wm, |acc| match acc {
            Some(a) => {
                *a += v;
                Ok(None)
            }
            None => Ok(Some(v)),
        })
        .unwrap()
    }

    fn sorted(mut v: Vec<(String, WindowId, i64)>) -> Vec<(String, WindowId, i64)> {
        v.sort();
        v
    }

    #[test]
    fn folds_per_key_and_window_then_closes_in_time_order() {
        let mut set = WindowSet::new(GridWindower::tumbling(0, 10));
        add(&mut set, "a", 1, 0, 1);
        add(&mut set, "a", 5, 0, 2);
        add(&mut set, "b", 12, 0, 7);
        add(&mut set, "a", 15, 0, 4);
        assert_eq!(set.next_close(), Some(10));
        let mut out = Vec::new();
        set.close_before(11, |k, id, acc| out.push((k.to_owned(), id, acc)));
        assert_eq!(out, [("a".to_owned(), 0, 3)]);
        let mut rest = Vec::new();
        set.close_all(|k, id, acc| rest.push((k.to_owned(), id, acc)));
        assert_eq!(sorted(rest), [("a".to_owned(), 1, 4), ("b".to_owned(), 1, 7)]);
        assert_eq!(set.next_close(), None);
    }

    #[test]
    fn overlapping_windows_of_one_key_are_kept_apart() {
        let mut set = WindowSet::new(GridWindower::sliding(0, 10, 5));
        add(&mut set, "a", 7, 0, 1); // windows 0 and 1
        add(&mut set, "a", 12, 0, 10); // windows 1 and 2
        let mut out = Vec::new();
        set.close_all(|k, id, acc| out.push((k.to_owned(), id, acc)));
        assert_eq!(sorted(out), [("a".to_owned(), 0, 1), ("a".to_owned(), 1, 11), ("a".to_owned(), 2, 10)]);
    }

    #[test]
    fn late_items_are_counted_not_added() {
        let mut set = WindowSet::new(GridWindower::tumbling(0, 10));
        assert_eq!(add(&mut set, "a", 3, 50, 1), 1);
        assert_eq!(set.next_close(), None);
        assert_eq!(set.slot_count(), 0);
    }

    #[test]
    fn a_reused_slot_ignores_the_timers_of_its_previous_key() {
        let mut set = WindowSet::new(GridWindower::tumbling(0, 10));
        add(&mut set, "a", 1, 0, 1);
        let mut out = Vec::new();
        set.close_before(11, |k, id, acc| out.push((k.to_owned(), id, acc)));
        // "b" takes the slot "a" had; a stale timer for that slot must not close b's window.
        add(&mut set, "b", 25, 0, 2);
        let slot = set.slot("b");
        set.open_window(slot, 0, 99);
        set.timers.entry(5).or_default().push((slot, 0, 2));
        set.close_before(11, |k, id, acc| out.push((k.to_owned(), id, acc)));
        assert_eq!(out, [("a".to_owned(), 0, 1), ("b".to_owned(), 0, 99)]);
        assert_eq!(set.slot_count(), 1);
        set.close_all(|k, id, acc| out.push((k.to_owned(), id, acc)));
        assert_eq!(out.last(), Some(&("b".to_owned(), 2, 2)));
    }
}
