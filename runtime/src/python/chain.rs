//! A fused run of stateless Python steps, one GIL acquisition per batch.

use pyo3::prelude::*;
use pyo3::types::PyBool;

use super::error::{repr, user_error};
use super::host::Callables;
use super::item::{from_py, into_py};
use crate::engine::Chain;
use crate::error::StepError;
use crate::item::Item;
use crate::plan::Step;

enum Kind {
    Map,
    FlatMap,
    Filter,
    FilterMap,
    Inspect,
    InspectEpoch,
}

struct Stage {
    kind: Kind,
    func: Py<PyAny>,
    step_id: String,
    context: String,
}

/// The stateless steps of a chain, applied item by item while holding the GIL once per batch.
pub struct PyChain {
    stages: Vec<Stage>,
}

impl PyChain {
    /// Resolves each step's function.
    pub fn new(steps: &[Step], callables: &Callables) -> Result<Self, StepError> {
        let stages = steps
            .iter()
            .map(|step| {
                let (kind, role, f) = match step {
                    Step::Map { mapper, .. } => (Kind::Map, "mapper", mapper),
                    Step::FlatMap { mapper, .. } => (Kind::FlatMap, "mapper", mapper),
                    Step::Filter { predicate, .. } => (Kind::Filter, "predicate", predicate),
                    Step::FilterMap { mapper, .. } => (Kind::FilterMap, "mapper", mapper),
                    Step::Inspect { inspector, .. } => (Kind::Inspect, "inspector", inspector),
                    Step::InspectEpoch { inspector, .. } => (Kind::InspectEpoch, "inspector", inspector),
                    other => unreachable!("{} is not a stateless step", other.op()),
                };
                Ok(Stage {
                    kind,
                    func: callables.resolve(step, f)?,
                    step_id: step.step_id().to_owned(),
                    context: format!("{}, {role} `{}`", step.op(), f.label()),
                })
            })
            .collect::<Result<_, StepError>>()?;
        Ok(PyChain { stages })
    }

    fn run<'py>(
        &self,
        py: Python<'py>,
        at: usize,
        mut obj: Bound<'py, PyAny>,
        epoch: u64,
        out: &mut Vec<Item>,
    ) -> Result<(), StepError> {
        for (i, stage) in self.stages.iter().enumerate().skip(at) {
            let f = stage.func.bind(py);
            let fail = |e| user_error(&stage.step_id, stage.context.as_str(), e);
            match stage.kind {
                Kind::Map => obj = f.call1((obj,)).map_err(fail)?,
                Kind::FlatMap => {
                    let produced = f.call1((obj,)).map_err(fail)?;
                    for elem in produced.try_iter().map_err(fail)? {
                        self.run(py, i + 1, elem.map_err(fail)?, epoch, out)?;
                    }
                    return Ok(());
                }
                Kind::Filter => {
                    let keep = f.call1((&obj,)).map_err(fail)?;
                    match keep.cast::<PyBool>() {
                        Ok(b) if b.is_true() => {}
                        Ok(_) => return Ok(()),
                        Err(_) => {
                            return Err(StepError::wrong_type(
                                &stage.step_id,
                                stage.context.as_str(),
                                format!(
                                    "return value of `predicate` in filter operator must be a bool; got `{}` instead",
                                    repr(&keep)
                                ),
                            ))
                        }
                    }
                }
                Kind::FilterMap => {
                    obj = f.call1((obj,)).map_err(fail)?;
                    if obj.is_none() {
                        return Ok(());
                    }
                }
                Kind::Inspect => {
                    f.call1((&obj,)).map_err(fail)?;
                }
                Kind::InspectEpoch => {
                    f.call1((epoch, &obj)).map_err(fail)?;
                }
            }
        }
        out.push(from_py(obj));
        Ok(())
    }
}

impl Chain for PyChain {
    fn process(&mut self, epoch: u64, input: &mut Vec<Item>, out: &mut Vec<Item>) -> Result<(), StepError> {
        Python::attach(|py| {
            for item in input.drain(..) {
                let obj = into_py(py, item).into_bound(py);
                self.run(py, 0, obj, epoch, out)?;
            }
            Ok(())
        })
    }
}
