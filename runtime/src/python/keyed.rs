//! Stateful Python steps: key splitting, `reduce` and `stateful_map`.

use std::collections::HashMap;

use foldhash::fast::RandomState;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyString, PyTuple};

use super::codec;
use super::error::{repr, user_error};
use super::host::Callables;
use super::item::{from_py, into_py, restore_py, PyItem};
use super::host::ProcessShare;
use crate::engine::{owner_by_hash, route_hash, KeyBy, KeyedLogic};
use crate::error::{texts, StepError};
use crate::item::{Item, KeyedItem};
use crate::plan::Step;
use crate::recovery::{ChangeWriter, ChangedKeys};

/// Checks that items are `(str, value)` and splits off the key.
pub struct PyKeyBy {
    step_id: String,
    context: String,
    values: ValueForm,
}

/// How [`PyKeyBy`] hands values on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueForm {
    /// As Python objects.
    Python,
    /// In the codec: WASM stateful steps take them so; convert them once, here.
    Encoded,
    /// Values whose key a worker of another process owns: exact `int`, `float` and `str`
    /// in the codec, the rest as Python objects. Between processes, an encoded value crosses
    /// without the GIL; a Python object needs it twice per item (to write it and to read it
    /// back). Values that stay in this process stay Python objects: encoding them would
    /// only be undone on arrival.
    EncodedWhenPlainAndRemote(ProcessShare),
}

impl PyKeyBy {
    /// For the stateful `step`, handing values on in the form `values`.
    pub fn new(step: &Step, values: ValueForm) -> Self {
        PyKeyBy { step_id: step.step_id().to_owned(), context: step.op().to_owned(), values }
    }
}

impl KeyBy for PyKeyBy {
    fn key_by(&mut self, input: &mut Vec<Item>, out: &mut Vec<KeyedItem>) -> Result<(), StepError> {
        Python::attach(|py| {
            for item in input.drain(..) {
                let obj = into_py(py, item).map_err(|e| user_error(&self.step_id, self.context.as_str(), e))?.into_bound(py);
                let pair = match obj.cast::<PyTuple>() {
                    Ok(t) if t.len() == 2 => t,
                    _ => {
                        return Err(StepError::wrong_type(
                            &self.step_id,
                            self.context.as_str(),
                            texts::not_a_pair(&repr(&obj)),
                        ))
                    }
                };
                let key = pair.get_item(0).map_err(|e| user_error(&self.step_id, self.context.as_str(), e))?;
                let key = match key.cast::<PyString>() {
                    Ok(s) => s.to_str().map_err(|e| user_error(&self.step_id, self.context.as_str(), e))?.to_owned(),
                    Err(_) => {
                        return Err(StepError::wrong_type(
                            &self.step_id,
                            self.context.as_str(),
                            texts::key_not_str(&repr(&key)),
                        ))
                    }
                };
                let value = pair.get_item(1).map_err(|e| user_error(&self.step_id, self.context.as_str(), e))?;
                // Where the key goes matters only across processes: there it is hashed
                // once, and the exchange reuses the hash.
                let (route, encoded) = match &self.values {
                    ValueForm::Python => (None, Ok(None)),
                    ValueForm::Encoded => (None, codec::encode(&value).map(Some)),
                    ValueForm::EncodedWhenPlainAndRemote(share) => {
                        let hash = route_hash(&key);
                        let local = share.workers.contains(&owner_by_hash(hash, share.of));
                        (Some(hash), if local { Ok(None) } else { codec::encode_if_plain(&value) })
                    }
                };
                let encoded =
                    encoded.map_err(|e| StepError::wrong_type(&self.step_id, self.context.as_str(), e.value(py).to_string()))?;
                let value = match encoded {
                    Some(bytes) => Item::Encoded(bytes),
                    None => Item::Py(PyItem(value.unbind())),
                };
                out.push(match route {
                    Some(hash) => KeyedItem::with_route(key, value, hash),
                    None => KeyedItem::new(key, value),
                });
            }
            Ok(())
        })
    }
}

/// `(key, value)` as a Python tuple item.
pub fn pair_item<'py>(py: Python<'py>, key: &str, value: Bound<'py, PyAny>) -> Item {
    let t = PyTuple::new(py, [PyString::new(py, key).into_any(), value]).expect("a 2-tuple always builds");
    from_py(t.into_any())
}

fn value_of(py: Python<'_>, item: KeyedItem, step_id: &str) -> Result<(String, Py<PyAny>), StepError> {
    let value = into_py(py, item.value).map_err(|e| user_error(step_id, "decoding an item", e))?;
    Ok((item.key, value))
}

/// Names a step's function in messages: `reduce, reducer \`add\``.
pub(crate) fn ctx(step: &Step, role: &str) -> String {
    let label = step.functions().into_iter().find(|(r, _)| *r == role).map(|(_, f)| f.label()).unwrap_or_default();
    format!("{}, {role} `{label}`", step.op())
}

/// Per-key Python objects of state: accumulators or `stateful_map` states.
type KeyStates = HashMap<String, Py<PyAny>, RandomState>;

/// `reduce`: folds each key's values until `is_complete` says so, then emits and forgets.
struct ReduceFns {
    reducer: Py<PyAny>,
    is_complete: Py<PyAny>,
    reducer_ctx: String,
    complete_ctx: String,
}

impl ReduceFns {
    fn apply(&self, py: Python<'_>, step_id: &str, states: &mut KeyStates, key: String, value: Py<PyAny>, out: &mut Vec<Item>) -> Result<(), StepError> {
        let acc = match states.remove(&key) {
            Some(acc) => self
                .reducer
                .bind(py)
                .call1((acc, value))
                .map_err(|e| user_error(step_id, self.reducer_ctx.as_str(), e))?,
            None => value.into_bound(py),
        };
        let done = self
            .is_complete
            .bind(py)
            .call1((&acc,))
            .map_err(|e| user_error(step_id, self.complete_ctx.as_str(), e))?;
        match done.cast::<PyBool>() {
            Ok(b) if b.is_true() => out.push(pair_item(py, &key, acc)),
            Ok(_) => {
                states.insert(key, acc.unbind());
            }
            Err(_) => {
                return Err(StepError::wrong_type(
                    step_id,
                    self.complete_ctx.as_str(),
                    texts::not_a_bool("is_complete", "reduce", &repr(&done)),
                ))
            }
        }
        Ok(())
    }
}

/// `stateful_map`: per-key state built by `builder()`, updated and mapped by `mapper`; a
/// `None` state forgets the key.
struct StatefulMapFns {
    builder: Py<PyAny>,
    mapper: Py<PyAny>,
    builder_ctx: String,
    mapper_ctx: String,
}

impl StatefulMapFns {
    fn apply(&self, py: Python<'_>, step_id: &str, states: &mut KeyStates, key: String, value: Py<PyAny>, out: &mut Vec<Item>) -> Result<(), StepError> {
        let state = match states.remove(&key) {
            Some(s) => s.into_bound(py),
            None => self.builder.bind(py).call0().map_err(|e| user_error(step_id, self.builder_ctx.as_str(), e))?,
        };
        let res = self
            .mapper
            .bind(py)
            .call1((state, value))
            .map_err(|e| user_error(step_id, self.mapper_ctx.as_str(), e))?;
        let pair = match res.cast::<PyTuple>() {
            Ok(t) if t.len() == 2 => t,
            _ => {
                return Err(StepError::wrong_type(
                    step_id,
                    self.mapper_ctx.as_str(),
                    format!(
                        "return value of `mapper` in stateful map operator must be a 2-tuple of `(updated_state, updated_value)`; got `{}` instead",
                        repr(&res)
                    ),
                ))
            }
        };
        let new_state = pair.get_item(0).expect("length checked");
        let emit = pair.get_item(1).expect("length checked");
        if !new_state.is_none() {
            states.insert(key.clone(), new_state.unbind());
        }
        out.push(pair_item(py, &key, emit));
        Ok(())
    }
}

/// What a stateful Python step does with each value.
enum Logic {
    Reduce(ReduceFns),
    StatefulMap(StatefulMapFns),
}

/// A `reduce` or `stateful_map` step with Python functions: one Python object of state
/// per key, snapshotted for the keys each epoch changed.
pub struct PyKeyedStep {
    step_id: String,
    logic: Logic,
    states: KeyStates,
    changed: ChangedKeys,
}

impl PyKeyedStep {
    /// For a `reduce` or `stateful_map` step.
    pub fn new(step: &Step, callables: &Callables) -> Result<Self, StepError> {
        let logic = match step {
            Step::Reduce { reducer, is_complete, .. } => Logic::Reduce(ReduceFns {
                reducer: callables.resolve(step, reducer)?,
                is_complete: callables.resolve(step, is_complete)?,
                reducer_ctx: ctx(step, "reducer"),
                complete_ctx: ctx(step, "is_complete"),
            }),
            Step::StatefulMap { builder, mapper, .. } => Logic::StatefulMap(StatefulMapFns {
                builder: callables.resolve(step, builder)?,
                mapper: callables.resolve(step, mapper)?,
                builder_ctx: ctx(step, "builder"),
                mapper_ctx: ctx(step, "mapper"),
            }),
            other => unreachable!("{} is not a reduce or stateful_map step", other.op()),
        };
        Ok(PyKeyedStep { step_id: step.step_id().to_owned(), logic, states: KeyStates::default(), changed: ChangedKeys::default() })
    }

    /// The step's operator, for messages.
    fn op(&self) -> &'static str {
        match self.logic {
            Logic::Reduce(_) => "reduce",
            Logic::StatefulMap(_) => "stateful_map",
        }
    }
}

impl KeyedLogic for PyKeyedStep {
    fn on_items(&mut self, _epoch: u64, items: &mut Vec<KeyedItem>, out: &mut Vec<Item>) -> Result<(), StepError> {
        Python::attach(|py| {
            for item in items.drain(..) {
                let (key, value) = value_of(py, item, &self.step_id)?;
                self.changed.note(&key);
                match &self.logic {
                    Logic::Reduce(fns) => fns.apply(py, &self.step_id, &mut self.states, key, value, out)?,
                    Logic::StatefulMap(fns) => fns.apply(py, &self.step_id, &mut self.states, key, value, out)?,
                }
            }
            Ok(())
        })
    }

    fn track_changes(&mut self) {
        self.changed.enable();
    }

    fn snapshot(&mut self, out: &mut ChangeWriter) -> Result<(), StepError> {
        snapshot_states(&self.step_id, &self.states, self.changed.take(), out)
    }

    fn restore(&mut self, key: &str, state: &[u8]) -> Result<(), StepError> {
        let value = restore_py(state).map_err(|e| StepError::message(&self.step_id, self.op(), format!("restoring key {key:?}: {e}")))?;
        self.states.insert(key.to_owned(), value);
        Ok(())
    }
}

/// The snapshot of each of `keys` in `states` (`None` for keys without state now).
fn snapshot_states(
    step_id: &str,
    states: &KeyStates,
    keys: Vec<String>,
    out: &mut ChangeWriter,
) -> Result<(), StepError> {
    if keys.is_empty() {
        return Ok(());
    }
    Python::attach(|py| {
        for key in keys {
            match states.get(&key) {
                Some(state) => {
                    out.put(&key, &PyItem(state.clone_ref(py))).map_err(|e| StepError::message(step_id, "snapshot", e))?
                }
                None => out.gone(&key),
            }
        }
        Ok(())
    })
}
