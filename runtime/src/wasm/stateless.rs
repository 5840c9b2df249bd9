//! Stateless WASM steps: consecutive steps of one component fused into one `chain` call.

use std::time::{Duration, Instant};

use super::bindings::{Batch, StepKind};
use super::instance::{StepInstance, WasmCallError};
use crate::engine::GatherLimit;
use crate::plan::FnRef;

/// A gathering call aims to take at most this share of the CPU deadline, judged by how
/// long the last call took per item.
const GATHER_DEADLINE_SHARE: u32 = 4;
/// A gathering call holds at most this share of the memory cap in input items. The input
/// is copied into the guest once and the chain runs over it 1,024 items at a time, so what
/// else the call needs is mostly the combine's table and its output: with the default
/// 64 MiB cap a call takes ~16 MiB, ~300,000 lines of the benchmark text.
const GATHER_MEMORY_SHARE: usize = 4;

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

/// A run of consecutive stateless steps whose functions live in one component under the
/// same limits and grants: one instance, entered once per batch for all of them.
pub struct WasmChain {
    instance: Box<StepInstance>,
    /// The reference the run started with; later steps join only if they match it.
    first: FnRef,
    exports: Vec<String>,
    kinds: Vec<StatelessKind>,
    /// An associative reducer of the same component that combines the run's `(key, value)`
    /// outputs per key before they leave the call.
    combiner: Option<String>,
    /// Items in and time taken of the last combining call, to size the next one.
    last_call: Option<(usize, Duration)>,
}

/// Items a call may take to stay within [`GATHER_DEADLINE_SHARE`] of `deadline` at the
/// pace of the last call (`n` items in `took`); one batch when there was none yet.
fn items_that_fit(last_call: Option<(usize, Duration)>, deadline: Duration) -> usize {
    let Some((n, took)) = last_call else { return 1 };
    let budget = deadline / GATHER_DEADLINE_SHARE;
    let fits = budget.as_secs_f64() * n as f64 / took.as_secs_f64().max(1e-9);
    (fits as usize).max(1)
}

/// Why a chain call failed: the error, and which of the run's steps it came from when the
/// guest could tell (a trap or a deadline belongs to the whole call).
#[derive(Debug)]
pub struct ChainFailure {
    /// The index of the failing step within the run, if known.
    pub stage: Option<usize>,
    /// What went wrong.
    pub error: WasmCallError,
}

impl WasmChain {
    /// Starts a run with the WASM function `f` as a `kind` step, instantiating its component.
    pub fn new(f: &FnRef, kind: StatelessKind) -> Result<Self, WasmCallError> {
        let FnRef::Wasm { export, .. } = f else {
            return Err(WasmCallError::Setup("not a WASM function".into()));
        };
        let instance = Box::new(super::instantiate(f)?);
        Ok(WasmChain { instance, first: f.clone(), exports: vec![export.clone()], kinds: vec![kind], combiner: None, last_call: None })
    }

    /// Adds the next step, if its function can share this run's instance; gives it back if not.
    pub fn join<'f>(&mut self, f: &'f FnRef, kind: StatelessKind) -> Result<(), &'f FnRef> {
        match self.shared_export(f) {
            Some(export) => {
                self.exports.push(export.to_owned());
                self.kinds.push(kind);
                Ok(())
            }
            None => Err(f),
        }
    }

    /// Has the run combine its `(key, value)` outputs per key with `reducer` before they
    /// leave the call, when `reducer` can share this run's instance and the component
    /// declares it associative. Returns whether it will.
    pub fn combine_with(&mut self, reducer: &FnRef) -> Result<bool, WasmCallError> {
        let Some(export) = self.shared_export(reducer).map(str::to_owned) else { return Ok(false) };
        let associative = self.instance.describe()?.iter().any(|info| info.name == export && info.kind == StepKind::Reducer && info.associative);
        if associative {
            self.combiner = Some(export);
        }
        Ok(associative)
    }

    /// The export `f` names, if it lives in this run's component under the same limits and grants.
    fn shared_export<'f>(&self, f: &'f FnRef) -> Option<&'f str> {
        match (&self.first, f) {
            (
                FnRef::Wasm { component, limits, grants, .. },
                FnRef::Wasm { component: c, limits: l, grants: g, export },
            ) if component == c && limits == l && grants == g => Some(export),
            _ => None,
        }
    }

    /// How many steps the run holds.
    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    /// Whether the run holds no steps (never, once built).
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// The kind of each step, in order.
    pub fn kinds(&self) -> &[StatelessKind] {
        &self.kinds
    }

    /// Runs every step of the run over `items`; returns what the last one produced.
    pub fn run(&mut self, items: &Batch) -> Result<Batch, ChainFailure> {
        let started = Instant::now();
        let out = match &self.combiner {
            Some(reducer) => self.instance.chain_combine(&self.exports, reducer, items),
            None => self.instance.chain(&self.exports, items),
        }
        .map_err(|(stage, error)| ChainFailure { stage, error })?;
        if self.combiner.is_some() {
            self.last_call = Some((items.len(), started.elapsed()));
        }
        Ok(out)
    }

    /// For a run that combines: how many items its next call may take, so that the call
    /// stays well inside the CPU deadline and memory cap. The first call takes one batch;
    /// later ones as many items as the last call's pace fits in a quarter of the deadline.
    pub fn gather_limit(&self) -> Option<GatherLimit> {
        self.combiner.as_ref()?;
        let FnRef::Wasm { limits, .. } = &self.first else { return None };
        let limits = limits.unwrap_or_default();
        let items = items_that_fit(self.last_call, Duration::from_millis(limits.deadline()));
        Some(GatherLimit { items, bytes: limits.memory_bytes() / GATHER_MEMORY_SHARE })
    }

    /// A single `filter` step's verdict per item, for hosts that keep their own items.
    pub fn verdicts(&mut self, items: &Batch) -> Result<Vec<bool>, WasmCallError> {
        self.instance.filter(&self.exports[0], items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gathering_call_is_sized_by_the_last_calls_pace() {
        let deadline = Duration::from_millis(2000);
        // Nothing timed yet: one batch.
        assert_eq!(items_that_fit(None, deadline), 1);
        // 8192 items in 25 ms: a quarter of the deadline (500 ms) fits 20 times as many.
        assert_eq!(items_that_fit(Some((8192, Duration::from_millis(25))), deadline), 163_840);
        // A slow step gets fewer items than it had...
        assert_eq!(items_that_fit(Some((8192, Duration::from_millis(1000))), deadline), 4096);
        // ...and never none.
        assert_eq!(items_that_fit(Some((10, Duration::from_secs(10))), deadline), 1);
        assert!(items_that_fit(Some((10, Duration::ZERO)), deadline) > 1_000_000);
    }
}
