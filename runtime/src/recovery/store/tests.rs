use super::*;

fn row(key: &str, epoch: u64, snapshot: Option<&[u8]>) -> EpochChanges {
    let mut writer = super::super::ChangeWriter::new(epoch);
    match snapshot {
        Some(s) => writer.raw(key, s),
        None => writer.gone(key),
    }
    let (epoch, count, encoded) = writer.finish();
    EpochChanges { step_id: "count".into(), epoch, count, encoded }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bytewax-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn newest(store: &SqliteRecoveryStore, epoch: u64) -> Vec<(String, u64, Option<Vec<u8>>)> {
    let mut rows: Vec<_> = store.latest_before(epoch).unwrap().into_iter().map(|r| (r.key, r.epoch, r.snapshot)).collect();
    rows.sort();
    rows
}

#[test]
fn finds_each_keys_newest_row_before_an_epoch() {
    let dir = temp_dir("newest");
    let mut store = SqliteRecoveryStore::open(&dir, 3).unwrap();
    assert_eq!(worker_files(&dir).unwrap(), [3]);
    let progress = ProgressRow { execution: 0, worker: 3, frontier: 2 };
    store.commit(Some(&progress), &[row("a", 0, Some(b"1")), row("b", 0, Some(b"x")), row("a", 1, Some(b"2"))]).unwrap();
    store.commit(None, &[row("b", 2, None), row("a", 3, Some(b"3"))]).unwrap();
    assert_eq!(store.state_rows().unwrap(), 4, "one row per epoch");
    assert_eq!(newest(&store, 2), [("a".into(), 1, Some(b"2".to_vec())), ("b".into(), 0, Some(b"x".to_vec()))]);
    assert_eq!(newest(&store, 3), [("a".into(), 1, Some(b"2".to_vec())), ("b".into(), 2, None)]);
    assert_eq!(store.progress().unwrap(), [progress]);
    store.forget_from(3).unwrap();
    assert_eq!(newest(&store, 10), newest(&store, 3));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compaction_keeps_each_live_keys_newest_row_and_drops_the_deleted() {
    let dir = temp_dir("compact");
    let mut store = SqliteRecoveryStore::open(&dir, 0).unwrap();
    for epoch in 0..COMPACT_ROWS {
        let value = epoch.to_string();
        store.commit(None, &[row("live", epoch, Some(value.as_bytes())), row("gone", epoch, Some(b"x"))]).unwrap();
    }
    store.commit(None, &[row("gone", COMPACT_ROWS, None), row("late", COMPACT_ROWS + 1, Some(b"l"))]).unwrap();
    let before = newest(&store, u64::MAX);
    // Only what every worker has committed (below epoch 65) may be merged.
    store.compact_if_due(COMPACT_ROWS + 1).unwrap();
    assert_eq!(store.state_rows().unwrap(), 2, "one checkpoint and the row of epoch 65");
    let after = newest(&store, u64::MAX);
    let without_tombstones: Vec<_> = before.into_iter().filter(|(_, _, s)| s.is_some()).collect();
    assert_eq!(after, without_tombstones);
    // Reopening sees the same sizes, and nothing is due again yet.
    drop(store);
    let mut store = SqliteRecoveryStore::open(&dir, 0).unwrap();
    store.compact_if_due(COMPACT_ROWS + 2).unwrap();
    assert_eq!(store.state_rows().unwrap(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn keeps_only_the_keys_a_worker_owns_after_a_rescale() {
    let dir = temp_dir("keys");
    let mut store = SqliteRecoveryStore::open(&dir, 0).unwrap();
    let rows = |key: &str, epoch, snapshot: Option<&[u8]>| StateRow {
        step_id: "count".into(),
        key: key.into(),
        epoch,
        snapshot: snapshot.map(<[u8]>::to_vec),
    };
    store.write_rows(&[rows("mine", 0, Some(b"m")), rows("theirs", 0, Some(b"t")), rows("dead", 1, None)]).unwrap();
    store.forget_keys_not(5, |k| k != "theirs").unwrap();
    assert_eq!(newest(&store, 5), [("dead".into(), 1, None), ("mine".into(), 0, Some(b"m".to_vec()))]);
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
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_second_run_on_the_same_file_is_refused() {
    let dir = temp_dir("lock");
    let store = SqliteRecoveryStore::open(&dir, 0).unwrap();
    let err = SqliteRecoveryStore::open(&dir, 0).err().expect("the file is held by the first store");
    assert!(err.0.contains("in use by another run"), "{}", err.0);
    drop(store);
    SqliteRecoveryStore::open(&dir, 0).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
