//! Loading a plan from JSON: shape first (serde), then the rules serde cannot express.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::error::PlanError;
use super::model::{ClockSpec, FnRef, Plan, SinkSpec, SourceSpec, Step, WindowSpec, PLAN_VERSION};

/// Host-native functions a plan may name with `{"kind": "builtin"}`.
pub const BUILTIN_FUNCTIONS: &[&str] = &["identity", "add", "lower", "upper", "split_whitespace", "len", "millis", "list", "append"];

/// Parses and validates a plan. Every error names the JSON path and, inside a step, its id.
pub fn parse_plan(text: &str) -> Result<Plan, PlanError> {
    let doc: Value = serde_json::from_str(text)
        .map_err(|e| PlanError::at("$", None, format!("not valid JSON: {e}")))?;
    plan_from_value(&doc)
}

/// Like [`parse_plan`], from an already parsed JSON document.
pub fn plan_from_value(doc: &Value) -> Result<Plan, PlanError> {
    let obj = doc.as_object().ok_or_else(|| PlanError::at("$", None, "a plan must be a JSON object"))?;
    match obj.get("plan_version") {
        Some(Value::Number(n)) if n.as_u64() == Some(PLAN_VERSION) => {}
        Some(other) => {
            return Err(PlanError::at(
                "plan_version",
                None,
                format!("this host reads plan_version {PLAN_VERSION}, got {other}"),
            ))
        }
        None => return Err(PlanError::at("plan_version", None, "missing; this host reads plan_version 1")),
    }
    if let Some(extra) = obj.keys().find(|k| !matches!(k.as_str(), "plan_version" | "steps" | "codec")) {
        return Err(PlanError::at(extra.clone(), None, "unknown field"));
    }
    let codec = match obj.get("codec") {
        None => None,
        Some(Value::String(c)) if c == crate::codec::DEFAULT_CODEC => Some(c.clone()),
        Some(other) => {
            return Err(PlanError::at("codec", None, format!("unknown codec {other}; this host knows \"msgpack\"")))
        }
    };
    let raw_steps = obj
        .get("steps")
        .and_then(Value::as_array)
        .ok_or_else(|| PlanError::at("steps", None, "must be an array of steps"))?;
    let mut steps = Vec::with_capacity(raw_steps.len());
    for (i, raw) in raw_steps.iter().enumerate() {
        let path = format!("steps[{i}]");
        let id = raw.get("step_id").and_then(Value::as_str);
        let step: Step = serde_json::from_value(raw.clone())
            .map_err(|e| PlanError::at(path.clone(), id, e.to_string()))?;
        steps.push(step);
    }
    let plan = Plan { plan_version: PLAN_VERSION, codec, steps };
    check_rules(&plan)?;
    Ok(plan)
}

fn check_rules(plan: &Plan) -> Result<(), PlanError> {
    let mut seen = HashSet::new();
    for (i, step) in plan.steps.iter().enumerate() {
        let path = format!("steps[{i}]");
        let id = step.step_id();
        let err = |sub: &str, msg: String| PlanError::at(format!("{path}{sub}"), Some(id), msg);
        if id.is_empty() {
            return Err(err(".step_id", "must not be empty".into()));
        }
        if !seen.insert(id) {
            return Err(err(".step_id", format!("step id {id:?} is used by an earlier step; step ids must be unique")));
        }
        if i == 0 && !matches!(step, Step::Input { .. }) {
            return Err(err(".op", format!("the first step must be an input, not {}", step.op())));
        }
        for (role, f) in step.functions() {
            check_fn(f).map_err(|m| err(&format!(".{role}"), m))?;
        }
        if let Step::ReduceWindow { clock, window, .. }
        | Step::FoldWindow { clock, window, .. }
        | Step::CollectWindow { clock, window, .. } = step
        {
            if let ClockSpec::Event { wait_for_system_duration_ms, .. } = clock {
                if *wait_for_system_duration_ms < 0 {
                    return Err(err(".clock.wait_for_system_duration_ms", "must not be negative".into()));
                }
            }
            check_window(window).map_err(|(field, m)| err(&format!(".window.{field}"), m))?;
        }
        check_kafka(step).map_err(|(field, m)| err(&format!(".{field}"), m))?;
    }
    if !plan.steps.iter().any(|s| matches!(s, Step::Input { .. })) {
        return Err(PlanError::at("steps", None, "Dataflow needs to contain at least one input"));
    }
    if !plan.steps.iter().any(|s| matches!(s, Step::Output { .. })) {
        return Err(PlanError::at("steps", None, "Dataflow needs to contain at least one output"));
    }
    Ok(())
}

/// A Kafka source or sink needs somewhere to connect and something to read or write;
/// an empty list would otherwise surface only as a librdkafka error at run time.
fn check_kafka(step: &Step) -> Result<(), (&'static str, String)> {
    let (field, brokers, names, what) = match step {
        Step::Input { source: SourceSpec::Kafka { brokers, topics, .. }, .. } => {
            ("source", brokers, topics.iter().collect::<Vec<_>>(), "kafka topics must be a non-empty list of topic names")
        }
        Step::Output { sink: SinkSpec::Kafka { brokers, topic, .. }, .. } => ("sink", brokers, vec![topic], "kafka topic must not be empty"),
        _ => return Ok(()),
    };
    if brokers.is_empty() || brokers.iter().any(String::is_empty) {
        return Err((field, "kafka brokers must be a non-empty list of host:port".into()));
    }
    if names.is_empty() || names.iter().any(|t| t.is_empty()) {
        return Err((field, what.into()));
    }
    Ok(())
}

fn check_fn(f: &FnRef) -> Result<(), String> {
    match f {
        FnRef::Python { reference, .. } if reference.is_empty() => Err("python ref must not be empty".into()),
        FnRef::Builtin { name } if !BUILTIN_FUNCTIONS.contains(&name.as_str()) => Err(format!(
            "unknown builtin {name:?}; known builtins: {}",
            BUILTIN_FUNCTIONS.join(", ")
        )),
        FnRef::Wasm { component, export, .. } if component.is_empty() || export.is_empty() => {
            Err("wasm references need a component and an export".into())
        }
        FnRef::Wasm { limits: Some(l), .. } if l.memory_mb == Some(0) || l.deadline_ms == Some(0) => {
            Err("wasm limits must be at least 1 (memory_mb in MiB, deadline_ms in ms)".into())
        }
        _ => Ok(()),
    }
}

fn check_window(window: &WindowSpec) -> Result<(), (&'static str, String)> {
    let positive = |field: &'static str, v: i64| {
        if v > 0 { Ok(()) } else { Err((field, format!("must be more than 0 ms, got {v}"))) }
    };
    match window {
        WindowSpec::Tumbling { length_ms, align_to } => {
            positive("length_ms", *length_ms)?;
            parse_instant(align_to).map_err(|m| ("align_to", m))?;
        }
        WindowSpec::Sliding { length_ms, offset_ms, align_to } => {
            positive("length_ms", *length_ms)?;
            positive("offset_ms", *offset_ms)?;
            parse_instant(align_to).map_err(|m| ("align_to", m))?;
        }
        WindowSpec::Session { gap_ms } => positive("gap_ms", *gap_ms)?,
    }
    Ok(())
}

/// Parses an RFC 3339 instant with an explicit offset (naive times are refused: windows must
/// line up the same way on every machine and every run).
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|dt| dt.with_timezone(&Utc))
        .map_err(|e| format!("{text:?} is not an RFC 3339 time with an offset ({e})"))
}
