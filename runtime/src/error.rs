//! Errors that stop a running dataflow.

use std::fmt;

/// Why a step failed. The variants that carry a foreign error keep it intact so the frontend
/// can hand the user the original (a Python exception keeps its type and traceback).
#[derive(Debug)]
pub enum ErrorCause {
    /// The engine's own check failed (wrong item shape, wrong return type...).
    Message(String),
    /// User code gave the engine a value of the wrong type or shape.
    WrongType(String),
    /// A file or stream the step reads or writes failed.
    Io {
        /// What was being done, with the path.
        message: String,
        /// The operating system's verdict.
        error: std::io::Error,
    },
    /// The user's Python code raised; the exception is passed back unchanged.
    #[cfg(feature = "python")]
    Python(pyo3::PyErr),
}

/// A failure inside a running step, naming the step.
#[derive(Debug)]
pub struct StepError {
    /// The step's id.
    pub step_id: String,
    /// The operator and, where one was running, the user function (`reduce_window, reducer \`add\``).
    pub context: String,
    /// What happened.
    pub cause: ErrorCause,
}

impl StepError {
    /// An engine check that failed in a step.
    pub fn message(step_id: &str, context: impl Into<String>, message: impl Into<String>) -> Self {
        StepError {
            step_id: step_id.to_owned(),
            context: context.into(),
            cause: ErrorCause::Message(message.into()),
        }
    }

    /// An I/O failure in a step; `message` says what was being done.
    pub fn io(
        step_id: &str,
        context: impl Into<String>,
        message: impl Into<String>,
        error: std::io::Error,
    ) -> Self {
        StepError {
            step_id: step_id.to_owned(),
            context: context.into(),
            cause: ErrorCause::Io {
                message: message.into(),
                error,
            },
        }
    }

    /// User code gave the engine a value of the wrong type or shape in a step.
    pub fn wrong_type(
        step_id: &str,
        context: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        StepError {
            step_id: step_id.to_owned(),
            context: context.into(),
            cause: ErrorCause::WrongType(message.into()),
        }
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step '{}' ({}): ", self.step_id, self.context)?;
        match &self.cause {
            ErrorCause::Message(m) | ErrorCause::WrongType(m) => f.write_str(m),
            ErrorCause::Io { message, error } => write!(f, "{message}: {error}"),
            #[cfg(feature = "python")]
            ErrorCause::Python(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StepError {}

/// Why a run ended without completing.
#[derive(Debug)]
pub enum RunError {
    /// The plan was refused before running.
    Plan(crate::plan::PlanError),
    /// A step failed.
    Step(StepError),
    /// Another worker failed first; its error is reported by that worker.
    PeerFailed,
    /// The run was interrupted (Ctrl-C).
    Interrupted,
    /// The cluster could not be set up (a process never connected, a bad address...).
    Cluster(String),
    /// The recovery store could not be read or written.
    Recovery(String),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Plan(e) => write!(f, "invalid plan: {e}"),
            RunError::Step(e) => e.fmt(f),
            RunError::PeerFailed => f.write_str("another worker failed; see its error"),
            RunError::Interrupted => f.write_str("interrupted"),
            RunError::Cluster(m) => f.write_str(m),
            RunError::Recovery(m) => write!(f, "recovery: {m}"),
        }
    }
}

impl std::error::Error for RunError {}

impl From<StepError> for RunError {
    fn from(e: StepError) -> Self {
        RunError::Step(e)
    }
}

/// Bytewax 0.16's texts for items a step cannot use, kept word for word because users match
/// on them; `repr` is how the offending value prints.
pub mod texts {
    /// An item into a stateful step (or partitioned output) that is not a `(key, value)` pair.
    pub fn not_a_pair(repr: &str) -> String {
        format!("Dataflow requires a `(key, value)` 2-tuple as input to every stateful operator for routing; got `{repr}` instead")
    }

    /// A pair whose key is not a `str`.
    pub fn key_not_str(repr: &str) -> String {
        format!("Stateful logic functions must return string or integer keys in `(key, value)`; got `{repr}` instead")
    }

    /// A `predicate` or `is_complete` that returned something other than a `bool`.
    pub fn not_a_bool(function: &str, operator: &str, repr: &str) -> String {
        format!("return value of `{function}` in {operator} operator must be a bool; got `{repr}` instead")
    }
}
