//! Connectors the host runs natively, without calling user code per item.

mod lines;

pub use lines::LineReader;
