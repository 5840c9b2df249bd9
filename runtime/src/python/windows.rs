//! Windowing steps with Python reducers: `reduce_window`, `fold_window`, `collect_window`.
//! Window assignment, timers and closing are Rust ([`crate::window`]); Python only folds.

use std::time::Instant;

use pyo3::prelude::*;
use pyo3::types::PyList;

use super::error::user_error;
use super::host::Callables;
use super::item::into_py;
use super::keyed::{ctx, pair_item};
use crate::engine::KeyedLogic;
use crate::error::StepError;
use crate::item::{Item, KeyedItem};
use crate::plan::Step;
use crate::window::{now_millis, system_clock_windower, wake_to_close, Millis, WindowSet};

/// How values are combined inside a window.
enum Aggregate {
    /// First value is the accumulator; then `reducer(acc, value)`.
    Reduce { reducer: Py<PyAny>, context: String },
    /// `builder()` makes the accumulator; then `folder(acc, value)`.
    Fold { builder: Py<PyAny>, folder: Py<PyAny>, builder_ctx: String, folder_ctx: String },
    /// All values, emitted as a list ordered by time.
    Collect,
}

/// A window's accumulator.
enum Acc {
    Value(Py<PyAny>),
    Collected(Vec<(Millis, Py<PyAny>)>),
}

/// A windowing step over the system clock on one worker.
pub struct PyWindowLogic {
    step_id: String,
    aggregate: Aggregate,
    windows: WindowSet<Acc>,
}

impl PyWindowLogic {
    /// For a windowing step; only what this version supports is accepted.
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
        let windower = system_clock_windower(step, clock, window)?;
        Ok(PyWindowLogic { step_id: step.step_id().to_owned(), aggregate, windows: WindowSet::new(windower) })
    }

    fn emit_closed(&mut self, watermark: Millis, out: &mut Vec<Item>) {
        if self.windows.next_close().is_none_or(|close| close >= watermark) {
            return;
        }
        Python::attach(|py| {
            self.windows.close_before(watermark, |key, _id, acc| {
                let value = match acc {
                    Acc::Value(v) => v.into_bound(py),
                    Acc::Collected(mut values) => {
                        // Stable: values with equal times keep their arrival order.
                        values.sort_by_key(|(t, _)| *t);
                        PyList::new(py, values.into_iter().map(|(_, v)| v)).expect("a list always builds").into_any()
                    }
                };
                out.push(pair_item(py, key, value));
            });
        });
    }
}

impl KeyedLogic for PyWindowLogic {
    fn on_items(&mut self, _epoch: u64, items: &mut Vec<KeyedItem>, out: &mut Vec<Item>) -> Result<(), StepError> {
        let now = now_millis();
        let step_id = &self.step_id;
        let aggregate = &self.aggregate;
        let windows = &mut self.windows;
        Python::attach(|py| {
            for item in items.drain(..) {
                let value = into_py(py, item.value).map_err(|e| user_error(step_id, "decoding an item", e))?;
                windows.insert(&item.key, now, now, |acc| fold(py, step_id, aggregate, acc, &value, now))?;
            }
            Ok::<(), StepError>(())
        })?;
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

fn fold(
    py: Python<'_>,
    step_id: &str,
    aggregate: &Aggregate,
    acc: Option<&mut Acc>,
    value: &Py<PyAny>,
    time: Millis,
) -> Result<Option<Acc>, StepError> {
    match (aggregate, acc) {
        (Aggregate::Reduce { reducer, context }, Some(Acc::Value(acc))) => {
            let next = reducer.bind(py).call1((&*acc, value)).map_err(|e| user_error(step_id, context.as_str(), e))?;
            *acc = next.unbind();
            Ok(None)
        }
        (Aggregate::Reduce { .. }, None) => Ok(Some(Acc::Value(value.clone_ref(py)))),
        (Aggregate::Fold { folder, folder_ctx, .. }, Some(Acc::Value(acc))) => {
            let next = folder.bind(py).call1((&*acc, value)).map_err(|e| user_error(step_id, folder_ctx.as_str(), e))?;
            *acc = next.unbind();
            Ok(None)
        }
        (Aggregate::Fold { builder, folder, builder_ctx, folder_ctx }, None) => {
            let initial = builder.bind(py).call0().map_err(|e| user_error(step_id, builder_ctx.as_str(), e))?;
            let acc = folder.bind(py).call1((initial, value)).map_err(|e| user_error(step_id, folder_ctx.as_str(), e))?;
            Ok(Some(Acc::Value(acc.unbind())))
        }
        (Aggregate::Collect, Some(Acc::Collected(values))) => {
            values.push((time, value.clone_ref(py)));
            Ok(None)
        }
        (Aggregate::Collect, None) => Ok(Some(Acc::Collected(vec![(time, value.clone_ref(py))]))),
        (_, Some(_)) => unreachable!("accumulator kind always matches its aggregate"),
    }
}
