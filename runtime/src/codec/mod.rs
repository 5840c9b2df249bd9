//! The item codec of plans: MessagePack. Items that only pass through the host (between WASM
//! steps, into native sinks) stay encoded; the host decodes just what it must, such as the
//! key of a `(key, value)` pair.

mod msgpack;
mod render;

pub use msgpack::{encode_json, encode_pair, encode_str, split_pair, CodecError};
pub use render::render_python;

/// The codec a plan uses when it names none.
pub const DEFAULT_CODEC: &str = "msgpack";
