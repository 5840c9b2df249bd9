//! Operators without keyed state: a fused chain of stateless steps, key splitting, outputs.

use std::rc::Rc;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::Stream;

use super::context::WorkerContext;
use super::host::{Chain, KeyBy, Sink};
use crate::error::StepError;
use crate::item::{Item, KeyedItem};
use crate::recovery::SnapshotLog;

/// Most items a gathering chain (see [`Chain::gather_limit`]) is given in one call. The
/// more items one call combines, the fewer `(key, value)` pairs reach the window: a word
/// count of the benchmark text (100,000 words) hands on ~96,000 pairs per call of this
/// size, against ~75,000 per call of a quarter of it.
const GATHER_ITEMS: usize = 262_144;

/// Runs a [`Chain`] over each batch, under the batch's epoch. A chain that gathers gets the
/// batches of one epoch that are waiting when the operator runs as one call, as far as its
/// [`Chain::gather_limit`] (and [`GATHER_ITEMS`]) allow.
pub fn chain_operator<'s>(
    stream: Stream<'s, u64, Vec<Item>>,
    name: &str,
    mut chain: Box<dyn Chain>,
    ctx: Rc<WorkerContext>,
) -> Stream<'s, u64, Vec<Item>> {
    stream.unary(Pipeline, name, move |_cap, _info| {
        let mut gathered = Gathered::default();
        move |input, output| {
            let port = output.output_index();
            let mut give = |made: Option<(Capability<u64>, Vec<Item>)>| {
                if let Some((at, mut out)) = made {
                    if !out.is_empty() {
                        output.session(&at).give_container(&mut out);
                    }
                }
            };
            input.for_each(|cap, data| {
                if ctx.stopped() {
                    data.clear();
                    return;
                }
                let Some(&epoch) = cap.least() else { return };
                let Some(limit) = chain.gather_limit() else {
                    give(cap.retain_least(port).map(|at| (at, run_chain(&mut *chain, &ctx, epoch, data))));
                    return;
                };
                if gathered.at.as_ref().is_some_and(|at| *at.time() != epoch) {
                    give(gathered.run(&mut *chain, &ctx));
                }
                if gathered.at.is_none() {
                    gathered.at = cap.retain_least(port);
                }
                gathered.bytes += data.iter().map(Item::approx_bytes).sum::<usize>();
                gathered.items.append(data);
                if gathered.items.len() >= limit.items.min(GATHER_ITEMS) || gathered.bytes >= limit.bytes {
                    give(gathered.run(&mut *chain, &ctx));
                }
            });
            if ctx.stopped() {
                gathered.discard();
            } else {
                give(gathered.run(&mut *chain, &ctx));
            }
        }
    })
}

/// Batches of one epoch waiting to go to a gathering chain in one call.
#[derive(Default)]
struct Gathered {
    items: Vec<Item>,
    bytes: usize,
    at: Option<Capability<u64>>,
}

impl Gathered {
    /// Runs `chain` over what is gathered, emptying it; what the chain made, and when.
    fn run(&mut self, chain: &mut dyn Chain, ctx: &WorkerContext) -> Option<(Capability<u64>, Vec<Item>)> {
        let Some(at) = self.at.take() else {
            self.discard();
            return None;
        };
        self.bytes = 0;
        let out = run_chain(chain, ctx, *at.time(), &mut self.items);
        Some((at, out))
    }

    fn discard(&mut self) {
        self.items.clear();
        self.bytes = 0;
        self.at = None;
    }
}

/// Runs `chain` over `items` (drained) under `epoch`; on failure stops the worker and
/// returns nothing.
fn run_chain(chain: &mut dyn Chain, ctx: &WorkerContext, epoch: u64, items: &mut Vec<Item>) -> Vec<Item> {
    let mut out = Vec::with_capacity(items.len());
    if let Err(e) = chain.process(epoch, items, &mut out) {
        ctx.fail(e);
        items.clear();
        out.clear();
    }
    out
}

/// Splits `(key, value)` items for the stateful step after it.
pub fn key_by_operator<'s>(
    stream: Stream<'s, u64, Vec<Item>>,
    name: &str,
    mut key_by: Box<dyn KeyBy>,
    ctx: Rc<WorkerContext>,
) -> Stream<'s, u64, Vec<KeyedItem>> {
    stream.unary(Pipeline, name, move |_cap, _info| {
        move |input, output| {
            input.for_each(|cap, data| {
                if ctx.stopped() {
                    data.clear();
                    return;
                }
                let mut out = Vec::with_capacity(data.len());
                if let Err(e) = key_by.key_by(data, &mut out) {
                    ctx.fail(e);
                    return;
                }
                if let Some(c) = cap.retain_least(output.output_index()) {
                    output.session(&c).give_container(&mut out);
                }
            });
        }
    })
}

/// Writes each batch to a [`Sink`] and passes it on, so outputs can be chained as in 0.16.
/// With recovery (`log`), the sink's parts are snapshotted once each epoch they wrote in
/// is over.
pub fn output_operator<'s>(
    stream: Stream<'s, u64, Vec<Item>>,
    name: &str,
    step_id: &str,
    mut sink: Box<dyn Sink>,
    ctx: Rc<WorkerContext>,
    log: Option<Rc<SnapshotLog>>,
) -> Stream<'s, u64, Vec<Item>> {
    let step_id = step_id.to_owned();
    stream.unary_frontier(Pipeline, name, move |_cap, _info| {
        let mut closed = false;
        // The epoch of writes not snapshotted yet.
        let mut written: Option<u64> = None;
        let save = move |sink: &mut Box<dyn Sink>, written: &mut Option<u64>, before: Option<u64>| -> Result<(), StepError> {
            let (Some(log), Some(epoch)) = (&log, *written) else { return Ok(()) };
            if before.is_some_and(|b| b <= epoch) {
                return Ok(());
            }
            log.record_changes(&step_id, epoch, &sink.snapshot()?);
            *written = None;
            Ok(())
        };
        move |(input, frontier), output| {
            input.for_each(|cap, data| {
                if ctx.stopped() {
                    data.clear();
                    return;
                }
                let Some(epoch) = cap.least().copied() else { return };
                let wrote = save(&mut sink, &mut written, Some(epoch)).and_then(|()| sink.write(epoch, data));
                if let Err(e) = wrote {
                    ctx.fail(e);
                    data.clear();
                    return;
                }
                written = Some(written.map_or(epoch, |w| w.max(epoch)));
                if let Some(c) = cap.retain_least(output.output_index()) {
                    output.session(&c).give_container(data);
                }
            });
            if ctx.stopped() {
                return;
            }
            let front = frontier.frontier().iter().min().copied();
            if let Err(e) = save(&mut sink, &mut written, front) {
                ctx.fail(e);
                return;
            }
            if front.is_none() && !closed {
                closed = true;
                if let Err(e) = sink.close() {
                    ctx.fail(e);
                }
            }
        }
    })
}
