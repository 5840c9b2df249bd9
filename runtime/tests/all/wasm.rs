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
    let config = RunConfig { epoch_interval: Duration::from_millis(10), recovery: None };
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

fn run_lines(step: &str, items: &str, name: &str) -> Vec<String> {
    let out = tmp(name);
    run(&plan_with(step, items, &out)).unwrap();
    std::fs::read_to_string(&out).unwrap().lines().map(str::to_owned).collect()
}

fn wasm_map_granting(export: &str, grants: &str) -> String {
    format!(
        r#"{{"op": "map", "step_id": "{export}_step", "mapper": {{"kind": "wasm", "component": {:?}, "export": "{export}", "grants": {grants}}}}}"#,
        guests()
    )
}

#[test]
fn guests_see_no_environment_clock_or_files_unless_granted() {
    // Only this test reads the variable, so setting it here cannot disturb others.
    std::env::set_var("BYTEWAX_TEST_SECRET", "s3cret");
    assert_eq!(run_lines(&wasm_map("env_var", "{}"), r#"["BYTEWAX_TEST_SECRET"]"#, "env0.txt"), ["None"]);
    assert_eq!(
        run_lines(&wasm_map_granting("env_var", r#"{"env": ["BYTEWAX_TEST_SECRET"]}"#), r#"["BYTEWAX_TEST_SECRET"]"#, "env1.txt"),
        ["s3cret"]
    );

    assert_eq!(run_lines(&wasm_map("wall_millis", "{}"), "[0]", "clock0.txt"), ["0"]);
    let granted: i64 = run_lines(&wasm_map_granting("wall_millis", r#"{"clock": true}"#), "[0]", "clock1.txt")[0].parse().unwrap();
    assert!(granted > 1_700_000_000_000, "a granted clock reads real time, got {granted}");

    let dir = tmp("granted-dir");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("note.txt"), "hello from the host\n").unwrap();
    let host_path = format!("{:?}", dir.join("note.txt").to_string_lossy());
    assert_eq!(run_lines(&wasm_map("first_line", "{}"), &format!("[{host_path}]"), "fs0.txt"), ["None"]);
    let grant = format!(r#"{{"read_dirs": [{{"host": {:?}, "guest": "/data"}}]}}"#, dir.to_string_lossy());
    assert_eq!(run_lines(&wasm_map_granting("first_line", &grant), r#"["/data/note.txt"]"#, "fs1.txt"), ["hello from the host"]);
}

fn wasm_fn(export: &str) -> bytewax_runtime::plan::FnRef {
    bytewax_runtime::plan::FnRef::Wasm { component: guests(), export: export.into(), limits: None, grants: None }
}

fn lines(n: usize) -> bytewax_runtime::wasm::Batch {
    let mut batch = bytewax_runtime::wasm::Batch::with_capacity(n, n * 4);
    (0..n).for_each(|i| batch.push_str(&format!("a{i}")));
    batch
}

#[test]
fn a_combining_chain_grows_its_calls_from_full_calls_only() {
    use bytewax_runtime::wasm::{StatelessKind, WasmChain};
    let mut chain = WasmChain::new(&wasm_fn("key_by_initial"), StatelessKind::Map).unwrap();
    assert!(chain.combine_with(&wasm_fn("join")).unwrap());
    // Nothing timed yet: one batch.
    assert_eq!(chain.gather_limit().unwrap().items, 1);
    chain.run(&lines(100)).unwrap();
    // 100 short lines take far less than the deadline allows, yet with one call timed the
    // next may only be twice as big: a reducer whose cost grows with the call must not
    // leap past its deadline.
    assert_eq!(chain.gather_limit().unwrap().items, 200);
    // A call cut short (less input was waiting than offered) does not lower the limit...
    chain.run(&lines(10)).unwrap();
    assert_eq!(chain.gather_limit().unwrap().items, 200);
    // ...and a full one raises it (beyond twofold if its pace held).
    chain.run(&lines(200)).unwrap();
    assert!(chain.gather_limit().unwrap().items >= 400);
}
