//! Running plans: one worker, several worker threads, failures.

use std::sync::Arc;
use std::time::Duration;

use bytewax_runtime::engine::{owner, run_single, run_threads, RunConfig};
use bytewax_runtime::error::RunError;
use bytewax_runtime::plan::parse_plan;

use crate::host::{Recorder, TestHost};

const PLAN: &str = r#"{"plan_version": 1, "steps": [
    {"op": "input", "step_id": "inp", "source": {"kind": "file", "path": "unused"}},
    {"op": "map", "step_id": "upper", "mapper": {"kind": "builtin", "name": "upper"}},
    {"op": "filter", "step_id": "no_boom", "predicate": {"kind": "builtin", "name": "identity"}},
    {"op": "reduce", "step_id": "count", "reducer": {"kind": "builtin", "name": "add"},
     "is_complete": {"kind": "builtin", "name": "identity"}},
    {"op": "output", "step_id": "out", "sink": {"kind": "stdout"}}
]}"#;

fn words(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("w{}", i % 7)).collect()
}

fn host(lines: Vec<String>) -> (Arc<TestHost>, Recorder) {
    let out = Recorder::default();
    (Arc::new(TestHost { lines, out: out.clone() }), out)
}

fn config() -> RunConfig {
    RunConfig { epoch_interval: Duration::from_millis(1), recovery: None }
}

fn sorted_lines(out: &Recorder) -> Vec<String> {
    let mut v: Vec<String> = out.0.lock().unwrap().iter().map(|(_, s)| s.clone()).collect();
    v.sort();
    v
}

#[test]
fn one_worker_counts_every_key_at_end_of_input() {
    let (host, out) = host(words(5000));
    run_single(Arc::new(parse_plan(PLAN).unwrap()), host, config()).unwrap();
    let expected: Vec<String> = (0..7).map(|k| format!("W{k}={}@0", 5000 / 7 + usize::from(k < 5000 % 7))).collect();
    assert_eq!(sorted_lines(&out), expected);
}

#[test]
fn worker_threads_route_each_key_to_its_owner() {
    let (host, out) = host(words(5000));
    run_threads(Arc::new(parse_plan(PLAN).unwrap()), host, config(), 3).unwrap();
    let seen = out.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 7, "one count per key: {seen:?}");
    for (worker, line) in seen {
        let key = line.split('=').next().unwrap();
        assert_eq!(worker, owner(key, 3), "{line} counted on worker {worker}");
        assert!(line.ends_with(&format!("@{worker}")));
    }
}

#[test]
fn a_failing_step_stops_the_run_and_names_the_step() {
    for threads in [1, 2] {
        let mut lines = words(3000);
        lines.insert(1500, "boom".into());
        let (host, _out) = host(lines);
        let plan = Arc::new(parse_plan(PLAN).unwrap());
        let err = if threads == 1 { run_single(plan, host, config()) } else { run_threads(plan, host, config(), threads) }
            .unwrap_err();
        match err {
            RunError::Step(e) => assert_eq!((e.step_id.as_str(), e.to_string().contains("boom")), ("no_boom", true)),
            other => panic!("expected a step error, got {other}"),
        }
    }
}
