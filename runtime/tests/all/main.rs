//! Engine integration tests, one binary with a module per feature (as wasmtime does).
//! They drive the engine through a small Rust [`StepHost`] so no Python is involved.

mod host;
mod run;
mod wasm;
