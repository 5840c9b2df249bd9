//! Native sources and sinks for plans run without Python.

use std::fs::OpenOptions;
use std::io::{BufWriter, Seek, SeekFrom, Write};

use crate::codec::{encode_json, render_python};
use crate::engine::{owner, restored_part, ItemRouter, Poll, Restored, Sink, Source, WorkerInfo};
use crate::error::StepError;
use crate::item::Item;
use crate::recovery::{encode, KeyChange};

/// `testing` input: the plan's own items, read by the worker that owns the partition
/// [`TESTING_PART`]. Its snapshot is how many items it has emitted.
pub struct TestingSource {
    items: std::vec::IntoIter<Vec<u8>>,
    workers: usize,
    emitted: u64,
    moved: bool,
}

/// The one partition of a `testing` input.
pub const TESTING_PART: &str = "testing";

impl TestingSource {
    /// This worker's share of `items`, skipping those a resumed run already emitted.
    pub fn new(step_id: &str, items: &[serde_json::Value], worker: WorkerInfo, restored: Restored<'_>) -> Result<Self, StepError> {
        let skip = restored_part::<u64>(restored, TESTING_PART)
            .map_err(|e| StepError::message(step_id, "input, testing", e))?
            .unwrap_or(0);
        let items: Vec<Vec<u8>> = if owner(TESTING_PART, worker.count) == worker.index {
            items.iter().skip(skip as usize).map(encode_json).collect()
        } else {
            Vec::new()
        };
        Ok(TestingSource { items: items.into_iter(), workers: worker.count, emitted: skip, moved: false })
    }
}

impl Source for TestingSource {
    fn leaves_workers_idle(&self) -> bool {
        self.workers > 1
    }

    fn poll(&mut self, out: &mut Vec<Item>, max: usize) -> Result<Poll, StepError> {
        let before = out.len();
        out.extend(self.items.by_ref().take(max).map(Item::Encoded));
        self.emitted += (out.len() - before) as u64;
        self.moved |= out.len() > before;
        Ok(if self.items.len() == 0 { Poll::Done } else { Poll::Ready })
    }

    fn close(&mut self) -> Result<(), StepError> {
        Ok(())
    }

    fn snapshot(&mut self) -> Result<Vec<KeyChange>, StepError> {
        if !std::mem::take(&mut self.moved) {
            return Ok(Vec::new());
        }
        Ok(vec![KeyChange { key: TESTING_PART.into(), snapshot: Some(encode(&self.emitted)) }])
    }
}

/// Lines of `str(item)` (Python's rendering) to standard output or a file.
pub struct LineSink {
    step_id: String,
    out: Box<dyn Write + Send>,
    buf: Vec<u8>,
    // A file sink's path: the name of its one part, on every worker.
    part: Option<String>,
    // On the worker writing the file: the bytes in it so far.
    written: Option<u64>,
}

impl LineSink {
    /// Standard output.
    pub fn stdout(step_id: &str) -> Self {
        LineSink { step_id: step_id.to_owned(), out: Box::new(std::io::stdout()), buf: Vec::new(), part: None, written: None }
    }

    /// A file, written by the worker that owns the partition named by its path (items are
    /// routed there). A fresh run empties it; a resumed run cuts it back to its snapshot,
    /// so each line is written once. Other workers get a sink that never sees an item.
    pub fn file(step_id: &str, path: &str, worker: WorkerInfo, restored: Restored<'_>) -> Result<Self, StepError> {
        let fail = |what: String| move |e| StepError::io(step_id, "output, file", what, e);
        let keep = restored_part::<u64>(restored, path)
            .map_err(|e| StepError::message(step_id, "output, file", e))?
            .unwrap_or(0);
        if owner(path, worker.count) != worker.index {
            let part = Some(path.to_owned());
            return Ok(LineSink { step_id: step_id.to_owned(), out: Box::new(std::io::sink()), buf: Vec::new(), part, written: None });
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(path)
            .map_err(fail(format!("cannot open {path:?}")))?;
        file.set_len(keep).map_err(fail(format!("cannot cut {path:?} back to its snapshot")))?;
        let mut out = BufWriter::new(file);
        out.seek(SeekFrom::Start(keep)).map_err(fail(format!("cannot seek in {path:?}")))?;
        Ok(LineSink { step_id: step_id.to_owned(), out: Box::new(out), buf: Vec::new(), part: Some(path.to_owned()), written: Some(keep) })
    }
}

impl Sink for LineSink {
    fn write(&mut self, _epoch: u64, items: &mut Vec<Item>) -> Result<(), StepError> {
        self.buf.clear();
        // Items go on downstream after this (outputs can be chained), so only look at them.
        for item in items.iter() {
            match item {
                Item::Str(s) => self.buf.extend_from_slice(s.as_bytes()),
                Item::Encoded(b) => self.buf.extend_from_slice(render_python(b).as_bytes()),
                #[cfg(feature = "python")]
                Item::Py(_) => unreachable!("a plan without Python steps has no Python items"),
            }
            self.buf.push(b'\n');
        }
        if let Some(written) = self.written.as_mut() {
            *written += self.buf.len() as u64;
        }
        self.out
            .write_all(&self.buf)
            .and_then(|_| self.out.flush())
            .map_err(|e| StepError::io(&self.step_id, "output", "writing", e))
    }

    fn router(&self) -> Option<ItemRouter> {
        let hash = crate::engine::route_hash(self.part.as_deref()?);
        Some(Box::new(move |_| hash))
    }

    fn snapshot(&mut self) -> Result<Vec<KeyChange>, StepError> {
        let (Some(path), Some(written)) = (self.part.as_ref(), self.written) else { return Ok(Vec::new()) };
        Ok(vec![KeyChange { key: path.clone(), snapshot: Some(encode(&written)) }])
    }

    fn close(&mut self) -> Result<(), StepError> {
        self.out
            .flush()
            .map_err(|e| StepError::io(&self.step_id, "output", "flushing", e))
    }
}
