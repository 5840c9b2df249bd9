//! WASM steps under `NativeHost`: limits stop bad guests, and the same process carries on.
//! Needs `scripts/build-guests` to have built `runtime/tests/guests/test_guests.wasm`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytewax_runtime::engine::{run_single, RunConfig};
use bytewax_runtime::error::RunError;
use bytewax_runtime::native::NativeHost;
use bytewax_runtime::plan::parse_plan;

fn guests() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/guests/test_guests.wasm");
    assert!(path.exists(), "{} is missing: run scripts/build-guests first", path.display());
    path.to_string_lossy().into_owned()
}

fn plan_with(step: &str, items: &str, out: &std::path::Path) -> String {
    format!(
        r#"{{"plan_version": 1, "steps": [
            {{"op": "input", "step_id": "inp", "source": {{"kind": "testing", "items": {items}}}}},
            {step},
            {{"op": "output", "step_id": "out", "sink": {{"kind": "file", "path": {out:?}}}}}]}}"#
    )
}

fn wasm_map(export: &str, limits: &str) -> String {
    format!(
        r#"{{"op": "map", "step_id": "{export}_step", "mapper": {{"kind": "wasm", "component": {:?}, "export": "{export}", "limits": {limits}}}}}"#,
        guests()
    )
}

fn run(plan: &str) -> Result<(), RunError> {
    let config = RunConfig { epoch_interval: Duration::from_millis(10) };
    run_single(Arc::new(parse_plan(plan).expect("valid plan")), Arc::new(NativeHost), config)
}

fn step_error(result: Result<(), RunError>) -> (String, String) {
    match result {
        Err(RunError::Step(e)) => (e.step_id.clone(), e.to_string()),
        other => panic!("expected a step error, got {other:?}"),
    }
}

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("bytewax-wasm-test-{}-{name}", std::process::id()))
}

fn echo_still_works() {
    let out = tmp("echo.txt");
    run(&plan_with(&wasm_map("echo", "{}"), r#"[["a", 1], "b"]"#, &out)).unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "('a', 1)\nb\n");
}

#[test]
fn a_guest_that_loops_forever_is_stopped_by_its_deadline() {
    let started = std::time::Instant::now();
    let (step, msg) = step_error(run(&plan_with(&wasm_map("spin", r#"{"deadline_ms": 100}"#), "[1]", &tmp("spin.txt"))));
    assert_eq!(step, "spin_step");
    assert!(msg.contains("CPU deadline of 100 ms"), "{msg}");
    assert!(started.elapsed() < Duration::from_secs(30), "the deadline did not stop the guest");
    echo_still_works();
}

#[test]
fn a_guest_that_allocates_without_end_hits_its_memory_cap() {
    let (step, msg) = step_error(run(&plan_with(&wasm_map("hog", r#"{"memory_mb": 16}"#), "[1]", &tmp("hog.txt"))));
    assert_eq!(step, "hog_step");
    assert!(msg.contains("memory cap of 16 MiB"), "{msg}");
    echo_still_works();
}

#[test]
fn a_guest_that_traps_fails_its_step_not_the_host() {
    let (step, msg) = step_error(run(&plan_with(&wasm_map("crash", "{}"), "[1]", &tmp("crash.txt"))));
    assert_eq!(step, "crash_step");
    assert!(msg.contains("trapped"), "{msg}");
    echo_still_works();
}
