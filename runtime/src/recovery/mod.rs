//! Recovery: epoch snapshots in SQLite, resume after a crash, rescale on resume.
//!
//! Every worker writes `worker{i}.sqlite3` in the recovery directory (see [`store`]). When
//! an epoch closes, each stateful step, input partition and partitioned-output part hands
//! the state of what changed in it to the worker's [`SnapshotLog`]; once every operator of
//! the worker is past the epoch, the commit operator ([`commit`]) writes the log and the
//! worker's progress in one transaction.
//!
//! On start ([`load`]) the workers agree on the resume epoch (the lowest epoch some worker
//! of the last execution had not committed), forget rows from it on, and read the newest
//! row of each key before it from every file, sending each row to the worker that owns its
//! key now. So any number of workers can resume a store written by any other number.

pub mod changes;
pub mod commit;
pub mod entries;
pub mod format;
pub mod load;
pub mod resume;
pub mod store;
pub mod writer;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use changes::ChangeWriter;
pub use commit::commit_operator;
pub use format::{decode, decode_bytes, encode, encode_bytes, try_encode, FORMAT_VERSION};
pub use load::{load, Resume};
pub use resume::{resume_point, ResumePoint};
pub use store::{SqliteRecoveryStore, StoreError};

/// Where a run keeps its recovery data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// The directory of the workers' SQLite files; it must exist.
    pub db_dir: PathBuf,
}

/// The start of one execution (one run or resumed run) on one worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionRow {
    /// Counts up from 0 with every (re)start.
    pub execution: u64,
    /// The worker.
    pub worker: usize,
    /// Workers in that execution.
    pub worker_count: usize,
    /// The epoch it started at.
    pub resume_epoch: u64,
}

/// The progress of a worker whose dataflow ran to its end.
pub const FINISHED: u64 = i64::MAX as u64;

/// A worker's committed progress in one execution: every epoch below `frontier` is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressRow {
    /// The execution.
    pub execution: u64,
    /// The worker.
    pub worker: usize,
    /// The first epoch not committed.
    pub frontier: u64,
}

/// One key's state at the end of an epoch; `None` when the key no longer has any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateRow {
    /// The stateful step, input or output the state belongs to.
    pub step_id: String,
    /// The key, input partition or output part.
    pub key: String,
    /// The epoch whose end the state is from.
    pub epoch: u64,
    /// The state, or `None` for "gone".
    pub snapshot: Option<Vec<u8>>,
}

/// One key's change, as a step reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    /// The key, input partition or output part.
    pub key: String,
    /// Its state now, or `None` if it has none any more.
    pub snapshot: Option<Vec<u8>>,
}

/// The changes one step reported at the end of one epoch, encoded by a [`ChangeWriter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochChanges {
    /// The stateful step, input or output.
    pub step_id: String,
    /// The epoch they are the end of.
    pub epoch: u64,
    /// How many keys changed.
    pub count: u32,
    /// The encoded changes.
    pub encoded: Vec<u8>,
}

/// Snapshots a worker's operators have taken and the commit operator has not written yet.
#[derive(Default)]
pub struct SnapshotLog {
    batches: RefCell<Vec<EpochChanges>>,
}

impl SnapshotLog {
    /// Adds what `writer` collected for `step_id`.
    pub fn record(&self, step_id: &str, writer: ChangeWriter) {
        let (epoch, count, encoded) = writer.finish();
        if count > 0 {
            self.batches.borrow_mut().push(EpochChanges { step_id: step_id.to_owned(), epoch, count, encoded });
        }
    }

    /// Adds the changes a source or sink reported for `step_id` at the end of `epoch`.
    pub fn record_changes(&self, step_id: &str, epoch: u64, changes: &[KeyChange]) {
        let mut writer = ChangeWriter::new(epoch);
        for change in changes {
            writer.change(change);
        }
        self.record(step_id, writer);
    }

    /// Takes the changes of epochs before `frontier` (all of them when `None`).
    pub fn take_before(&self, frontier: Option<u64>) -> Vec<EpochChanges> {
        let mut batches = self.batches.borrow_mut();
        match frontier {
            None => std::mem::take(&mut *batches),
            Some(f) => {
                let (done, later): (Vec<_>, Vec<_>) = batches.drain(..).partition(|b| b.epoch < f);
                *batches = later;
                done
            }
        }
    }
}

/// The restored state of each step, by step id then key, as [`load`] hands it to a worker.
pub type RestoredState = HashMap<String, Vec<(String, Vec<u8>)>>;

/// Keys touched since the last snapshot, tracked only when recovery is on.
#[derive(Debug, Default)]
pub struct ChangedKeys {
    on: bool,
    keys: std::collections::HashSet<String, foldhash::fast::RandomState>,
}

impl ChangedKeys {
    /// Starts tracking.
    pub fn enable(&mut self) {
        self.on = true;
    }

    /// Whether tracking is on.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Notes that `key` changed.
    pub fn note(&mut self, key: &str) {
        if self.on && !self.keys.contains(key) {
            self.keys.insert(key.to_owned());
        }
    }

    /// The keys noted since the last call.
    pub fn take(&mut self) -> Vec<String> {
        self.keys.drain().collect()
    }
}
