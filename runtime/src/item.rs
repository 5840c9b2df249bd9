//! What flows between steps.

use serde::{Deserialize, Serialize};

use crate::engine::route_hash;

/// One item of a stream. In an all-Python chain items stay Python objects; host-native
/// sources produce Rust values that are converted once, where a Python step first needs them.
#[derive(Debug, Serialize, Deserialize)]
pub enum Item {
    /// A line of text from a native source.
    Str(String),
    /// A value in the plan's codec (MessagePack), as WASM steps take and give them.
    // As one byte string: the same bytes on the wire as a sequence, but copied whole
    // instead of read back one `u8` at a time.
    Encoded(#[serde(with = "serde_bytes")] Vec<u8>),
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
    // `route_hash(key)` when a step already computed it, else `UNKNOWN_ROUTE`. Never sent:
    // only the sending side routes.
    #[serde(skip, default = "unknown_route")]
    route: u64,
}

/// Marks a route not computed yet. A key whose hash happens to be this value is simply
/// hashed again when routed, to the same result.
const UNKNOWN_ROUTE: u64 = u64::MAX;

fn unknown_route() -> u64 {
    UNKNOWN_ROUTE
}

impl KeyedItem {
    /// `(key, value)`, its route to be computed when it is exchanged.
    pub fn new(key: String, value: Item) -> Self {
        KeyedItem { key, value, route: UNKNOWN_ROUTE }
    }

    /// `(key, value)` whose `route_hash(key)` the caller already computed, so the exchange
    /// does not hash the key again.
    pub fn with_route(key: String, value: Item, route: u64) -> Self {
        debug_assert_eq!(route, route_hash(&key));
        KeyedItem { key, value, route }
    }

    /// [`route_hash`] of the key.
    pub fn route(&self) -> u64 {
        if self.route != UNKNOWN_ROUTE {
            self.route
        } else {
            route_hash(&self.key)
        }
    }
}

/// A batch of items, the unit operators exchange.
pub type Batch = Vec<Item>;

#[cfg(test)]
mod tests {
    use super::*;
    use timely::bytes::arc::BytesMut;
    use timely::dataflow::channels::ContainerBytes;

    fn cross(items: Vec<KeyedItem>) -> (Vec<u8>, Vec<KeyedItem>) {
        let mut bytes = Vec::new();
        items.into_bytes(&mut bytes);
        let back = Vec::<KeyedItem>::from_bytes(BytesMut::from(bytes.clone()).freeze());
        (bytes, back)
    }

    #[test]
    fn a_known_route_is_not_sent_and_the_receiver_hashes_the_key_again() {
        let routed = KeyedItem::with_route("word".into(), Item::Str("v".into()), route_hash("word"));
        assert_eq!(routed.route(), route_hash("word"));
        let (sent, back) = cross(vec![routed]);
        let (plain, _) = cross(vec![KeyedItem::new("word".into(), Item::Str("v".into()))]);
        assert_eq!(sent, plain, "the route adds nothing to the wire");
        assert_eq!(back[0].key, "word");
        assert_eq!(back[0].route(), route_hash("word"));
    }

    #[test]
    fn encoded_values_cross_whole_and_as_before() {
        // The layout a derived `Vec<u8>` field had, to show the wire format is unchanged.
        #[derive(Serialize, Deserialize)]
        enum AsSequence {
            #[allow(dead_code)]
            Str(String),
            Encoded(Vec<u8>),
        }
        let value: Vec<u8> = (0..=255).cycle().take(10_000).collect();
        let mut as_bytes = Vec::new();
        vec![Item::Encoded(value.clone())].into_bytes(&mut as_bytes);
        let mut as_sequence = Vec::new();
        vec![AsSequence::Encoded(value.clone())].into_bytes(&mut as_sequence);
        assert_eq!(as_bytes, as_sequence);
        let (_, back) = cross(vec![KeyedItem::new("k".into(), Item::Encoded(value.clone()))]);
        assert!(matches!(&back[0].value, Item::Encoded(b) if *b == value));
    }

    #[test]
    fn an_item_without_a_route_is_hashed_when_asked() {
        for key in ["", "a", "some longer key"] {
            assert_eq!(KeyedItem::new(key.into(), Item::Str(String::new())).route(), route_hash(key));
        }
    }
}
