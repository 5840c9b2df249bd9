//! Grouping a batch of keyed items by the key's slot in a [`WindowSet`], with one hash
//! lookup per item and no allocation per item or per group.

use super::chain::encoded;
use crate::item::KeyedItem;
use crate::window::{KeySlot, WindowSet};

const NO_GROUP: u32 = u32::MAX;

/// The values of a batch, grouped by key and laid end to end.
#[derive(Default)]
pub struct GroupedValues {
    data: Vec<u8>,
    // The end of each value in `data`, values of group 0 first.
    ends: Vec<u32>,
    // The end of each group in `ends`.
    group_ends: Vec<u32>,
}

impl GroupedValues {
    /// Group `g`'s values, in arrival order.
    pub fn group(&self, g: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let first = if g == 0 { 0 } else { self.group_ends[g - 1] as usize };
        (first..self.group_ends[g] as usize).map(|i| {
            let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
            &self.data[start..self.ends[i] as usize]
        })
    }
}

/// Reusable buffers for grouping batch after batch.
#[derive(Default)]
pub struct SlotGrouping {
    // Per slot index: its group in the batch being grouped, or `NO_GROUP`.
    group_of: Vec<u32>,
    slots: Vec<KeySlot>,
    // Per item in arrival order: its group and its encoded value.
    arrivals: Vec<(u32, Vec<u8>)>,
    values: GroupedValues,
}

impl SlotGrouping {
    /// Drains `items` into groups, one per key, in order of each key's first item. Returns
    /// each group's slot in `set` and the grouped values.
    pub fn group<A>(&mut self, set: &mut WindowSet<A>, items: &mut Vec<KeyedItem>) -> (&[KeySlot], &GroupedValues) {
        self.slots.clear();
        self.arrivals.clear();
        for item in items.drain(..) {
            let slot = set.slot(&item.key);
            if self.group_of.len() <= slot.index() {
                self.group_of.resize(set.slot_count().max(slot.index() + 1), NO_GROUP);
            }
            let g = match self.group_of[slot.index()] {
                NO_GROUP => {
                    self.group_of[slot.index()] = self.slots.len() as u32;
                    self.slots.push(slot);
                    self.slots.len() as u32 - 1
                }
                g => g,
            };
            self.arrivals.push((g, encoded(item.value)));
        }
        for slot in &self.slots {
            self.group_of[slot.index()] = NO_GROUP;
        }
        self.lay_out();
        (&self.slots, &self.values)
    }

    /// Counting sort of the arrivals by group, keeping arrival order within a group.
    fn lay_out(&mut self) {
        let values = &mut self.values;
        values.group_ends.clear();
        values.group_ends.resize(self.slots.len(), 0);
        for (g, _) in &self.arrivals {
            values.group_ends[*g as usize] += 1;
        }
        let mut next_index: Vec<u32> = Vec::with_capacity(self.slots.len());
        let mut total = 0;
        for end in values.group_ends.iter_mut() {
            next_index.push(total);
            total += *end;
            *end = total;
        }
        // Sizes first, in sorted order, then prefix sums give each value's place in `data`.
        let mut sizes = vec![0u32; self.arrivals.len()];
        for (g, value) in &self.arrivals {
            let at = &mut next_index[*g as usize];
            sizes[*at as usize] = value.len() as u32;
            *at += 1;
        }
        values.ends.clear();
        let mut end = 0;
        for size in sizes {
            end += size;
            values.ends.push(end);
        }
        values.data.clear();
        values.data.resize(end as usize, 0);
        for (g, n) in next_index.iter_mut().enumerate() {
            *n = if g == 0 { 0 } else { values.group_ends[g - 1] };
        }
        for (g, value) in &self.arrivals {
            let i = next_index[*g as usize] as usize;
            next_index[*g as usize] += 1;
            let start = if i == 0 { 0 } else { values.ends[i - 1] as usize };
            values.data[start..start + value.len()].copy_from_slice(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::Item;
    use crate::window::GridWindower;

    fn item(key: &str, value: &[u8]) -> KeyedItem {
        KeyedItem { key: key.to_owned(), value: Item::Encoded(value.to_vec()) }
    }

    #[test]
    fn keys_in_first_seen_order_values_in_arrival_order() {
        let mut set: WindowSet<()> = WindowSet::new(GridWindower::tumbling(0, 10));
        let mut grouping = SlotGrouping::default();
        let mut items = vec![item("b", b"1"), item("a", b"22"), item("b", b"333"), item("c", b""), item("a", b"4")];
        let (slots, values) = grouping.group(&mut set, &mut items);
        assert!(items.is_empty());
        assert_eq!(slots.to_vec(), [set.slot("b"), set.slot("a"), set.slot("c")]);
        let groups: Vec<Vec<&[u8]>> = (0..3).map(|g| values.group(g).collect()).collect();
        assert_eq!(groups, [vec![&b"1"[..], b"333"], vec![b"22", b"4"], vec![b""]]);
        // The next batch starts afresh: no group carries over.
        let mut items = vec![item("a", b"5")];
        let (slots, values) = grouping.group(&mut set, &mut items);
        assert_eq!(slots.len(), 1);
        assert_eq!(values.group(0).collect::<Vec<_>>(), [&b"5"[..]]);
    }
}
