//! Write bytewax-wasm dataflow steps as plain Rust functions over serde types, and
//! compile them into one WebAssembly component that implements `wit/steps.wit`.
//!
//! ```ignore
//! use bytewax_guest::{flat_map, map, reducer};
//!
//! #[map]
//! fn lower(line: String) -> String {
//!     line.to_lowercase()
//! }
//!
//! #[flat_map]
//! fn tokenize(line: String) -> Vec<String> {
//!     line.split_whitespace().map(str::to_string).collect()
//! }
//!
//! #[reducer]
//! fn add(a: i64, b: i64) -> i64 {
//!     a + b
//! }
//!
//! bytewax_guest::export_steps!(lower, tokenize, add);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2` (after
//! `rustup target add wasm32-wasip2`); a plan names a step by its function name.
//! Items cross as MessagePack (see `docs/wasm.md` for how Python values map to it);
//! a step may return `Result<T, E>` with `E: Display` to fail with a message instead of
//! a trap. The functions stay ordinary Rust, so they can be unit tested natively.

extern crate self as bytewax_guest;

pub mod adapters;
mod batch;
#[doc(hidden)]
#[allow(unsafe_code, missing_docs, clippy::all)]
pub mod bindings;
pub mod call;
pub mod codec;
mod combine;
mod component;
pub mod dispatch;
pub mod groups;
pub mod held;
pub mod lane;
pub mod step;

/// The generated WIT types of the `bytewax:steps/steps` interface.
pub use bindings::exports::bytewax::steps::steps as wit;
pub use component::StepTable;

pub use bytewax_guest_macros::{
    builder, event_time, filter, filter_map, flat_map, folder, inspect, is_complete, map, reducer,
    stateful_mapper,
};

/// A string kept inline when short (up to 12 bytes in a wasm32 guest): a word or key of
/// this type costs no allocation, and an associative reducer's combine takes `(key, value)`
/// pairs keyed by it as they are, like `String` ones. It crosses as a MessagePack string.
pub use compact_str::CompactString;
/// Any MessagePack value, for steps that pass items through without a fixed type.
pub use rmpv::Value;
/// Re-exported so `#[serde(with = "bytewax_guest::serde_bytes")]` works without a new
/// dependency: bytes fields then cross as MessagePack `bin` (Python `bytes`).
pub use serde_bytes;

/// What the macros expand to; not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::adapters::{
        BuilderAdapter, DirectAdapter, FilterMapAdapter, FlatMapAdapter, FoldAdapter,
        IsCompleteAdapter, MapAdapter, StatefulMapAdapter,
    };
    pub use crate::bindings;
    pub use crate::call::{
        ByRef, BySlice, ByStr, ByValue, NoArgs, Returns, ReturnsResult, TwoArgs,
    };
    pub use crate::component::StepTable;
    pub use crate::step::{StepBody, StepDef};
    pub use wit_bindgen;
}
