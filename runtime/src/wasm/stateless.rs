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
    /// Items in and time taken of the last combining call that got as many items as it was
    /// offered, to size the next one. A call cut short because no more input was waiting
    /// (the tail of an activation) would say little about a full one, and would shrink the
    /// next call's growth limit to twice its size.
    last_call: Option<Timed>,
    /// The full call before `last_call`, to tell a pace that holds as calls grow from one
    /// that slows.
    call_before: Option<Timed>,
}

/// How much slower per item a call may be than one half its size for the step's cost to
/// count as growing with the number of items, not with their square.
const LINEAR_PACE_SLACK: f64 = 1.5;

/// One combining call: items in, time taken.
type Timed = (usize, Duration);

/// Items a call may take to stay within [`GATHER_DEADLINE_SHARE`] of `deadline` at the
/// pace of the `last` full call; one batch when there was none yet.
///
/// The pace is per item, which holds for a reducer whose cost per value is fixed (a sum).
/// One whose cost grows with what it has folded (a string or list it keeps copying) costs
/// the square of a call's items per key, so a call far bigger than the last would run far
/// past the pace. So a call may be at most twice as big as the last, unless the last two
/// calls (`before`, then `last`, bigger) showed a pace that did not grow with their size.
/// Growing twofold, a call whose cost is the square of its size takes at most four times
/// the last one, and its slowing pace stops the growth at about half the deadline.
fn items_that_fit(before: Option<Timed>, last: Option<Timed>, deadline: Duration) -> usize {
    let Some((n, took)) = last else { return 1 };
    let pace = |(n, took): Timed| took.as_secs_f64().max(1e-9) / n.max(1) as f64;
    let last_pace = pace((n, took));
    let budget = deadline / GATHER_DEADLINE_SHARE;
    let fits = (budget.as_secs_f64() / last_pace) as usize;
    let linear = before.is_some_and(|b| b.0 < n && last_pace <= pace(b) * LINEAR_PACE_SLACK);
    let fits = if linear { fits } else { fits.min(n.saturating_mul(2)) };
    fits.max(1)
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
        Ok(WasmChain { instance, first: f.clone(), exports: vec![export.clone()], kinds: vec![kind], combiner: None, last_call: None, call_before: None })
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
        // Given at least what it was offered: what `gather_limit` offers now, as the calls
        // it is sized from are unchanged.
        if self.gather_limit().is_some_and(|offered| items.len() >= offered.items) {
            self.call_before = self.last_call.replace((items.len(), started.elapsed()));
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
        let items = items_that_fit(self.call_before, self.last_call, Duration::from_millis(limits.deadline()));
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
        let ms = Duration::from_millis;
        // Nothing timed yet: one batch.
        assert_eq!(items_that_fit(None, None, deadline), 1);
        // 8192 items in 25 ms: a quarter of the deadline (500 ms) would fit 20 times as
        // many, but with one call timed a call grows twofold at most...
        assert_eq!(items_that_fit(None, Some((8192, ms(25))), deadline), 16_384);
        // ...and once twice as many took twice as long, as far as the pace allows.
        assert_eq!(items_that_fit(Some((8192, ms(25))), Some((16_384, ms(50))), deadline), 163_840);
        // Twice as many taking four times as long (a reducer copying what it folded) keeps
        // growth twofold, until the pace stops it: 32,768 items in 400 ms allow 40,960.
        assert_eq!(items_that_fit(Some((8192, ms(25))), Some((16_384, ms(100))), deadline), 32_768);
        assert_eq!(items_that_fit(Some((16_384, ms(100))), Some((32_768, ms(400))), deadline), 40_960);
        // A call no bigger than the one before says nothing about growth.
        assert_eq!(items_that_fit(Some((16_384, ms(50))), Some((16_384, ms(50))), deadline), 32_768);
        // A slow step gets fewer items than it had...
        assert_eq!(items_that_fit(None, Some((8192, ms(1000))), deadline), 4096);
        // ...and never none.
        assert_eq!(items_that_fit(None, Some((10, Duration::from_secs(10))), deadline), 1);
        assert_eq!(items_that_fit(None, Some((10, Duration::ZERO)), deadline), 20);
    }
}
