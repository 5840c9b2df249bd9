//! Errors found in a plan before anything runs.

use std::fmt;

/// A plan that cannot run: where in the JSON, which step, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanError {
    /// JSON path of the offending value, e.g. `steps[3].window.length_ms`.
    pub path: String,
    /// The step's id, when the error is inside a step.
    pub step_id: Option<String>,
    /// What is wrong, in the user's terms.
    pub message: String,
}

impl PlanError {
    pub(crate) fn at(path: impl Into<String>, step_id: Option<&str>, message: impl Into<String>) -> Self {
        PlanError { path: path.into(), step_id: step_id.map(str::to_owned), message: message.into() }
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.step_id {
            Some(id) => write!(f, "{} ({:?}): {}", self.path, id, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

impl std::error::Error for PlanError {}
