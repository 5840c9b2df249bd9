//! The operator every stateful step runs on: routes items by key, applies epochs in order,
//! wakes its logic on timers, and flushes it at end of input.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Instant;

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::Stream;

use super::context::WorkerContext;
use super::host::KeyedLogic;
use super::route::route_hash;
use crate::item::{Item, KeyedItem};

/// Builds the operator for one stateful step.
pub fn stateful_operator<'s>(
    stream: Stream<'s, u64, Vec<KeyedItem>>,
    name: &str,
    mut logic: Box<dyn KeyedLogic>,
    ctx: Rc<WorkerContext>,
) -> Stream<'s, u64, Vec<Item>> {
    let scope = stream.scope();
    let pact = Exchange::new(|item: &KeyedItem| route_hash(&item.key));
    stream.unary_frontier::<CapacityContainerBuilder<Vec<Item>>, _, _, _>(pact, name, move |init_cap, info| {
        let activator = scope.activator_for(info.address);
        // Items that arrived before their epoch's turn, in epoch order.
        let mut pending: BTreeMap<u64, Vec<KeyedItem>> = BTreeMap::new();
        // Held at the input frontier so timers and end of input can still emit.
        let mut held: Option<Capability<u64>> = Some(init_cap);
        let mut scheduled: Option<Instant> = None;
        move |(input, frontier), output| {
            input.for_each(|cap, data| {
                if ctx.stopped() {
                    data.clear();
                    return;
                }
                if let Some(t) = cap.least() {
                    pending.entry(*t).or_default().append(data);
                }
            });
            let Some(mut cap) = held.take() else { return };
            if ctx.stopped() {
                pending.clear();
                return;
            }
            let front = frontier.frontier().iter().min().copied();
            let mut out = Vec::new();
            let mut result = Ok(());
            // The frontier's epoch is processed eagerly (as 0.16 does); later ones wait.
            while let Some(entry) = pending.first_entry() {
                let epoch = *entry.key();
                if front.is_some_and(|f| epoch > f) {
                    break;
                }
                let mut items = entry.remove();
                if epoch > *cap.time() {
                    cap.downgrade(&epoch);
                }
                result = logic.on_items(epoch, &mut items, &mut out);
                flush(output, &cap, &mut out);
                if result.is_err() {
                    break;
                }
            }
            if result.is_ok() && logic.next_wake().is_some_and(|w| w <= Instant::now()) {
                result = logic.on_wake(&mut out);
                flush(output, &cap, &mut out);
            }
            if let Err(e) = result {
                ctx.fail(e);
                return;
            }
            match front {
                Some(f) => {
                    if f > *cap.time() {
                        cap.downgrade(&f);
                    }
                    held = Some(cap);
                    if let Some(wake) = logic.next_wake() {
                        if scheduled != Some(wake) {
                            scheduled = Some(wake);
                            activator.activate_after(wake.saturating_duration_since(Instant::now()));
                        }
                    }
                }
                None => {
                    // End of input: whatever was buffered was processed above; flush and let go.
                    if let Err(e) = logic.on_eof(&mut out) {
                        ctx.fail(e);
                    }
                    flush(output, &cap, &mut out);
                }
            }
        }
    })
}

fn flush(
    output: &mut timely::dataflow::operators::generic::OutputBuilderSession<'_, u64, CapacityContainerBuilder<Vec<Item>>>,
    cap: &Capability<u64>,
    out: &mut Vec<Item>,
) {
    if !out.is_empty() {
        output.session(cap).give_container(out);
        out.clear();
    }
}
