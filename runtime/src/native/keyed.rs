//! Stateful steps without Python: key splitting, `reduce` and `stateful_map` on WASM
//! functions. Each batch is grouped by key so the component is called once per batch.

use std::collections::HashMap;

use foldhash::fast::RandomState;

use super::chain::encoded;
use crate::codec::{encode_pair, split_pair};
use crate::engine::{KeyBy, KeyedLogic};
use crate::error::StepError;
use crate::item::{Item, KeyedItem};
use crate::plan::{FnRef, Step};
use crate::recovery::{decode_bytes, encode_bytes, ChangeWriter, ChangedKeys};
use crate::wasm::{instantiate, Groups, StepInstance};

/// Splits encoded `(key, value)` items.
pub struct NativeKeyBy {
    step_id: String,
    op: &'static str,
}

impl NativeKeyBy {
    /// For the stateful `step`.
    pub fn new(step: &Step) -> Self {
        NativeKeyBy { step_id: step.step_id().to_owned(), op: step.op() }
    }
}

impl KeyBy for NativeKeyBy {
    fn key_by(&mut self, input: &mut Vec<Item>, out: &mut Vec<KeyedItem>) -> Result<(), StepError> {
        for item in input.drain(..) {
            let mut bytes = encoded(item);
            let (key, value) = split_pair(&bytes).map_err(|e| StepError::wrong_type(&self.step_id, self.op, e.0))?;
            let (key, value_at) = (key.to_owned(), bytes.len() - value.len());
            // Reuse the item's buffer for the value rather than allocating another.
            bytes.drain(..value_at);
            out.push(KeyedItem::new(key, Item::Encoded(bytes)));
        }
        Ok(())
    }
}

/// Groups a batch by key, keys in order of first appearance, values in arrival order.
pub fn group_by_key(items: &mut Vec<KeyedItem>) -> Vec<(String, Vec<Vec<u8>>)> {
    let mut index: HashMap<String, usize, RandomState> = HashMap::default();
    let mut values: Vec<Vec<Vec<u8>>> = Vec::new();
    for item in items.drain(..) {
        let value = encoded(item.value);
        match index.get(item.key.as_str()) {
            Some(&i) => values[i].push(value),
            None => {
                // The key moves into the index; groups get it back below, uncloned.
                index.insert(item.key, values.len());
                values.push(vec![value]);
            }
        }
    }
    let mut keys: Vec<Option<String>> = vec![None; values.len()];
    for (key, i) in index {
        keys[i] = Some(key);
    }
    keys.into_iter().map(|k| k.expect("every group has a key")).zip(values).collect()
}

/// One WASM instance and the names of the functions a stateful step uses in it.
pub struct WasmFns {
    pub(crate) instance: Box<StepInstance>,
    pub(crate) names: Vec<String>,
    pub(crate) step_id: String,
    pub(crate) context: String,
}

impl WasmFns {
    /// Instantiates the component the step's functions live in; they must share one.
    pub fn new(step: &Step, fns: &[&FnRef]) -> Result<Self, StepError> {
        let context = format!(
            "{}, {}",
            step.op(),
            fns.iter().map(|f| format!("`{}`", f.label())).collect::<Vec<_>>().join(" and ")
        );
        let mut first: Option<&FnRef> = None;
        let mut names = Vec::new();
        for f in fns {
            match f {
                FnRef::Wasm { component, export, .. } => {
                    if let Some(FnRef::Wasm { component: prev, .. }) = first {
                        if prev != component {
                            return Err(StepError::message(step.step_id(), context.as_str(), "all functions of one step must come from the same component"));
                        }
                    }
                    first.get_or_insert(f);
                    names.push(export.clone());
                }
                FnRef::Python { .. } => return Err(super::python_step(step)),
                FnRef::Builtin { name } => {
                    return Err(StepError::message(step.step_id(), context.as_str(), format!("builtin {name} cannot be used here")))
                }
            }
        }
        let f = first.expect("every stateful step has a function");
        let instance = instantiate(f).map_err(|e| StepError::message(step.step_id(), context.as_str(), e.to_string()))?;
        Ok(WasmFns { instance: Box::new(instance), names, step_id: step.step_id().to_owned(), context })
    }

    pub(crate) fn fail(&self, e: impl std::fmt::Display) -> StepError {
        StepError::message(&self.step_id, self.context.as_str(), e.to_string())
    }
}

/// `reduce` or `stateful_map` with WASM functions; state bytes per key live here.
pub struct NativeStateful {
    fns: WasmFns,
    is_reduce: bool,
    states: HashMap<String, Vec<u8>, RandomState>,
    changed: ChangedKeys,
}

impl NativeStateful {
    /// For a `reduce` or `stateful_map` step.
    pub fn new(step: &Step) -> Result<Self, StepError> {
        let (fns, is_reduce) = match step {
            Step::Reduce { reducer, is_complete, .. } => (WasmFns::new(step, &[reducer, is_complete])?, true),
            Step::StatefulMap { builder, mapper, .. } => (WasmFns::new(step, &[builder, mapper])?, false),
            other => unreachable!("{} is not reduce or stateful_map", other.op()),
        };
        Ok(NativeStateful { fns, is_reduce, states: HashMap::default(), changed: ChangedKeys::default() })
    }
}

impl KeyedLogic for NativeStateful {
    fn on_items(&mut self, _epoch: u64, items: &mut Vec<KeyedItem>, out: &mut Vec<Item>) -> Result<(), StepError> {
        let grouped = group_by_key(items);
        let mut groups = Groups::new();
        for (key, values) in &grouped {
            groups.push(self.states.get(key).map(Vec::as_slice), values.iter().map(Vec::as_slice));
        }
        let (a, b) = (&self.fns.names[0], &self.fns.names[1]);
        let results = if self.is_reduce {
            self.fns.instance.reduce(a, b, &groups)
        } else {
            self.fns.instance.stateful_map(a, b, &groups)
        }
        .map_err(|e| self.fns.fail(e))?;
        for (g, (key, _)) in grouped.into_iter().enumerate() {
            self.changed.note(&key);
            out.extend(results.emitted(g).map(|v| Item::Encoded(encode_pair(&key, v))));
            match results.state(g) {
                Some(state) => {
                    self.states.insert(key, state.to_vec());
                }
                None => {
                    self.states.remove(&key);
                }
            }
        }
        Ok(())
    }

    fn track_changes(&mut self) {
        self.changed.enable();
    }

    fn snapshot(&mut self, out: &mut ChangeWriter) -> Result<(), StepError> {
        for key in self.changed.take() {
            match self.states.get(&key) {
                Some(state) => out.raw(&key, &encode_bytes(state)),
                None => out.gone(&key),
            }
        }
        Ok(())
    }

    fn restore(&mut self, key: &str, state: &[u8]) -> Result<(), StepError> {
        let state = decode_bytes(state).map_err(|e| self.fns.fail(format!("restoring key {key:?}: {e}")))?;
        self.states.insert(key.to_owned(), state.to_vec());
        Ok(())
    }
}
