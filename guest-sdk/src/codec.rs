//! The item codec: MessagePack through `rmp-serde`.
//!
//! Structs are written with their field names (as MessagePack maps) rather than as
//! positional arrays, because the other side is often Python, where a dict is the
//! natural shape of a record and field order carries no meaning.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Encodes `value` as one MessagePack item; the error names `step` and the Rust type.
pub fn encode<T: Serialize + ?Sized>(step: &str, value: &T) -> Result<Vec<u8>, String> {
    encode_unnamed(value).map_err(|reason| format!("step `{step}`: {reason}"))
}

/// Decodes one MessagePack item as a `T`; the error names `step` and the Rust type.
pub fn decode<T: DeserializeOwned>(step: &str, bytes: &[u8]) -> Result<T, String> {
    rmp_serde::from_slice(bytes).map_err(|err| {
        format!(
            "step `{step}`: cannot decode an item as `{}`: {err}",
            short_type_name::<T>()
        )
    })
}

/// Decodes one item as a `T` that may borrow from `bytes` (a `&str`, say).
pub fn decode_borrowed<'a, T: serde::Deserialize<'a>>(step: &str, bytes: &'a [u8]) -> Result<T, String> {
    rmp_serde::from_slice(bytes).map_err(|err| {
        format!(
            "step `{step}`: cannot decode an item as `{}`: {err}",
            short_type_name::<T>()
        )
    })
}

/// Encodes without knowing which step asked; callers add the step to the message.
pub(crate) fn encode_unnamed<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
    rmp_serde::to_vec_named(value)
        .map_err(|err| format!("cannot encode a `{}`: {err}", short_type_name::<T>()))
}

/// Encodes `value` onto the end of `out`; the caller undoes a partial write on error.
pub(crate) fn encode_into<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), String> {
    rmp_serde::encode::write_named(out, value)
        .map_err(|err| format!("cannot encode a `{}`: {err}", short_type_name::<T>()))
}

/// `std::any::type_name` without module paths: `Vec<String>`, not
/// `alloc::vec::Vec<alloc::string::String>`, so messages read like the user's code.
pub fn short_type_name<T: ?Sized>() -> String {
    strip_paths(std::any::type_name::<T>())
}

fn strip_paths(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut word_start = 0;
    let mut chars = full.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            // Drop the path segment just written; only the last segment stays.
            out.truncate(word_start);
            continue;
        }
        out.push(c);
        if !(c.is_alphanumeric() || c == '_') {
            word_start = out.len();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Reading {
        sensor: String,
        value: f64,
    }

    #[test]
    fn structs_encode_as_maps_with_field_names() {
        let bytes = encode(
            "s",
            &Reading {
                sensor: "a".into(),
                value: 1.5,
            },
        )
        .unwrap();
        let as_map: BTreeMap<String, rmpv::Value> = decode("s", &bytes).unwrap();
        assert_eq!(as_map["sensor"], rmpv::Value::from("a"));
        assert_eq!(as_map["value"], rmpv::Value::from(1.5));
    }

    #[test]
    fn tuples_and_vecs_encode_as_arrays() {
        let tuple = encode("s", &("w".to_string(), 1i64)).unwrap();
        let list = encode("s", &vec![1i64, 2]).unwrap();
        let tuple_value: rmpv::Value = decode("s", &tuple).unwrap();
        let list_value: rmpv::Value = decode("s", &list).unwrap();
        assert!(tuple_value.is_array());
        assert!(list_value.is_array());
        let back: (String, i64) = decode("s", &tuple).unwrap();
        assert_eq!(back, ("w".to_string(), 1));
    }

    #[test]
    fn serde_bytes_encode_as_bin_and_none_as_nil() {
        let bin = encode("s", &serde_bytes::ByteBuf::from(vec![0u8, 255])).unwrap();
        assert_eq!(
            decode::<rmpv::Value>("s", &bin).unwrap(),
            rmpv::Value::Binary(vec![0, 255])
        );
        let nil = encode("s", &Option::<i64>::None).unwrap();
        assert_eq!(decode::<rmpv::Value>("s", &nil).unwrap(), rmpv::Value::Nil);
    }

    #[test]
    fn enums_encode_as_variant_names_or_one_key_maps() {
        #[derive(Serialize)]
        enum Signal {
            Stop,
            Speed(i64),
        }
        let stop: rmpv::Value = decode("s", &encode("s", &Signal::Stop).unwrap()).unwrap();
        let speed: rmpv::Value = decode("s", &encode("s", &Signal::Speed(3)).unwrap()).unwrap();
        assert_eq!(stop, rmpv::Value::from("Stop"));
        assert_eq!(speed, rmpv::Value::Map(vec![("Speed".into(), 3.into())]));
    }

    #[test]
    fn python_ints_decode_as_floats_where_a_float_is_wanted() {
        let int = encode("s", &3i64).unwrap();
        assert_eq!(decode::<f64>("s", &int).unwrap(), 3.0);
    }

    #[test]
    fn decode_failure_names_step_and_type() {
        let int = encode("s", &3i64).unwrap();
        let err = decode::<Vec<String>>("tokenize", &int).unwrap_err();
        assert!(
            err.starts_with("step `tokenize`: cannot decode an item as `Vec<String>`:"),
            "{err}"
        );
    }

    #[test]
    fn type_names_lose_their_paths() {
        assert_eq!(short_type_name::<Vec<String>>(), "Vec<String>");
        assert_eq!(short_type_name::<(String, i64)>(), "(String, i64)");
        assert_eq!(
            short_type_name::<Option<BTreeMap<String, Vec<u8>>>>(),
            "Option<BTreeMap<String, Vec<u8>>>"
        );
    }
}

