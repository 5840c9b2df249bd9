//! `bytewax-wasm validate`: beyond the plan's shape, every WASM function must exist in its
//! component, with the kind its role needs.

use std::collections::HashMap;

use bytewax_runtime::plan::{FnRef, Plan};
use bytewax_runtime::wasm::{instantiate, StepKind};

/// Errors name the JSON path and step id, like plan errors.
pub fn check_components(plan: &Plan) -> Result<(), String> {
    let mut described: HashMap<String, HashMap<String, StepKind>> = HashMap::new();
    for (i, step) in plan.steps.iter().enumerate() {
        for (role, f) in step.functions() {
            let FnRef::Wasm { component, export, .. } = f else { continue };
            let at = format!("steps[{i}].{role} ({:?})", step.step_id());
            if !described.contains_key(component) {
                let mut instance = instantiate(f).map_err(|e| format!("{at}: {e}"))?;
                let steps = instance.describe().map_err(|e| format!("{at}: {e}"))?;
                described.insert(component.clone(), steps.into_iter().map(|s| (s.name, s.kind)).collect());
            }
            let kinds = &described[component];
            let Some(kind) = kinds.get(export) else {
                let mut names: Vec<_> = kinds.keys().cloned().collect();
                names.sort();
                return Err(format!("{at}: {component} has no step {export:?}; it has: {}", names.join(", ")));
            };
            let wanted = wanted_kind(step.op(), role);
            if !wanted.contains(kind) {
                return Err(format!("{at}: step `{export}` is a {}, not a {}", kind_name(*kind), kind_name(wanted[0])));
            }
        }
    }
    Ok(())
}

fn wanted_kind(op: &str, role: &str) -> &'static [StepKind] {
    match (op, role) {
        ("map", _) => &[StepKind::Map],
        ("flat_map", _) => &[StepKind::FlatMap],
        ("filter", _) => &[StepKind::Filter],
        ("filter_map", _) => &[StepKind::FilterMap],
        ("inspect", _) | ("inspect_epoch", _) => &[StepKind::Inspect],
        (_, "builder") => &[StepKind::Builder],
        ("stateful_map", "mapper") => &[StepKind::StatefulMap],
        (_, "reducer") => &[StepKind::Reducer],
        (_, "is_complete") => &[StepKind::IsComplete],
        (_, "folder") => &[StepKind::Folder],
        (_, "dt_getter") => &[StepKind::EventTime],
        _ => &[StepKind::Map],
    }
}

/// How the SDK's attributes name a kind (`flat_map`, `is_complete`...).
fn kind_name(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Map => "map",
        StepKind::FlatMap => "flat_map",
        StepKind::Filter => "filter",
        StepKind::FilterMap => "filter_map",
        StepKind::Inspect => "inspect",
        StepKind::StatefulMap => "stateful_mapper",
        StepKind::Reducer => "reducer",
        StepKind::IsComplete => "is_complete",
        StepKind::Builder => "builder",
        StepKind::Folder => "folder",
        StepKind::EventTime => "event_time",
    }
}
