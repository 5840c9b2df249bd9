//! Native sources and sinks for plans run without Python.

use std::fs::File;
use std::io::{BufWriter, Write};

use crate::codec::{encode_json, render_python};
use crate::engine::{Poll, Sink, Source, WorkerInfo};
use crate::error::StepError;
use crate::item::Item;

/// `testing` input: the plan's own items, all read by worker 0.
pub struct TestingSource(std::vec::IntoIter<Vec<u8>>, usize);

impl TestingSource {
    /// This worker's share of `items`.
    pub fn new(items: &[serde_json::Value], worker: WorkerInfo) -> Self {
        let items: Vec<Vec<u8>> = if worker.index == 0 {
            items.iter().map(encode_json).collect()
        } else {
            Vec::new()
        };
        TestingSource(items.into_iter(), worker.count)
    }
}

impl Source for TestingSource {
    fn leaves_workers_idle(&self) -> bool {
        self.1 > 1
    }

    fn poll(&mut self, out: &mut Vec<Item>, max: usize) -> Result<Poll, StepError> {
        out.extend(self.0.by_ref().take(max).map(Item::Encoded));
        Ok(if self.0.len() == 0 {
            Poll::Done
        } else {
            Poll::Ready
        })
    }

    fn close(&mut self) -> Result<(), StepError> {
        Ok(())
    }
}

/// Lines of `str(item)` (Python's rendering) to standard output or a file.
pub struct LineSink {
    step_id: String,
    out: Box<dyn Write + Send>,
    buf: Vec<u8>,
}

impl LineSink {
    /// Standard output.
    pub fn stdout(step_id: &str) -> Self {
        LineSink {
            step_id: step_id.to_owned(),
            out: Box::new(std::io::stdout()),
            buf: Vec::new(),
        }
    }

    /// A file, created or truncated; with several workers each writes `path.<worker>`.
    pub fn file(step_id: &str, path: &str, worker: WorkerInfo) -> Result<Self, StepError> {
        let path = if worker.count > 1 {
            format!("{path}.{}", worker.index)
        } else {
            path.to_owned()
        };
        let file = File::create(&path).map_err(|e| {
            StepError::io(
                step_id,
                "output, file",
                format!("cannot create {path:?}"),
                e,
            )
        })?;
        Ok(LineSink {
            step_id: step_id.to_owned(),
            out: Box::new(BufWriter::new(file)),
            buf: Vec::new(),
        })
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
        self.out
            .write_all(&self.buf)
            .and_then(|_| self.out.flush())
            .map_err(|e| StepError::io(&self.step_id, "output", "writing", e))
    }

    fn close(&mut self) -> Result<(), StepError> {
        self.out
            .flush()
            .map_err(|e| StepError::io(&self.step_id, "output", "flushing", e))
    }
}
