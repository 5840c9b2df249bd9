//! The commit operator: once every leaf of a worker's dataflow is past an epoch, it writes
//! the worker's snapshots of that epoch and its progress in one transaction. It holds its
//! capability until the write is done, so the probe after it (which paces the inputs) only
//! passes an epoch when every worker has committed it. The write itself runs on the
//! worker's recovery thread ([`super::writer`]), so the worker goes on meanwhile.

use std::rc::Rc;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Concatenate;
use timely::dataflow::{ProbeHandle, Scope, Stream};

use super::writer::{CommitJob, StoreWriter};
use super::{ProgressRow, SnapshotLog, SqliteRecoveryStore, StoreError, FINISHED};
use crate::engine::WorkerContext;
use crate::error::StepError;
use crate::item::Item;

/// What the commit operator needs from the run.
pub struct Committer {
    /// This worker's own file.
    pub store: SqliteRecoveryStore,
    /// The execution being run.
    pub execution: u64,
    /// This worker.
    pub worker: usize,
    /// Snapshots the operators took.
    pub log: Rc<SnapshotLog>,
    /// The probe after this operator: whatever it is past, every worker has committed.
    pub probe: ProbeHandle<u64>,
}

/// Builds the commit operator over the dataflow's `leaves` (streams nothing reads).
pub fn commit_operator<'s>(
    scope: Scope<'s, u64>,
    leaves: Vec<Stream<'s, u64, Vec<Item>>>,
    committer: Committer,
    ctx: Rc<WorkerContext>,
) -> Stream<'s, u64, Vec<()>> {
    let all = scope.concatenate(leaves);
    let Committer { store, execution, worker, log, probe } = committer;
    all.unary_frontier::<timely::container::CapacityContainerBuilder<Vec<()>>, _, _, _>(Pipeline, "recovery commit", move |init_cap, info| {
        let wake = scope.worker().sync_activator_for(info.address.to_vec());
        let writer = StoreWriter::spawn(store, wake);
        let mut cap = Some(init_cap);
        let mut committed: u64 = 0;
        // The frontier a job sent to the writer will record; one job at a time.
        let mut in_flight: Option<u64> = None;
        move |(input, frontier), _output| {
            input.for_each(|_, data| data.clear());
            let Some(c) = cap.as_mut() else { return };
            let fail = |e: &StoreError, cap: &mut Option<_>| {
                ctx.fail(StepError::message("recovery", "recovery store", e.0.clone()));
                *cap = None;
            };
            let w = match &writer {
                Ok(w) => w,
                Err(e) => return fail(e, &mut cap),
            };
            if ctx.stopped() {
                cap = None;
                return;
            }
            if in_flight.is_some() {
                match w.finished() {
                    None => return,
                    Some(Err(e)) => return fail(&e, &mut cap),
                    Some(Ok(done)) => {
                        in_flight = None;
                        committed = done;
                        if done == FINISHED {
                            cap = None;
                            return;
                        }
                        c.downgrade(&done);
                    }
                }
            }
            let front = frontier.frontier().iter().min().copied();
            if front.is_some_and(|f| f <= committed) {
                return;
            }
            let rows = log.take_before(front);
            // At the end this worker cannot know the last epoch other workers used (it may
            // never have seen it in its frontier), so it records "finished" and the next
            // start works out where to continue from the stored rows.
            let frontier = front.unwrap_or(FINISHED);
            let progress = ProgressRow { execution, worker, frontier };
            // Whatever the probe is past, every worker has committed: no resume goes below it.
            let last = rows.iter().map(|r| r.epoch + 1).max().unwrap_or(0).max(committed);
            let safe = probe.with_frontier(|f| f.iter().min().copied()).unwrap_or(last).min(front.unwrap_or(last));
            match w.send(CommitJob { progress, rows, safe }) {
                Ok(()) => in_flight = Some(frontier),
                Err(e) => fail(&e, &mut cap),
            }
        }
    })
}
