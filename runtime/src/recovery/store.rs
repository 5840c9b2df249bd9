//! `SqliteRecoveryStore`: one worker's SQLite file of epoch snapshots and progress.
//!
//! Tables (created on first use):
//! - `execution(execution, worker_index, worker_count, resume_epoch)`: one row per worker
//!   per (re)start of the dataflow;
//! - `progress(execution, worker_index, frontier)`: every epoch below `frontier` is
//!   committed by that worker in that execution;
//! - `state(step_id, state_key, epoch, snapshot)`: a key's state as of the end of `epoch`;
//!   a `NULL` snapshot means the key had no state any more (a tombstone).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use super::{ExecutionRow, ProgressRow, StateRow};

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
    step_id TEXT NOT NULL, state_key TEXT NOT NULL, epoch INTEGER NOT NULL, snapshot BLOB,
    PRIMARY KEY (step_id, state_key, epoch));
";

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
}

impl SqliteRecoveryStore {
    /// Opens (creating if needed) the file of worker `index` in `dir`.
    pub fn open(dir: &Path, index: usize) -> Result<Self, StoreError> {
        let path = worker_file(dir, index);
        let fail = |e: rusqlite::Error| StoreError(format!("recovery file {}: {e}", path.display()));
        let conn = Connection::open(&path).map_err(fail)?;
        // WAL: a commit is one append and readers never block the writer. NORMAL sync keeps
        // every commit across a process crash (kill -9); only power loss can drop the last.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(fail)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(fail)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(fail)?;
        conn.execute_batch(SCHEMA).map_err(fail)?;
        Ok(SqliteRecoveryStore { conn, path })
    }

    fn fail(&self, e: rusqlite::Error) -> StoreError {
        StoreError(format!("recovery file {}: {e}", self.path.display()))
    }

    /// Every execution row in this file.
    pub fn executions(&self) -> Result<Vec<ExecutionRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT execution, worker_index, worker_count, resume_epoch FROM execution")
            .map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ExecutionRow { execution: r.get(0)?, worker: r.get(1)?, worker_count: r.get(2)?, resume_epoch: r.get(3)? })
            })
            .map_err(|e| self.fail(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.fail(e))
    }

    /// Every progress row in this file.
    pub fn progress(&self) -> Result<Vec<ProgressRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT execution, worker_index, frontier FROM progress")
            .map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map([], |r| Ok(ProgressRow { execution: r.get(0)?, worker: r.get(1)?, frontier: r.get(2)? }))
            .map_err(|e| self.fail(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.fail(e))
    }

    /// Each key's newest row from before `epoch` (tombstones included).
    pub fn latest_before(&self, epoch: u64) -> Result<Vec<StateRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT step_id, state_key, MAX(epoch), snapshot FROM state WHERE epoch < ?1 GROUP BY step_id, state_key",
            )
            .map_err(|e| self.fail(e))?;
        let rows = stmt
            .query_map([epoch as i64], |r| {
                Ok(StateRow { step_id: r.get(0)?, key: r.get(1)?, epoch: r.get::<_, i64>(2)? as u64, snapshot: r.get(3)? })
            })
            .map_err(|e| self.fail(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.fail(e))
    }

    /// Forgets every row from `epoch` on: they belong to an epoch that not every worker
    /// finished, which the resumed run does again.
    pub fn forget_from(&mut self, epoch: u64) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM state WHERE epoch >= ?1", [epoch as i64])
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Deletes the rows of keys that `keep` says live elsewhere now.
    pub fn forget_keys_not(&mut self, mut keep: impl FnMut(&str) -> bool) -> Result<(), StoreError> {
        let keys: Vec<(String, String)> = {
            let mut stmt = self.conn.prepare("SELECT DISTINCT step_id, state_key FROM state").map_err(|e| self.fail(e))?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(|e| self.fail(e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.fail(e))?
        };
        let tx = self.conn.transaction().map_err(|e| StoreError(e.to_string()))?;
        {
            let mut del = tx
                .prepare_cached("DELETE FROM state WHERE step_id = ?1 AND state_key = ?2")
                .map_err(|e| StoreError(e.to_string()))?;
            for (step, key) in keys.iter().filter(|(_, k)| !keep(k)) {
                del.execute(params![step, key]).map_err(|e| StoreError(e.to_string()))?;
            }
        }
        tx.commit().map_err(|e| self.fail(e))
    }

    /// Records the start of `execution` on this worker.
    pub fn begin_execution(&mut self, row: &ExecutionRow) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(|e| StoreError(e.to_string()))?;
        tx.execute(
            "INSERT OR REPLACE INTO execution VALUES (?1, ?2, ?3, ?4)",
            params![row.execution, row.worker, row.worker_count, row.resume_epoch],
        )
        .map_err(|e| StoreError(e.to_string()))?;
        tx.execute(
            "INSERT OR REPLACE INTO progress VALUES (?1, ?2, ?3)",
            params![row.execution, row.worker, row.resume_epoch],
        )
        .map_err(|e| StoreError(e.to_string()))?;
        tx.commit().map_err(|e| self.fail(e))
    }

    /// Writes `rows` and moves this worker's progress (if given), in one transaction;
    /// then garbage: each key in `collect` loses its rows older than its given epoch, and a
    /// tombstone at that epoch goes too (the key has no state to remember).
    pub fn commit(
        &mut self,
        progress: Option<&ProgressRow>,
        rows: &[StateRow],
        collect: &[(String, String, u64)],
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| StoreError(format!("recovery file {}: {e}", path.display()));
        let tx = self.conn.transaction().map_err(fail)?;
        {
            let mut put = tx.prepare_cached("INSERT OR REPLACE INTO state VALUES (?1, ?2, ?3, ?4)").map_err(fail)?;
            for row in rows {
                put.execute(params![row.step_id, row.key, row.epoch as i64, row.snapshot]).map_err(fail)?;
            }
            let mut older = tx
                .prepare_cached("DELETE FROM state WHERE step_id = ?1 AND state_key = ?2 AND epoch < ?3")
                .map_err(fail)?;
            let mut tomb = tx
                .prepare_cached("DELETE FROM state WHERE step_id = ?1 AND state_key = ?2 AND epoch = ?3 AND snapshot IS NULL")
                .map_err(fail)?;
            for (step, key, epoch) in collect {
                older.execute(params![step, key, *epoch as i64]).map_err(fail)?;
                tomb.execute(params![step, key, *epoch as i64]).map_err(fail)?;
            }
            if let Some(p) = progress {
                tx.execute("INSERT OR REPLACE INTO progress VALUES (?1, ?2, ?3)", params![p.execution, p.worker, p.frontier])
                    .map_err(fail)?;
            }
        }
        tx.commit().map_err(fail)
    }

    /// How many state rows the file holds (for tests and diagnostics).
    pub fn state_rows(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM state", [], |r| r.get::<_, i64>(0))
            .optional()
            .map(|n| n.unwrap_or(0) as u64)
            .map_err(|e| self.fail(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, epoch: u64, snapshot: Option<&[u8]>) -> StateRow {
        StateRow { step_id: "count".into(), key: key.into(), epoch, snapshot: snapshot.map(<[u8]>::to_vec) }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("bytewax-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn commits_finds_the_newest_before_an_epoch_and_collects_garbage() {
        let dir = temp_dir("gc");
        let mut store = SqliteRecoveryStore::open(&dir, 3).unwrap();
        assert_eq!(worker_files(&dir).unwrap(), [3]);
        let progress = ProgressRow { execution: 0, worker: 3, frontier: 2 };
        store.commit(Some(&progress), &[row("a", 0, Some(b"1")), row("b", 0, Some(b"x")), row("a", 1, Some(b"2"))], &[]).unwrap();
        store.commit(None, &[row("b", 2, None), row("a", 3, Some(b"3"))], &[]).unwrap();
        let newest = |store: &SqliteRecoveryStore, epoch| {
            let mut rows = store.latest_before(epoch).unwrap();
            rows.sort_by(|a, b| a.key.cmp(&b.key));
            rows.into_iter().map(|r| (r.key, r.epoch, r.snapshot)).collect::<Vec<_>>()
        };
        assert_eq!(newest(&store, 2), [("a".into(), 1, Some(b"2".to_vec())), ("b".into(), 0, Some(b"x".to_vec()))]);
        assert_eq!(newest(&store, 3), [("a".into(), 1, Some(b"2".to_vec())), ("b".into(), 2, None)]);
        assert_eq!(store.progress().unwrap(), [progress]);

        // Once every worker is past epoch 2: `a` keeps only its newest row before it, and
        // `b`'s tombstone goes with everything older.
        store.commit(None, &[], &[("count".into(), "a".into(), 1), ("count".into(), "b".into(), 2)]).unwrap();
        assert_eq!(store.state_rows().unwrap(), 2, "a@1 and a@3 are left");
        store.forget_from(3).unwrap();
        assert_eq!(newest(&store, 10), [("a".into(), 1, Some(b"2".to_vec()))]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn executions_are_recorded_with_their_worker_count() {
        let dir = temp_dir("exec");
        let mut store = SqliteRecoveryStore::open(&dir, 0).unwrap();
        let row = ExecutionRow { execution: 4, worker: 0, worker_count: 2, resume_epoch: 9 };
        store.begin_execution(&row).unwrap();
        assert_eq!(store.executions().unwrap(), [row]);
        assert_eq!(store.progress().unwrap(), [ProgressRow { execution: 4, worker: 0, frontier: 9 }]);
        store.forget_keys_not(|_| false).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
