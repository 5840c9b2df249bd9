//! `FileInput` run natively: a [`Source`] of text lines.

use std::path::Path;

use super::LineReader;
use crate::engine::{owner, restored_part, Poll, Restored, Source, WorkerInfo};
use crate::error::StepError;
use crate::item::Item;
use crate::recovery::KeyChange;

/// Lines of one file, read by the worker that owns the file's partition (named by its path,
/// as in 0.16); the other workers' shares are empty. Its snapshot is the byte offset
/// after the last line read.
pub struct FileSource {
    step_id: String,
    path: String,
    reader: Option<LineReader>,
    workers: usize,
    // Lines were read since the last snapshot.
    moved: bool,
}

impl FileSource {
    /// Opens `path` on the worker that owns it. A missing file is an error naming the step.
    /// A resumed run starts at the offset `restored` holds for the path.
    pub fn open(step_id: &str, path: &str, worker: WorkerInfo, restored: Restored<'_>) -> Result<Self, StepError> {
        let offset = restored_part::<u64>(restored, path)
            .map_err(|e| StepError::message(step_id, "input, FileInput", format!("resuming {path:?}: {e}")))?
            .unwrap_or(0);
        let reader = if owner(path, worker.count) == worker.index {
            let r = LineReader::open(Path::new(path), offset).map_err(|e| {
                StepError::io(
                    step_id,
                    "input, FileInput",
                    format!("cannot open {path:?}"),
                    e,
                )
            })?;
            Some(r)
        } else {
            None
        };
        Ok(FileSource {
            step_id: step_id.to_owned(),
            path: path.to_owned(),
            reader,
            workers: worker.count,
            moved: false,
        })
    }
}

impl Source for FileSource {
    fn batch_size(&self) -> usize {
        super::lines::LINE_BATCH
    }

    fn leaves_workers_idle(&self) -> bool {
        self.workers > 1
    }

    fn poll(&mut self, out: &mut Vec<Item>, max: usize) -> Result<Poll, StepError> {
        let Some(reader) = self.reader.as_mut() else {
            return Ok(Poll::Done);
        };
        while out.len() < max {
            match reader.next_line() {
                Ok(Some(line)) => {
                    out.push(Item::Str(line.to_owned()));
                    self.moved = true;
                }
                Ok(None) => {
                    // The end position is saved even when nothing was read, so that a
                    // finished file's position is on record for a continuation run.
                    self.moved = true;
                    return Ok(Poll::Done);
                }
                Err(e) => {
                    let msg = format!("reading {}", reader.path().display());
                    return Err(StepError::io(&self.step_id, "input, FileInput", msg, e));
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
        match self.reader.as_ref() {
            Some(reader) if std::mem::take(&mut self.moved) => Ok(vec![KeyChange {
                key: self.path.clone(),
                snapshot: Some(crate::recovery::encode(&reader.offset())),
            }]),
            _ => Ok(Vec::new()),
        }
    }
}
