//! The `input` operator: polls a source in batches and stamps items with the current epoch;
//! with recovery, it snapshots the source's partitions as each epoch closes.

use std::rc::Rc;
use std::time::{Duration, Instant};

use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::{ProbeHandle, Scope, Stream};

use super::context::WorkerContext;
use super::host::{Poll, Source};
use crate::error::StepError;
use crate::item::Item;
use crate::recovery::SnapshotLog;

/// Items taken from a source per activation: big enough to amortise a GIL acquisition,
/// small enough to keep latency and memory low.
pub const SOURCE_BATCH: usize = 1024;

/// Polls of a source per activation at most, while it has items ready, when the chain
/// after the input gathers batches. Other flows poll once, so the steps after an input see
/// each batch as soon as it is read.
pub const POLLS_PER_ACTIVATION: usize = 32;

/// How long an idle source waits before the next poll.
const IDLE_COOLDOWN: Duration = Duration::from_millis(1);

/// When an input's epochs advance.
pub struct Epochs {
    /// The first epoch (a resumed run goes on from where the last one stopped).
    pub start: u64,
    /// Wall time per epoch. Zero means an epoch per item, as tests of 0.16 flows expect.
    pub interval: Duration,
    /// Everything of earlier epochs has left the dataflow once this probe is past them.
    pub probe: ProbeHandle<u64>,
}

/// Builds the operator. The epoch advances once `epochs.interval` has passed; the input
/// then waits until everything of the epochs before the one just closed has left the
/// dataflow, which bounds how far it runs ahead (two epochs in flight at most). Each
/// activation polls up to `polls` times while the source has items ready. `log` is set when
/// recovery is on.
pub fn input_operator<'s>(
    scope: Scope<'s, u64>,
    step_id: &str,
    mut src: Box<dyn Source>,
    ctx: Rc<WorkerContext>,
    epochs: Epochs,
    polls: usize,
    log: Option<Rc<SnapshotLog>>,
) -> Stream<'s, u64, Vec<Item>> {
    let step_id = step_id.to_owned();
    let Epochs { start, interval, probe } = epochs;
    let batch_size = if interval.is_zero() { 1 } else { src.batch_size() };
    let polls_per_activation = if interval.is_zero() { 1 } else { polls.max(1) };
    // With timed epochs the input reads on while the epoch before is being committed, so a
    // worker never idles on its recovery writes; an epoch per item drains each one first.
    let lag = if interval.is_zero() { 0 } else { 1 };
    source(scope, &format!("input {step_id}"), move |mut cap, info| {
        let activator = scope.activator_for(info.address);
        cap.downgrade(&start);
        let mut cap = Some(cap);
        let mut epoch: u64 = start;
        let mut epoch_start = Instant::now();
        let snapshot = move |src: &mut Box<dyn Source>, epoch: u64| -> Result<(), StepError> {
            if let Some(log) = &log {
                log.record_changes(&step_id, epoch, &src.snapshot()?);
            }
            Ok(())
        };
        move |output| {
            let Some(c) = cap.as_mut() else { return };
            if ctx.stopped() {
                cap = None;
                return;
            }
            if probe.less_than(&epoch.saturating_sub(lag)) {
                // Earlier epochs are still in flight: let them drain first.
                activator.activate_after(IDLE_COOLDOWN);
                return;
            }
            // Several polls per activation while the source has more: the steps after it
            // then get several batches at once, which a gathering chain (one combining
            // pairs per key) runs as one.
            let mut polled;
            let mut polls = 0;
            loop {
                let mut batch = Vec::with_capacity(batch_size);
                polled = src.poll(&mut batch, batch_size);
                polls += 1;
                if !batch.is_empty() {
                    output.session(&*c).give_container(&mut batch);
                }
                if epoch_start.elapsed() >= interval && !matches!(polled, Ok(Poll::Done)) {
                    // Close this epoch; the next poll waits until it has drained.
                    if let Err(e) = snapshot(&mut src, epoch) {
                        ctx.fail(e);
                        cap = None;
                        return;
                    }
                    epoch += 1;
                    c.downgrade(&epoch);
                    epoch_start = Instant::now();
                    break;
                }
                if polls == polls_per_activation || !matches!(polled, Ok(Poll::Ready)) {
                    break;
                }
            }
            match polled {
                Ok(Poll::Ready) => activator.activate(),
                Ok(Poll::Idle) => activator.activate_after(IDLE_COOLDOWN),
                Ok(Poll::Done) => {
                    // The final positions belong to the epoch the last items went out in.
                    if let Err(e) = snapshot(&mut src, epoch).and_then(|()| src.close()) {
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
