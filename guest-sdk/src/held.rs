//! A state or accumulator held across the values of one group.
//!
//! A group loop calls several steps in turn (a builder, then a mapper; a reducer, then
//! `is_complete`), each written against its own Rust types. Re-encoding the state between
//! every call would make a folder that grows a `Vec` quadratic in the batch, so the value
//! stays decoded while consecutive steps agree on its type and only goes through bytes
//! when they do not (or when it leaves the component).

use std::any::Any;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codec;

/// A state or accumulator, either as the host sent it or as the last step left it.
pub enum Held {
    /// Bytes in the item codec, not yet decoded (the host's state, or a first value).
    Encoded(Vec<u8>),
    /// A value some step returned, with the encoder for its concrete type.
    Decoded {
        /// The value itself.
        value: Box<dyn Any>,
        /// Encodes `value`; always the monomorphised encoder of its own type.
        encode: fn(&dyn Any) -> Result<Vec<u8>, String>,
    },
}

impl Held {
    /// Holds a value a step returned.
    pub fn decoded<T: Serialize + 'static>(value: T) -> Held {
        Held::Decoded {
            value: Box::new(value),
            encode: encode_any::<T>,
        }
    }

    /// The value as a `&T`, when it is already decoded as exactly that type.
    pub fn peek<T: 'static>(&self) -> Option<&T> {
        match self {
            Held::Decoded { value, .. } => value.downcast_ref(),
            Held::Encoded(_) => None,
        }
    }

    /// The value as a `T`: moved out when it already is one, else decoded from bytes.
    pub fn take<T: DeserializeOwned + 'static>(self, step: &str) -> Result<T, String> {
        match self {
            Held::Encoded(bytes) => codec::decode(step, &bytes),
            Held::Decoded { value, encode } => match value.downcast::<T>() {
                Ok(typed) => Ok(*typed),
                Err(value) => {
                    let bytes =
                        encode(value.as_ref()).map_err(|e| format!("step `{step}`: {e}"))?;
                    codec::decode(step, &bytes)
                }
            },
        }
    }

    /// The value in the item codec, for the host or for a step of another type.
    pub fn into_bytes(self, step: &str) -> Result<Vec<u8>, String> {
        match self {
            Held::Encoded(bytes) => Ok(bytes),
            Held::Decoded { value, encode } => {
                encode(value.as_ref()).map_err(|e| format!("step `{step}`: {e}"))
            }
        }
    }

    /// Like [`Held::into_bytes`], keeping the value.
    pub fn to_bytes(&self, step: &str) -> Result<Vec<u8>, String> {
        match self {
            Held::Encoded(bytes) => Ok(bytes.clone()),
            Held::Decoded { value, encode } => {
                encode(value.as_ref()).map_err(|e| format!("step `{step}`: {e}"))
            }
        }
    }
}

fn encode_any<T: Serialize + 'static>(value: &dyn Any) -> Result<Vec<u8>, String> {
    match value.downcast_ref::<T>() {
        Some(typed) => codec::encode_unnamed(typed),
        // `Held::decoded` pairs each value with its own encoder, so this is a bug here.
        None => Err("bytewax-guest: a held value lost its encoder".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_type_moves_without_codec() {
        let held = Held::decoded(vec![1i64, 2]);
        assert_eq!(held.peek::<Vec<i64>>(), Some(&vec![1, 2]));
        assert_eq!(held.take::<Vec<i64>>("s").unwrap(), vec![1, 2]);
    }

    #[test]
    fn other_type_goes_through_bytes() {
        let held = Held::decoded(7i64);
        assert!(held.peek::<f64>().is_none());
        assert_eq!(held.take::<f64>("s").unwrap(), 7.0);
    }

    #[test]
    fn encoded_state_decodes_on_take_and_passes_through_untouched() {
        let bytes = codec::encode("s", &("a".to_string(), 3i64)).unwrap();
        assert_eq!(Held::Encoded(bytes.clone()).into_bytes("s").unwrap(), bytes);
        let pair: (String, i64) = Held::Encoded(bytes).take("s").unwrap();
        assert_eq!(pair, ("a".to_string(), 3));
    }

    #[test]
    fn wrong_type_error_names_the_step() {
        let err = Held::decoded("x".to_string())
            .take::<i64>("sum")
            .unwrap_err();
        assert!(
            err.starts_with("step `sum`: cannot decode an item as `i64`"),
            "{err}"
        );
    }
}
