//! Stateless steps of a plan run without Python: WASM components and builtins.

use super::builtin;
use crate::engine::Chain;
use crate::error::StepError;
use crate::item::Item;
use crate::plan::{FnRef, Step};
use crate::wasm::{apply_to_encoded, call_stateless, instantiate, StatelessKind, StepInstance};

enum Code {
    Wasm { instance: Box<StepInstance>, export: String },
    Builtin(String),
}

struct Stage {
    kind: StatelessKind,
    code: Code,
    step_id: String,
    context: String,
}

/// A fused run of stateless steps over encoded items, one call per step per batch.
pub struct NativeChain {
    stages: Vec<Stage>,
}

/// Items as the codec encodes them (native text lines become strings).
pub fn encoded(item: Item) -> Vec<u8> {
    match item {
        Item::Encoded(b) => b,
        Item::Str(s) => crate::codec::encode_str(&s),
        #[cfg(feature = "python")]
        Item::Py(_) => unreachable!("a plan without Python steps has no Python items"),
    }
}

impl NativeChain {
    /// Instantiates the chain's functions on this worker.
    pub fn new(steps: &[Step]) -> Result<Self, StepError> {
        let stages = steps.iter().map(stage).collect::<Result<_, _>>()?;
        Ok(NativeChain { stages })
    }
}

fn stage(step: &Step) -> Result<Stage, StepError> {
    let (kind, role, f) = match step {
        Step::Map { mapper, .. } => (StatelessKind::Map, "mapper", mapper),
        Step::FlatMap { mapper, .. } => (StatelessKind::FlatMap, "mapper", mapper),
        Step::Filter { predicate, .. } => (StatelessKind::Filter, "predicate", predicate),
        Step::FilterMap { mapper, .. } => (StatelessKind::FilterMap, "mapper", mapper),
        Step::Inspect { inspector, .. } => (StatelessKind::Inspect, "inspector", inspector),
        other => return Err(super::unsupported(other, "without Python")),
    };
    let context = format!("{}, {role} `{}`", step.op(), f.label());
    let code = match f {
        FnRef::Wasm { export, .. } => Code::Wasm {
            instance: Box::new(
                instantiate(f).map_err(|e| StepError::message(step.step_id(), context.as_str(), e.to_string()))?,
            ),
            export: export.clone(),
        },
        FnRef::Builtin { name } => Code::Builtin(name.clone()),
        FnRef::Python { .. } => return Err(super::python_step(step)),
    };
    Ok(Stage { kind, code, step_id: step.step_id().to_owned(), context })
}

impl Chain for NativeChain {
    fn process(&mut self, _epoch: u64, input: &mut Vec<Item>, out: &mut Vec<Item>) -> Result<(), StepError> {
        // Items stay plain encoded buffers between stages: no copies, no re-wrapping.
        let mut batch: Vec<Vec<u8>> = input.drain(..).map(encoded).collect();
        for stage in &mut self.stages {
            let fail = |m: String| StepError::message(&stage.step_id, stage.context.as_str(), m);
            batch = match &mut stage.code {
                Code::Wasm { instance, export } => {
                    let output = call_stateless(instance, stage.kind, export, &batch).map_err(|e| fail(e.to_string()))?;
                    apply_to_encoded(batch, output).map_err(|e| fail(e.to_string()))?
                }
                Code::Builtin(name) => {
                    let mut next = Vec::with_capacity(batch.len());
                    for bytes in batch {
                        match stage.kind {
                            StatelessKind::Map => next.push(builtin::map(name, &bytes).map_err(fail)?),
                            StatelessKind::FlatMap => next.extend(builtin::flat_map(name, &bytes).map_err(fail)?),
                            _ => return Err(fail(format!("builtin {name} cannot be a {} step", stage_op(stage.kind)))),
                        }
                    }
                    next
                }
            };
        }
        out.extend(batch.into_iter().map(Item::Encoded));
        Ok(())
    }
}

fn stage_op(kind: StatelessKind) -> &'static str {
    match kind {
        StatelessKind::Map => "map",
        StatelessKind::FlatMap => "flat_map",
        StatelessKind::Filter => "filter",
        StatelessKind::FilterMap => "filter_map",
        StatelessKind::Inspect => "inspect",
    }
}
