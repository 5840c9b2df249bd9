//! Windowing steps without Python: accumulators are encoded items, folded by a WASM
//! component once per batch (grouped by key and window) or by the builtin `add`.

use std::time::Instant;


use super::builtin;
use super::keyed::{group_by_key, WasmFns};
use crate::codec::encode_pair;
use crate::engine::KeyedLogic;
use crate::error::StepError;
use crate::item::{Item, KeyedItem};
use crate::plan::{FnRef, Step};
use crate::wasm::Group;
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
        Ok(NativeWindows { fold, windows: WindowSet::new(windower) })
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
        // windows: group by key once, then give each group to each open window.
        let windower = *self.windows.windower();
        let ids: Vec<WindowId> = windower.windows_for(now).filter(|id| windower.close_time(*id) >= now).collect();
        let mut groups: Vec<((String, WindowId), Vec<Vec<u8>>)> = Vec::new();
        for (key, values) in group_by_key(items) {
            if let Some((last, rest)) = ids.split_last() {
                groups.extend(rest.iter().map(|id| ((key.clone(), *id), values.clone())));
                groups.push(((key, *last), values));
            }
        }
        match &mut self.fold {
            Fold::Collect => {
                for ((key, id), values) in groups {
                    let timed = values.into_iter().map(|v| (now, v));
                    match self.windows.get_mut(&key, id) {
                        Some(Acc::Collected(list)) => list.extend(timed),
                        _ => self.windows.open_window(&key, id, Acc::Collected(timed.collect())),
                    }
                }
            }
            Fold::BuiltinReduce { name, step_id, context } => {
                for ((key, id), values) in groups {
                    let mut values = values.into_iter();
                    let mut acc = match self.windows.get_mut(&key, id) {
                        Some(Acc::Value(a)) => std::mem::take(a),
                        _ => values.next().expect("groups are never empty"),
                    };
                    for v in values {
                        acc = builtin::reduce(name, &acc, &v).map_err(|m| StepError::message(step_id, context.as_str(), m))?;
                    }
                    match self.windows.get_mut(&key, id) {
                        Some(slot) => *slot = Acc::Value(acc),
                        None => self.windows.open_window(&key, id, Acc::Value(acc)),
                    }
                }
            }
            Fold::WasmReduce(fns) | Fold::WasmFold(fns) => {
                let (windows, calls): (Vec<(String, WindowId)>, Vec<Group>) = groups
                    .into_iter()
                    .map(|((key, id), values)| {
                        let state = match self.windows.get_mut(&key, id) {
                            Some(Acc::Value(a)) => Some(std::mem::take(a)),
                            _ => None,
                        };
                        ((key, id), Group { state, values })
                    })
                    .unzip();
                // A folder step names its builder and folder; a reducer step only the reducer.
                let accs = match fns.names.as_slice() {
                    [builder, folder] => fns.instance.fold_window(builder, folder, &calls),
                    [reducer] => fns.instance.reduce_window(reducer, &calls),
                    _ => unreachable!("window steps have one or two functions"),
                }
                .map_err(|e| fns.fail(e))?;
                if accs.len() != windows.len() {
                    return Err(fns.fail(format!("returned {} results for {} windows", accs.len(), windows.len())));
                }
                for ((key, id), acc) in windows.into_iter().zip(accs) {
                    match self.windows.get_mut(&key, id) {
                        Some(slot) => *slot = Acc::Value(acc),
                        None => self.windows.open_window(&key, id, Acc::Value(acc)),
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
