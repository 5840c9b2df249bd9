//! Turns a plan into timely operators on one worker.

use std::rc::Rc;
use std::time::Duration;

use timely::dataflow::operators::{Exchange, Probe};
use timely::dataflow::{ProbeHandle, Scope, Stream};

use super::context::WorkerContext;
use super::host::{StepHost, WorkerInfo};
use super::input::input_operator;
use super::stateful::stateful_operator;
use super::stateless::{chain_operator, key_by_operator, output_operator};
use crate::error::StepError;
use crate::item::Item;
use crate::plan::{Plan, Step};

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
}

/// Builds the plan's steps in order. Steps after a second `input` consume the new stream;
/// the chain before it is left as it is (0.16 has no merge).
pub fn build_dataflow(scope: Scope<'_, u64>, b: &BuildContext<'_>) -> Result<(), StepError> {
    let steps = &b.plan.steps;
    let mut stream: Option<Stream<'_, u64, Vec<Item>>> = None;
    let mut i = 0;
    while i < steps.len() {
        let step = &steps[i];
        let current = stream.take();
        stream = Some(match step {
            Step::Input { step_id, source } => {
                let src = b.host.source(step_id, source, b.worker)?;
                let spread = src.leaves_workers_idle();
                let stream = input_operator(
                    scope,
                    step_id,
                    src,
                    b.ctx.clone(),
                    b.probe.clone(),
                    b.epoch_interval,
                );
                if spread {
                    // Some workers own no partition: share the items out so all of them work.
                    let mut next: u64 = b.worker.index as u64;
                    stream.exchange(move |_| {
                        next = next.wrapping_add(1);
                        next
                    })
                } else {
                    stream
                }
            }
            Step::Output { step_id, sink } => {
                let sink = b.host.sink(step_id, sink, b.worker)?;
                let mut items = upstream(current, step)?;
                if b.worker.count > 1 {
                    if let Some(route) = sink.router() {
                        items = items.exchange(route);
                    }
                }
                let out = output_operator(items, &format!("output {step_id}"), sink, b.ctx.clone());
                out.probe_with(&b.probe)
            }
            s if s.is_stateful() => {
                let name = format!("{} {}", s.op(), s.step_id());
                let keyed = key_by_operator(
                    upstream(current, s)?,
                    &name,
                    b.host.key_by(s)?,
                    b.ctx.clone(),
                );
                stateful_operator(
                    keyed,
                    &name,
                    b.host.keyed_logic(s, b.worker)?,
                    b.ctx.clone(),
                )
            }
            _ => {
                // Fuse the run of stateless steps starting here into one operator.
                let end = steps[i..]
                    .iter()
                    .position(|s| {
                        s.is_stateful() || matches!(s, Step::Input { .. } | Step::Output { .. })
                    })
                    .map_or(steps.len(), |n| i + n);
                let run = &steps[i..end];
                let name = run.iter().map(Step::step_id).collect::<Vec<_>>().join("+");
                let chain = b.host.chain(run)?;
                let out = chain_operator(upstream(current, step)?, &name, chain, b.ctx.clone());
                i = end;
                stream = Some(out);
                continue;
            }
        });
        i += 1;
    }
    Ok(())
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
