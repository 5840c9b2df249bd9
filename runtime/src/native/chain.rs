//! Stateless steps of a plan run without Python: WASM components and builtins.

use super::builtin;
use crate::engine::{Chain, GatherLimit};
use crate::error::StepError;
use crate::item::Item;
use crate::plan::{ClockSpec, FnRef, Step};
use crate::wasm::{Batch, StatelessKind, WasmChain};

/// Who a step is, for its errors.
struct Label {
    step_id: String,
    context: String,
}

enum Stage {
    /// Consecutive WASM steps of one component, one call per batch for all of them.
    Wasm { chain: WasmChain, labels: Vec<Label> },
    Builtin { kind: StatelessKind, name: String, label: Label },
}

/// A fused run of stateless steps over encoded items.
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

/// The items as one flat batch, drained from `input`. Text (a file source's lines) is
/// encoded straight into the batch rather than into a buffer of its own first.
fn batch_of_items(input: &mut Vec<Item>) -> Batch {
    // A string's header is at most 5 bytes.
    let bytes = input.iter().map(|item| item.approx_bytes() + 5).sum();
    let mut batch = Batch::with_capacity(input.len(), bytes);
    for item in input.drain(..) {
        match item {
            Item::Str(s) => batch.push_str(&s),
            other => batch.push(&encoded(other)),
        }
    }
    batch
}

impl NativeChain {
    /// Instantiates the chain's functions on this worker. `next` is the step the chain
    /// feeds, if any: see [`combine_before`].
    pub fn new(steps: &[Step], next: Option<&Step>) -> Result<Self, StepError> {
        let mut stages: Vec<Stage> = Vec::new();
        for step in steps {
            let (kind, role, f) = describe(step)?;
            let label = Label { step_id: step.step_id().to_owned(), context: format!("{}, {role} `{}`", step.op(), f.label()) };
            match f {
                FnRef::Wasm { .. } => {
                    if let Some(Stage::Wasm { chain, labels }) = stages.last_mut() {
                        if chain.join(f, kind).is_ok() {
                            labels.push(label);
                            continue;
                        }
                    }
                    let chain = WasmChain::new(f, kind).map_err(|e| StepError::message(&label.step_id, label.context.as_str(), e.to_string()))?;
                    stages.push(Stage::Wasm { chain, labels: vec![label] });
                }
                FnRef::Builtin { name } => {
                    if !matches!(kind, StatelessKind::Map | StatelessKind::FlatMap) {
                        return Err(StepError::message(&label.step_id, label.context.as_str(), format!("builtin {name} cannot be a {} step", step.op())));
                    }
                    stages.push(Stage::Builtin { kind, name: name.clone(), label });
                }
                FnRef::Python { .. } => return Err(super::python_step(step)),
            }
        }
        let mut chain = NativeChain { stages };
        if let Some(next) = next {
            chain.combine_for(next)?;
        }
        Ok(chain)
    }

    fn combine_for(&mut self, next: &Step) -> Result<(), StepError> {
        if let Some(Stage::Wasm { chain, labels }) = self.stages.last_mut() {
            if let Some((step_id, context)) = combine_before(chain, next)? {
                labels.push(Label { step_id, context });
            }
        }
        Ok(())
    }
}

/// When a WASM run ends a chain that feeds a `reduce_window` on the system clock, whose
/// reducer lives in the run's component and is declared associative, the run folds its
/// `(key, value)` outputs per key within each call before they leave the component (a call
/// may hold several batches: see [`crate::engine::Chain::gather_limit`]). The window then
/// gets one value per key and call instead of one per item; with a system clock every item
/// of a call falls into the same windows, and associativity makes folding early the same as
/// folding each value in turn. Returns the window step's label (step id
/// and context) when the run combines: a failing reducer reports the stage after the run's
/// steps, which is the window step.
pub fn combine_before(chain: &mut WasmChain, next: &Step) -> Result<Option<(String, String)>, StepError> {
    let Step::ReduceWindow { clock: ClockSpec::System {}, reducer, .. } = next else { return Ok(None) };
    let context = format!("{}, reducer `{}`", next.op(), reducer.label());
    let combines = chain.combine_with(reducer).map_err(|e| StepError::message(next.step_id(), context.as_str(), e.to_string()))?;
    Ok(combines.then(|| (next.step_id().to_owned(), context)))
}

fn describe(step: &Step) -> Result<(StatelessKind, &'static str, &FnRef), StepError> {
    Ok(match step {
        Step::Map { mapper, .. } => (StatelessKind::Map, "mapper", mapper),
        Step::FlatMap { mapper, .. } => (StatelessKind::FlatMap, "mapper", mapper),
        Step::Filter { predicate, .. } => (StatelessKind::Filter, "predicate", predicate),
        Step::FilterMap { mapper, .. } => (StatelessKind::FilterMap, "mapper", mapper),
        Step::Inspect { inspector, .. } => (StatelessKind::Inspect, "inspector", inspector),
        other => return Err(super::unsupported(other, "without Python")),
    })
}

/// The error of a fused WASM run: the failing step's when the guest said which, else the
/// first step's, naming the others that ran in the same call.
pub fn chain_error(labels: &[(&str, &str)], stage: Option<usize>, message: String) -> StepError {
    match stage.and_then(|i| labels.get(i)) {
        Some((step_id, context)) => StepError::message(step_id, *context, message),
        None => {
            let (step_id, context) = labels[0];
            let message = match labels.len() {
                1 => message,
                _ => {
                    let ids: Vec<String> = labels.iter().map(|(id, _)| format!("'{id}'")).collect();
                    format!("{message} (while running steps {} in one call)", ids.join(", "))
                }
            };
            StepError::message(step_id, context, message)
        }
    }
}

impl Chain for NativeChain {
    fn process(&mut self, _epoch: u64, input: &mut Vec<Item>, out: &mut Vec<Item>) -> Result<(), StepError> {
        // `None` until the first stage has run: the input is still in `input`.
        let mut items: Option<Vec<Vec<u8>>> = None;
        for stage in &mut self.stages {
            items = Some(match stage {
                Stage::Wasm { chain, labels } => {
                    let batch = match items.take() {
                        None => batch_of_items(input),
                        Some(items) => {
                            let mut batch = Batch::with_capacity(items.len(), items.iter().map(Vec::len).sum());
                            items.iter().for_each(|item| batch.push(item));
                            batch
                        }
                    };
                    let produced = chain.run(&batch).map_err(|f| {
                        let labels: Vec<(&str, &str)> = labels.iter().map(|l| (l.step_id.as_str(), l.context.as_str())).collect();
                        chain_error(&labels, f.stage, f.error.to_string())
                    })?;
                    produced.iter().map(<[u8]>::to_vec).collect()
                }
                Stage::Builtin { kind, name, label } => {
                    let items = items.take().unwrap_or_else(|| input.drain(..).map(encoded).collect());
                    let fail = |m: String| StepError::message(&label.step_id, label.context.as_str(), m);
                    let mut next = Vec::with_capacity(items.len());
                    for bytes in items {
                        match kind {
                            StatelessKind::Map => next.push(builtin::map(name, &bytes).map_err(fail)?),
                            _ => next.extend(builtin::flat_map(name, &bytes).map_err(fail)?),
                        }
                    }
                    next
                }
            });
        }
        let items = items.unwrap_or_else(|| input.drain(..).map(encoded).collect());
        out.extend(items.into_iter().map(Item::Encoded));
        Ok(())
    }

    fn gather_limit(&self) -> Option<GatherLimit> {
        match self.stages.last() {
            Some(Stage::Wasm { chain, .. }) => chain.gather_limit(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_of_items_encodes_text_as_the_codec_does_and_keeps_encoded_items() {
        let mut input = vec![Item::Str("héllo".into()), Item::Encoded(vec![0x05]), Item::Str(String::new())];
        let batch = batch_of_items(&mut input);
        assert!(input.is_empty());
        let items: Vec<&[u8]> = batch.iter().collect();
        assert_eq!(items, [crate::codec::encode_str("héllo").as_slice(), &[0x05], &[0xa0]]);
    }
}
