//! A windowing step's batch when every item's time is the same (a system clock).

use super::{call_fold, merge_kept, Acc, Aggregation, NativeWindows};
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
        by_key.group(keys);
        self.grouping.clear();
        let mut groups = Groups::new();
        // Per window given to the component, in order: its key's slot and its id.
        let mut targets: Vec<(KeySlot, WindowId)> = Vec::new();
        let mut ids = Vec::new();
        let mut touched: Vec<KeySlot> = Vec::with_capacity(by_key.len());
        for g in 0..by_key.len() {
            ids.clear();
            let key = keys[by_key.first(g)].as_str();
            let placed = self.windows.place(key, now, now, &mut ids, merge_kept);
            for _ in by_key.items(g) {
                self.late.note(&self.step_id, shape, key, now, &placed);
            }
            touched.push(placed.slot);
            for &id in &ids {
                if wasm {
                    let acc = match self.windows.get(placed.slot, id) {
                        Some(Acc::Value(acc)) => Some(acc.as_slice()),
                        _ => None,
                    };
                    groups.push(acc, by_key.items(g).map(|i| values[i].as_slice()));
                    targets.push((placed.slot, id));
                } else {
                    self.grouping.add_run((placed.slot, id), by_key.items(g));
                }
            }
            self.seq += by_key.items(g).len() as u64;
        }
        self.by_key = by_key;
        let mut closed = Vec::new();
        if wasm {
            let (Aggregation::WasmReduce(fns) | Aggregation::WasmFold(fns)) = &mut self.fold else { unreachable!() };
            let accs = call_fold(fns, &groups)?;
            let mut accs = targets.iter().zip(accs.iter()).peekable();
            for slot in touched {
                while let Some(((_, id), acc)) = accs.next_if(|((s, _), _)| *s == slot) {
                    match self.windows.get_mut(slot, *id) {
                        Some(Acc::Value(held)) => {
                            held.clear();
                            held.extend_from_slice(acc);
                        }
                        _ => self.windows.set(slot, *id, Acc::Value(acc.to_vec())),
                    }
                }
                self.windows.settle(slot, now, |key, _, acc| closed.push((key.to_owned(), acc)));
            }
        } else {
            self.fold_in(values)?;
            for slot in touched {
                self.windows.settle(slot, now, |key, _, acc| closed.push((key.to_owned(), acc)));
            }
        }
        self.finish(closed, out)
    }
}
