//! A windowing step's batch when every item's time is the same (a system clock).

use super::{call_fold, encoded_acc, merge_kept, store_encoded_acc, Aggregation, NativeWindows};
use crate::error::StepError;
use crate::item::Item;
use crate::wasm::Groups;
use crate::window::{KeySlot, Millis, WindowId};

impl NativeWindows {
    /// A batch where every item's time is `now` (a system clock): a key's items all go into
    /// the same windows, so each key is placed once with all of them. With a WASM fold the
    /// key's accumulators are read while its state is still in cache from placing it, and
    /// written back just before it is settled: with many keys, cache misses on the window
    /// state are what a batch costs.
    pub(super) fn on_items_now(&mut self, now: Millis, keys: &[String], values: &[Vec<u8>], out: &mut Vec<Item>) -> Result<(), StepError> {
        let shape = self.windows.shape();
        let wasm = matches!(self.fold, Aggregation::WasmReduce(_) | Aggregation::WasmFold(_));
        let mut by_key = std::mem::take(&mut self.by_key);
        let slots: Vec<KeySlot> = keys.iter().map(|key| self.windows.slot_of(key)).collect();
        by_key.group(&slots);
        self.grouping.clear();
        let mut groups = Groups::new();
        // Per window given to the component, in order: its key's slot and its id.
        let mut targets: Vec<(KeySlot, WindowId)> = Vec::new();
        let mut ids = Vec::new();
        let mut touched: Vec<KeySlot> = Vec::with_capacity(by_key.len());
        for g in 0..by_key.len() {
            ids.clear();
            let key = keys[by_key.first(g)].as_str();
            let placed = self.windows.place_in(by_key.slot(g), now, now, &mut ids, merge_kept);
            for _ in by_key.items(g) {
                self.late.note(&self.step_id, shape, key, now, &placed);
            }
            touched.push(placed.slot);
            for &id in &ids {
                if wasm {
                    let acc = encoded_acc(&self.windows, placed.slot, id);
                    groups.push(acc, by_key.items(g).map(|i| values[i].as_slice()));
                    targets.push((placed.slot, id));
                } else {
                    self.grouping.add_run((placed.slot, id), by_key.items(g));
                }
            }
            self.seq += by_key.items(g).len() as u64;
        }
        self.by_key = by_key;
        let accs = if wasm {
            let (Aggregation::WasmReduce(fns) | Aggregation::WasmFold(fns)) = &mut self.fold else { unreachable!() };
            Some(call_fold(fns, &groups)?)
        } else {
            self.fold_in(values)?;
            None
        };
        let mut accs = targets.iter().zip(accs.iter().flat_map(|a| a.iter())).peekable();
        let mut closed = Vec::new();
        for slot in touched {
            while let Some(((_, id), acc)) = accs.next_if(|((s, _), _)| *s == slot) {
                store_encoded_acc(&mut self.windows, slot, *id, acc);
            }
            self.windows.settle(slot, now, |key, _, acc| closed.push((key.to_owned(), acc)));
        }
        self.finish(closed, out)
    }
}
