//! Connectors the host runs natively, without calling user code per item.

mod file_source;
mod lines;

pub use file_source::FileSource;
pub use lines::LineReader;
