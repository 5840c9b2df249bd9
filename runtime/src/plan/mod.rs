//! The JSON plan, version 1: the contract between frontends and the host (see `docs/plan.md`).
//!
//! ```
//! let plan = bytewax_runtime::plan::parse_plan(r#"{"plan_version": 1, "steps": [
//!     {"op": "input", "step_id": "inp", "source": {"kind": "file", "path": "in.txt"}},
//!     {"op": "output", "step_id": "out", "sink": {"kind": "stdout"}}
//! ]}"#).unwrap();
//! assert_eq!(plan.steps[1].step_id(), "out");
//! ```

mod error;
mod model;
mod validate;

pub use error::PlanError;
pub use model::{
    ClockSpec, DirGrant, FnRef, Plan, SinkSpec, SourceSpec, Step, WasmGrants, WasmLimits, WindowSpec, PLAN_VERSION,
};
pub use validate::{parse_instant, parse_plan, plan_from_value, BUILTIN_FUNCTIONS};

impl Plan {
    /// The canonical JSON text of this plan (what `parse_plan` reads back to an equal plan).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a plan always serialises")
    }
}

#[cfg(test)]
mod tests;
