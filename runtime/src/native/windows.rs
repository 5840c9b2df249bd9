//! Windowing steps without Python: accumulators are encoded items, folded by a WASM
//! component once per batch (grouped by key and window) or by the builtin `add`.

use std::time::Instant;


use super::builtin;
use super::grouping::SlotGrouping;
use super::keyed::WasmFns;
use crate::codec::encode_pair;
use crate::engine::KeyedLogic;
use crate::error::StepError;
use crate::item::{Item, KeyedItem};
use crate::plan::{FnRef, Step};
use crate::wasm::Groups;
use crate::window::{now_millis, system_clock_windower, wake_to_close, Millis, WindowId, WindowSet};

enum Fold {
    WasmReduce(WasmFns),
    WasmFold(WasmFns),
    BuiltinReduce { name: String, step_id: String, context: String },
    Collect,
}

/// A window's accumulator: an encoded value, or (for `collect_window`) the values with times.
enum Acc {
    Value(Vec<u8>),
    Collected(Vec<(Millis, Vec<u8>)>),
}

/// A windowing step over the system clock on one worker.
pub struct NativeWindows {
    fold: Fold,
    windows: WindowSet<Acc>,
    grouping: SlotGrouping,
}

impl NativeWindows {
    /// For a windowing step; event-time clocks and session windows come later.
    pub fn new(step: &Step) -> Result<Self, StepError> {
        let (clock, window, fold) = match step {
            Step::ReduceWindow { clock, window, reducer, .. } => (clock, window, reducer_fold(step, reducer)?),
            Step::FoldWindow { clock, window, builder, folder, .. } => {
                (clock, window, Fold::WasmFold(WasmFns::new(step, &[builder, folder])?))
            }
            Step::CollectWindow { clock, window, .. } => (clock, window, Fold::Collect),
            other => unreachable!("{} is not a window step", other.op()),
        };
        let windower = system_clock_windower(step, clock, window)?;
        Ok(NativeWindows { fold, windows: WindowSet::new(windower), grouping: SlotGrouping::default() })
    }

    fn emit_closed(&mut self, watermark: Millis, out: &mut Vec<Item>) {
        self.windows.close_before(watermark, |key, _id, acc| {
            let value = match acc {
                Acc::Value(v) => v,
                Acc::Collected(mut values) => {
                    values.sort_by_key(|(t, _)| *t);
                    let mut list = Vec::new();
                    rmp::encode::write_array_len(&mut list, values.len() as u32).expect("writing to a Vec cannot fail");
                    values.iter().for_each(|(_, v)| list.extend_from_slice(v));
                    list
                }
            };
            out.push(Item::Encoded(encode_pair(key, &value)));
        });
    }
}

fn reducer_fold(step: &Step, reducer: &FnRef) -> Result<Fold, StepError> {
    Ok(match reducer {
        FnRef::Builtin { name } => Fold::BuiltinReduce {
            name: name.clone(),
            step_id: step.step_id().to_owned(),
            context: format!("{}, reducer `{}`", step.op(), reducer.label()),
        },
        _ => Fold::WasmReduce(WasmFns::new(step, &[reducer])?),
    })
}

impl KeyedLogic for NativeWindows {
    fn on_items(&mut self, _epoch: u64, items: &mut Vec<KeyedItem>, out: &mut Vec<Item>) -> Result<(), StepError> {
        let now = now_millis();
        // On the system clock every item of a batch has the same time, hence the same
        // windows: group by key once (one hash lookup per item, for its slot), then give
        // each group to each open window.
        let windower = *self.windows.windower();
        let ids: Vec<WindowId> = windower.windows_for(now).filter(|id| windower.close_time(*id) >= now).collect();
        if ids.is_empty() {
            items.clear();
        }
        let (slots, values) = self.grouping.group(&mut self.windows, items);
        match &mut self.fold {
            Fold::Collect => {
                for (g, &slot) in slots.iter().enumerate() {
                    for &id in &ids {
                        let timed = values.group(g).map(|v| (now, v.to_vec()));
                        match self.windows.get_mut(slot, id) {
                            Some(Acc::Collected(list)) => list.extend(timed),
                            _ => self.windows.open_window(slot, id, Acc::Collected(timed.collect())),
                        }
                    }
                }
            }
            Fold::BuiltinReduce { name, step_id, context } => {
                for (g, &slot) in slots.iter().enumerate() {
                    for &id in &ids {
                        let mut group = values.group(g);
                        let mut acc = match self.windows.get_mut(slot, id) {
                            Some(Acc::Value(a)) => std::mem::take(a),
                            _ => group.next().expect("groups are never empty").to_vec(),
                        };
                        for v in group {
                            acc = builtin::reduce(name, &acc, v).map_err(|m| StepError::message(step_id, context.as_str(), m))?;
                        }
                        match self.windows.get_mut(slot, id) {
                            Some(held) => *held = Acc::Value(acc),
                            None => self.windows.open_window(slot, id, Acc::Value(acc)),
                        }
                    }
                }
            }
            Fold::WasmReduce(fns) | Fold::WasmFold(fns) => {
                let mut calls = Groups::new();
                for (g, &slot) in slots.iter().enumerate() {
                    for &id in &ids {
                        let state = match self.windows.get_mut(slot, id) {
                            Some(Acc::Value(a)) => Some(a.as_slice()),
                            _ => None,
                        };
                        calls.push(state, values.group(g));
                    }
                }
                // A folder step names its builder and folder; a reducer step only the reducer.
                let accs = match fns.names.as_slice() {
                    [builder, folder] => fns.instance.fold_window(builder, folder, &calls),
                    [reducer] => fns.instance.reduce_window(reducer, &calls),
                    _ => unreachable!("window steps have one or two functions"),
                }
                .map_err(|e| fns.fail(e))?;
                let windows = slots.iter().flat_map(|slot| ids.iter().map(move |id| (*slot, *id)));
                for ((slot, id), acc) in windows.zip(accs.iter()) {
                    match self.windows.get_mut(slot, id) {
                        Some(Acc::Value(held)) => {
                            held.clear();
                            held.extend_from_slice(acc);
                        }
                        _ => self.windows.open_window(slot, id, Acc::Value(acc.to_vec())),
                    }
                }
            }
        }
        self.emit_closed(now, out);
        Ok(())
    }

    fn on_wake(&mut self, out: &mut Vec<Item>) -> Result<(), StepError> {
        self.emit_closed(now_millis(), out);
        Ok(())
    }

    fn next_wake(&self) -> Option<Instant> {
        self.windows.next_close().map(wake_to_close)
    }

    fn on_eof(&mut self, out: &mut Vec<Item>) -> Result<(), StepError> {
        self.emit_closed(Millis::MAX, out);
        Ok(())
    }
}
