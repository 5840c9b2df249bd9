//! One instance of a step component in its own store, and the batch calls into it.

use std::fmt;
use std::sync::Arc;

use wasmtime::{Store, Trap};

use super::bindings::{Batch, ChainError, GroupResults, Groups, StepComponent, StepInfo};
use super::component::LoadedComponent;
use super::engine::{engine, EPOCH_TICK};
use super::limits::WasmLimits;
use crate::plan::WasmGrants;
use super::store::StepState;

/// Why a call into a guest failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WasmCallError {
    /// The step itself returned an error.
    Guest(String),
    /// The guest ran past its CPU deadline and was stopped.
    Deadline {
        /// The deadline, in milliseconds.
        ms: u64,
    },
    /// The guest tried to grow its memory past the cap.
    MemoryCap {
        /// The cap, in MiB.
        mb: u64,
    },
    /// The guest trapped (a panic, an out-of-bounds access...).
    Trap(String),
    /// The component could not be set up.
    Setup(String),
}

impl fmt::Display for WasmCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WasmCallError::Guest(m) => write!(f, "the step failed: {m}"),
            WasmCallError::Deadline { ms } => {
                write!(f, "the step ran past its CPU deadline of {ms} ms and was stopped (raise \"deadline_ms\" in its limits if it needs more)")
            }
            WasmCallError::MemoryCap { mb } => {
                write!(f, "the step hit its memory cap of {mb} MiB (raise \"memory_mb\" in its limits if it needs more)")
            }
            WasmCallError::Trap(m) => write!(f, "the step trapped: {m}"),
            WasmCallError::Setup(m) => f.write_str(m),
        }
    }
}

/// How a call failed: the guest's own error value, or the host stopped it.
enum Failed<E> {
    Guest(E),
    Host(WasmCallError),
}

/// A live instance with its own memory and limits. Not shared between workers.
pub struct StepInstance {
    store: Store<StepState>,
    bindings: StepComponent,
    limits: WasmLimits,
    component: Arc<LoadedComponent>,
}

impl StepInstance {
    /// Instantiates `component` under `limits`, with what `grants` allows.
    pub fn new(component: Arc<LoadedComponent>, limits: WasmLimits, grants: &WasmGrants) -> Result<Self, WasmCallError> {
        let engine = engine().map_err(WasmCallError::Setup)?;
        let state = StepState::sandboxed(limits.memory_bytes(), grants).map_err(WasmCallError::Setup)?;
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(ticks(limits.deadline()));
        let bindings = component.pre.instantiate(&mut store).map_err(|e| {
            WasmCallError::Setup(format!("cannot instantiate {}: {e:#}", component.path.display()))
        })?;
        Ok(StepInstance { store, bindings, limits, component })
    }

    /// The component this instance runs.
    pub fn component(&self) -> &LoadedComponent {
        &self.component
    }

    fn call<R>(
        &mut self,
        f: impl FnOnce(&StepComponent, &mut Store<StepState>) -> wasmtime::Result<Result<R, String>>,
    ) -> Result<R, WasmCallError> {
        self.call_with(f).map_err(|failed| match failed {
            Failed::Guest(msg) => WasmCallError::Guest(msg),
            Failed::Host(e) => e,
        })
    }

    /// Runs one call under the deadline, keeping the guest's own error as it came.
    fn call_with<R, E>(
        &mut self,
        f: impl FnOnce(&StepComponent, &mut Store<StepState>) -> wasmtime::Result<Result<R, E>>,
    ) -> Result<R, Failed<E>> {
        self.store.set_epoch_deadline(ticks(self.limits.deadline()));
        match f(&self.bindings, &mut self.store) {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(guest)) => Err(Failed::Guest(guest)),
            Err(e) => Err(Failed::Host(self.classify(e))),
        }
    }

    fn classify(&mut self, e: wasmtime::Error) -> WasmCallError {
        if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return WasmCallError::Deadline { ms: self.limits.deadline() };
        }
        if self.store.data().limiter.hit {
            return WasmCallError::MemoryCap { mb: (self.limits.memory_bytes() >> 20) as u64 };
        }
        let detail = match e.downcast_ref::<Trap>() {
            Some(trap) => trap.to_string(),
            None => format!("{e:#}"),
        };
        WasmCallError::Trap(detail)
    }

    /// The steps the component offers.
    pub fn describe(&mut self) -> Result<Vec<StepInfo>, WasmCallError> {
        self.call(|b, s| b.bytewax_steps_steps().call_describe(s).map(Ok))
    }

    /// Consecutive stateless steps `steps` over a batch, in one call. On failure, the
    /// index of the step that failed, when the guest could tell.
    pub fn chain(&mut self, steps: &[String], items: &Batch) -> Result<Batch, (Option<usize>, WasmCallError)> {
        chain_output(self.call_with(|b, s| b.bytewax_steps_steps().call_chain(s, steps, items)))
    }

    /// [`chain`](Self::chain), then its `(key, value)` pairs combined per key by the
    /// associative `reducer`: one `(key, combined)` pair per key. A failure of the reducer
    /// has the stage `steps.len()`.
    pub fn chain_combine(&mut self, steps: &[String], reducer: &str, items: &Batch) -> Result<Batch, (Option<usize>, WasmCallError)> {
        chain_output(self.call_with(|b, s| b.bytewax_steps_steps().call_chain_combine(s, steps, reducer, items)))
    }

    /// A `filter` step's verdict per item.
    pub fn filter(&mut self, step: &str, items: &Batch) -> Result<Vec<bool>, WasmCallError> {
        let kept = self.call(|b, s| b.bytewax_steps_steps().call_filter(s, step, items))?;
        same_length(kept, items.len())
    }

    /// `stateful_map` over groups of one key each.
    pub fn stateful_map(&mut self, builder: &str, mapper: &str, groups: &Groups) -> Result<GroupResults, WasmCallError> {
        let results = self.call(|b, s| b.bytewax_steps_steps().call_stateful_map(s, builder, mapper, groups))?;
        results.check(groups.len())?;
        Ok(results)
    }

    /// `reduce` over groups of one key each.
    pub fn reduce(&mut self, reducer: &str, is_complete: &str, groups: &Groups) -> Result<GroupResults, WasmCallError> {
        let results = self.call(|b, s| b.bytewax_steps_steps().call_reduce(s, reducer, is_complete, groups))?;
        results.check(groups.len())?;
        Ok(results)
    }

    /// A window reduction over groups of one window each: one accumulator per group.
    pub fn reduce_window(&mut self, reducer: &str, groups: &Groups) -> Result<Batch, WasmCallError> {
        let accs = self.call(|b, s| b.bytewax_steps_steps().call_reduce_window(s, reducer, groups))?;
        one_per_group(accs, groups.len())
    }

    /// A window fold over groups of one window each: one accumulator per group.
    pub fn fold_window(&mut self, builder: &str, folder: &str, groups: &Groups) -> Result<Batch, WasmCallError> {
        let accs = self.call(|b, s| b.bytewax_steps_steps().call_fold_window(s, builder, folder, groups))?;
        one_per_group(accs, groups.len())
    }

    /// Event times (ms since the Unix epoch) of a batch.
    pub fn event_time(&mut self, step: &str, items: &Batch) -> Result<Vec<i64>, WasmCallError> {
        let times = self.call(|b, s| b.bytewax_steps_steps().call_event_time(s, step, items))?;
        same_length(times, items.len())
    }
}

/// A chain call's items, or its failure with the failing stage when the guest named one.
fn chain_output(result: Result<Batch, Failed<ChainError>>) -> Result<Batch, (Option<usize>, WasmCallError)> {
    let out = result.map_err(|failed| match failed {
        Failed::Guest(ChainError { stage, message }) => (Some(stage as usize), WasmCallError::Guest(message)),
        Failed::Host(e) => (None, e),
    })?;
    out.check("items").map_err(|e| (None, e))?;
    Ok(out)
}

fn ticks(ms: u64) -> u64 {
    (ms / EPOCH_TICK.as_millis().max(1) as u64).max(1)
}

fn same_length<T>(answers: Vec<T>, n: usize) -> Result<Vec<T>, WasmCallError> {
    if answers.len() != n {
        return Err(WasmCallError::Guest(format!("returned {} results for a batch of {n} items", answers.len())));
    }
    Ok(answers)
}

fn one_per_group(accs: Batch, groups: usize) -> Result<Batch, WasmCallError> {
    accs.check("accumulators")?;
    if accs.len() != groups {
        return Err(WasmCallError::Guest(format!("returned {} results for {groups} windows", accs.len())));
    }
    Ok(accs)
}
