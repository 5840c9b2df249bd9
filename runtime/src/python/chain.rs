//! A fused run of stateless steps in a Python flow. Python steps run item by item with the
//! GIL taken once per batch; a WASM step gets the whole batch in one call, without the GIL.

use pyo3::prelude::*;
use pyo3::types::PyBool;

use super::codec;
use super::error::{repr, user_error};
use super::host::Callables;
use super::item::{from_py, into_py};
use crate::engine::{Chain, GatherLimit};
use crate::error::{texts, StepError};
use crate::item::Item;
use crate::plan::{FnRef, Step};
use crate::native::{chain_error, combine_before};
use crate::wasm::{Batch, StatelessKind, WasmChain};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Map,
    FlatMap,
    Filter,
    FilterMap,
    Inspect,
    InspectEpoch,
}

enum Code {
    Python(Py<PyAny>),
    /// Consecutive WASM steps sharing one call; `labels` are each one's step id and context.
    Wasm { chain: Box<WasmChain>, labels: Vec<(String, String)> },
}

struct Stage {
    kind: Kind,
    code: Code,
    step_id: String,
    context: String,
}

/// The stateless steps of a chain.
pub struct PyChain {
    stages: Vec<Stage>,
}

impl PyChain {
    /// Resolves each step's function (and instantiates WASM components for this worker).
    /// `next` is the step the chain feeds: a WASM run at the end may combine its values
    /// for it (see [`combine_before`]).
    pub fn new(steps: &[Step], callables: &Callables, next: Option<&Step>) -> Result<Self, StepError> {
        let mut stages: Vec<Stage> = Vec::new();
        for step in steps {
            if join_wasm_run(stages.last_mut(), step) {
                continue;
            }
            stages.push(stage(step, callables)?);
        }
        if let (Some(next), Some(Stage { code: Code::Wasm { chain, labels }, .. })) = (next, stages.last_mut()) {
            labels.extend(combine_before(chain, next)?);
        }
        Ok(PyChain { stages })
    }

    /// Runs `obj` through the Python stages `at..end`, appending what comes out to `out`.
    fn run_python<'py>(
        &self,
        py: Python<'py>,
        at: usize,
        end: usize,
        mut obj: Bound<'py, PyAny>,
        epoch: u64,
        out: &mut Vec<Item>,
    ) -> Result<(), StepError> {
        for (i, stage) in self.stages[..end].iter().enumerate().skip(at) {
            let Code::Python(f) = &stage.code else { unreachable!("python runs hold only python stages") };
            let f = f.bind(py);
            let fail = |e| user_error(&stage.step_id, stage.context.as_str(), e);
            match stage.kind {
                Kind::Map => obj = f.call1((obj,)).map_err(fail)?,
                Kind::FlatMap => {
                    let produced = f.call1((obj,)).map_err(fail)?;
                    for elem in produced.try_iter().map_err(fail)? {
                        self.run_python(py, i + 1, end, elem.map_err(fail)?, epoch, out)?;
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
                                texts::not_a_bool("predicate", "filter", &repr(&keep)),
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

    fn run_wasm(&mut self, py: Python<'_>, at: usize, batch: Vec<Item>) -> Result<Vec<Item>, StepError> {
        let stage = &mut self.stages[at];
        let (step_id, context) = (stage.step_id.as_str(), stage.context.as_str());
        let Code::Wasm { chain, labels } = &mut stage.code else { unreachable!("checked by the caller") };
        let mut encoded = Batch::with_capacity(batch.len(), 0);
        for item in &batch {
            match item {
                Item::Encoded(b) => encoded.push(b),
                Item::Str(s) => encoded.push_str(s),
                Item::Py(p) => encoded.push(
                    &codec::encode(p.0.bind(py)).map_err(|e| StepError::wrong_type(step_id, context, e.value(py).to_string()))?,
                ),
            }
        }
        // A lone filter or inspect keeps the Python objects it was given, as a Python
        // step would; anything that produces items hands on what the component made.
        match chain.kinds() {
            [StatelessKind::Filter] => {
                let kept = py.detach(|| chain.verdicts(&encoded)).map_err(|e| StepError::message(step_id, context, e.to_string()))?;
                Ok(batch.into_iter().zip(kept).filter(|(_, keep)| *keep).map(|(item, _)| item).collect())
            }
            kinds => {
                let only_looks = kinds == [StatelessKind::Inspect];
                let produced = py.detach(|| chain.run(&encoded)).map_err(|f| {
                    let labels: Vec<(&str, &str)> = labels.iter().map(|(id, c)| (id.as_str(), c.as_str())).collect();
                    chain_error(&labels, f.stage, f.error.to_string())
                })?;
                Ok(match only_looks {
                    true => batch,
                    false => produced.iter().map(|b| Item::Encoded(b.to_vec())).collect(),
                })
            }
        }
    }
}

/// Adds `step` to the WASM run `last` when it can share its call: same component and
/// settings, and a run that produces items (a lone filter or inspect keeps Python objects,
/// so it stays alone). `false`: the step starts a stage of its own.
fn join_wasm_run(last: Option<&mut Stage>, step: &Step) -> bool {
    let Some(Stage { code: Code::Wasm { chain, labels }, .. }) = last else { return false };
    if matches!(chain.kinds()[0], StatelessKind::Filter | StatelessKind::Inspect) {
        return false;
    }
    let (kind, role, f) = match step {
        Step::Map { mapper, .. } => (StatelessKind::Map, "mapper", mapper),
        Step::FlatMap { mapper, .. } => (StatelessKind::FlatMap, "mapper", mapper),
        Step::Filter { predicate, .. } => (StatelessKind::Filter, "predicate", predicate),
        Step::FilterMap { mapper, .. } => (StatelessKind::FilterMap, "mapper", mapper),
        Step::Inspect { inspector, .. } => (StatelessKind::Inspect, "inspector", inspector),
        _ => return false,
    };
    if chain.join(f, kind).is_err() {
        return false;
    }
    labels.push((step.step_id().to_owned(), format!("{}, {role} `{}`", step.op(), f.label())));
    true
}

fn stage(step: &Step, callables: &Callables) -> Result<Stage, StepError> {
    let (kind, role, f) = match step {
        Step::Map { mapper, .. } => (Kind::Map, "mapper", mapper),
        Step::FlatMap { mapper, .. } => (Kind::FlatMap, "mapper", mapper),
        Step::Filter { predicate, .. } => (Kind::Filter, "predicate", predicate),
        Step::FilterMap { mapper, .. } => (Kind::FilterMap, "mapper", mapper),
        Step::Inspect { inspector, .. } => (Kind::Inspect, "inspector", inspector),
        Step::InspectEpoch { inspector, .. } => (Kind::InspectEpoch, "inspector", inspector),
        other => unreachable!("{} is not a stateless step", other.op()),
    };
    let context = format!("{}, {role} `{}`", step.op(), f.label());
    let code = match f {
        FnRef::Wasm { .. } => {
            let wasm_kind = match kind {
                Kind::Map => StatelessKind::Map,
                Kind::FlatMap => StatelessKind::FlatMap,
                Kind::Filter => StatelessKind::Filter,
                Kind::FilterMap => StatelessKind::FilterMap,
                Kind::Inspect => StatelessKind::Inspect,
                Kind::InspectEpoch => {
                    return Err(StepError::message(step.step_id(), context, "inspect_epoch cannot run a WASM step"))
                }
            };
            let chain = WasmChain::new(f, wasm_kind).map_err(|e| StepError::message(step.step_id(), context.as_str(), e.to_string()))?;
            Code::Wasm { chain: Box::new(chain), labels: vec![(step.step_id().to_owned(), context.clone())] }
        }
        _ => Code::Python(callables.resolve(step, f)?),
    };
    Ok(Stage { kind, code, step_id: step.step_id().to_owned(), context })
}

impl Chain for PyChain {
    fn process(&mut self, epoch: u64, input: &mut Vec<Item>, out: &mut Vec<Item>) -> Result<(), StepError> {
        let mut batch = std::mem::take(input);
        let batch_ref = &mut batch;
        Python::attach(|py| {
            let batch = batch_ref;
            let mut at = 0;
            while at < self.stages.len() {
                if matches!(self.stages[at].code, Code::Wasm { .. }) {
                    *batch = self.run_wasm(py, at, std::mem::take(batch))?;
                    at += 1;
                    continue;
                }
                let end = self.stages[at..]
                    .iter()
                    .position(|s| matches!(s.code, Code::Wasm { .. }))
                    .map_or(self.stages.len(), |n| at + n);
                let mut next = Vec::with_capacity(batch.len());
                for item in batch.drain(..) {
                    let stage = &self.stages[at];
                    let obj = into_py(py, item).map_err(|e| user_error(&stage.step_id, stage.context.as_str(), e))?;
                    self.run_python(py, at, end, obj.into_bound(py), epoch, &mut next)?;
                }
                *batch = next;
                at = end;
            }
            Ok::<(), StepError>(())
        })?;
        out.append(&mut batch);
        Ok(())
    }

    fn gather_limit(&self) -> Option<GatherLimit> {
        match self.stages.last() {
            Some(Stage { code: Code::Wasm { chain, .. }, .. }) => chain.gather_limit(),
            _ => None,
        }
    }
}
