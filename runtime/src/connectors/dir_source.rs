//! `DirInput` run natively: the lines of every matching file in a directory, one partition
//! per file (named by its file name), each read by the worker that owns it.

use std::path::PathBuf;

use super::LineReader;
use crate::engine::{owner, restored_part, some_worker_idle, Poll, Restored, Source, WorkerInfo};
use crate::error::StepError;
use crate::item::Item;
use crate::recovery::{encode, KeyChange};

/// Lines of this worker's files, one file after another. Each file's snapshot is the byte
/// offset after its last line read.
pub struct DirSource {
    step_id: String,
    // (name, path, offset to start at), reverse-sorted so `pop` reads in name order.
    files: Vec<(String, PathBuf, u64)>,
    reader: Option<(String, LineReader)>,
    idle_workers: bool,
    // Positions that moved since the last snapshot (finished files, then the open one).
    moved: Vec<(String, u64)>,
    reader_moved: bool,
}

impl DirSource {
    /// Lists `dir` (not recursively) for files whose names match `glob` (`*` and `?`); a
    /// resumed run starts each file at the offset `restored` holds for its name.
    pub fn open(step_id: &str, dir: &str, glob: &str, worker: WorkerInfo, restored: Restored<'_>) -> Result<Self, StepError> {
        let fail = |e| StepError::io(step_id, "input, dir", format!("cannot list {dir:?}"), e);
        let mut files = Vec::new();
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(fail)? {
            let entry = entry.map_err(fail)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().map_err(fail)?.is_file() && glob_match(glob, &name) {
                if owner(&name, worker.count) == worker.index {
                    let offset = restored_part::<u64>(restored, &name)
                        .map_err(|e| StepError::message(step_id, "input, dir", format!("resuming {name:?}: {e}")))?
                        .unwrap_or(0);
                    files.push((name.clone(), entry.path(), offset));
                }
                names.push(name);
            }
        }
        let idle_workers = some_worker_idle(names.iter().map(String::as_str), worker.count);
        files.sort_by(|a, b| b.0.cmp(&a.0));
        Ok(DirSource { step_id: step_id.to_owned(), files, reader: None, idle_workers, moved: Vec::new(), reader_moved: false })
    }
}

impl Source for DirSource {
    fn batch_size(&self) -> usize {
        super::lines::LINE_BATCH
    }

    fn leaves_workers_idle(&self) -> bool {
        self.idle_workers
    }

    fn poll(&mut self, out: &mut Vec<Item>, max: usize) -> Result<Poll, StepError> {
        while out.len() < max {
            if self.reader.is_none() {
                let Some((name, path, offset)) = self.files.pop() else {
                    return Ok(Poll::Done);
                };
                let reader = LineReader::open(&path, offset).map_err(|e| {
                    StepError::io(&self.step_id, "input, dir", format!("cannot open {}", path.display()), e)
                })?;
                self.reader = Some((name, reader));
            }
            let (name, reader) = self.reader.as_mut().expect("opened above");
            match reader.next_line() {
                Ok(Some(line)) => {
                    out.push(Item::Str(line.to_owned()));
                    self.reader_moved = true;
                }
                Ok(None) => {
                    self.moved.push((std::mem::take(name), reader.offset()));
                    self.reader = None;
                    self.reader_moved = false;
                }
                Err(e) => {
                    let what = format!("reading {}", reader.path().display());
                    return Err(StepError::io(&self.step_id, "input, dir", what, e));
                }
            }
        }
        Ok(Poll::Ready)
    }

    fn close(&mut self) -> Result<(), StepError> {
        self.reader = None;
        Ok(())
    }

    fn snapshot(&mut self) -> Result<Vec<KeyChange>, StepError> {
        let mut changes: Vec<KeyChange> =
            self.moved.drain(..).map(|(key, offset)| KeyChange { key, snapshot: Some(encode(&offset)) }).collect();
        if let Some((name, reader)) = self.reader.as_ref().filter(|_| self.reader_moved) {
            changes.push(KeyChange { key: name.clone(), snapshot: Some(encode(&reader.offset())) });
            self.reader_moved = false;
        }
        Ok(changes)
    }
}

/// Shell-style matching of a file name: `*` any run of characters, `?` any one character.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_a_shell() {
        assert!(glob_match("*", "a.txt"));
        assert!(glob_match("*.txt", "a.txt"));
        assert!(!glob_match("*.txt", "a.csv"));
        assert!(glob_match("part_?.log", "part_3.log"));
        assert!(!glob_match("part_?.log", "part_13.log"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
    }

    #[test]
    fn reads_every_matching_file_in_name_order() {
        let dir = std::env::temp_dir().join(format!("dir-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("b.txt"), "b1\nb2\n").unwrap();
        std::fs::write(dir.join("a.txt"), "a1\n").unwrap();
        std::fs::write(dir.join("skip.csv"), "x\n").unwrap();
        let mut src = DirSource::open(
            "inp",
            dir.to_str().unwrap(),
            "*.txt",
            WorkerInfo { index: 0, count: 1 },
            &[],
        )
        .unwrap();
        let mut out = Vec::new();
        while src.poll(&mut out, 10).unwrap() != Poll::Done {}
        let lines: Vec<_> = out
            .into_iter()
            .map(|i| match i {
                Item::Str(s) => s,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(lines, ["a1", "b1", "b2"]);

        // Each file's end position is its snapshot; a resumed source reads only what came after.
        let saved: Vec<(String, Vec<u8>)> =
            src.snapshot().unwrap().into_iter().map(|c| (c.key, c.snapshot.unwrap())).collect();
        let offsets: Vec<(&str, u64)> =
            saved.iter().map(|(k, s)| (k.as_str(), crate::recovery::decode::<u64>(s).unwrap())).collect();
        assert_eq!(offsets, [("a.txt", 3), ("b.txt", 6)]);
        assert!(src.snapshot().unwrap().is_empty(), "nothing moved since");
        std::fs::write(dir.join("b.txt"), "b1\nb2\nb3\n").unwrap();
        let mut resumed =
            DirSource::open("inp", dir.to_str().unwrap(), "*.txt", WorkerInfo { index: 0, count: 1 }, &saved).unwrap();
        let mut out = Vec::new();
        while resumed.poll(&mut out, 10).unwrap() != Poll::Done {}
        assert!(matches!(out.as_slice(), [Item::Str(s)] if s == "b3"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_directory_names_the_step() {
        let err = DirSource::open(
            "inp",
            "/no/such/dir",
            "*",
            WorkerInfo { index: 0, count: 1 },
            &[],
        )
        .err()
        .unwrap();
        assert_eq!(err.step_id, "inp");
        assert!(err.to_string().contains("cannot list"));
    }
}
