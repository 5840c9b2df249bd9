//! `FileInput` run natively: a [`Source`] of text lines.

use std::path::Path;

use super::LineReader;
use crate::engine::{owner, Poll, Source, WorkerInfo};
use crate::error::StepError;
use crate::item::Item;

/// Lines of one file, read by the worker that owns the file's partition (named by its path,
/// as in 0.16); the other workers' shares are empty.
pub struct FileSource {
    step_id: String,
    reader: Option<LineReader>,
    workers: usize,
}

impl FileSource {
    /// Opens `path` on the worker that owns it. A missing file is an error naming the step.
    pub fn open(step_id: &str, path: &str, worker: WorkerInfo) -> Result<Self, StepError> {
        let reader = if owner(path, worker.count) == worker.index {
            let r = LineReader::open(Path::new(path), 0).map_err(|e| {
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
            reader,
            workers: worker.count,
        })
    }
}

impl Source for FileSource {
    fn leaves_workers_idle(&self) -> bool {
        self.workers > 1
    }

    fn poll(&mut self, out: &mut Vec<Item>, max: usize) -> Result<Poll, StepError> {
        let Some(reader) = self.reader.as_mut() else {
            return Ok(Poll::Done);
        };
        while out.len() < max {
            match reader.next_line() {
                Ok(Some(line)) => out.push(Item::Str(line.to_owned())),
                Ok(None) => return Ok(Poll::Done),
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
}
