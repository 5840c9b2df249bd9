//! A thread of its own for a worker's recovery file: commits and compactions run there, so
//! the worker thread goes on processing the next epoch while SQLite writes the last one.
//!
//! The file is held with an exclusive lock, so it has one connection, and that connection
//! moves to this thread once the start-up (see [`super::load`]) is done with it.

use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;

use timely::scheduling::SyncActivator;

use super::{EpochChanges, ProgressRow, SqliteRecoveryStore, StoreError};

/// One epoch range to make durable: its snapshots and the worker's new frontier.
pub struct CommitJob {
    /// The worker's progress after these rows.
    pub progress: ProgressRow,
    /// The snapshots of the epochs below the progress frontier.
    pub rows: Vec<EpochChanges>,
    /// Every worker has committed below this epoch, so compaction may merge rows under it.
    pub safe: u64,
}

/// The worker side of the writer thread: send jobs, poll for their completion.
pub struct StoreWriter {
    jobs: Option<Sender<CommitJob>>,
    done: Receiver<Result<u64, StoreError>>,
    thread: Option<JoinHandle<()>>,
}

impl StoreWriter {
    /// Moves `store` to a new thread. `wake` is activated after each job, so the operator
    /// waiting on it runs again without polling.
    pub fn spawn(mut store: SqliteRecoveryStore, wake: SyncActivator) -> Result<StoreWriter, StoreError> {
        let (jobs, inbox) = channel::<CommitJob>();
        let (report, done) = channel();
        let thread = std::thread::Builder::new()
            .name("bytewax-recovery".into())
            .spawn(move || {
                for job in inbox {
                    let frontier = job.progress.frontier;
                    let written = store.commit(Some(&job.progress), &job.rows).and_then(|()| store.compact_if_due(job.safe));
                    let failed = written.is_err();
                    // The worker may be gone already (it stopped on another error).
                    let _ = report.send(written.map(|()| frontier));
                    let _ = wake.activate();
                    if failed {
                        break;
                    }
                }
            })
            .map_err(|e| StoreError(format!("cannot start the recovery writer thread: {e}")))?;
        Ok(StoreWriter { jobs: Some(jobs), done, thread: Some(thread) })
    }

    /// Queues a job; jobs are written in the order sent.
    pub fn send(&self, job: CommitJob) -> Result<(), StoreError> {
        self.jobs
            .as_ref()
            .and_then(|jobs| jobs.send(job).ok())
            .ok_or_else(|| StoreError("the recovery writer thread stopped".into()))
    }

    /// The frontier of a job that finished since the last call, if any.
    pub fn finished(&self) -> Option<Result<u64, StoreError>> {
        match self.done.try_recv() {
            Ok(result) => Some(result),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(StoreError("the recovery writer thread stopped".into()))),
        }
    }
}

impl Drop for StoreWriter {
    /// Waits for queued jobs, so the file is closed (and its lock released) when the run is.
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use timely::scheduling::activate::Activations;

    use super::*;
    use crate::recovery::ChangeWriter;

    fn changes(key: &str, epoch: u64) -> EpochChanges {
        let mut writer = ChangeWriter::new(epoch);
        writer.raw(key, b"v");
        let (epoch, count, encoded) = writer.finish();
        EpochChanges { step_id: "count".into(), epoch, count, encoded }
    }

    fn wait(writer: &StoreWriter) -> Result<u64, StoreError> {
        for _ in 0..1000 {
            if let Some(done) = writer.finished() {
                return done;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("the writer thread never reported");
    }

    #[test]
    fn commits_in_order_and_releases_the_file_when_dropped() {
        let dir = std::env::temp_dir().join(format!("bytewax-writer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let activations = Activations::new(None);
        let wake = SyncActivator::new(vec![0], activations.sync());
        let writer = StoreWriter::spawn(SqliteRecoveryStore::open(&dir, 0).unwrap(), wake).unwrap();
        for epoch in 0..3 {
            let progress = ProgressRow { execution: 0, worker: 0, frontier: epoch + 1 };
            writer.send(CommitJob { progress, rows: vec![changes(&format!("k{epoch}"), epoch)], safe: 0 }).unwrap();
            assert_eq!(wait(&writer).unwrap(), epoch + 1);
        }
        drop(writer);
        // The lock is released, and everything sent is in the file.
        let store = SqliteRecoveryStore::open(&dir, 0).unwrap();
        assert_eq!(store.progress().unwrap(), [ProgressRow { execution: 0, worker: 0, frontier: 3 }]);
        let mut keys: Vec<String> = store.latest_before(10).unwrap().into_iter().map(|r| r.key).collect();
        keys.sort();
        assert_eq!(keys, ["k0", "k1", "k2"]);
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
