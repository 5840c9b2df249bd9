//! Turns a plan into timely operators on one worker.

use std::rc::Rc;
use std::time::Duration;

use timely::dataflow::operators::Probe;
use timely::dataflow::{ProbeHandle, Scope, Stream};

use super::context::WorkerContext;
use super::exchange::{exchange, hash_pact, spread_pact};
use super::host::{Chain, StepHost, WorkerInfo};
use super::input::{input_operator, Epochs, POLLS_PER_ACTIVATION};
use super::stateful::stateful_operator;
use super::stateless::{chain_operator, key_by_operator, output_operator};
use crate::error::StepError;
use crate::item::Item;
use crate::plan::{Plan, Step};
use crate::recovery::commit::Committer;
use crate::recovery::{commit_operator, RestoredState, SnapshotLog};

/// What a run with recovery adds to the build.
pub struct RecoveryBuild {
    /// The first epoch.
    pub start: u64,
    /// Each step's restored snapshots.
    pub state: RestoredState,
    /// Where operators put their snapshots.
    pub log: Rc<SnapshotLog>,
    /// Writes them; taken by the build.
    pub committer: Option<Committer>,
}

/// Everything the builder needs besides the scope.
pub struct BuildContext<'a> {
    /// The plan to build.
    pub plan: &'a Plan,
    /// Builds step code.
    pub host: &'a dyn StepHost,
    /// This worker.
    pub worker: WorkerInfo,
    /// Shared by this worker's operators.
    pub ctx: Rc<WorkerContext>,
    /// Watches every output, for epoch pacing.
    pub probe: ProbeHandle<u64>,
    /// Wall time per epoch.
    pub epoch_interval: Duration,
    /// Set when the run has recovery on.
    pub recovery: Option<std::cell::RefCell<RecoveryBuild>>,
}

impl BuildContext<'_> {
    fn restored(&self, step_id: &str) -> Vec<(String, Vec<u8>)> {
        self.recovery
            .as_ref()
            .and_then(|r| r.borrow_mut().state.remove(step_id))
            .unwrap_or_default()
    }

    fn log(&self) -> Option<Rc<SnapshotLog>> {
        self.recovery.as_ref().map(|r| r.borrow().log.clone())
    }
}

/// Builds the plan's steps in order. Steps after a second `input` consume the new stream;
/// the chain before it is left as it is (0.16 has no merge).
pub fn build_dataflow(scope: Scope<'_, u64>, b: &BuildContext<'_>) -> Result<(), StepError> {
    let steps = &b.plan.steps;
    let mut stream: Option<Stream<'_, u64, Vec<Item>>> = None;
    // Streams nothing reads: the probe (and the commit operator) watch these.
    let mut leaves: Vec<Stream<'_, u64, Vec<Item>>> = Vec::new();
    // The chain right after an input, built with it.
    let mut next_chain: Option<Box<dyn Chain>> = None;
    let mut i = 0;
    while i < steps.len() {
        let step = &steps[i];
        let current = stream.take();
        stream = Some(match step {
            Step::Input { step_id, source } => {
                leaves.extend(current);
                let src = b.host.source(step_id, source, b.worker, &b.restored(step_id))?;
                let spread = src.leaves_workers_idle();
                let start = b.recovery.as_ref().map_or(0, |r| r.borrow().start);
                let epochs = Epochs { start, interval: b.epoch_interval, probe: b.probe.clone() };
                // The chain after the input is built here: one that gathers (see
                // `Chain::gather_limit`) is fed several batches per read.
                let run_end = stateless_run_end(steps, i + 1);
                if run_end > i + 1 {
                    next_chain = Some(b.host.chain(&steps[i + 1..run_end], steps.get(run_end))?);
                }
                let polls = match &next_chain {
                    Some(chain) if chain.gather_limit().is_some() => POLLS_PER_ACTIVATION,
                    _ => 1,
                };
                let stream = input_operator(scope, step_id, src, b.ctx.clone(), epochs, polls, b.log());
                if spread {
                    // Some workers own no partition: share the batches out so all of them work.
                    exchange(stream, spread_pact(b.worker.index))
                } else {
                    stream
                }
            }
            Step::Output { step_id, sink } => {
                let sink = b.host.sink(step_id, sink, b.worker, &b.restored(step_id))?;
                let mut items = upstream(current, step)?;
                if b.worker.count > 1 {
                    if let Some(route) = sink.router() {
                        items = exchange(items, hash_pact(route));
                    }
                }
                output_operator(items, &format!("output {step_id}"), step_id, sink, b.ctx.clone(), b.log())
            }
            s if s.is_stateful() => {
                let name = format!("{} {}", s.op(), s.step_id());
                let keyed = key_by_operator(
                    upstream(current, s)?,
                    &name,
                    b.host.key_by(s)?,
                    b.ctx.clone(),
                );
                let mut logic = b.host.keyed_logic(s, b.worker)?;
                if b.recovery.is_some() {
                    logic.track_changes();
                    for (key, state) in b.restored(s.step_id()) {
                        logic.restore(&key, &state)?;
                    }
                }
                stateful_operator(keyed, &name, s.step_id(), logic, b.ctx.clone(), b.log())
            }
            _ => {
                // Fuse the run of stateless steps starting here into one operator.
                let end = stateless_run_end(steps, i);
                let run = &steps[i..end];
                let name = run.iter().map(Step::step_id).collect::<Vec<_>>().join("+");
                let chain = match next_chain.take() {
                    Some(chain) => chain,
                    None => b.host.chain(run, steps.get(end))?,
                };
                let out = chain_operator(upstream(current, step)?, &name, chain, b.ctx.clone());
                i = end;
                stream = Some(out);
                continue;
            }
        });
        i += 1;
    }
    leaves.extend(stream);
    let committer = b.recovery.as_ref().and_then(|r| r.borrow_mut().committer.take());
    match committer {
        Some(committer) => {
            commit_operator(scope, leaves, committer, b.ctx.clone()).probe_with(&b.probe);
        }
        None => {
            for leaf in leaves {
                leaf.probe_with(&b.probe);
            }
        }
    }
    Ok(())
}

/// Where the run of stateless steps starting at `i` ends (`i` itself if none starts there).
fn stateless_run_end(steps: &[Step], i: usize) -> usize {
    steps[i.min(steps.len())..]
        .iter()
        .position(|s| s.is_stateful() || matches!(s, Step::Input { .. } | Step::Output { .. }))
        .map_or(steps.len(), |n| i + n)
}

fn upstream<'s>(
    stream: Option<Stream<'s, u64, Vec<Item>>>,
    step: &Step,
) -> Result<Stream<'s, u64, Vec<Item>>, StepError> {
    stream.ok_or_else(|| {
        StepError::message(
            step.step_id(),
            step.op(),
            "there is no input before this step",
        )
    })
}
