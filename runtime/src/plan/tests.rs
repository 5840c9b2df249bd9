//! The plan contract from the host's side: what round-trips, and what each rule refuses.

use serde_json::{json, Value};

use super::*;

fn py(reference: &str) -> Value {
    json!({"kind": "python", "ref": reference})
}

fn input() -> Value {
    json!({"op": "input", "step_id": "inp", "source": {"kind": "file", "path": "in.txt"}})
}

fn output() -> Value {
    json!({"op": "output", "step_id": "out", "sink": {"kind": "stdout"}})
}

fn tumbling() -> Value {
    json!({"type": "tumbling", "length_ms": 5000, "align_to": "2023-01-01T00:00:00+00:00"})
}

/// A valid plan with `middle` between one file input and one stdout output.
fn plan_with(middle: Vec<Value>) -> Value {
    let mut steps = vec![input()];
    steps.extend(middle);
    steps.push(output());
    json!({"plan_version": 1, "steps": steps})
}

/// Every op, every source, sink, clock, window and function kind, optional fields present.
fn every_feature_plan() -> Value {
    json!({"plan_version": 1, "steps": [
        {"op": "input", "step_id": "inp", "source":
            {"kind": "python", "ref": "inp.input", "partitioned": true, "class": "TestingInput"}},
        {"op": "map", "step_id": "map#1", "mapper": {"kind": "python", "ref": "map#1.mapper", "name": "lower"}},
        {"op": "flat_map", "step_id": "flat_map#2", "mapper": {"kind": "builtin", "name": "split_whitespace"}},
        {"op": "filter", "step_id": "filter#3", "predicate":
            {"kind": "wasm", "component": "steps.wasm", "export": "keep"}},
        {"op": "filter_map", "step_id": "filter_map#4", "mapper": py("filter_map#4.mapper")},
        {"op": "inspect", "step_id": "inspect#5", "inspector": py("inspect#5.inspector")},
        {"op": "inspect_epoch", "step_id": "inspect_epoch#6", "inspector": py("inspect_epoch#6.inspector")},
        {"op": "reduce", "step_id": "total", "reducer": {"kind": "builtin", "name": "add"},
            "is_complete": py("total.is_complete")},
        {"op": "stateful_map", "step_id": "running", "builder": py("running.builder"),
            "mapper": py("running.mapper")},
        {"op": "reduce_window", "step_id": "sum",
            "clock": {"type": "event", "dt_getter": py("sum.dt_getter"), "wait_for_system_duration_ms": 0},
            "window": tumbling(), "reducer": py("sum.reducer")},
        {"op": "fold_window", "step_id": "fold", "clock": {"type": "system"},
            "window": {"type": "sliding", "length_ms": 10_000, "offset_ms": 5000,
                       "align_to": "2023-01-01T01:00:00+01:00"},
            "builder": py("fold.builder"), "folder": py("fold.folder")},
        {"op": "collect_window", "step_id": "sessions",
            "clock": {"type": "event", "dt_getter": {"kind": "builtin", "name": "identity"},
                      "wait_for_system_duration_ms": 1500},
            "window": {"type": "session", "gap_ms": 250}},
        {"op": "output", "step_id": "part_out", "sink":
            {"kind": "python", "ref": "part_out.output", "partitioned": true, "class": "FileOutput"}},
        {"op": "input", "step_id": "lines", "source": {"kind": "file", "path": "in.txt"}},
        {"op": "output", "step_id": "dyn_out", "sink": {"kind": "python", "ref": "dyn_out.output", "partitioned": false}},
        {"op": "output", "step_id": "out", "sink": {"kind": "stdout"}}
    ]})
}

/// The seed wordcount's plan, written exactly as the host serialises it.
const WORDCOUNT_CANONICAL: &str = concat!(
    r#"{"plan_version":1,"steps":["#,
    r#"{"op":"input","step_id":"inp","source":{"kind":"file","path":"examples/sample_data/wordcount.txt"}},"#,
    r#"{"op":"map","step_id":"map#1","mapper":{"kind":"python","ref":"map#1.mapper","name":"lower"}},"#,
    r#"{"op":"flat_map","step_id":"flat_map#2","mapper":{"kind":"python","ref":"flat_map#2.mapper","name":"tokenize"}},"#,
    r#"{"op":"map","step_id":"map#3","mapper":{"kind":"python","ref":"map#3.mapper","name":"initial_count"}},"#,
    r#"{"op":"reduce_window","step_id":"sum","clock":{"type":"system"},"#,
    r#""window":{"type":"tumbling","length_ms":5000,"align_to":"2023-01-01T00:00:00+00:00"},"#,
    r#""reducer":{"kind":"python","ref":"sum.reducer","name":"add"}},"#,
    r#"{"op":"output","step_id":"out","sink":{"kind":"stdout"}}"#,
    r#"]}"#
);

/// The error `doc` is refused with.
fn refused(doc: &Value) -> PlanError {
    match parse_plan(&doc.to_string()) {
        Ok(plan) => panic!("plan was accepted: {plan:?}"),
        Err(e) => e,
    }
}

/// Asserts where the error points and that its message says `needle`.
fn assert_refused(doc: &Value, path: &str, step_id: Option<&str>, needle: &str) {
    let err = refused(doc);
    assert_eq!(err.path, path, "path of {err}");
    assert_eq!(err.step_id.as_deref(), step_id, "step id of {err}");
    assert!(err.message.contains(needle), "{err:?} should mention {needle:?}");
}

// --- round trips -------------------------------------------------------------------------------

#[test]
fn every_feature_plan_round_trips_to_an_equal_plan() {
    let plan = parse_plan(&every_feature_plan().to_string()).unwrap();
    assert_eq!(plan.steps.len(), 16);
    let again = parse_plan(&plan.to_json()).unwrap();
    assert_eq!(again, plan);
    assert_eq!(again.to_json(), plan.to_json());
}

#[test]
fn every_feature_plan_reserialises_to_the_same_json_value() {
    let doc = every_feature_plan();
    let plan = plan_from_value(&doc).unwrap();
    let reserialised: Value = serde_json::from_str(&plan.to_json()).unwrap();
    assert_eq!(reserialised, doc);
}

#[test]
fn canonical_text_reserialises_byte_for_byte() {
    let plan = parse_plan(WORDCOUNT_CANONICAL).unwrap();
    assert_eq!(plan.to_json(), WORDCOUNT_CANONICAL);
}

#[test]
fn parsed_plan_has_the_typed_steps() {
    let plan = parse_plan(WORDCOUNT_CANONICAL).unwrap();
    let ops: Vec<&str> = plan.steps.iter().map(Step::op).collect();
    assert_eq!(ops, ["input", "map", "flat_map", "map", "reduce_window", "output"]);
    assert_eq!(
        plan.steps[4],
        Step::ReduceWindow {
            step_id: "sum".into(),
            clock: ClockSpec::System {},
            window: WindowSpec::Tumbling { length_ms: 5000, align_to: "2023-01-01T00:00:00+00:00".into() },
            reducer: FnRef::Python { reference: "sum.reducer".into(), name: Some("add".into()) },
        }
    );
    assert_eq!(plan.steps[0], Step::Input {
        step_id: "inp".into(),
        source: SourceSpec::File { path: "examples/sample_data/wordcount.txt".into() },
    });
    assert_eq!(plan.steps[5], Step::Output { step_id: "out".into(), sink: SinkSpec::Stdout {} });
}

#[test]
fn absent_optional_fields_stay_absent() {
    let doc = plan_with(vec![json!({"op": "map", "step_id": "m", "mapper": py("m.mapper")})]);
    let text = parse_plan(&doc.to_string()).unwrap().to_json();
    assert!(!text.contains("\"name\""), "{text}");
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), doc);
}

#[test]
fn event_clock_getter_is_one_of_the_step_functions() {
    let plan = parse_plan(&every_feature_plan().to_string()).unwrap();
    let roles: Vec<&str> = plan.steps[9].functions().iter().map(|(role, _)| *role).collect();
    assert_eq!(roles, ["reducer", "dt_getter"]);
    assert!(plan.steps[10].functions().iter().all(|(role, _)| *role != "dt_getter"));
}

#[test]
fn every_builtin_is_accepted() {
    for name in BUILTIN_FUNCTIONS {
        let doc = plan_with(vec![json!({"op": "map", "step_id": "m", "mapper": {"kind": "builtin", "name": name}})]);
        parse_plan(&doc.to_string()).unwrap_or_else(|e| panic!("builtin {name}: {e}"));
    }
}

// --- document-level errors -----------------------------------------------------------------------

#[test]
fn bad_json_is_refused_at_the_root() {
    let err = parse_plan(r#"{"plan_version": 1, "steps": ["#).unwrap_err();
    assert_eq!((err.path.as_str(), err.step_id.as_deref()), ("$", None));
    assert!(err.message.starts_with("not valid JSON"), "{err}");
}

#[test]
fn a_plan_must_be_an_object() {
    assert_refused(&json!([1, 2]), "$", None, "must be a JSON object");
}

#[test]
fn wrong_plan_version_is_refused() {
    assert_refused(&json!({"plan_version": 2, "steps": []}), "plan_version", None, "got 2");
    assert_refused(&json!({"plan_version": "1", "steps": []}), "plan_version", None, "reads plan_version 1");
}

#[test]
fn missing_plan_version_is_refused() {
    assert_refused(&json!({"steps": [input(), output()]}), "plan_version", None, "missing");
}

#[test]
fn unknown_top_level_field_is_refused() {
    let mut doc = plan_with(vec![]);
    doc["comment"] = json!("hi");
    assert_refused(&doc, "comment", None, "unknown field");
}

#[test]
fn steps_must_be_an_array() {
    assert_refused(&json!({"plan_version": 1}), "steps", None, "must be an array");
    assert_refused(&json!({"plan_version": 1, "steps": {}}), "steps", None, "must be an array");
}

// --- step shape errors (serde) ---------------------------------------------------------------------

#[test]
fn unknown_step_field_is_refused_with_the_step_id() {
    let doc = plan_with(vec![json!({"op": "map", "step_id": "m", "mapper": py("r"), "colour": "red"})]);
    assert_refused(&doc, "steps[1]", Some("m"), "unknown field `colour`");
}

#[test]
fn unknown_field_inside_a_function_reference_is_refused() {
    let doc = plan_with(vec![json!({"op": "map", "step_id": "m",
        "mapper": {"kind": "python", "ref": "r", "code": "lambda x: x"}})]);
    assert_refused(&doc, "steps[1]", Some("m"), "unknown field `code`");
}

#[test]
fn unknown_field_inside_a_window_is_refused() {
    let doc = plan_with(vec![json!({"op": "collect_window", "step_id": "c", "clock": {"type": "system"},
        "window": {"type": "session", "gap_ms": 5, "length_ms": 5}})]);
    assert_refused(&doc, "steps[1]", Some("c"), "unknown field `length_ms`");
}

#[test]
fn unknown_op_is_refused() {
    let doc = plan_with(vec![json!({"op": "mapp", "step_id": "m", "mapper": py("r")})]);
    assert_refused(&doc, "steps[1]", Some("m"), "unknown variant `mapp`");
}

#[test]
fn unknown_function_kind_is_refused() {
    let doc = plan_with(vec![json!({"op": "map", "step_id": "m", "mapper": {"kind": "lua", "name": "f"}})]);
    assert_refused(&doc, "steps[1]", Some("m"), "unknown variant `lua`");
}

#[test]
fn missing_step_field_is_refused() {
    let doc = plan_with(vec![json!({"op": "reduce", "step_id": "r", "reducer": py("r.reducer")})]);
    assert_refused(&doc, "steps[1]", Some("r"), "missing field `is_complete`");
}

#[test]
fn a_step_without_a_readable_id_is_refused_without_one() {
    let doc = plan_with(vec![json!({"op": "map", "step_id": 7, "mapper": py("r")})]);
    assert_refused(&doc, "steps[1]", None, "expected a string");
}

#[test]
fn fractional_milliseconds_are_refused() {
    let doc = plan_with(vec![json!({"op": "collect_window", "step_id": "c", "clock": {"type": "system"},
        "window": {"type": "session", "gap_ms": 1.5}})]);
    assert_refused(&doc, "steps[1]", Some("c"), "floating point");
}

// --- rules (validate.rs) ---------------------------------------------------------------------------

#[test]
fn step_ids_must_be_unique() {
    let doc = plan_with(vec![
        json!({"op": "map", "step_id": "x", "mapper": py("a")}),
        json!({"op": "filter", "step_id": "x", "predicate": py("b")}),
    ]);
    assert_refused(&doc, "steps[2].step_id", Some("x"), "used by an earlier step");
}

#[test]
fn step_ids_must_not_be_empty() {
    let doc = plan_with(vec![json!({"op": "map", "step_id": "", "mapper": py("a")})]);
    assert_refused(&doc, "steps[1].step_id", Some(""), "must not be empty");
}

#[test]
fn first_step_must_be_an_input() {
    let doc = json!({"plan_version": 1, "steps": [
        {"op": "map", "step_id": "m", "mapper": py("a")}, input(), output()]});
    assert_refused(&doc, "steps[0].op", Some("m"), "the first step must be an input, not map");
}

#[test]
fn a_plan_needs_an_input() {
    assert_refused(&json!({"plan_version": 1, "steps": []}), "steps", None, "at least one input");
}

#[test]
fn a_plan_needs_an_output() {
    let doc = json!({"plan_version": 1, "steps": [input(), {"op": "map", "step_id": "m", "mapper": py("a")}]});
    assert_refused(&doc, "steps", None, "at least one output");
}

#[test]
fn unknown_builtin_is_refused_naming_the_known_ones() {
    let doc = plan_with(vec![json!({"op": "map", "step_id": "m", "mapper": {"kind": "builtin", "name": "eval"}})]);
    assert_refused(&doc, "steps[1].mapper", Some("m"), "unknown builtin \"eval\"");
    assert!(refused(&doc).message.contains(&BUILTIN_FUNCTIONS.join(", ")));
}

#[test]
fn the_failing_function_role_is_in_the_path() {
    let doc = plan_with(vec![json!({"op": "reduce", "step_id": "r", "reducer": py("r.reducer"),
        "is_complete": {"kind": "builtin", "name": "nope"}})]);
    assert_refused(&doc, "steps[1].is_complete", Some("r"), "unknown builtin");
}

#[test]
fn empty_python_ref_is_refused() {
    let doc = plan_with(vec![json!({"op": "inspect", "step_id": "i", "inspector": py("")})]);
    assert_refused(&doc, "steps[1].inspector", Some("i"), "python ref must not be empty");
}

#[test]
fn wasm_refs_need_component_and_export() {
    for (component, export) in [("", "tokenize"), ("steps.wasm", "")] {
        let doc = plan_with(vec![json!({"op": "flat_map", "step_id": "f",
            "mapper": {"kind": "wasm", "component": component, "export": export}})]);
        assert_refused(&doc, "steps[1].mapper", Some("f"), "component and an export");
    }
}

#[test]
fn event_clock_getter_is_checked() {
    // The path names the role, as for the step's other functions (not `.clock.dt_getter`).
    let doc = plan_with(vec![json!({"op": "collect_window", "step_id": "c",
        "clock": {"type": "event", "dt_getter": {"kind": "builtin", "name": "now"}, "wait_for_system_duration_ms": 0},
        "window": tumbling()})]);
    assert_refused(&doc, "steps[1].dt_getter", Some("c"), "unknown builtin \"now\"");
}

#[test]
fn window_lengths_must_be_positive() {
    let cases = [
        (json!({"type": "tumbling", "length_ms": 0, "align_to": "2023-01-01T00:00:00Z"}), "length_ms", "got 0"),
        (json!({"type": "sliding", "length_ms": -1, "offset_ms": 5, "align_to": "2023-01-01T00:00:00Z"}),
            "length_ms", "got -1"),
        (json!({"type": "sliding", "length_ms": 5, "offset_ms": 0, "align_to": "2023-01-01T00:00:00Z"}),
            "offset_ms", "got 0"),
        (json!({"type": "session", "gap_ms": -20}), "gap_ms", "got -20"),
    ];
    for (window, field, needle) in cases {
        let doc = plan_with(vec![
            json!({"op": "map", "step_id": "m", "mapper": py("m")}),
            json!({"op": "reduce_window", "step_id": "sum", "clock": {"type": "system"},
                   "window": window, "reducer": py("sum.reducer")}),
        ]);
        assert_refused(&doc, &format!("steps[2].window.{field}"), Some("sum"), needle);
    }
}

#[test]
fn event_clock_wait_must_not_be_negative() {
    let doc = plan_with(vec![json!({"op": "fold_window", "step_id": "f",
        "clock": {"type": "event", "dt_getter": py("g"), "wait_for_system_duration_ms": -1},
        "window": tumbling(), "builder": py("b"), "folder": py("f")})]);
    assert_refused(&doc, "steps[1].clock.wait_for_system_duration_ms", Some("f"), "must not be negative");
}

#[test]
fn align_to_needs_an_offset() {
    for bad in ["2023-01-01T00:00:00", "2023-01-01", "yesterday", "2023-13-01T00:00:00Z"] {
        let doc = plan_with(vec![json!({"op": "collect_window", "step_id": "c", "clock": {"type": "system"},
            "window": {"type": "tumbling", "length_ms": 10, "align_to": bad}})]);
        assert_refused(&doc, "steps[1].window.align_to", Some("c"), "not an RFC 3339 time with an offset");
    }
}

#[test]
fn the_first_broken_step_is_reported() {
    let doc = plan_with(vec![
        json!({"op": "map", "step_id": "a", "mapper": py("")}),
        json!({"op": "map", "step_id": "b", "mapper": {"kind": "builtin", "name": "nope"}}),
    ]);
    assert_refused(&doc, "steps[1].mapper", Some("a"), "python ref");
}

// --- error text and instants ---------------------------------------------------------------------

#[test]
fn errors_display_path_step_id_and_message() {
    let doc = plan_with(vec![
        json!({"op": "map", "step_id": "m", "mapper": py("m")}),
        json!({"op": "map", "step_id": "m2", "mapper": py("m2")}),
        json!({"op": "reduce_window", "step_id": "sum", "clock": {"type": "system"},
               "window": {"type": "session", "gap_ms": 0}, "reducer": py("r")}),
    ]);
    assert_eq!(refused(&doc).to_string(), r#"steps[3].window.gap_ms ("sum"): must be more than 0 ms, got 0"#);
    let no_step = refused(&json!({"plan_version": 3, "steps": []}));
    assert_eq!(no_step.to_string(), "plan_version: this host reads plan_version 1, got 3");
}

#[test]
fn instants_are_read_in_utc() {
    let with_offset = parse_instant("2023-01-01T01:30:00+01:30").unwrap();
    let utc = parse_instant("2023-01-01T00:00:00Z").unwrap();
    assert_eq!(with_offset, utc);
    assert!(parse_instant("2023-01-01T00:00:00").is_err());
}

#[test]
fn unknown_fields_on_field_less_kinds_are_refused() {
    let stdout = r#"{"plan_version": 1, "steps": [
        {"op": "input", "step_id": "inp", "source": {"kind": "file", "path": "x"}},
        {"op": "output", "step_id": "out", "sink": {"kind": "stdout", "x": 1}}]}"#;
    let err = parse_plan(stdout).unwrap_err();
    assert_eq!((err.path.as_str(), err.step_id.as_deref()), ("steps[1]", Some("out")));
    let clock = r#"{"plan_version": 1, "steps": [
        {"op": "input", "step_id": "inp", "source": {"kind": "file", "path": "x"}},
        {"op": "collect_window", "step_id": "c", "clock": {"type": "system", "x": 1},
         "window": {"type": "session", "gap_ms": 5}},
        {"op": "output", "step_id": "out", "sink": {"kind": "stdout"}}]}"#;
    let err = parse_plan(clock).unwrap_err();
    assert_eq!((err.path.as_str(), err.step_id.as_deref()), ("steps[1]", Some("c")));
}

#[test]
fn kafka_sources_and_sinks_need_brokers_and_topics() {
    let source = |brokers: Value, topics: Value| {
        json!({"plan_version": 1, "steps": [
            {"op": "input", "step_id": "inp", "source": {"kind": "kafka", "brokers": brokers, "topics": topics}},
            output()]})
    };
    let sink = |brokers: Value, topic: &str| {
        json!({"plan_version": 1, "steps": [
            input(), {"op": "output", "step_id": "out", "sink": {"kind": "kafka", "brokers": brokers, "topic": topic}}]})
    };
    assert!(plan_from_value(&source(json!(["h:9092"]), json!(["t"]))).is_ok());
    assert!(plan_from_value(&sink(json!(["h:9092"]), "t")).is_ok());
    assert_refused(&source(json!([]), json!(["t"])), "steps[0].source", Some("inp"), "brokers");
    assert_refused(&source(json!(["h:9092"]), json!([])), "steps[0].source", Some("inp"), "topics");
    assert_refused(&sink(json!([""]), "t"), "steps[1].sink", Some("out"), "brokers");
    assert_refused(&sink(json!(["h:9092"]), ""), "steps[1].sink", Some("out"), "topic must not be empty");
}
