//! `bytewax-wasm graph`: a plan as a Mermaid flowchart.

use bytewax_runtime::plan::{Plan, SinkSpec, SourceSpec, Step};

/// The flowchart text. Each step is a node labelled with its id, operator and functions;
/// edges follow the stream (a second `input` starts a new one, as in 0.16).
pub fn mermaid(plan: &Plan) -> String {
    let mut out = String::from("flowchart TD\n");
    for (i, step) in plan.steps.iter().enumerate() {
        out.push_str(&format!("    s{i}[\"{}\"]\n", escape(&label(step))));
        if i > 0 && !matches!(step, Step::Input { .. }) {
            out.push_str(&format!("    s{} --> s{i}\n", i - 1));
        }
    }
    out
}

fn label(step: &Step) -> String {
    let detail = match step {
        Step::Input { source, .. } => match source {
            SourceSpec::File { path } => format!("file {path}"),
            SourceSpec::Testing { items } => format!("{} testing items", items.len()),
            SourceSpec::Kafka { topics, .. } => format!("kafka {}", topics.join(", ")),
            SourceSpec::Dir { path, glob } => format!("dir {path} ({})", glob.as_deref().unwrap_or("*")),
            SourceSpec::Python { class, .. } => class.clone().unwrap_or_else(|| "Python input".into()),
        },
        Step::Output { sink, .. } => match sink {
            SinkSpec::Stdout {} => "stdout".into(),
            SinkSpec::File { path } => format!("file {path}"),
            SinkSpec::Kafka { topic, .. } => format!("kafka {topic}"),
            SinkSpec::Python { class, .. } => class.clone().unwrap_or_else(|| "Python output".into()),
        },
        other => other.functions().iter().map(|(role, f)| format!("{role}: {}", f.label())).collect::<Vec<_>>().join(", "),
    };
    format!("{} ({})<br/>{detail}", step.step_id(), step.op())
}

fn escape(text: &str) -> String {
    text.replace('"', "#quot;")
}
