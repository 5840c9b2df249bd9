//! Windowing steps with Python functions: `reduce_window`, `fold_window`, `collect_window`.
//! Clocks, window assignment, timers and closing are Rust ([`crate::window`]); Python is
//! called for the `dt_getter` (unless it is WASM), the reducer, builder and folder.

use std::time::Instant;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDateTime, PyDelta, PyDeltaAccess, PyList};

use super::codec;
use super::error::{repr, user_error};
use super::host::Callables;
use super::item::{into_py, PyItem};
use super::keyed::{ctx, pair_item};
use crate::engine::KeyedLogic;
use crate::error::StepError;
use crate::item::{Item, KeyedItem};
use crate::plan::{ClockSpec, FnRef, Step};
use crate::recovery::{decode, ChangeWriter};
use crate::wasm::{Batch, StepInstance};
use crate::window::{instant_at, now_millis, windowing, KeySlot, KeyWindows, LateLog, MappedWindows, Millis, Shape, WindowSet};

/// How values are combined inside a window.
enum Aggregate {
    /// First value is the accumulator; then `reducer(acc, value)`.
    Reduce { reducer: Py<PyAny>, context: String },
    /// `builder()` makes the accumulator; then `folder(acc, value)`.
    Fold { builder: Py<PyAny>, folder: Py<PyAny>, builder_ctx: String, folder_ctx: String },
    /// All values, emitted as a list ordered by time.
    Collect,
}

/// Where item times come from.
enum Timer {
    System,
    Python { getter: Py<PyAny>, context: String },
    Wasm { instance: Box<StepInstance>, export: String, context: String },
}

/// A window's accumulator, or (collect_window, and all session windows, which may merge)
/// its values with their times and arrival numbers, folded when the window closes.
enum Acc {
    Value(Py<PyAny>),
    Kept(Vec<(Millis, u64, Py<PyAny>)>),
}

/// [`Acc`] in a snapshot: plain values in the codec, other objects pickled.
#[derive(serde::Serialize, serde::Deserialize)]
enum SavedAcc {
    Value(PyItem),
    Kept(Vec<(Millis, u64, PyItem)>),
}

impl Acc {
    fn saved(&self, py: Python<'_>) -> SavedAcc {
        match self {
            Acc::Value(v) => SavedAcc::Value(PyItem(v.clone_ref(py))),
            Acc::Kept(kept) => SavedAcc::Kept(kept.iter().map(|(t, seq, v)| (*t, *seq, PyItem(v.clone_ref(py)))).collect()),
        }
    }

    fn from_saved(saved: SavedAcc) -> Acc {
        match saved {
            SavedAcc::Value(v) => Acc::Value(v.0),
            SavedAcc::Kept(kept) => Acc::Kept(kept.into_iter().map(|(t, seq, v)| (t, seq, v.0)).collect()),
        }
    }
}

/// A windowing step on one worker.
pub struct PyWindowLogic {
    step_id: String,
    aggregate: Aggregate,
    timer: Timer,
    windows: WindowSet<Acc>,
    late: LateLog,
    keeps_values: bool,
    seq: u64,
    scratch: Scratch,
}

/// What `on_items` lays a batch out in, kept between batches: allocated afresh for every
/// batch of thousands of items, these vectors were new pages for the kernel to zero each time.
#[derive(Default)]
struct Scratch {
    keys: Vec<String>,
    values: Vec<Py<PyAny>>,
    times: Vec<Millis>,
    touched: Vec<KeySlot>,
}

impl Scratch {
    /// Empties every vector, keeping its room. Call with the GIL held: the values are
    /// Python references.
    fn clear(&mut self) {
        self.keys.clear();
        self.values.clear();
        self.times.clear();
        self.touched.clear();
    }
}

impl PyWindowLogic {
    /// For a windowing step whose reducer, builder and folder are Python.
    pub fn new(step: &Step, callables: &Callables) -> Result<Self, StepError> {
        let (clock, window, aggregate) = match step {
            Step::ReduceWindow { clock, window, reducer, .. } => (
                clock,
                window,
                Aggregate::Reduce { reducer: callables.resolve(step, reducer)?, context: ctx(step, "reducer") },
            ),
            Step::FoldWindow { clock, window, builder, folder, .. } => (
                clock,
                window,
                Aggregate::Fold {
                    builder: callables.resolve(step, builder)?,
                    folder: callables.resolve(step, folder)?,
                    builder_ctx: ctx(step, "builder"),
                    folder_ctx: ctx(step, "folder"),
                },
            ),
            Step::CollectWindow { clock, window, .. } => (clock, window, Aggregate::Collect),
            other => unreachable!("{} is not a window step", other.op()),
        };
        let (clock_kind, shape) = windowing(step, clock, window)?;
        let keeps_values = matches!(aggregate, Aggregate::Collect) || matches!(shape, Shape::Session { .. });
        Ok(PyWindowLogic {
            step_id: step.step_id().to_owned(),
            aggregate,
            timer: timer(step, clock, callables)?,
            windows: WindowSet::new(clock_kind, shape),
            late: LateLog::default(),
            keeps_values,
            seq: 0,
            scratch: Scratch::default(),
        })
    }

    /// Appends each value's time to `times`.
    fn times(&mut self, py: Python<'_>, values: &[Py<PyAny>], now: Millis, times: &mut Vec<Millis>) -> Result<(), StepError> {
        let step_id = self.step_id.as_str();
        match &mut self.timer {
            Timer::System => times.resize(times.len() + values.len(), now),
            Timer::Python { getter, context } => {
                for v in values {
                    let dt = getter.bind(py).call1((v,)).map_err(|e| user_error(step_id, context.as_str(), e))?;
                    times.push(millis_of(py, &dt).map_err(|m| StepError::wrong_type(step_id, context.as_str(), m))?);
                }
            }
            Timer::Wasm { instance, export, context } => {
                let mut batch = Batch::with_capacity(values.len(), 0);
                for v in values {
                    let bytes = codec::encode(v.bind(py)).map_err(|e| StepError::wrong_type(step_id, context.as_str(), e.value(py).to_string()))?;
                    batch.push(&bytes);
                }
                let got = py.detach(|| instance.event_time(export, &batch)).map_err(|e| StepError::message(step_id, context.as_str(), e.to_string()))?;
                times.extend(got);
            }
        }
        Ok(())
    }

    fn fold_in(&mut self, py: Python<'_>, slot: KeySlot, id: i64, value: &Py<PyAny>, t: Millis) -> Result<(), StepError> {
        if self.keeps_values {
            let kept = (t, self.seq, value.clone_ref(py));
            match self.windows.get_mut(slot, id) {
                Some(Acc::Kept(list)) => list.push(kept),
                _ => self.windows.set(slot, id, Acc::Kept(vec![kept])),
            }
            return Ok(());
        }
        let step_id = self.step_id.as_str();
        let current = match self.windows.get_mut(slot, id) {
            Some(Acc::Value(acc)) => Some(acc.clone_ref(py)),
            _ => None,
        };
        let next = fold_one(py, step_id, &self.aggregate, current, value.bind(py))?;
        self.windows.set(slot, id, Acc::Value(next.unbind()));
        Ok(())
    }

    /// Turns closed windows into `(key, result)` items, folding kept values now.
    fn finish(&self, py: Python<'_>, closed: Vec<(String, Acc)>, out: &mut Vec<Item>) -> Result<(), StepError> {
        for (key, acc) in closed {
            let value = match acc {
                Acc::Value(v) => v.into_bound(py),
                Acc::Kept(mut kept) if matches!(self.aggregate, Aggregate::Collect) => {
                    // Stable: values with equal times keep their arrival order.
                    kept.sort_by_key(|(t, seq, _)| (*t, *seq));
                    PyList::new(py, kept.into_iter().map(|(_, _, v)| v)).expect("a list always builds").into_any()
                }
                Acc::Kept(mut kept) => {
                    kept.sort_by_key(|(_, seq, _)| *seq);
                    let mut acc = None;
                    for (_, _, v) in kept {
                        acc = Some(fold_one(py, &self.step_id, &self.aggregate, acc.map(Bound::unbind), v.bind(py))?);
                    }
                    acc.expect("a window has a value")
                }
            };
            out.push(pair_item(py, &key, value));
        }
        Ok(())
    }

    /// Places a batch in its windows, folding each value in, and emits the windows that
    /// closed; `scratch` comes in empty and goes back filled, to be emptied by the caller.
    fn place_all(&mut self, py: Python<'_>, now: Millis, items: &mut Vec<KeyedItem>, scratch: &mut Scratch, out: &mut Vec<Item>) -> Result<(), StepError> {
        // A copy: `fold_in` below borrows all of `self`.
        let step_id = self.step_id.clone();
        let step_id = step_id.as_str();
        let shape = self.windows.shape();
        for item in items.drain(..) {
            scratch.values.push(into_py(py, item.value).map_err(|e| user_error(step_id, "decoding an item", e))?);
            scratch.keys.push(item.key);
        }
        self.times(py, &scratch.values, now, &mut scratch.times)?;
        let mut ids = Vec::new();
        for ((key, value), &t) in scratch.keys.iter().zip(&scratch.values).zip(&scratch.times) {
            ids.clear();
            let placed = self.windows.place(key, t, now, &mut ids, merge_kept);
            self.late.note(step_id, shape, key, t, &placed);
            for &id in &ids {
                self.fold_in(py, placed.slot, id, value, t)?;
            }
            self.seq += 1;
            scratch.touched.push(placed.slot);
        }
        scratch.touched.sort_unstable();
        scratch.touched.dedup();
        let mut closed = Vec::new();
        for &slot in &scratch.touched {
            self.windows.settle(slot, now, |key, _, acc| closed.push((key.to_owned(), acc)));
        }
        self.finish(py, closed, out)
    }

    fn close(&mut self, out: &mut Vec<Item>, all: bool) -> Result<(), StepError> {
        let mut closed = Vec::new();
        let emit = |key: &str, _: &crate::window::Window<Acc>, acc: Acc| closed.push((key.to_owned(), acc));
        if all {
            self.windows.close_all(emit);
        } else {
            self.windows.wake(now_millis(), emit);
        }
        if closed.is_empty() {
            return Ok(());
        }
        Python::attach(|py| self.finish(py, closed, out))
    }
}

/// `reducer(acc, value)`, or the value itself first; `folder(acc or builder(), value)`.
fn fold_one<'py>(
    py: Python<'py>,
    step_id: &str,
    aggregate: &Aggregate,
    acc: Option<Py<PyAny>>,
    value: &Bound<'py, PyAny>,
) -> Result<Bound<'py, PyAny>, StepError> {
    match (aggregate, acc) {
        (Aggregate::Reduce { reducer, context }, Some(acc)) => {
            reducer.bind(py).call1((acc, value)).map_err(|e| user_error(step_id, context.as_str(), e))
        }
        (Aggregate::Reduce { .. }, None) => Ok(value.clone()),
        (Aggregate::Fold { builder, folder, builder_ctx, folder_ctx }, acc) => {
            let acc = match acc {
                Some(acc) => acc.into_bound(py),
                None => builder.bind(py).call0().map_err(|e| user_error(step_id, builder_ctx.as_str(), e))?,
            };
            folder.bind(py).call1((acc, value)).map_err(|e| user_error(step_id, folder_ctx.as_str(), e))
        }
        (Aggregate::Collect, _) => unreachable!("collect_window keeps its values"),
    }
}

fn timer(step: &Step, clock: &ClockSpec, callables: &Callables) -> Result<Timer, StepError> {
    let ClockSpec::Event { dt_getter, .. } = clock else { return Ok(Timer::System) };
    let context = ctx(step, "dt_getter");
    Ok(match dt_getter {
        FnRef::Wasm { export, .. } => Timer::Wasm {
            instance: Box::new(crate::wasm::instantiate(dt_getter).map_err(|e| StepError::message(step.step_id(), context.as_str(), e.to_string()))?),
            export: export.clone(),
            context,
        },
        _ => Timer::Python { getter: callables.resolve(step, dt_getter)?, context },
    })
}

static UNIX_EPOCH: PyOnceLock<Py<PyDateTime>> = PyOnceLock::new();

/// Milliseconds since the Unix epoch of an aware datetime, in any time zone. A naive
/// datetime (or anything else) is an error: its instant would be a guess.
fn millis_of(py: Python<'_>, dt: &Bound<'_, PyAny>) -> Result<Millis, String> {
    let Ok(dt) = dt.cast::<PyDateTime>() else {
        return Err(format!("dt_getter must return a datetime; got {}", repr(dt)));
    };
    if dt.call_method0("utcoffset").map(|o| o.is_none()).unwrap_or(true) {
        return Err(format!(
            "dt_getter returned a naive datetime {}; return a timezone-aware one, e.g. with tzinfo=timezone.utc",
            repr(dt)
        ));
    }
    let epoch = UNIX_EPOCH
        .get_or_try_init(py, || {
            let utc = py.import("datetime")?.getattr("timezone")?.getattr("utc")?;
            PyDateTime::new(py, 1970, 1, 1, 0, 0, 0, 0, Some(utc.cast()?)).map(Bound::unbind)
        })
        .map_err(|e| e.to_string())?
        .bind(py);
    let since = dt.call_method1("__sub__", (epoch,)).map_err(|e| e.to_string())?;
    let since = since.cast::<PyDelta>().map_err(|e| e.to_string())?;
    Ok(since.get_days() as i64 * 86_400_000 + since.get_seconds() as i64 * 1_000 + since.get_microseconds() as i64 / 1_000)
}

impl KeyedLogic for PyWindowLogic {
    fn on_items(&mut self, _epoch: u64, items: &mut Vec<KeyedItem>, out: &mut Vec<Item>) -> Result<(), StepError> {
        let now = now_millis();
        Python::attach(|py| {
            let mut scratch = std::mem::take(&mut self.scratch);
            let result = self.place_all(py, now, items, &mut scratch, out);
            scratch.clear();
            self.scratch = scratch;
            result
        })
    }

    fn on_wake(&mut self, out: &mut Vec<Item>) -> Result<(), StepError> {
        self.close(out, false)
    }

    fn next_wake(&self) -> Option<Instant> {
        self.windows.next_wake().map(instant_at)
    }

    fn on_eof(&mut self, out: &mut Vec<Item>) -> Result<(), StepError> {
        self.close(out, true)
    }

    fn track_changes(&mut self) {
        self.windows.track_changes();
    }

    fn snapshot(&mut self, out: &mut ChangeWriter) -> Result<(), StepError> {
        let step_id = self.step_id.as_str();
        let windows = &mut self.windows;
        Python::attach(|py| {
            let mut failed = None;
            windows.take_changed(|key, state| match state {
                Some(state) => {
                    if let Err(e) = out.put(key, &MappedWindows { state, map: |acc: &Acc| acc.saved(py) }) {
                        failed.get_or_insert(e);
                    }
                }
                None => out.gone(key),
            });
            match failed {
                Some(e) => Err(StepError::message(step_id, "snapshot", e)),
                None => Ok(()),
            }
        })
    }

    fn restore(&mut self, key: &str, state: &[u8]) -> Result<(), StepError> {
        let saved: KeyWindows<SavedAcc> =
            decode(state).map_err(|e| StepError::message(&self.step_id, "restore", format!("key {key:?}: {e}")))?;
        let state = saved.try_into_map(|a| Ok::<_, ()>(Acc::from_saved(a))).expect("conversion cannot fail");
        // Arrival numbers go on from the restored ones, so kept values stay in order.
        for w in &state.windows {
            if let Some(Acc::Kept(kept)) = &w.acc {
                self.seq = kept.iter().map(|(_, seq, _)| seq + 1).fold(self.seq, u64::max);
            }
        }
        self.windows.restore(key, state);
        Ok(())
    }
}

fn merge_kept(into: &mut Acc, from: Acc) {
    if let (Acc::Kept(list), Acc::Kept(more)) = (into, from) {
        list.extend(more);
    }
}
