//! Outputs: Python `DynamicOutput` / `PartitionedOutput` objects, and native standard output.

use std::collections::HashMap;
use std::io::Write;

use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};

use super::error::{repr, user_error};
use super::item::{from_py, snapshot_py, PyItem};
use crate::engine::{owner, restored_part, route_hash, ItemRouter, Restored, Sink, WorkerInfo};
use crate::recovery::KeyChange;
use crate::error::{texts, StepError};
use crate::item::Item;

/// `assign_part(key)` of a `(key, value)` item.
fn part_of(py: Python<'_>, output: &Py<PyAny>, item: &Item) -> Option<String> {
    let obj = match item {
        Item::Py(p) => p.0.bind(py).clone(),
        Item::Encoded(b) => super::codec::decode(py, b).ok()?,
        Item::Str(_) => return None,
    };
    let key = obj
        .cast::<PyTuple>()
        .ok()
        .filter(|t| t.len() == 2)?
        .get_item(0)
        .ok()?;
    output
        .bind(py)
        .call_method1("assign_part", (key,))
        .ok()?
        .extract()
        .ok()
}

fn to_py_in_place(py: Python<'_>, items: &mut [Item]) -> PyResult<()> {
    for item in items.iter_mut() {
        match item {
            Item::Str(s) => *item = from_py(PyString::new(py, s).into_any()),
            Item::Encoded(b) => *item = from_py(super::codec::decode(py, b)?),
            Item::Py(_) => {}
        }
    }
    Ok(())
}

fn obj<'a, 'py>(py: Python<'py>, item: &'a Item) -> &'a Py<PyAny> {
    let _ = py;
    match item {
        Item::Py(p) => &p.0,
        Item::Str(_) | Item::Encoded(_) => unreachable!("converted by to_py_in_place"),
    }
}

/// A `DynamicOutput`'s sink on this worker: `write(item)` for each item.
pub struct PyDynamicSink {
    step_id: String,
    sink: Py<PyAny>,
}

impl PyDynamicSink {
    /// Calls `output.build(worker_index, worker_count)`.
    pub fn build(step_id: &str, output: &Py<PyAny>, worker: WorkerInfo) -> Result<Self, StepError> {
        Python::attach(|py| {
            let sink = output
                .bind(py)
                .call_method1("build", (worker.index, worker.count))
                .map_err(|e| user_error(step_id, "output, build", e))?;
            Ok(PyDynamicSink {
                step_id: step_id.to_owned(),
                sink: sink.unbind(),
            })
        })
    }
}

impl Sink for PyDynamicSink {
    fn write(&mut self, _epoch: u64, items: &mut Vec<Item>) -> Result<(), StepError> {
        Python::attach(|py| {
            to_py_in_place(py, items).map_err(|e| user_error(&self.step_id, "output, write", e))?;
            let sink = self.sink.bind(py);
            for item in items.iter() {
                sink.call_method1("write", (obj(py, item),))
                    .map_err(|e| user_error(&self.step_id, "output, write", e))?;
            }
            Ok(())
        })
    }

    fn close(&mut self) -> Result<(), StepError> {
        Python::attach(|py| {
            self.sink
                .bind(py)
                .call_method0("close")
                .map_err(|e| user_error(&self.step_id, "output, close", e))?;
            Ok(())
        })
    }
}

/// A `PartitionedOutput`'s parts on this worker: `(key, value)` items go to the part
/// `assign_part(key)` names, which writes `value`.
pub struct PyPartitionedSink {
    step_id: String,
    output: Py<PyAny>,
    parts: HashMap<String, Py<PyAny>>,
    // Parts written to since the last snapshot.
    written: std::collections::BTreeSet<String>,
}

impl PyPartitionedSink {
    /// Builds the parts this worker owns, each from its `restored` snapshot if it has one.
    pub fn build(step_id: &str, output: &Py<PyAny>, worker: WorkerInfo, restored: Restored<'_>) -> Result<Self, StepError> {
        Python::attach(|py| {
            let out = output.bind(py);
            let fail =
                |what: &'static str| move |e| user_error(step_id, format!("output, {what}"), e);
            let mut names: Vec<String> = Vec::new();
            for name in out
                .call_method0("list_parts")
                .map_err(fail("list_parts"))?
                .try_iter()
                .map_err(fail("list_parts"))?
            {
                names.push(
                    name.map_err(fail("list_parts"))?
                        .extract()
                        .map_err(fail("list_parts"))?,
                );
            }
            names.sort();
            names.dedup();
            let mut parts = HashMap::new();
            for name in names
                .into_iter()
                .filter(|n| owner(n, worker.count) == worker.index)
            {
                let resume_state = restored_part::<PyItem>(restored, &name)
                    .map_err(|e| StepError::message(step_id, "output, build_part", format!("resuming part {name:?}: {e}")))?
                    .map_or_else(|| py.None(), |item| item.0);
                let built = out
                    .call_method1("build_part", (&name, resume_state))
                    .map_err(fail("build_part"))?;
                if !built.is_none() {
                    parts.insert(name, built.unbind());
                }
            }
            Ok(PyPartitionedSink { step_id: step_id.to_owned(), output: output.clone_ref(py), parts, written: Default::default() })
        })
    }
}

impl Sink for PyPartitionedSink {
    fn router(&self) -> Option<ItemRouter> {
        let output = Python::attach(|py| self.output.clone_ref(py));
        Some(Box::new(move |item: &Item| {
            // An item whose part cannot be found goes anywhere: `write` finds the same
            // problem there and reports it with the step id.
            Python::attach(|py| part_of(py, &output, item)).map_or(0, |part| route_hash(&part))
        }))
    }

    fn write(&mut self, _epoch: u64, items: &mut Vec<Item>) -> Result<(), StepError> {
        Python::attach(|py| {
            to_py_in_place(py, items).map_err(|e| user_error(&self.step_id, "output, write", e))?;
            let output = self.output.bind(py);
            for item in items.iter() {
                let item = obj(py, item).bind(py);
                let pair = match item.cast::<PyTuple>() {
                    Ok(t) if t.len() == 2 => t,
                    _ => {
                        return Err(StepError::wrong_type(
                            &self.step_id,
                            "output",
                            texts::not_a_pair(&repr(item)),
                        ))
                    }
                };
                let key = pair.get_item(0).expect("length checked");
                let part = output
                    .call_method1("assign_part", (&key,))
                    .and_then(|p| p.extract::<String>())
                    .map_err(|e| user_error(&self.step_id, "output, assign_part", e))?;
                let Some(sink) = self.parts.get(&part) else {
                    return Err(StepError::message(
                        &self.step_id,
                        "output, assign_part",
                        format!("assign_part returned {part:?}, which is not one of list_parts() on this worker"),
                    ));
                };
                sink.bind(py)
                    .call_method1("write", (pair.get_item(1).expect("length checked"),))
                    .map_err(|e| user_error(&self.step_id, "output, write", e))?;
                if !self.written.contains(&part) {
                    self.written.insert(part);
                }
            }
            Ok(())
        })
    }

    fn close(&mut self) -> Result<(), StepError> {
        Python::attach(|py| {
            for sink in self.parts.values() {
                let sink = sink.bind(py);
                sink.call_method0("snapshot")
                    .map_err(|e| user_error(&self.step_id, "output, snapshot", e))?;
                sink.call_method0("close")
                    .map_err(|e| user_error(&self.step_id, "output, close", e))?;
            }
            Ok(())
        })
    }

    fn snapshot(&mut self) -> Result<Vec<KeyChange>, StepError> {
        let written = std::mem::take(&mut self.written);
        Python::attach(|py| {
            let mut changes = Vec::with_capacity(written.len());
            for name in written {
                let Some(sink) = self.parts.get(&name) else { continue };
                let context = || format!("output, snapshot of part {name:?}");
                let state = sink.bind(py).call_method0("snapshot").map_err(|e| user_error(&self.step_id, context(), e))?;
                let bytes = snapshot_py(py, &state.unbind()).map_err(|e| StepError::message(&self.step_id, context(), e))?;
                changes.push(KeyChange { key: name, snapshot: Some(bytes) });
            }
            Ok(changes)
        })
    }
}

/// `StdOutput` used as-is: one `str(item)` line per item, written by Rust a batch at a time.
/// While `sys.stdout` is replaced (tests capturing output, `redirect_stdout`), it prints
/// through Python instead so the replacement sees the lines.
pub struct NativeStdout {
    step_id: String,
    buf: String,
}

impl NativeStdout {
    /// A sink for `step_id`.
    pub fn new(step_id: &str) -> Self {
        NativeStdout {
            step_id: step_id.to_owned(),
            buf: String::new(),
        }
    }
}

impl Sink for NativeStdout {
    fn write(&mut self, _epoch: u64, items: &mut Vec<Item>) -> Result<(), StepError> {
        let fail = |e| user_error(&self.step_id, "output, StdOutput", e);
        self.buf.clear();
        Python::attach(|py| {
            let sys = py.import("sys").map_err(fail)?;
            let stdout = sys.getattr("stdout").map_err(fail)?;
            let original = sys.getattr("__stdout__").map_err(fail)?;
            if !stdout.is(&original) {
                let print = py
                    .import("builtins")
                    .and_then(|b| b.getattr("print"))
                    .map_err(fail)?;
                to_py_in_place(py, items).map_err(fail)?;
                for item in items.iter() {
                    print.call1((obj(py, item),)).map_err(fail)?;
                }
                return Ok(());
            }
            for item in items.iter() {
                match item {
                    Item::Str(s) => self.buf.push_str(s),
                    Item::Encoded(b) => self.buf.push_str(&crate::codec::render_python(b)),
                    Item::Py(p) => self
                        .buf
                        .push_str(&p.0.bind(py).str().map_err(fail)?.to_cow().map_err(fail)?),
                }
                self.buf.push('\n');
            }
            // Keep order with anything the flow printed through Python.
            stdout.call_method0("flush").map_err(fail)?;
            Ok(())
        })?;
        if !self.buf.is_empty() {
            let mut out = std::io::stdout().lock();
            out.write_all(self.buf.as_bytes())
                .and_then(|_| out.flush())
                .map_err(|e| {
                    StepError::io(
                        &self.step_id,
                        "output, StdOutput",
                        "writing to standard output",
                        e,
                    )
                })?;
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), StepError> {
        Ok(())
    }
}

/// A native sink that takes items in the codec: Python items are encoded first, a batch
/// under one GIL acquisition.
pub struct EncodingSink {
    step_id: String,
    inner: Box<dyn Sink>,
}

impl EncodingSink {
    /// Wraps `inner`, the sink of `step_id`.
    pub fn new(step_id: &str, inner: Box<dyn Sink>) -> Self {
        EncodingSink { step_id: step_id.to_owned(), inner }
    }
}

impl Sink for EncodingSink {
    fn write(&mut self, epoch: u64, items: &mut Vec<Item>) -> Result<(), StepError> {
        if items.iter().any(|i| matches!(i, Item::Py(_))) {
            Python::attach(|py| {
                for item in items.iter_mut() {
                    if let Item::Py(p) = item {
                        let bytes = super::codec::encode(p.0.bind(py))
                            .map_err(|e| StepError::wrong_type(&self.step_id, "output", e.value(py).to_string()))?;
                        *item = Item::Encoded(bytes);
                    }
                }
                Ok::<_, StepError>(())
            })?;
        }
        self.inner.write(epoch, items)
    }

    fn close(&mut self) -> Result<(), StepError> {
        self.inner.close()
    }

    fn snapshot(&mut self) -> Result<Vec<KeyChange>, StepError> {
        self.inner.snapshot()
    }
}
