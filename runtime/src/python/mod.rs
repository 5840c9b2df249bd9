//! The bridge to Python (cargo feature `python`): runs plans whose step code is Python.

mod arena;
mod chain;
mod codec;
mod error;
mod host;
mod item;
mod keyed;
mod module;
mod sink;
mod source;
mod windows;

pub use host::{Callables, ProcessShare, PyStepHost};
pub use item::PyItem;
pub use module::register;
