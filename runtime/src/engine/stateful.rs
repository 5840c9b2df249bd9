//! The operator every stateful step runs on: routes items by key, applies epochs in order,
//! wakes its logic on timers, flushes it at end of input, and (with recovery) snapshots the
//! keys each epoch changed once the epoch is over.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Instant;

use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

use super::context::WorkerContext;
use super::host::KeyedLogic;
use super::exchange::keyed_pact;
use crate::error::StepError;
use crate::item::{Item, KeyedItem};
use crate::recovery::{ChangeWriter, SnapshotLog};

/// Where a stateful step's snapshots go, and the epoch its unsaved changes belong to.
struct Snapshots {
    step_id: String,
    log: Rc<SnapshotLog>,
    dirty: Option<u64>,
}

impl Snapshots {
    /// Saves the changes of an epoch that is over (`before` is past it, or the input ended).
    fn save_if_over(&mut self, logic: &mut dyn KeyedLogic, before: Option<u64>) -> Result<(), StepError> {
        let Some(epoch) = self.dirty else { return Ok(()) };
        if before.is_some_and(|b| b <= epoch) {
            return Ok(());
        }
        let mut changes = ChangeWriter::new(epoch);
        logic.snapshot(&mut changes)?;
        self.log.record(&self.step_id, changes);
        self.dirty = None;
        Ok(())
    }

    /// Notes that the logic is about to change state in `epoch`, saving an earlier epoch's
    /// changes first (an epoch only starts once every earlier one is over).
    fn changing(&mut self, logic: &mut dyn KeyedLogic, epoch: u64) -> Result<(), StepError> {
        self.save_if_over(logic, Some(epoch))?;
        self.dirty = Some(self.dirty.map_or(epoch, |d| d.max(epoch)));
        Ok(())
    }
}

/// Builds the operator for one stateful step; `log` is set when recovery is on.
pub fn stateful_operator<'s>(
    stream: Stream<'s, u64, Vec<KeyedItem>>,
    name: &str,
    step_id: &str,
    mut logic: Box<dyn KeyedLogic>,
    ctx: Rc<WorkerContext>,
    log: Option<Rc<SnapshotLog>>,
) -> Stream<'s, u64, Vec<Item>> {
    let scope = stream.scope();
    let pact = keyed_pact();
    let mut snapshots = log.map(|log| Snapshots { step_id: step_id.to_owned(), log, dirty: None });
    stream.unary_frontier::<CapacityContainerBuilder<Vec<Item>>, _, _, _>(pact, name, move |init_cap, info| {
        let activator = scope.activator_for(info.address);
        // Items that arrived before their epoch's turn, in epoch order, as they came: in
        // batches of up to ARRIVAL_BATCH items (small arrivals are joined, big ones kept whole).
        let mut pending: BTreeMap<u64, Vec<Vec<KeyedItem>>> = BTreeMap::new();
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
                    keep_arrival(pending.entry(*t).or_default(), data);
                }
            });
            let Some(mut cap) = held.take() else { return };
            if ctx.stopped() {
                pending.clear();
                return;
            }
            let front = frontier.frontier().iter().min().copied();
            let mut out = Vec::new();
            let result = (|| -> Result<(), StepError> {
                // The frontier's epoch is processed eagerly (as 0.16 does); later ones wait.
                while let Some(entry) = pending.first_entry() {
                    let epoch = *entry.key();
                    if front.is_some_and(|f| epoch > f) {
                        break;
                    }
                    let batches = entry.remove();
                    if epoch > *cap.time() {
                        cap.downgrade(&epoch);
                    }
                    if let Some(s) = snapshots.as_mut() {
                        s.changing(&mut *logic, epoch)?;
                    }
                    for mut items in batches {
                        let done = logic.on_items(epoch, &mut items, &mut out);
                        flush(output, &cap, &mut out);
                        done?;
                    }
                }
                if logic.next_wake().is_some_and(|w| w <= Instant::now()) {
                    if let Some(s) = snapshots.as_mut() {
                        s.changing(&mut *logic, *cap.time())?;
                    }
                    let done = logic.on_wake(&mut out);
                    flush(output, &cap, &mut out);
                    done?;
                }
                if front.is_none() {
                    // End of input: whatever was buffered was processed above.
                    if let Some(s) = snapshots.as_mut() {
                        s.changing(&mut *logic, *cap.time())?;
                    }
                    let done = logic.on_eof(&mut out);
                    flush(output, &cap, &mut out);
                    done?;
                }
                if let Some(s) = snapshots.as_mut() {
                    s.save_if_over(&mut *logic, front)?;
                }
                Ok(())
            })();
            if let Err(e) = result {
                ctx.fail(e);
                return;
            }
            if let Some(f) = front {
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
        }
    })
}

/// Arrivals smaller than this are joined into the batch before them.
const ARRIVAL_BATCH: usize = 4096;

/// Adds an arrival to an epoch's `batches`, taking its items: a small one is appended to
/// the last batch while that stays under [`ARRIVAL_BATCH`], anything else is kept as it came
/// (moved, not copied). Items keep their arrival order.
fn keep_arrival(batches: &mut Vec<Vec<KeyedItem>>, data: &mut Vec<KeyedItem>) {
    if data.is_empty() {
        return;
    }
    match batches.last_mut() {
        Some(last) if last.len() + data.len() <= ARRIVAL_BATCH => last.append(data),
        _ => batches.push(std::mem::take(data)),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(from: usize, n: usize) -> Vec<KeyedItem> {
        (from..from + n).map(|i| KeyedItem::new(i.to_string(), Item::Str(String::new()))).collect()
    }

    #[test]
    fn arrivals_are_kept_in_order_small_ones_joined() {
        let mut batches = Vec::new();
        let mut next = 0;
        for n in [10, 20, 0, ARRIVAL_BATCH, 5, ARRIVAL_BATCH - 5, 1] {
            let mut data = arrival(next, n);
            next += n;
            keep_arrival(&mut batches, &mut data);
            assert!(data.is_empty());
        }
        let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![30, ARRIVAL_BATCH, ARRIVAL_BATCH, 1]);
        let keys: Vec<String> = batches.into_iter().flatten().map(|i| i.key).collect();
        let expected: Vec<String> = (0..next).map(|i| i.to_string()).collect();
        assert_eq!(keys, expected);
    }
}
