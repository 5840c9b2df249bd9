//! The [`StepHost`] for flows built in Python: user code is Python callables.

use std::collections::HashMap;
use std::ops::Range;

use pyo3::prelude::*;

use super::chain::PyChain;
use super::keyed::{ValueForm, PyKeyBy, PyKeyedStep};
use super::sink::{NativeStdout, PyDynamicSink, PyPartitionedSink};
use super::source::PySource;
use crate::connectors::FileSource;
use super::windows::PyWindowLogic;
use crate::engine::{Chain, KeyBy, KeyedLogic, Restored, Sink, Source, StepHost, WorkerInfo};
use crate::error::{RunError, StepError};
use crate::plan::{FnRef, SinkSpec, SourceSpec, Step};

/// The Python objects a plan's `python` references name, by reference.
pub struct Callables(HashMap<String, Py<PyAny>>);

impl Callables {
    /// Wraps the registry the frontend built.
    pub fn new(map: HashMap<String, Py<PyAny>>) -> Self {
        Callables(map)
    }

    fn get(&self, reference: &str, step_id: &str, op: &str) -> Result<Py<PyAny>, StepError> {
        let obj = self.0.get(reference).ok_or_else(|| {
            StepError::message(step_id, op, format!("the plan refers to Python object {reference:?}, which was not registered"))
        })?;
        Ok(Python::attach(|py| obj.clone_ref(py)))
    }

    /// The callable behind a step's function reference.
    pub fn resolve(&self, step: &Step, f: &FnRef) -> Result<Py<PyAny>, StepError> {
        match f {
            FnRef::Python { reference, .. } => self.get(reference, step.step_id(), step.op()),
            other => Err(StepError::message(
                step.step_id(),
                step.op(),
                format!("{} functions are not supported in Python flows by this version yet", kind_name(other)),
            )),
        }
    }
}

/// A stateful step whose functions are WASM (or builtin) rather than Python.
fn runs_in_wasm(step: &Step) -> bool {
    let fns = step.functions();
    !fns.is_empty() && fns.iter().all(|(_, f)| !matches!(f, FnRef::Python { .. }))
}

fn kind_name(f: &FnRef) -> &'static str {
    match f {
        FnRef::Python { .. } => "python",
        FnRef::Builtin { .. } => "builtin",
        FnRef::Wasm { .. } => "wasm",
    }
}

/// Runs plans whose step code is Python.
pub struct PyStepHost {
    callables: Callables,
    processes: Option<ProcessShare>,
}

/// Which of a cluster's workers run in this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessShare {
    /// This process's workers (timely numbers them process by process).
    pub workers: Range<usize>,
    /// Workers in the whole cluster.
    pub of: usize,
}

impl PyStepHost {
    /// A host over the frontend's registry; `processes` when the run's workers are in
    /// several processes.
    pub fn new(callables: Callables, processes: Option<ProcessShare>) -> Self {
        PyStepHost { callables, processes }
    }
}

impl StepHost for PyStepHost {
    fn source(&self, step_id: &str, spec: &SourceSpec, worker: WorkerInfo, restored: Restored<'_>) -> Result<Box<dyn Source>, StepError> {
        Ok(match spec {
            SourceSpec::Python { reference, partitioned, .. } => {
                let input = self.callables.get(reference, step_id, "input")?;
                Box::new(PySource::build(step_id, &input, *partitioned, worker, restored)?)
            }
            SourceSpec::File { path } => Box::new(FileSource::open(step_id, path, worker, restored)?),
            SourceSpec::Testing { items } => Box::new(crate::native::TestingSource::new(step_id, items, worker, restored)?),
            SourceSpec::Dir { path, glob } => {
                Box::new(crate::connectors::DirSource::open(step_id, path, glob.as_deref().unwrap_or("*"), worker, restored)?)
            }
            SourceSpec::Kafka { brokers, topics, tail, starting_offset, add_config } => {
                let spec = crate::connectors::KafkaInputSpec { brokers, topics, tail: *tail, starting_offset: *starting_offset, add_config };
                Box::new(crate::connectors::KafkaSource::open(step_id, &spec, worker, restored)?)
            }
        })
    }

    fn chain(&self, steps: &[Step], next: Option<&Step>) -> Result<Box<dyn Chain>, StepError> {
        Ok(Box::new(PyChain::new(steps, &self.callables, next)?))
    }

    fn key_by(&self, step: &Step) -> Result<Box<dyn KeyBy>, StepError> {
        let values = match (runs_in_wasm(step), &self.processes) {
            (true, _) => ValueForm::Encoded,
            (false, Some(share)) => ValueForm::EncodedWhenPlainAndRemote(share.clone()),
            (false, None) => ValueForm::Python,
        };
        Ok(Box::new(PyKeyBy::new(step, values)))
    }

    fn keyed_logic(&self, step: &Step, _worker: WorkerInfo) -> Result<Box<dyn KeyedLogic>, StepError> {
        if runs_in_wasm(step) {
            // The same logic `bytewax-wasm run` uses; values arrive encoded from PyKeyBy.
            return Ok(match step {
                Step::Reduce { .. } | Step::StatefulMap { .. } => Box::new(crate::native::NativeStateful::new(step)?),
                _ => Box::new(crate::native::NativeWindows::new(step)?),
            });
        }
        Ok(match step {
            Step::Reduce { .. } | Step::StatefulMap { .. } => Box::new(PyKeyedStep::new(step, &self.callables)?),
            _ => Box::new(PyWindowLogic::new(step, &self.callables)?),
        })
    }

    fn sink(&self, step_id: &str, spec: &SinkSpec, worker: WorkerInfo, restored: Restored<'_>) -> Result<Box<dyn Sink>, StepError> {
        Ok(match spec {
            SinkSpec::Python { reference, partitioned: false, .. } => {
                let output = self.callables.get(reference, step_id, "output")?;
                Box::new(PyDynamicSink::build(step_id, &output, worker)?)
            }
            SinkSpec::Python { reference, partitioned: true, .. } => {
                let output = self.callables.get(reference, step_id, "output")?;
                Box::new(PyPartitionedSink::build(step_id, &output, worker, restored)?)
            }
            SinkSpec::Stdout {} => Box::new(NativeStdout::new(step_id)),
            SinkSpec::Kafka { brokers, topic, add_config } => Box::new(super::sink::EncodingSink::new(
                step_id,
                Box::new(crate::connectors::KafkaSink::open(step_id, brokers, topic, add_config)?),
            )),
            SinkSpec::File { .. } => {
                return Err(StepError::message(step_id, "output", "file sinks in plans are for `bytewax-wasm run`; use FileOutput"))
            }
        })
    }

    fn check_interrupt(&self) -> Result<(), RunError> {
        Python::attach(|py| py.check_signals()).map_err(|_| RunError::Interrupted)
    }

    fn run_worker_thread(&self, body: &mut dyn FnMut() -> Result<(), RunError>) -> Result<(), RunError> {
        // Attached once for the worker's life, then detached while it runs: every later
        // attach on this thread reuses the thread state instead of creating and
        // destroying one per batch (or per item crossing to another process).
        Python::attach(|py| {
            let job = SameThread(body);
            py.detach(move || job.run())
        })
    }
}

/// A worker body handed to [`Python::detach`], which wants it `Send`.
struct SameThread<'a>(&'a mut dyn FnMut() -> Result<(), RunError>);

impl SameThread<'_> {
    fn run(self) -> Result<(), RunError> {
        (self.0)()
    }
}

// SAFETY: `detach` calls the closure on the calling thread before it returns, so the body
// never actually moves to another thread; the worker it drives attaches for itself
// whenever it touches Python objects.
#[allow(unsafe_code)]
unsafe impl Send for SameThread<'_> {}
