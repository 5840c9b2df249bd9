//! Inputs given as Python `PartitionedInput` / `DynamicInput` objects.

use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;

use super::error::user_error;
use super::item::{from_py, snapshot_py, PyItem};
use crate::engine::{owner, restored_part, some_worker_idle, Poll, Restored, Source, WorkerInfo};
use crate::error::StepError;
use crate::item::Item;
use crate::recovery::KeyChange;

/// One Python source object (`StatefulSource` or `StatelessSource`) and its label.
struct PyPart {
    name: String,
    source: Py<PyAny>,
    // It emitted since its last snapshot.
    moved: bool,
}

/// The partitions of a Python input this worker owns (or its one dynamic source).
pub struct PySource {
    step_id: String,
    parts: Vec<PyPart>,
    next_part: usize,
    idle_workers: bool,
    partitioned: bool,
    // Final snapshots of parts that ended since the last snapshot.
    ended: Vec<KeyChange>,
}

impl PySource {
    /// Builds this worker's share of `input`, a `PartitionedInput` or `DynamicInput`.
    pub fn build(
        step_id: &str,
        input: &Py<PyAny>,
        partitioned: bool,
        worker: WorkerInfo,
        restored: Restored<'_>,
    ) -> Result<Self, StepError> {
        Python::attach(|py| {
            let input = input.bind(py);
            let fail = |what: &str| {
                let what = what.to_owned();
                move |e| user_error(step_id, format!("input, {what}"), e)
            };
            let mut parts = Vec::new();
            let mut idle_workers = false;
            if partitioned {
                let listed = input
                    .call_method0("list_parts")
                    .map_err(fail("list_parts"))?;
                let mut names: Vec<String> = Vec::new();
                for name in listed.try_iter().map_err(fail("list_parts"))? {
                    let name = name.map_err(fail("list_parts"))?;
                    names.push(name.extract::<String>().map_err(fail("list_parts"))?);
                }
                // Every worker lists the same parts; sorting makes their order the same too.
                names.sort();
                names.dedup();
                idle_workers = some_worker_idle(names.iter().map(String::as_str), worker.count);
                for name in names
                    .into_iter()
                    .filter(|n| owner(n, worker.count) == worker.index)
                {
                    let resume_state = restored_part::<PyItem>(restored, &name)
                        .map_err(|e| StepError::message(step_id, "input, build_part", format!("resuming part {name:?}: {e}")))?
                        .map_or_else(|| py.None(), |item| item.0);
                    let built = input
                        .call_method1("build_part", (&name, resume_state))
                        .map_err(fail("build_part"))?;
                    if !built.is_none() {
                        parts.push(PyPart { name, source: built.unbind(), moved: false });
                    }
                }
            } else {
                let built = input
                    .call_method1("build", (worker.index, worker.count))
                    .map_err(fail("build"))?;
                parts.push(PyPart { name: "dynamic".into(), source: built.unbind(), moved: false });
            }
            Ok(PySource { step_id: step_id.to_owned(), parts, next_part: 0, idle_workers, partitioned, ended: Vec::new() })
        })
    }
}

impl Source for PySource {
    fn leaves_workers_idle(&self) -> bool {
        self.idle_workers
    }

    fn poll(&mut self, out: &mut Vec<Item>, max: usize) -> Result<Poll, StepError> {
        if self.parts.is_empty() {
            return Ok(Poll::Done);
        }
        Python::attach(|py| {
            let mut idle_parts = 0;
            while out.len() < max && idle_parts < self.parts.len() && !self.parts.is_empty() {
                let i = self.next_part % self.parts.len();
                let part = &mut self.parts[i];
                match part.source.bind(py).call_method0("next") {
                    Ok(item) if item.is_none() => {
                        idle_parts += 1;
                        self.next_part = i + 1;
                    }
                    Ok(item) => {
                        idle_parts = 0;
                        part.moved = true;
                        out.push(from_py(item));
                    }
                    Err(e) if e.is_instance_of::<PyStopIteration>(py) => {
                        let part = self.parts.remove(i);
                        let source = part.source.bind(py);
                        if self.partitioned {
                            // The last snapshot, at end of input, as 0.16 takes it.
                            let last = snapshot_part(py, &self.step_id, &part)?;
                            self.ended.push(last);
                        }
                        source.call_method0("close").map_err(|e| {
                            user_error(
                                &self.step_id,
                                format!("input, close of part {:?}", part.name),
                                e,
                            )
                        })?;
                    }
                    Err(e) => {
                        return Err(user_error(
                            &self.step_id,
                            format!("input, next of part {:?}", part.name),
                            e,
                        ))
                    }
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

    fn snapshot(&mut self) -> Result<Vec<KeyChange>, StepError> {
        let mut changes = std::mem::take(&mut self.ended);
        if !self.partitioned {
            return Ok(changes);
        }
        Python::attach(|py| {
            for part in self.parts.iter_mut().filter(|p| p.moved) {
                part.moved = false;
                changes.push(snapshot_part(py, &self.step_id, part)?);
            }
            Ok(changes)
        })
    }
}

/// `snapshot()` of a `StatefulSource`, as snapshot bytes.
fn snapshot_part(py: Python<'_>, step_id: &str, part: &PyPart) -> Result<KeyChange, StepError> {
    let context = || format!("input, snapshot of part {:?}", part.name);
    let state = part.source.bind(py).call_method0("snapshot").map_err(|e| user_error(step_id, context(), e))?;
    let bytes = snapshot_py(py, &state.unbind()).map_err(|e| StepError::message(step_id, context(), e))?;
    Ok(KeyChange { key: part.name.clone(), snapshot: Some(bytes) })
}
