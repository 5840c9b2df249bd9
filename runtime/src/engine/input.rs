//! The `input` operator: polls a source in batches and stamps items with the current epoch.

use std::rc::Rc;
use std::time::{Duration, Instant};

use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::{ProbeHandle, Scope, Stream};

use super::context::WorkerContext;
use super::host::{Poll, Source};
use crate::item::Item;

/// Items taken from a source per activation: big enough to amortise a GIL acquisition,
/// small enough to keep latency and memory low.
pub const SOURCE_BATCH: usize = 1024;

/// How long an idle source waits before the next poll.
const IDLE_COOLDOWN: Duration = Duration::from_millis(1);

/// Builds the operator. The epoch advances once `epoch_interval` has passed and everything
/// of earlier epochs has left the dataflow (`probe`), which also bounds how far input runs ahead.
pub fn input_operator<'s>(
    scope: Scope<'s, u64>,
    step_id: &str,
    mut src: Box<dyn Source>,
    ctx: Rc<WorkerContext>,
    probe: ProbeHandle<u64>,
    epoch_interval: Duration,
) -> Stream<'s, u64, Vec<Item>> {
    source(scope, &format!("input {step_id}"), move |cap, info| {
        let activator = scope.activator_for(info.address);
        let mut cap = Some(cap);
        let mut epoch: u64 = 0;
        let mut epoch_start = Instant::now();
        move |output| {
            let Some(c) = cap.as_mut() else { return };
            if ctx.stopped() {
                cap = None;
                return;
            }
            if probe.less_than(&epoch) {
                // Earlier epochs are still in flight: let them drain first.
                activator.activate_after(IDLE_COOLDOWN);
                return;
            }
            let mut batch = Vec::with_capacity(SOURCE_BATCH);
            let polled = src.poll(&mut batch, SOURCE_BATCH);
            if !batch.is_empty() {
                output.session(&*c).give_container(&mut batch);
            }
            if epoch_start.elapsed() >= epoch_interval {
                // Close this epoch; the next poll waits until it has drained.
                epoch += 1;
                c.downgrade(&epoch);
                epoch_start = Instant::now();
            }
            match polled {
                Ok(Poll::Ready) => activator.activate(),
                Ok(Poll::Idle) => activator.activate_after(IDLE_COOLDOWN),
                Ok(Poll::Done) => {
                    if let Err(e) = src.close() {
                        ctx.fail(e);
                    }
                    cap = None;
                }
                Err(e) => {
                    ctx.fail(e);
                    cap = None;
                }
            }
        }
    })
}
