//! What flows between steps.

use serde::{Deserialize, Serialize};

/// One item of a stream. In an all-Python chain items stay Python objects; host-native
/// sources produce Rust values that are converted once, where a Python step first needs them.
#[derive(Debug, Serialize, Deserialize)]
pub enum Item {
    /// A line of text from a native source.
    Str(String),
    /// A value in the plan's codec (MessagePack), as WASM steps take and give them.
    Encoded(Vec<u8>),
    /// A Python object (pickled when it crosses processes).
    #[cfg(feature = "python")]
    Py(crate::python::PyItem),
}

impl Item {
    /// About how many bytes the item holds: exact for text and encoded values, a guess for
    /// a Python object (its size would take the GIL to learn).
    pub fn approx_bytes(&self) -> usize {
        match self {
            Item::Str(s) => s.len(),
            Item::Encoded(b) => b.len(),
            #[cfg(feature = "python")]
            Item::Py(_) => 64,
        }
    }
}

/// An item on its way into a stateful step: the routing key, split out once, and the value.
#[derive(Debug, Serialize, Deserialize)]
pub struct KeyedItem {
    /// The `key` of `(key, value)`.
    pub key: String,
    /// The `value` of `(key, value)`.
    pub value: Item,
}

/// A batch of items, the unit operators exchange.
pub type Batch = Vec<Item>;
