//! Operators without keyed state: a fused chain of stateless steps, key splitting, outputs.

use std::rc::Rc;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::Stream;

use super::context::WorkerContext;
use super::host::{Chain, KeyBy, Sink};
use crate::item::{Item, KeyedItem};

/// Runs a [`Chain`] over each batch, under the batch's epoch.
pub fn chain_operator<'s>(
    stream: Stream<'s, u64, Vec<Item>>,
    name: &str,
    mut chain: Box<dyn Chain>,
    ctx: Rc<WorkerContext>,
) -> Stream<'s, u64, Vec<Item>> {
    stream.unary(Pipeline, name, move |_cap, _info| {
        move |input, output| {
            input.for_each(|cap, data| {
                if ctx.stopped() {
                    data.clear();
                    return;
                }
                let Some(epoch) = cap.least().copied() else { return };
                let mut out = Vec::with_capacity(data.len());
                if let Err(e) = chain.process(epoch, data, &mut out) {
                    ctx.fail(e);
                    return;
                }
                if !out.is_empty() {
                    if let Some(c) = cap.retain_least(output.output_index()) {
                        output.session(&c).give_container(&mut out);
                    }
                }
            });
        }
    })
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
pub fn output_operator<'s>(
    stream: Stream<'s, u64, Vec<Item>>,
    name: &str,
    mut sink: Box<dyn Sink>,
    ctx: Rc<WorkerContext>,
) -> Stream<'s, u64, Vec<Item>> {
    stream.unary_frontier(Pipeline, name, move |_cap, _info| {
        let mut closed = false;
        move |(input, frontier), output| {
            input.for_each(|cap, data| {
                if ctx.stopped() {
                    data.clear();
                    return;
                }
                let Some(epoch) = cap.least().copied() else { return };
                if let Err(e) = sink.write(epoch, data) {
                    ctx.fail(e);
                    data.clear();
                    return;
                }
                if let Some(c) = cap.retain_least(output.output_index()) {
                    output.session(&c).give_container(data);
                }
            });
            if frontier.is_empty() && !closed {
                closed = true;
                if !ctx.stopped() {
                    if let Err(e) = sink.close() {
                        ctx.fail(e);
                    }
                }
            }
        }
    })
}
