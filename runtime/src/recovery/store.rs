//! `SqliteRecoveryStore`: one worker's SQLite file of epoch snapshots and progress.
//!
//! Tables (created on first use):
//! - `execution(execution, worker_index, worker_count, resume_epoch)`: one row per worker
//!   per (re)start of the dataflow;
//! - `progress(execution, worker_index, frontier)`: every epoch below `frontier` is
//!   committed by that worker in that execution;
//! - `state(id, epoch, checkpoint, entries)`: the key changes of one epoch as one blob
//!   (see [`super::entries`]), or, with `checkpoint = 1`, every live key as of `epoch`,
//!   which replaced the rows it was merged from.
//!
//! One row per epoch rather than one per key keeps a commit to a single insert however
//! many keys changed; compaction ([`SqliteRecoveryStore::compact_if_due`]) keeps the log
//! in proportion to the live state.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection};

use super::entries::{decode_entries, encode_batches, encode_rows, newest};
use super::{EpochChanges, ExecutionRow, ProgressRow, StateRow};

/// What went wrong with a store, already phrased for users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS execution (
    execution INTEGER NOT NULL, worker_index INTEGER NOT NULL,
    worker_count INTEGER NOT NULL, resume_epoch INTEGER NOT NULL,
    PRIMARY KEY (execution, worker_index));
CREATE TABLE IF NOT EXISTS progress (
    execution INTEGER NOT NULL, worker_index INTEGER NOT NULL, frontier INTEGER NOT NULL,
    PRIMARY KEY (execution, worker_index));
CREATE TABLE IF NOT EXISTS state (
    id INTEGER PRIMARY KEY, epoch INTEGER NOT NULL, checkpoint INTEGER NOT NULL, entries BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS state_epoch ON state (epoch);
";

/// Compaction waits until the log since the last checkpoint has this many bytes and...
const COMPACT_BYTES: u64 = 1 << 20;
/// ...this many times the checkpoint's size, so that a compaction's cost stays a small
/// multiple of what was written since the last one; or until it has this many rows and
/// is as big as the checkpoint (small states with many epochs).
const COMPACT_RATIO: u64 = 8;
const COMPACT_ROWS: u64 = 64;

/// The file worker `index` writes in `dir`.
pub fn worker_file(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("worker{index}.sqlite3"))
}

/// The worker indices of every `worker{i}.sqlite3` in `dir`, sorted.
pub fn worker_files(dir: &Path) -> Result<Vec<usize>, StoreError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| StoreError(format!("cannot read the recovery directory {}: {e}", dir.display())))?;
    let mut found: Vec<usize> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_prefix("worker")?.strip_suffix(".sqlite3")?.parse().ok()
        })
        .collect();
    found.sort_unstable();
    Ok(found)
}

/// One worker's recovery file.
pub struct SqliteRecoveryStore {
    conn: Connection,
    path: PathBuf,
    // Rows and bytes written since the last checkpoint, and the checkpoint's size.
    log_rows: u64,
    log_bytes: u64,
    checkpoint_bytes: u64,
}

impl SqliteRecoveryStore {
    /// Opens (creating if needed) the file of worker `index` in `dir`.
    pub fn open(dir: &Path, index: usize) -> Result<Self, StoreError> {
        let path = worker_file(dir, index);
        let fail = |e: rusqlite::Error| StoreError(format!("recovery file {}: {e}", path.display()));
        let conn = Connection::open(&path).map_err(fail)?;
        // One writer per file, held for the whole run: a second run on the same directory
        // is refused at once instead of interleaving its epochs with ours. Exclusive mode is
        // set before WAL so that the WAL index needs no shared memory either.
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE").map_err(fail)?;
        conn.busy_timeout(Duration::from_millis(500)).map_err(fail)?;
        if let Err(e) = conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;") {
            return Err(match e.sqlite_error_code() {
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => StoreError(format!(
                    "recovery file {} is in use by another run; stop it first, or use another directory",
                    path.display()
                )),
                _ => fail(e),
            });
        }
        // WAL: a commit is one append. NORMAL sync keeps every commit across a process
        // crash (kill -9); only power loss can drop the last one.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(fail)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(fail)?;
        conn.execute_batch(SCHEMA).map_err(fail)?;
        let (log_rows, log_bytes, checkpoint_bytes) = conn
            .query_row(
                "SELECT COALESCE(SUM(checkpoint = 0), 0), COALESCE(SUM(CASE WHEN checkpoint = 0 THEN length(entries) END), 0),
                        COALESCE(SUM(CASE WHEN checkpoint = 1 THEN length(entries) END), 0) FROM state",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64)),
            )
            .map_err(fail)?;
        Ok(SqliteRecoveryStore { conn, path, log_rows, log_bytes, checkpoint_bytes })
    }

    fn fail(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |e| StoreError(format!("recovery file {}: {e}", self.path.display()))
    }

    /// Every execution row in this file.
    pub fn executions(&self) -> Result<Vec<ExecutionRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT execution, worker_index, worker_count, resume_epoch FROM execution")
            .map_err(self.fail())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ExecutionRow { execution: r.get(0)?, worker: r.get(1)?, worker_count: r.get(2)?, resume_epoch: r.get(3)? })
            })
            .map_err(self.fail())?;
        rows.collect::<Result<_, _>>().map_err(self.fail())
    }

    /// Every progress row in this file.
    pub fn progress(&self) -> Result<Vec<ProgressRow>, StoreError> {
        let mut stmt =
            self.conn.prepare_cached("SELECT execution, worker_index, frontier FROM progress").map_err(self.fail())?;
        let rows = stmt
            .query_map([], |r| Ok(ProgressRow { execution: r.get(0)?, worker: r.get(1)?, frontier: r.get(2)? }))
            .map_err(self.fail())?;
        rows.collect::<Result<_, _>>().map_err(self.fail())
    }

    fn rows_before(&self, epoch: u64) -> Result<Vec<StateRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT entries FROM state WHERE epoch < ?1").map_err(self.fail())?;
        let blobs = stmt.query_map([epoch as i64], |r| r.get::<_, Vec<u8>>(0)).map_err(self.fail())?;
        let mut rows = Vec::new();
        for blob in blobs {
            let blob = blob.map_err(self.fail())?;
            rows.extend(decode_entries(&blob).map_err(|e| StoreError(format!("recovery file {}: {e}", self.path.display())))?);
        }
        Ok(rows)
    }

    /// The newest epoch of any state in the file.
    pub fn newest_epoch(&self) -> Result<Option<u64>, StoreError> {
        self.conn
            .query_row("SELECT MAX(epoch) FROM state", [], |r| r.get::<_, Option<i64>>(0))
            .map(|e| e.map(|e| e as u64))
            .map_err(self.fail())
    }

    /// Each key's newest row from before `epoch` (tombstones included).
    pub fn latest_before(&self, epoch: u64) -> Result<Vec<StateRow>, StoreError> {
        Ok(newest(self.rows_before(epoch)?))
    }

    /// Forgets every row from `epoch` on: they belong to an epoch that not every worker
    /// finished, which the resumed run does again.
    pub fn forget_from(&mut self, epoch: u64) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM state WHERE epoch >= ?1", [epoch as i64]).map_err(self.fail())?;
        Ok(())
    }

    /// Keeps only the keys `keep` accepts, each with its newest row from before `epoch`
    /// (tombstones too), as one checkpoint.
    pub fn forget_keys_not(&mut self, epoch: u64, mut keep: impl FnMut(&str) -> bool) -> Result<(), StoreError> {
        let rows: Vec<StateRow> = self.latest_before(epoch)?.into_iter().filter(|r| keep(&r.key)).collect();
        self.replace_with_checkpoint(epoch, &rows)
    }

    /// Records the start of `execution` on this worker.
    pub fn begin_execution(&mut self, row: &ExecutionRow) -> Result<(), StoreError> {
        let path = self.path.clone();
        let fail = move |e: rusqlite::Error| StoreError(format!("recovery file {}: {e}", path.display()));
        let tx = self.conn.transaction().map_err(&fail)?;
        tx.execute(
            "INSERT OR REPLACE INTO execution VALUES (?1, ?2, ?3, ?4)",
            params![row.execution, row.worker, row.worker_count, row.resume_epoch],
        )
        .map_err(&fail)?;
        tx.execute("INSERT OR REPLACE INTO progress VALUES (?1, ?2, ?3)", params![row.execution, row.worker, row.resume_epoch])
            .map_err(&fail)?;
        tx.commit().map_err(&fail)
    }

    /// Writes `batches` (one row per epoch) and moves this worker's progress (if given),
    /// in one transaction.
    pub fn commit(&mut self, progress: Option<&ProgressRow>, batches: &[EpochChanges]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let fail = move |e: rusqlite::Error| StoreError(format!("recovery file {}: {e}", path.display()));
        let mut epochs: Vec<u64> = batches.iter().map(|b| b.epoch).collect();
        epochs.sort_unstable();
        epochs.dedup();
        let tx = self.conn.transaction().map_err(&fail)?;
        {
            let mut put = tx.prepare_cached("INSERT INTO state (epoch, checkpoint, entries) VALUES (?1, 0, ?2)").map_err(&fail)?;
            for epoch in epochs {
                let blob = encode_batches(batches.iter().filter(|b| b.epoch == epoch));
                put.execute(params![epoch as i64, blob]).map_err(&fail)?;
                self.log_rows += 1;
                self.log_bytes += blob.len() as u64;
            }
            if let Some(p) = progress {
                tx.execute("INSERT OR REPLACE INTO progress VALUES (?1, ?2, ?3)", params![p.execution, p.worker, p.frontier])
                    .map_err(&fail)?;
            }
        }
        tx.commit().map_err(&fail)
    }

    /// Writes rows of any epochs as one row (at the newest of their epochs).
    pub fn write_rows(&mut self, rows: &[StateRow]) -> Result<(), StoreError> {
        let Some(at) = rows.iter().map(|r| r.epoch).max() else { return Ok(()) };
        let blob = encode_rows(rows);
        self.conn
            .execute("INSERT INTO state (epoch, checkpoint, entries) VALUES (?1, 0, ?2)", params![at as i64, blob])
            .map_err(self.fail())?;
        self.log_rows += 1;
        self.log_bytes += blob.len() as u64;
        Ok(())
    }

    /// Merges every row from before `safe` (an epoch every worker has committed, so no
    /// resume can start below it) into one checkpoint of the keys that still have state,
    /// once the log has grown enough to be worth it. Dropping tombstones is sound because
    /// every key's rows live in its owner's file only (see [`super::load`]).
    pub fn compact_if_due(&mut self, safe: u64) -> Result<(), StoreError> {
        let due = self.log_bytes >= COMPACT_BYTES.max(COMPACT_RATIO * self.checkpoint_bytes)
            || (self.log_rows >= COMPACT_ROWS && self.log_bytes >= self.checkpoint_bytes);
        if !due || safe == 0 {
            return Ok(());
        }
        let live: Vec<StateRow> = self.latest_before(safe)?.into_iter().filter(|r| r.snapshot.is_some()).collect();
        self.replace_with_checkpoint(safe, &live)
    }

    fn replace_with_checkpoint(&mut self, before: u64, rows: &[StateRow]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let fail = move |e: rusqlite::Error| StoreError(format!("recovery file {}: {e}", path.display()));
        let at = rows.iter().map(|r| r.epoch).max();
        let blob = encode_rows(rows);
        let tx = self.conn.transaction().map_err(&fail)?;
        tx.execute("DELETE FROM state WHERE epoch < ?1", [before as i64]).map_err(&fail)?;
        if let Some(at) = at {
            tx.execute("INSERT INTO state (epoch, checkpoint, entries) VALUES (?1, 1, ?2)", params![at as i64, blob])
                .map_err(&fail)?;
        }
        tx.commit().map_err(&fail)?;
        let (rows_left, bytes_left): (i64, i64) = self
            .conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(length(entries)), 0) FROM state WHERE checkpoint = 0",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.fail())?;
        self.log_rows = rows_left as u64;
        self.log_bytes = bytes_left as u64;
        self.checkpoint_bytes = if at.is_some() { blob.len() as u64 } else { 0 };
        Ok(())
    }

    /// How many state rows (epoch batches and checkpoints) the file holds.
    pub fn state_rows(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM state", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(self.fail())
    }
}

#[cfg(test)]
mod tests;
