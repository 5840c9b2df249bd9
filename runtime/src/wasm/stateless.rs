//! Stateless WASM steps over a batch: one component call, then the results put back in
//! place of the inputs (kept as they were where a step only keeps or looks).

use super::instance::{StepInstance, WasmCallError};
use crate::item::Item;

/// Which stateless operator a WASM function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatelessKind {
    /// One output per input.
    Map,
    /// Any number of outputs per input.
    FlatMap,
    /// Keep or drop each input.
    Filter,
    /// One output or none per input.
    FilterMap,
    /// Look at each input, pass it on.
    Inspect,
}

/// What the component returned for a batch.
pub enum StatelessOutput {
    /// `map`
    Mapped(Vec<Vec<u8>>),
    /// `flat_map`
    Flattened(Vec<Vec<Vec<u8>>>),
    /// `filter`
    Kept(Vec<bool>),
    /// `filter_map`
    Maybe(Vec<Option<Vec<u8>>>),
    /// `inspect`
    Seen,
}

/// Calls `export` of `instance` as a `kind` step on the encoded batch.
pub fn call_stateless(
    instance: &mut StepInstance,
    kind: StatelessKind,
    export: &str,
    encoded: &[Vec<u8>],
) -> Result<StatelessOutput, WasmCallError> {
    Ok(match kind {
        StatelessKind::Map => StatelessOutput::Mapped(instance.map(export, encoded)?),
        StatelessKind::FlatMap => StatelessOutput::Flattened(instance.flat_map(export, encoded)?),
        StatelessKind::Filter => StatelessOutput::Kept(instance.filter(export, encoded)?),
        StatelessKind::FilterMap => StatelessOutput::Maybe(instance.filter_map(export, encoded)?),
        StatelessKind::Inspect => {
            instance.inspect(export, encoded)?;
            StatelessOutput::Seen
        }
    })
}

/// Like [`apply_stateless`], for a batch that is already encoded (no Python objects to keep).
pub fn apply_to_encoded(inputs: Vec<Vec<u8>>, output: StatelessOutput) -> Result<Vec<Vec<u8>>, WasmCallError> {
    let n = inputs.len();
    let wrong = |got: usize| WasmCallError::Guest(format!("returned {got} results for a batch of {n} items"));
    Ok(match output {
        StatelessOutput::Mapped(v) if v.len() == n => v,
        StatelessOutput::Flattened(v) if v.len() == n => v.into_iter().flatten().collect(),
        StatelessOutput::Kept(v) if v.len() == n => inputs.into_iter().zip(v).filter(|(_, keep)| *keep).map(|(i, _)| i).collect(),
        StatelessOutput::Maybe(v) if v.len() == n => v.into_iter().flatten().collect(),
        StatelessOutput::Seen => inputs,
        other => return Err(wrong(other.len())),
    })
}

/// Combines a batch of `inputs` with what the component returned for them.
pub fn apply_stateless(inputs: Vec<Item>, output: StatelessOutput) -> Result<Vec<Item>, WasmCallError> {
    let n = inputs.len();
    let wrong = |got: usize| WasmCallError::Guest(format!("returned {got} results for a batch of {n} items"));
    Ok(match output {
        StatelessOutput::Mapped(v) if v.len() == n => v.into_iter().map(Item::Encoded).collect(),
        StatelessOutput::Flattened(v) if v.len() == n => v.into_iter().flatten().map(Item::Encoded).collect(),
        StatelessOutput::Kept(v) if v.len() == n => inputs.into_iter().zip(v).filter(|(_, keep)| *keep).map(|(i, _)| i).collect(),
        StatelessOutput::Maybe(v) if v.len() == n => v.into_iter().flatten().map(Item::Encoded).collect(),
        StatelessOutput::Seen => inputs,
        other => return Err(wrong(other.len())),
    })
}

impl StatelessOutput {
    /// How many results the component gave (one per input when it behaves).
    fn len(&self) -> usize {
        match self {
            StatelessOutput::Mapped(v) => v.len(),
            StatelessOutput::Flattened(v) => v.len(),
            StatelessOutput::Kept(v) => v.len(),
            StatelessOutput::Maybe(v) => v.len(),
            StatelessOutput::Seen => 0,
        }
    }
}
