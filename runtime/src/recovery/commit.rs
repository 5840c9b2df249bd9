//! The commit operator: once every leaf of a worker's dataflow is past an epoch, it writes
//! the worker's snapshots of that epoch and its progress in one transaction. It holds its
//! capability until the write is done, so the probe after it (which paces the inputs) only
//! passes an epoch when every worker has committed it.

use std::rc::Rc;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Concatenate;
use timely::dataflow::{ProbeHandle, Scope, Stream};

use super::{ProgressRow, SnapshotLog, SqliteRecoveryStore, FINISHED};
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
    mut committer: Committer,
    ctx: Rc<WorkerContext>,
) -> Stream<'s, u64, Vec<()>> {
    let all = scope.concatenate(leaves);
    all.unary_frontier::<timely::container::CapacityContainerBuilder<Vec<()>>, _, _, _>(Pipeline, "recovery commit", move |init_cap, _info| {
        let mut cap = Some(init_cap);
        let mut committed: u64 = 0;
        move |(input, frontier), _output| {
            input.for_each(|_, data| data.clear());
            let Some(c) = cap.as_mut() else { return };
            if ctx.stopped() {
                cap = None;
                return;
            }
            let front = frontier.frontier().iter().min().copied();
            if front.is_some_and(|f| f <= committed) {
                return;
            }
            let rows = committer.log.take_before(front);
            // At the end this worker cannot know the last epoch other workers used (it may
            // never have seen it in its frontier), so it records "finished" and the next
            // start works out where to continue from the stored rows.
            let frontier = front.unwrap_or(FINISHED);
            let progress = ProgressRow { execution: committer.execution, worker: committer.worker, frontier };
            // Whatever the probe is past, every worker has committed: no resume goes below it.
            let last = rows.iter().map(|r| r.epoch + 1).max().unwrap_or(0).max(committed);
            let safe = committer.probe.with_frontier(|f| f.iter().min().copied()).unwrap_or(last).min(front.unwrap_or(last));
            let written = committer.store.commit(Some(&progress), &rows).and_then(|()| committer.store.compact_if_due(safe));
            if let Err(e) = written {
                ctx.fail(StepError::message("recovery", "recovery store", e.0));
                cap = None;
                return;
            }
            committed = frontier;
            match front {
                Some(f) => c.downgrade(&f),
                None => cap = None,
            }
        }
    })
}

