//! The functions `bytewax._engine` exposes (its contract is `bytewax/_engine.pyi`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::error::run_error_to_py;
use super::host::{Callables, ProcessShare, PyStepHost};
use crate::engine::{run_cluster, run_single, run_threads, ClusterLayout, RunConfig};
use crate::plan::parse_plan;

/// Runs a plan on `workers` worker threads (one: in the calling thread), or as process
/// `process_id` of a cluster at `addresses`; returns when every input is exhausted.
#[pyfunction]
#[pyo3(signature = (plan_json, callables, *, epoch_interval_s = 10.0, workers = 1, process_id = 0, addresses = None, connect_timeout_s = 60.0, recovery_db_dir = None))]
#[allow(clippy::too_many_arguments)] // Python keyword arguments, not a Rust API
pub fn run_main(
    py: Python<'_>,
    plan_json: &str,
    callables: HashMap<String, Py<PyAny>>,
    epoch_interval_s: f64,
    workers: usize,
    process_id: usize,
    addresses: Option<Vec<String>>,
    connect_timeout_s: f64,
    recovery_db_dir: Option<std::path::PathBuf>,
) -> PyResult<()> {
    if workers == 0 {
        return Err(PyValueError::new_err("workers must be at least 1"));
    }
    if !(connect_timeout_s.is_finite() && connect_timeout_s > 0.0) {
        return Err(PyValueError::new_err(format!(
            "connect timeout must be a positive number of seconds, got {connect_timeout_s}"
        )));
    }
    let cluster = match addresses {
        Some(addresses) if addresses.len() > 1 => Some(ClusterLayout {
            process: process_id,
            addresses,
            threads: workers,
            connect_timeout: Duration::from_secs_f64(connect_timeout_s),
        }),
        _ => None,
    };
    let plan = parse_plan(plan_json).map_err(|e| PyValueError::new_err(e.to_string()))?;
    if !(epoch_interval_s.is_finite() && epoch_interval_s >= 0.0) {
        return Err(PyValueError::new_err(format!(
            "epoch interval must be a non-negative number of seconds, got {epoch_interval_s}"
        )));
    }
    let share = cluster.as_ref().map(|c| ProcessShare {
        workers: c.process * c.threads..(c.process + 1) * c.threads,
        of: c.addresses.len() * c.threads,
    });
    let host = Arc::new(PyStepHost::new(Callables::new(callables), share));
    let config = RunConfig {
        epoch_interval: Duration::from_secs_f64(epoch_interval_s),
        recovery: recovery_db_dir.map(|db_dir| crate::recovery::RecoveryConfig { db_dir }),
    };
    let plan = Arc::new(plan);
    let result = py.detach(move || match cluster {
        Some(layout) => run_cluster(plan, host, config, layout),
        None if workers == 1 => run_single(plan, host, config),
        None => run_threads(plan, host, config, workers),
    });
    result.map_err(|e| run_error_to_py(py, e))
}

/// Validates a plan and returns its canonical JSON; raises `ValueError` naming the JSON path.
#[pyfunction]
pub fn validate_plan(plan_json: &str) -> PyResult<String> {
    parse_plan(plan_json)
        .map(|p| p.to_json())
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// Adds this module's functions to the extension module `m`, and keeps CPython's freed
/// object arenas for reuse from now on (see `arena`).
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    super::arena::install();
    m.add_function(wrap_pyfunction!(run_main, m)?)?;
    m.add_function(wrap_pyfunction!(validate_plan, m)?)?;
    m.add("PLAN_VERSION", crate::plan::PLAN_VERSION)?;
    m.add("RECOVERY_FORMAT", crate::recovery::FORMAT_VERSION)?;
    m.add(
        "PeerFailure",
        m.py().get_type::<super::error::PeerFailure>(),
    )?;
    crate::log::set_warning_handler(warn_through_logging);
    Ok(())
}

/// Engine warnings go to the `bytewax` logger, where Python users configure logging.
fn warn_through_logging(message: &str) {
    Python::attach(|py| {
        let logged = py
            .import("logging")
            .and_then(|logging| logging.call_method1("getLogger", ("bytewax",)))
            .and_then(|logger| logger.call_method1("warning", (message,)));
        if logged.is_err() {
            eprintln!("bytewax: warning: {message}");
        }
    });
}
