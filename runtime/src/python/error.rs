//! Step failures involving Python, and turning them back into Python exceptions.

use pyo3::exceptions::{
    PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyPermissionError, PyRuntimeError,
    PyTypeError, PyValueError,
};
use pyo3::prelude::*;

use crate::error::{ErrorCause, RunError, StepError};

/// Wraps an exception raised by user code in `step_id` while running `context`.
pub fn user_error(step_id: &str, context: impl Into<String>, err: PyErr) -> StepError {
    StepError {
        step_id: step_id.to_owned(),
        context: context.into(),
        cause: ErrorCause::Python(err),
    }
}

/// `repr(obj)`, or a placeholder when even that fails.
pub fn repr(obj: &Bound<'_, PyAny>) -> String {
    obj.repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "<unprintable object>".to_owned())
}

pyo3::create_exception!(
    _engine,
    PeerFailure,
    pyo3::exceptions::PyRuntimeError,
    "Another worker or process of the cluster failed first; its own error is reported where it ran."
);

/// Converts a failed run into the exception Python callers see: the user's own exception
/// (same type, same traceback) with a note naming the step, or a new one for engine errors.
pub fn run_error_to_py(py: Python<'_>, err: RunError) -> PyErr {
    match err {
        RunError::Plan(e) => PyValueError::new_err(e.to_string()),
        RunError::Step(StepError {
            step_id,
            context,
            cause,
        }) => {
            let where_ = format!("step '{step_id}' ({context})");
            match cause {
                ErrorCause::Python(e) => {
                    // Keep the user's exception as it is; notes show in its traceback.
                    let _ = e.add_note(py, format!("bytewax: raised in {where_}"));
                    e
                }
                ErrorCause::WrongType(m) => PyTypeError::new_err(format!("{m} (in {where_})")),
                ErrorCause::Message(m) => PyRuntimeError::new_err(format!("{where_}: {m}")),
                ErrorCause::Io { message, error } => {
                    let text = format!("{message}: {error} (in {where_})");
                    match error.kind() {
                        std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(text),
                        std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(text),
                        _ => PyOSError::new_err(text),
                    }
                }
            }
        }
        RunError::PeerFailed => PeerFailure::new_err(
            "another worker of the cluster failed; its error is reported where it ran",
        ),
        RunError::Interrupted => PyKeyboardInterrupt::new_err("interrupted"),
        RunError::Cluster(m) => pyo3::exceptions::PyConnectionError::new_err(m),
        RunError::Recovery(m) => pyo3::exceptions::PyRuntimeError::new_err(format!("recovery: {m}")),
    }
}
