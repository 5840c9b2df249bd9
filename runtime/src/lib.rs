//! The bytewax-wasm host.
//!
//! A frontend (the Python `bytewax` package, or the `bytewax-wasm` binary) hands the host a
//! [`plan::Plan`] and something that can run the plan's step code (an [`engine::StepHost`]);
//! the [`engine`] runs it as a timely dataflow. See `docs/plan.md` for the plan format.

pub mod codec;
pub mod connectors;
pub mod engine;
pub mod error;
pub mod item;
pub mod log;
pub mod native;
pub mod plan;
pub mod recovery;
pub mod wasm;
pub mod window;

#[cfg(feature = "python")]
pub mod python;
