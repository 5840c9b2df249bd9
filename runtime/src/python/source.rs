//! Inputs: Python `PartitionedInput` / `DynamicInput` objects, and the native line reader.

use std::path::Path;

use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use pyo3::types::PyString;

use super::error::user_error;
use super::item::from_py;
use crate::connectors::LineReader;
use crate::engine::{owner, Poll, Source, WorkerInfo};
use crate::error::StepError;
use crate::item::Item;

/// One Python source object (`StatefulSource` or `StatelessSource`) and its label.
struct PyPart {
    name: String,
    source: Py<PyAny>,
}

/// The partitions of a Python input this worker owns (or its one dynamic source).
pub struct PySource {
    step_id: String,
    parts: Vec<PyPart>,
    next_part: usize,
}

impl PySource {
    /// Builds this worker's share of `input`, a `PartitionedInput` or `DynamicInput`.
    pub fn build(step_id: &str, input: &Py<PyAny>, partitioned: bool, worker: WorkerInfo) -> Result<Self, StepError> {
        Python::attach(|py| {
            let input = input.bind(py);
            let fail = |what: &str| {
                let what = what.to_owned();
                move |e| user_error(step_id, format!("input, {what}"), e)
            };
            let mut parts = Vec::new();
            if partitioned {
                let listed = input.call_method0("list_parts").map_err(fail("list_parts"))?;
                let mut names: Vec<String> = Vec::new();
                for name in listed.try_iter().map_err(fail("list_parts"))? {
                    let name = name.map_err(fail("list_parts"))?;
                    names.push(name.extract::<String>().map_err(fail("list_parts"))?);
                }
                // Every worker lists the same parts; sorting makes their order the same too.
                names.sort();
                names.dedup();
                for name in names.into_iter().filter(|n| owner(n, worker.count) == worker.index) {
                    let built = input.call_method1("build_part", (&name, py.None())).map_err(fail("build_part"))?;
                    if !built.is_none() {
                        parts.push(PyPart { name, source: built.unbind() });
                    }
                }
            } else {
                let built = input.call_method1("build", (worker.index, worker.count)).map_err(fail("build"))?;
                parts.push(PyPart { name: "dynamic".into(), source: built.unbind() });
            }
            Ok(PySource { step_id: step_id.to_owned(), parts, next_part: 0 })
        })
    }
}

impl Source for PySource {
    fn poll(&mut self, out: &mut Vec<Item>, max: usize) -> Result<Poll, StepError> {
        if self.parts.is_empty() {
            return Ok(Poll::Done);
        }
        Python::attach(|py| {
            let mut idle_parts = 0;
            while out.len() < max && idle_parts < self.parts.len() && !self.parts.is_empty() {
                let i = self.next_part % self.parts.len();
                let part = &self.parts[i];
                match part.source.bind(py).call_method0("next") {
                    Ok(item) if item.is_none() => {
                        idle_parts += 1;
                        self.next_part = i + 1;
                    }
                    Ok(item) => {
                        idle_parts = 0;
                        out.push(from_py(item));
                    }
                    Err(e) if e.is_instance_of::<PyStopIteration>(py) => {
                        let part = self.parts.remove(i);
                        let source = part.source.bind(py);
                        if source.hasattr("snapshot").unwrap_or(false) {
                            // The last snapshot, at end of input, as 0.16 takes it.
                            source
                                .call_method0("snapshot")
                                .map_err(|e| user_error(&self.step_id, format!("input, snapshot of part {:?}", part.name), e))?;
                        }
                        source
                            .call_method0("close")
                            .map_err(|e| user_error(&self.step_id, format!("input, close of part {:?}", part.name), e))?;
                    }
                    Err(e) => return Err(user_error(&self.step_id, format!("input, next of part {:?}", part.name), e)),
                }
            }
            Ok(if self.parts.is_empty() {
                Poll::Done
            } else if idle_parts >= self.parts.len() && out.is_empty() {
                Poll::Idle
            } else {
                Poll::Ready
            })
        })
    }

    fn close(&mut self) -> Result<(), StepError> {
        Ok(())
    }
}

/// `FileInput` used as-is: lines read in Rust, turned into Python strings a batch at a time.
pub struct NativeFileSource {
    step_id: String,
    reader: Option<LineReader>,
}

impl NativeFileSource {
    /// Opens `path` if this worker owns its one partition (named by the path, as in 0.16).
    pub fn open(step_id: &str, path: &str, worker: WorkerInfo) -> Result<Self, StepError> {
        let reader = if owner(path, worker.count) == worker.index {
            let r = LineReader::open(Path::new(path), 0).map_err(|e| {
                Python::attach(|_py| {
                    user_error(
                        step_id,
                        "input, FileInput",
                        pyo3::exceptions::PyFileNotFoundError::new_err((e.raw_os_error().unwrap_or(2), e.to_string(), path.to_owned())),
                    )
                })
            })?;
            Some(r)
        } else {
            None
        };
        Ok(NativeFileSource { step_id: step_id.to_owned(), reader })
    }
}

impl Source for NativeFileSource {
    fn poll(&mut self, out: &mut Vec<Item>, max: usize) -> Result<Poll, StepError> {
        let Some(reader) = self.reader.as_mut() else { return Ok(Poll::Done) };
        let step_id = &self.step_id;
        Python::attach(|py| {
            while out.len() < max {
                match reader.next_line() {
                    Ok(Some(line)) => out.push(from_py(PyString::new(py, line).into_any())),
                    Ok(None) => return Ok(Poll::Done),
                    Err(e) => {
                        let err = pyo3::exceptions::PyOSError::new_err(format!("reading {}: {e}", reader.path().display()));
                        return Err(user_error(step_id, "input, FileInput", err));
                    }
                }
            }
            Ok(Poll::Ready)
        })
    }

    fn close(&mut self) -> Result<(), StepError> {
        self.reader = None;
        Ok(())
    }
}
