//! The [`StepHost`] for plans without Python: WASM components, builtins and native
//! connectors. This is what `bytewax-wasm run` uses; it never touches libpython.

mod builtin;
mod chain;
mod grouping;
mod io;
mod keyed;
mod windows;

use crate::connectors::{DirSource, FileSource};
use crate::engine::{Chain, KeyBy, KeyedLogic, Restored, Sink, Source, StepHost, WorkerInfo};
use crate::error::StepError;
use crate::plan::{SinkSpec, SourceSpec, Step};

pub use chain::{chain_error, combine_before, NativeChain};
pub use io::{LineSink, TestingSource};
pub use keyed::{NativeKeyBy, NativeStateful};
pub use windows::NativeWindows;

/// Runs plans whose steps are WASM or builtin.
#[derive(Default)]
pub struct NativeHost;

fn python_step(step: &Step) -> StepError {
    StepError::message(
        step.step_id(),
        step.op(),
        "this step is a Python function; run flows with Python steps with `python -m bytewax.run`",
    )
}

fn unsupported(step: &Step, what: &str) -> StepError {
    StepError::message(step.step_id(), step.op(), format!("{} is not supported {what}", step.op()))
}

impl StepHost for NativeHost {
    fn source(&self, step_id: &str, spec: &SourceSpec, worker: WorkerInfo, restored: Restored<'_>) -> Result<Box<dyn Source>, StepError> {
        Ok(match spec {
            SourceSpec::File { path } => Box::new(FileSource::open(step_id, path, worker, restored)?),
            SourceSpec::Testing { items } => Box::new(TestingSource::new(step_id, items, worker, restored)?),
            SourceSpec::Dir { path, glob } => Box::new(DirSource::open(step_id, path, glob.as_deref().unwrap_or("*"), worker, restored)?),
            SourceSpec::Kafka { brokers, topics, tail, starting_offset, add_config } => {
                let spec = crate::connectors::KafkaInputSpec { brokers, topics, tail: *tail, starting_offset: *starting_offset, add_config };
                Box::new(crate::connectors::KafkaSource::open(step_id, &spec, worker, restored)?)
            }
            SourceSpec::Python { .. } => {
                return Err(StepError::message(
                    step_id,
                    "input",
                    "this input is a Python object; run flows with Python steps with `python -m bytewax.run`",
                ))
            }
        })
    }

    fn chain(&self, steps: &[Step], next: Option<&Step>) -> Result<Box<dyn Chain>, StepError> {
        Ok(Box::new(NativeChain::new(steps, next)?))
    }

    fn key_by(&self, step: &Step) -> Result<Box<dyn KeyBy>, StepError> {
        Ok(Box::new(NativeKeyBy::new(step)))
    }

    fn keyed_logic(&self, step: &Step, _worker: WorkerInfo) -> Result<Box<dyn KeyedLogic>, StepError> {
        Ok(match step {
            Step::Reduce { .. } | Step::StatefulMap { .. } => Box::new(NativeStateful::new(step)?),
            _ => Box::new(NativeWindows::new(step)?),
        })
    }

    fn sink(&self, step_id: &str, spec: &SinkSpec, worker: WorkerInfo, restored: Restored<'_>) -> Result<Box<dyn Sink>, StepError> {
        Ok(match spec {
            SinkSpec::Stdout {} => Box::new(LineSink::stdout(step_id)),
            SinkSpec::File { path } => Box::new(LineSink::file(step_id, path, worker, restored)?),
            SinkSpec::Kafka { brokers, topic, add_config } => {
                Box::new(crate::connectors::KafkaSink::open(step_id, brokers, topic, add_config)?)
            }
            SinkSpec::Python { .. } => {
                return Err(StepError::message(
                    step_id,
                    "output",
                    "this output is a Python object; run flows with Python steps with `python -m bytewax.run`",
                ))
            }
        })
    }
}
