//! Starting with recovery: the workers agree where to resume, and each gets the newest
//! snapshot of every key it owns now, whichever worker's file it is in.
//!
//! Worker `w` of `n` reads its own file and every older file `worker{i}` with
//! `i % n == w` (left by a run with more workers), so every file is read by exactly one
//! worker. Each phase is a small timely dataflow run to completion before the next.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::{Exchange, Input, Inspect};
use timely::worker::Worker;

use super::entries::newest;
use super::store::{worker_file, worker_files};
use super::{resume_point, ExecutionRow, ProgressRow, RecoveryConfig, RestoredState, SqliteRecoveryStore, StateRow, StoreError};
use crate::engine::{owner, route_hash};

/// What a worker resumes with.
pub struct Resume {
    /// This run's execution number.
    pub execution: u64,
    /// The first epoch of this run.
    pub epoch: u64,
    /// The newest snapshot of every key this worker owns, by step id.
    pub state: RestoredState,
    /// This worker's own file, for the commit operator.
    pub store: SqliteRecoveryStore,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Meta {
    Execution(ExecutionRow),
    Progress(ProgressRow),
    /// A worker found files of workers that no longer exist.
    Leftovers,
    /// The newest epoch of the state in a file.
    NewestEpoch(u64),
}

/// Runs the start-up phases on this worker.
pub fn load(worker: &mut Worker, config: &RecoveryConfig) -> Result<Resume, StoreError> {
    let (me, count) = (worker.index(), worker.peers());
    let dir = config.db_dir.as_path();
    if !dir.is_dir() {
        return Err(StoreError(format!("the recovery directory {} does not exist; create it first", dir.display())));
    }
    let mut own = SqliteRecoveryStore::open(dir, me)?;
    let mut others: Vec<(usize, SqliteRecoveryStore)> = Vec::new();
    for i in worker_files(dir)? {
        if i >= count && i % count == me {
            others.push((i, SqliteRecoveryStore::open(dir, i)?));
        }
    }

    let mut meta = Vec::new();
    if !others.is_empty() {
        meta.push(Meta::Leftovers);
    }
    for store in std::iter::once(&own).chain(others.iter().map(|(_, s)| s)) {
        meta.extend(store.executions()?.into_iter().map(Meta::Execution));
        meta.extend(store.progress()?.into_iter().map(Meta::Progress));
        meta.extend(store.newest_epoch()?.map(Meta::NewestEpoch));
    }
    let everyone = share(worker, meta, |stream| stream.broadcast());
    let (mut executions, mut progress, mut leftovers, mut newest_epoch) = (Vec::new(), Vec::new(), false, None);
    for m in everyone {
        match m {
            Meta::Execution(e) => executions.push(e),
            Meta::Progress(p) => progress.push(p),
            Meta::Leftovers => leftovers = true,
            Meta::NewestEpoch(e) => newest_epoch = newest_epoch.max(Some(e)),
        }
    }
    let point = resume_point(&executions, &progress, newest_epoch);

    // Rows from the resume epoch on belong to an epoch that is done again now.
    let mut rows = Vec::new();
    for store in std::iter::once(&mut own).chain(others.iter_mut().map(|(_, s)| s)) {
        store.forget_from(point.epoch)?;
        rows.extend(store.latest_before(point.epoch)?);
    }
    let mine = share(worker, rows, |stream| stream.exchange(|row: &StateRow| route_hash(&row.key)));
    let newest = newest(mine);

    if point.previous_workers.is_some_and(|n| n != count) || leftovers {
        rehome(worker, dir, &mut own, others, &newest, point.epoch)?;
    }
    own.begin_execution(&ExecutionRow { execution: point.execution, worker: me, worker_count: count, resume_epoch: point.epoch })?;

    let mut state: RestoredState = HashMap::new();
    for row in newest {
        if let Some(snapshot) = row.snapshot {
            state.entry(row.step_id).or_default().push((row.key, snapshot));
        }
    }
    Ok(Resume { execution: point.execution, epoch: point.epoch, state, store: own })
}

/// After a change of worker count, moves every key's rows to its owner's file: the owner
/// writes the newest row of each key it now owns (tombstones too, so an older row left in
/// its file cannot come back), all workers wait for one another, then every worker deletes
/// the rows of keys it does not own from the files it reads, and removes files no worker
/// writes any more. A crash part-way leaves duplicates only, and the next start redoes it.
fn rehome(
    worker: &mut Worker,
    dir: &Path,
    own: &mut SqliteRecoveryStore,
    others: Vec<(usize, SqliteRecoveryStore)>,
    newest: &[StateRow],
    resume: u64,
) -> Result<(), StoreError> {
    let (me, count) = (worker.index(), worker.peers());
    own.write_rows(newest)?;
    share(worker, vec![()], |stream| stream.broadcast());
    own.forget_keys_not(resume, |key| owner(key, count) == me)?;
    for (i, store) in others {
        drop(store);
        let file = worker_file(dir, i);
        for path in [file.clone(), file.with_extension("sqlite3-wal"), file.with_extension("sqlite3-shm")] {
            if let Err(e) = std::fs::remove_file(&path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    return Err(StoreError(format!("cannot remove the old recovery file {}: {e}", path.display())));
                }
            }
        }
    }
    share(worker, vec![()], |stream| stream.broadcast());
    Ok(())
}

/// Sends `data` through `route` in a dataflow of its own and returns what reached this
/// worker once every worker has sent everything.
fn share<D, F>(worker: &mut Worker, data: Vec<D>, route: F) -> Vec<D>
where
    D: timely::ExchangeData + Clone,
    F: for<'s> FnOnce(timely::dataflow::Stream<'s, u64, Vec<D>>) -> timely::dataflow::Stream<'s, u64, Vec<D>>,
{
    let got: Rc<RefCell<Vec<D>>> = Rc::new(RefCell::new(Vec::new()));
    let id = worker.next_dataflow_index();
    let mut input = worker.dataflow::<u64, _, _>(|scope| {
        let (input, stream) = scope.new_input::<Vec<D>>();
        let got = got.clone();
        route(stream).inspect_core(move |event| {
            if let Ok((_, data)) = event {
                got.borrow_mut().extend(data.iter().cloned());
            }
        });
        input
    });
    for d in data {
        input.send(d);
    }
    drop(input);
    while worker.installed_dataflows().contains(&id) {
        worker.step_or_park(Some(std::time::Duration::from_millis(5)));
    }
    Rc::try_unwrap(got).map(RefCell::into_inner).unwrap_or_else(|rc| rc.borrow_mut().drain(..).collect())
}
