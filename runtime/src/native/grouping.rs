//! Grouping a batch's values by key, and by the window they go into, laid flat for one
//! component call.

use std::collections::HashMap;

use foldhash::fast::RandomState;

use crate::wasm::Groups;
use crate::window::{KeySlot, WindowId};

/// One key's window.
pub type WindowRef = (KeySlot, WindowId);

/// The values of a batch grouped by window: windows in order of their first value,
/// values in arrival order. Buffers are kept from batch to batch.
#[derive(Default)]
pub struct WindowGrouping {
    index: HashMap<WindowRef, u32, RandomState>,
    windows: Vec<WindowRef>,
    // Per value given, in arrival order: its group and its index in the caller's values.
    arrivals: Vec<(u32, u32)>,
}

impl WindowGrouping {
    /// Starts a new batch.
    pub fn clear(&mut self) {
        self.index.clear();
        self.windows.clear();
        self.arrivals.clear();
    }

    /// Adds value `value` (an index into the caller's values) to `window`.
    pub fn add(&mut self, window: WindowRef, value: usize) {
        let next = self.windows.len() as u32;
        let g = *self.index.entry(window).or_insert_with(|| {
            self.windows.push(window);
            next
        });
        self.arrivals.push((g, value as u32));
    }

    /// Adds several values (indices into the caller's values, in arrival order) to `window`.
    pub fn add_run(&mut self, window: WindowRef, values: impl Iterator<Item = usize>) {
        let next = self.windows.len() as u32;
        let g = *self.index.entry(window).or_insert_with(|| {
            self.windows.push(window);
            next
        });
        self.arrivals.extend(values.map(|v| (g, v as u32)));
    }

    /// Each value given with its window, in arrival order.
    pub fn arrivals(&self) -> impl Iterator<Item = (WindowRef, usize)> + '_ {
        self.arrivals.iter().map(|&(g, v)| (self.windows[g as usize], v as usize))
    }

    /// The windows, in order of their first value.
    pub fn windows(&self) -> &[WindowRef] {
        &self.windows
    }

    /// The groups for a component call: window `g`'s state from `state(g)`, its values
    /// taken from `values` in arrival order.
    pub fn groups<'a>(&self, values: &[Vec<u8>], mut state: impl FnMut(WindowRef) -> Option<&'a [u8]>) -> Groups {
        // Stable sort by group keeps each group's values in arrival order.
        let mut order = self.arrivals.clone();
        order.sort_by_key(|(g, _)| *g);
        let mut groups = Groups::new();
        let mut at = 0;
        for (g, window) in self.windows.iter().enumerate() {
            let end = at + order[at..].iter().take_while(|(og, _)| *og as usize == g).count();
            groups.push(state(*window), order[at..end].iter().map(|(_, v)| values[*v as usize].as_slice()));
            at = end;
        }
        groups
    }
}

/// A batch's items grouped by key, through their window-set slots: keys in order of
/// first appearance, each key's items in arrival order. When every item of a batch has the
/// same time (a system clock), a key's items all go into the same windows, so the window
/// state is placed once per key rather than once per item. Grouping by slot index needs no
/// second hash of the key, only a scratch entry per slot.
#[derive(Default)]
pub struct SlotGrouping {
    /// Per key: the index of its first item.
    firsts: Vec<u32>,
    /// Per key: its slot.
    slots: Vec<KeySlot>,
    /// Item indices, grouped by key, each group in arrival order.
    order: Vec<u32>,
    /// Group `g`'s items are `order[ends[g-1]..ends[g]]`.
    ends: Vec<u32>,
    /// Per slot index: its group in the batch being grouped, or `NO_GROUP`.
    group_of_slot: Vec<u32>,
}

const NO_GROUP: u32 = u32::MAX;

impl SlotGrouping {
    /// Groups items by their slots (one per item).
    pub fn group(&mut self, item_slots: &[KeySlot]) {
        self.firsts.clear();
        self.slots.clear();
        let group_of: Vec<u32> = item_slots
            .iter()
            .enumerate()
            .map(|(i, slot)| {
                let at = slot.index();
                if at >= self.group_of_slot.len() {
                    self.group_of_slot.resize(at + 1, NO_GROUP);
                }
                if self.group_of_slot[at] == NO_GROUP {
                    self.group_of_slot[at] = self.firsts.len() as u32;
                    self.firsts.push(i as u32);
                    self.slots.push(*slot);
                }
                self.group_of_slot[at]
            })
            .collect();
        for slot in &self.slots {
            self.group_of_slot[slot.index()] = NO_GROUP;
        }
        // A counting sort: stable, so each group keeps its arrival order.
        self.ends.clear();
        self.ends.resize(self.firsts.len(), 0);
        group_of.iter().for_each(|&g| self.ends[g as usize] += 1);
        let mut at = 0;
        let mut next: Vec<u32> = self.ends.iter_mut().map(|n| {
            let start = at;
            at += *n;
            *n = at;
            start
        }).collect();
        self.order.clear();
        self.order.resize(item_slots.len(), 0);
        for (i, &g) in group_of.iter().enumerate() {
            self.order[next[g as usize] as usize] = i as u32;
            next[g as usize] += 1;
        }
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.firsts.len()
    }

    /// The index of key `g`'s first item.
    pub fn first(&self, g: usize) -> usize {
        self.firsts[g] as usize
    }

    /// Key `g`'s slot.
    pub fn slot(&self, g: usize) -> KeySlot {
        self.slots[g]
    }

    /// Key `g`'s items, in arrival order.
    pub fn items(&self, g: usize) -> impl ExactSizeIterator<Item = usize> + '_ {
        let start = if g == 0 { 0 } else { self.ends[g - 1] as usize };
        self.order[start..self.ends[g] as usize].iter().map(|&i| i as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::{Clock, GridWindower, Shape, WindowSet};

    #[test]
    fn windows_in_first_seen_order_values_in_arrival_order() {
        let mut set: WindowSet<()> = WindowSet::new(Clock::System, Shape::Grid(GridWindower::tumbling(0, 10)));
        let a = set.place("a", 0, 0, &mut Vec::new(), |_, _| {}).slot;
        let b = set.place("b", 0, 0, &mut Vec::new(), |_, _| {}).slot;
        let values: Vec<Vec<u8>> = [&b"1"[..], b"22", b"333", b"4"].iter().map(|v| v.to_vec()).collect();
        let mut grouping = WindowGrouping::default();
        grouping.add((b, 0), 0);
        grouping.add((a, 0), 1);
        grouping.add((b, 0), 2);
        grouping.add((a, 1), 3);
        assert_eq!(grouping.windows(), [(b, 0), (a, 0), (a, 1)]);
        let state = b"s".as_slice();
        let groups = grouping.groups(&values, |w| (w == (a, 0)).then_some(state));
        assert_eq!(groups.group_ends, [2, 3, 4]);
        let flat: Vec<&[u8]> = groups.values.iter().collect();
        assert_eq!(flat, [&b"1"[..], b"333", b"22", b"4"]);
        assert_eq!(groups.states.iter().collect::<Vec<_>>(), [&b""[..], b"s", b""]);
        grouping.clear();
        assert!(grouping.windows().is_empty());
    }

    #[test]
    fn keys_in_first_seen_order_items_in_arrival_order() {
        let mut set: WindowSet<()> = WindowSet::new(Clock::System, Shape::Grid(GridWindower::tumbling(0, 10)));
        let keys = ["b", "a", "b", "c", "a", "b"];
        let slots: Vec<KeySlot> = keys.iter().map(|k| set.slot_of(k)).collect();
        let mut grouping = SlotGrouping::default();
        grouping.group(&slots);
        assert_eq!(grouping.len(), 3);
        let groups: Vec<(usize, Vec<usize>)> = (0..3).map(|g| (grouping.first(g), grouping.items(g).collect())).collect();
        assert_eq!(groups, [(0, vec![0, 2, 5]), (1, vec![1, 4]), (3, vec![3])]);
        assert_eq!((0..3).map(|g| set.key(grouping.slot(g))).collect::<Vec<_>>(), ["b", "a", "c"]);
        // The scratch is clean for the next batch: a key seen before starts a new group.
        grouping.group(&slots[3..4]);
        assert_eq!((grouping.len(), grouping.items(0).collect::<Vec<_>>()), (1, vec![0]));
        grouping.group(&slots[..2]);
        assert_eq!((grouping.first(0), grouping.first(1)), (0, 1));
    }
}
