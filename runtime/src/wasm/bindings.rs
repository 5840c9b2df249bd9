//! Host bindings generated from `wit/steps.wit`.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "step-component",
});

pub use exports::bytewax::steps::steps::{Batch, ChainError, GroupResults, Groups, StepInfo, StepKind};
