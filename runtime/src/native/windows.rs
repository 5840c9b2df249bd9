//! Windowing steps without Python. Accumulators are encoded items; a WASM reducer or
//! folder is called once per batch with every window's share of it, the builtin `add`
//! item by item. Session windows, which can merge, keep their values until they close
//! and are folded then, so a merge never has to combine two accumulators.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

mod system_clock;

use super::builtin;
use super::chain::encoded;
use super::grouping::{SlotGrouping, WindowGrouping};
use super::keyed::WasmFns;
use crate::codec::encode_pair;
use crate::engine::KeyedLogic;
use crate::error::StepError;
use crate::item::{Item, KeyedItem};
use crate::plan::{ClockSpec, FnRef, Step};
use crate::recovery::{decode, ChangeWriter};
use crate::wasm::{Batch, Groups, StepInstance};
use crate::window::{instant_at, now_millis, windowing, KeySlot, KeyWindows, LateLog, Millis, Shape, WindowId, WindowSet};

enum Aggregation {
    WasmReduce(WasmFns),
    WasmFold(WasmFns),
    BuiltinReduce { name: String, context: String },
    /// A builtin builder and folder (`list` and `append`).
    BuiltinFold { builder: String, folder: String, context: String },
    Collect,
}

/// Where item times come from.
enum Timer {
    System,
    Wasm { instance: Box<StepInstance>, export: String, context: String },
    Builtin { name: String, context: String },
}

/// A value kept with its time and arrival number, until its window closes.
#[derive(Serialize, Deserialize)]
struct Kept {
    t: Millis,
    seq: u64,
    #[serde(with = "serde_bytes")]
    value: Vec<u8>,
}

/// A window's accumulator: an encoded value, or the values themselves (collect_window,
/// and every session window). Snapshots hold it as it is.
#[derive(Serialize, Deserialize)]
enum Acc {
    Value(#[serde(with = "inline_bytes")] AccBytes),
    Kept(Vec<Kept>),
}

/// An encoded accumulator, inline in its window while short (a count or a sum is a few
/// bytes), so reading and writing it back touches no separate heap buffer.
type AccBytes = SmallVec<[u8; 16]>;

/// An [`AccBytes`] as one MessagePack bin, as the `Vec<u8>` it replaced was written, so
/// snapshots keep their format.
mod inline_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::AccBytes;

    pub fn serialize<S: Serializer>(bytes: &AccBytes, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<AccBytes, D::Error> {
        let buf = serde_bytes::ByteBuf::deserialize(d)?;
        Ok(AccBytes::from_vec(buf.into_vec()))
    }
}

/// A windowing step on one worker.
pub struct NativeWindows {
    step_id: String,
    fold: Aggregation,
    timer: Timer,
    windows: WindowSet<Acc>,
    late: LateLog,
    // Values stay until the window closes (see the module doc).
    keeps_values: bool,
    seq: u64,
    grouping: WindowGrouping,
    by_key: SlotGrouping,
}

impl NativeWindows {
    /// For a windowing step.
    pub fn new(step: &Step) -> Result<Self, StepError> {
        let (clock, window, fold) = match step {
            Step::ReduceWindow { clock, window, reducer, .. } => (clock, window, reducer_fold(step, reducer)?),
            Step::FoldWindow { clock, window, builder, folder, .. } => (clock, window, folder_fold(step, builder, folder)?),
            Step::CollectWindow { clock, window, .. } => (clock, window, Aggregation::Collect),
            other => unreachable!("{} is not a window step", other.op()),
        };
        let (clock_kind, shape) = windowing(step, clock, window)?;
        let keeps_values = matches!(fold, Aggregation::Collect) || matches!(shape, Shape::Session { .. });
        Ok(NativeWindows {
            step_id: step.step_id().to_owned(),
            fold,
            timer: timer(step, clock)?,
            windows: WindowSet::new(clock_kind, shape),
            late: LateLog::default(),
            keeps_values,
            seq: 0,
            grouping: WindowGrouping::default(),
            by_key: SlotGrouping::default(),
        })
    }

    fn times(&mut self, values: &[Vec<u8>], now: Millis) -> Result<Vec<Millis>, StepError> {
        Ok(match &mut self.timer {
            Timer::System => vec![now; values.len()],
            Timer::Wasm { instance, export, context } => {
                let batch = values.iter().fold(Batch::with_capacity(values.len(), 0), |mut b, v| {
                    b.push(v);
                    b
                });
                instance.event_time(export, &batch).map_err(|e| StepError::message(&self.step_id, context.as_str(), e.to_string()))?
            }
            Timer::Builtin { name, context } => values
                .iter()
                .map(|v| builtin::event_time(name, v))
                .collect::<Result<_, _>>()
                .map_err(|m| StepError::message(&self.step_id, context.as_str(), m))?,
        })
    }

    fn keep(&mut self, (slot, id): (KeySlot, WindowId), value: &[u8], t: Millis) {
        let kept = Kept { t, seq: self.seq, value: value.to_vec() };
        match self.windows.get_mut(slot, id) {
            Some(Acc::Kept(list)) => list.push(kept),
            _ => self.windows.set(slot, id, Acc::Kept(vec![kept])),
        }
    }

    /// Folds the batch's values into the windows the grouping put them in.
    fn fold_in(&mut self, values: &[Vec<u8>]) -> Result<(), StepError> {
        match &mut self.fold {
            Aggregation::BuiltinReduce { name, context } => {
                for ((slot, id), v) in self.grouping.arrivals() {
                    let next = match self.windows.get_mut(slot, id) {
                        Some(Acc::Value(acc)) => builtin::reduce(name, acc, &values[v]).map_err(|m| StepError::message(&self.step_id, context.as_str(), m))?,
                        _ => values[v].clone(),
                    };
                    self.windows.set(slot, id, Acc::Value(AccBytes::from_vec(next)));
                }
            }
            Aggregation::BuiltinFold { builder, folder, context } => {
                let fail = |m: String| StepError::message(&self.step_id, context.as_str(), m);
                for ((slot, id), v) in self.grouping.arrivals() {
                    let acc = match self.windows.get_mut(slot, id) {
                        Some(Acc::Value(acc)) => std::mem::take(acc).into_vec(),
                        _ => builtin::build(builder).map_err(fail)?,
                    };
                    self.windows.set(slot, id, Acc::Value(AccBytes::from_vec(builtin::fold(folder, &acc, &values[v]).map_err(fail)?)));
                }
            }
            Aggregation::WasmReduce(fns) | Aggregation::WasmFold(fns) => {
                let windows = &self.windows;
                let groups = self.grouping.groups(values, |(slot, id)| encoded_acc(windows, slot, id));
                let accs = call_fold(fns, &groups)?;
                for (&(slot, id), acc) in self.grouping.windows().iter().zip(accs.iter()) {
                    store_encoded_acc(&mut self.windows, slot, id, acc);
                }
            }
            Aggregation::Collect => unreachable!("collect_window keeps its values"),
        }
        Ok(())
    }

    /// Turns closed windows into `(key, result)` items: kept values are folded now (in
    /// arrival order) or, for collect_window, listed by time.
    fn finish(&mut self, closed: Vec<(String, Acc)>, out: &mut Vec<Item>) -> Result<(), StepError> {
        let mut pending: Vec<(String, Vec<Kept>)> = Vec::new();
        for (key, acc) in closed {
            match acc {
                Acc::Value(v) => out.push(Item::Encoded(encode_pair(&key, &v))),
                Acc::Kept(mut kept) if matches!(self.fold, Aggregation::Collect) => {
                    kept.sort_by_key(|k| (k.t, k.seq));
                    let mut list = Vec::new();
                    rmp::encode::write_array_len(&mut list, kept.len() as u32).expect("writing to a Vec cannot fail");
                    kept.iter().for_each(|k| list.extend_from_slice(&k.value));
                    out.push(Item::Encoded(encode_pair(&key, &list)));
                }
                Acc::Kept(mut kept) => {
                    kept.sort_by_key(|k| k.seq);
                    pending.push((key, kept));
                }
            }
        }
        if pending.is_empty() {
            return Ok(());
        }
        match &mut self.fold {
            Aggregation::BuiltinReduce { name, context } => {
                for (key, kept) in pending {
                    let mut values = kept.into_iter().map(|k| k.value);
                    let first = values.next().expect("a window has a value");
                    let acc = values
                        .try_fold(first, |acc, v| builtin::reduce(name, &acc, &v))
                        .map_err(|m| StepError::message(&self.step_id, context.as_str(), m))?;
                    out.push(Item::Encoded(encode_pair(&key, &acc)));
                }
            }
            Aggregation::BuiltinFold { builder, folder, context } => {
                let fail = |m: String| StepError::message(&self.step_id, context.as_str(), m);
                for (key, kept) in pending {
                    let mut acc = builtin::build(builder).map_err(fail)?;
                    for k in kept {
                        acc = builtin::fold(folder, &acc, &k.value).map_err(fail)?;
                    }
                    out.push(Item::Encoded(encode_pair(&key, &acc)));
                }
            }
            Aggregation::WasmReduce(fns) | Aggregation::WasmFold(fns) => {
                let mut groups = Groups::new();
                for (_, kept) in &pending {
                    groups.push(None, kept.iter().map(|k| k.value.as_slice()));
                }
                let accs = call_fold(fns, &groups)?;
                for ((key, _), acc) in pending.iter().zip(accs.iter()) {
                    out.push(Item::Encoded(encode_pair(key, acc)));
                }
            }
            Aggregation::Collect => unreachable!("listed above"),
        }
        Ok(())
    }
}

/// A folder step names its builder and folder; a reducer step only the reducer.
fn call_fold(fns: &mut WasmFns, groups: &Groups) -> Result<Batch, StepError> {
    match fns.names.as_slice() {
        [builder, folder] => fns.instance.fold_window(builder, folder, groups),
        [reducer] => fns.instance.reduce_window(reducer, groups),
        _ => unreachable!("window steps have one or two functions"),
    }
    .map_err(|e| fns.fail(e))
}

/// A window's encoded accumulator, for a WASM fold: none yet, or a value.
fn encoded_acc(windows: &WindowSet<Acc>, slot: KeySlot, id: WindowId) -> Option<&[u8]> {
    match windows.get(slot, id) {
        Some(Acc::Value(acc)) => Some(acc.as_slice()),
        _ => None,
    }
}

/// Keeps what a WASM fold returned as the window's accumulator, reusing its buffer.
fn store_encoded_acc(windows: &mut WindowSet<Acc>, slot: KeySlot, id: WindowId, acc: &[u8]) {
    match windows.get_mut(slot, id) {
        Some(Acc::Value(held)) => {
            held.clear();
            held.extend_from_slice(acc);
        }
        _ => windows.set(slot, id, Acc::Value(AccBytes::from_slice(acc))),
    }
}

fn merge_kept(into: &mut Acc, from: Acc) {
    if let (Acc::Kept(list), Acc::Kept(more)) = (into, from) {
        list.extend(more);
    }
}

fn folder_fold(step: &Step, builder: &FnRef, folder: &FnRef) -> Result<Aggregation, StepError> {
    Ok(match (builder, folder) {
        (FnRef::Builtin { name: b }, FnRef::Builtin { name: f }) => Aggregation::BuiltinFold {
            builder: b.clone(),
            folder: f.clone(),
            context: format!("{}, builder `{}` and folder `{}`", step.op(), builder.label(), folder.label()),
        },
        _ => Aggregation::WasmFold(WasmFns::new(step, &[builder, folder])?),
    })
}

fn reducer_fold(step: &Step, reducer: &FnRef) -> Result<Aggregation, StepError> {
    Ok(match reducer {
        FnRef::Builtin { name } => Aggregation::BuiltinReduce { name: name.clone(), context: format!("{}, reducer `{}`", step.op(), reducer.label()) },
        _ => Aggregation::WasmReduce(WasmFns::new(step, &[reducer])?),
    })
}

fn timer(step: &Step, clock: &ClockSpec) -> Result<Timer, StepError> {
    let ClockSpec::Event { dt_getter, .. } = clock else { return Ok(Timer::System) };
    let context = format!("{}, dt_getter `{}`", step.op(), dt_getter.label());
    Ok(match dt_getter {
        FnRef::Wasm { export, .. } => Timer::Wasm {
            instance: Box::new(crate::wasm::instantiate(dt_getter).map_err(|e| StepError::message(step.step_id(), context.as_str(), e.to_string()))?),
            export: export.clone(),
            context,
        },
        FnRef::Builtin { name } => Timer::Builtin { name: name.clone(), context },
        FnRef::Python { .. } => return Err(super::python_step(step)),
    })
}

impl KeyedLogic for NativeWindows {
    fn on_items(&mut self, _epoch: u64, items: &mut Vec<KeyedItem>, out: &mut Vec<Item>) -> Result<(), StepError> {
        let now = now_millis();
        let (keys, values): (Vec<String>, Vec<Vec<u8>>) = items.drain(..).map(|i| (i.key, encoded(i.value))).unzip();
        if matches!(self.timer, Timer::System) && !self.keeps_values {
            return self.on_items_now(now, &keys, &values, out);
        }
        let times = self.times(&values, now)?;
        let shape = self.windows.shape();
        self.grouping.clear();
        let mut ids = Vec::new();
        let mut touched: Vec<KeySlot> = Vec::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            ids.clear();
            let placed = self.windows.place(key, times[i], now, &mut ids, merge_kept);
            self.late.note(&self.step_id, shape, key, times[i], &placed);
            touched.push(placed.slot);
            for &id in &ids {
                if self.keeps_values {
                    // Kept at once: a later item of this batch may merge this session away.
                    self.keep((placed.slot, id), &values[i], times[i]);
                } else {
                    self.grouping.add((placed.slot, id), i);
                }
            }
            self.seq += 1;
        }
        if !self.keeps_values {
            self.fold_in(&values)?;
        }
        touched.sort_unstable();
        touched.dedup();
        let mut closed = Vec::new();
        for slot in touched {
            self.windows.settle(slot, now, |key, _, acc| closed.push((key.to_owned(), acc)));
        }
        self.finish(closed, out)
    }

    fn on_wake(&mut self, out: &mut Vec<Item>) -> Result<(), StepError> {
        let mut closed = Vec::new();
        self.windows.wake(now_millis(), |key, _, acc| closed.push((key.to_owned(), acc)));
        self.finish(closed, out)
    }

    fn next_wake(&self) -> Option<Instant> {
        self.windows.next_wake().map(instant_at)
    }

    fn on_eof(&mut self, out: &mut Vec<Item>) -> Result<(), StepError> {
        let mut closed = Vec::new();
        self.windows.close_all(|key, _, acc| closed.push((key.to_owned(), acc)));
        self.finish(closed, out)
    }

    fn track_changes(&mut self) {
        self.windows.track_changes();
    }

    fn snapshot(&mut self, out: &mut ChangeWriter) -> Result<(), StepError> {
        let mut failed = None;
        self.windows.take_changed(|key, state| match state {
            Some(state) => {
                if let Err(e) = out.put(key, state) {
                    failed.get_or_insert(e);
                }
            }
            None => out.gone(key),
        });
        match failed {
            Some(e) => Err(StepError::message(&self.step_id, "snapshot", e)),
            None => Ok(()),
        }
    }

    fn restore(&mut self, key: &str, state: &[u8]) -> Result<(), StepError> {
        let state: KeyWindows<Acc> = decode(state)
            .map_err(|e| StepError::message(&self.step_id, "restore", format!("key {key:?}: {e}")))?;
        // Arrival numbers go on from the restored ones, so kept values stay in order.
        for w in &state.windows {
            if let Some(Acc::Kept(kept)) = &w.acc {
                self.seq = kept.iter().map(|k| k.seq + 1).fold(self.seq, u64::max);
            }
        }
        self.windows.restore(key, state);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a snapshot wrote for an accumulator before it was kept inline.
    #[derive(Serialize)]
    enum AccAsVec {
        Value(#[serde(with = "serde_bytes")] Vec<u8>),
    }

    #[test]
    fn an_inline_accumulator_snapshots_as_the_byte_buffer_it_replaced() {
        for bytes in [vec![0x05], vec![0xcd; 40]] {
            let written = crate::recovery::encode(&Acc::Value(AccBytes::from_slice(&bytes)));
            assert_eq!(written, crate::recovery::encode(&AccAsVec::Value(bytes.clone())));
            match decode::<Acc>(&written).unwrap() {
                Acc::Value(read) => assert_eq!(read.as_slice(), bytes.as_slice()),
                Acc::Kept(_) => panic!("read back as kept values"),
            }
        }
    }
}
