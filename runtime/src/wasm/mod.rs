//! WebAssembly steps: components implementing `wit/steps.wit`, run sandboxed by wasmtime.
//!
//! One [`wasmtime::Engine`] per process; components are compiled once (and cached on disk by
//! content hash), pre-linked with a WASI that grants nothing, and instantiated per step and
//! worker from a pooling allocator. Each instance has a memory cap and a per-call CPU
//! deadline; a guest that traps, runs too long or grows too big fails its step, never the host.

mod batch;
mod bindings;
mod component;
mod engine;
mod instance;
mod limits;
mod stateless;
mod store;

pub use bindings::{Batch, GroupResults, Groups, StepInfo, StepKind};
pub use component::{load_component, LoadedComponent};
pub use instance::{StepInstance, WasmCallError};
pub use limits::{WasmLimits, DEFAULT_DEADLINE_MS, DEFAULT_MEMORY_MB};
pub use stateless::{ChainFailure, StatelessKind, WasmChain};

/// A fresh instance of the WASM function `f`'s component for one step on one worker.
/// `f` must be a `wasm` reference.
pub fn instantiate(f: &crate::plan::FnRef) -> Result<StepInstance, WasmCallError> {
    let crate::plan::FnRef::Wasm { component, limits, grants, .. } = f else {
        return Err(WasmCallError::Setup("not a WASM function".into()));
    };
    let loaded = load_component(std::path::Path::new(component)).map_err(WasmCallError::Setup)?;
    StepInstance::new(loaded, limits.unwrap_or_default(), &grants.clone().unwrap_or_default())
}
