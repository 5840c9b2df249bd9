//! Encoding and taking apart MessagePack items.

use std::fmt;

/// An item that is not what a step needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError(pub String);

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CodecError {}

/// A string item.
pub fn encode_str(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 5);
    rmp::encode::write_str(&mut out, s).expect("writing to a Vec cannot fail");
    out
}

/// A JSON value as an item (arrays stay arrays, objects become maps).
pub fn encode_json(v: &serde_json::Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &json_to_msgpack(v)).expect("writing to a Vec cannot fail");
    out
}

fn json_to_msgpack(v: &serde_json::Value) -> rmpv::Value {
    use serde_json::Value as J;
    match v {
        J::Null => rmpv::Value::Nil,
        J::Bool(b) => rmpv::Value::Boolean(*b),
        J::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => rmpv::Value::from(i),
            (None, Some(u)) => rmpv::Value::from(u),
            _ => rmpv::Value::F64(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => rmpv::Value::from(s.as_str()),
        J::Array(a) => rmpv::Value::Array(a.iter().map(json_to_msgpack).collect()),
        J::Object(o) => rmpv::Value::Map(o.iter().map(|(k, v)| (rmpv::Value::from(k.as_str()), json_to_msgpack(v))).collect()),
    }
}

/// The `(key, value)` pair `key` and already encoded `value`, as one item.
pub fn encode_pair(key: &str, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + value.len() + 6);
    rmp::encode::write_array_len(&mut out, 2).expect("writing to a Vec cannot fail");
    rmp::encode::write_str(&mut out, key).expect("writing to a Vec cannot fail");
    out.extend_from_slice(value);
    out
}

/// Splits an encoded `(key, value)` pair into its `str` key and the value's bytes, without
/// decoding the value. Errors use 0.16's wording for items stateful steps cannot route.
pub fn split_pair(item: &[u8]) -> Result<(&str, &[u8]), CodecError> {
    let not_pair = || {
        CodecError(crate::error::texts::not_a_pair(&super::render_python(item)))
    };
    let mut rd = item;
    match rmp::decode::read_array_len(&mut rd) {
        Ok(2) => {}
        _ => return Err(not_pair()),
    }
    let key_start = item.len() - rd.len();
    let key_len = match rmp::decode::read_str_len(&mut rd) {
        Ok(n) => n as usize,
        Err(_) => {
            let key_end = value_end(&item[key_start..]).map(|n| key_start + n).unwrap_or(item.len());
            return Err(CodecError(crate::error::texts::key_not_str(&super::render_python(&item[key_start..key_end]))));
        }
    };
    let header = item.len() - rd.len();
    let key = rd.get(..key_len).ok_or_else(not_pair)?;
    let key = std::str::from_utf8(key).map_err(|_| CodecError("a key is not valid UTF-8".into()))?;
    Ok((key, &item[header + key_len..]))
}

fn value_end(bytes: &[u8]) -> Option<usize> {
    let mut rd = bytes;
    rmpv::decode::read_value(&mut rd).ok()?;
    Some(bytes.len() - rd.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_split_back_into_key_and_value_bytes() {
        let value = encode_json(&serde_json::json!([1, "x"]));
        let item = encode_pair("k€y", &value);
        assert_eq!(split_pair(&item).unwrap(), ("k€y", value.as_slice()));
    }

    #[test]
    fn non_pairs_and_non_str_keys_get_0_16_errors() {
        let err = split_pair(&encode_json(&serde_json::json!([1, 2, 3]))).unwrap_err();
        assert!(err.0.contains("2-tuple") && err.0.contains("(1, 2, 3)"), "{err}");
        let err = split_pair(&encode_json(&serde_json::json!([7, "v"]))).unwrap_err();
        assert!(err.0.contains("string or integer keys") && err.0.ends_with("got `7` instead"), "{err}");
        assert!(split_pair(&encode_str("plain")).is_err());
    }
}
