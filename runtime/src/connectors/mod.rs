//! Connectors the host runs natively, without calling user code per item.

mod dir_source;
mod file_source;
mod kafka;
mod lines;

pub use dir_source::{glob_match, DirSource};
pub use file_source::FileSource;
pub use kafka::{KafkaInputSpec, KafkaSink, KafkaSource};
pub use lines::LineReader;
