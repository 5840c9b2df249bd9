//! Host-native functions a plan can name with `{"kind": "builtin"}`, over encoded items.

use rmpv::Value;

use crate::codec::render_python;

fn decode(item: &[u8]) -> Result<Value, String> {
    let mut rd = item;
    rmpv::decode::read_value(&mut rd).map_err(|e| format!("an item is not MessagePack: {e}"))
}

fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, v).expect("writing to a Vec cannot fail");
    out
}

fn text<'a>(name: &str, v: &'a Value, item: &[u8]) -> Result<&'a str, String> {
    v.as_str().ok_or_else(|| format!("builtin {name} needs a str; got `{}`", render_python(item)))
}

/// `map` builtins: `identity`, `lower`, `upper`, `len`.
pub fn map(name: &str, item: &[u8]) -> Result<Vec<u8>, String> {
    Ok(match name {
        "identity" => item.to_vec(),
        "lower" => crate::codec::encode_str(&text(name, &decode(item)?, item)?.to_lowercase()),
        "upper" => crate::codec::encode_str(&text(name, &decode(item)?, item)?.to_uppercase()),
        "len" => {
            let v = decode(item)?;
            let n = match &v {
                Value::String(s) => s.as_str().map_or(0, |s| s.chars().count()),
                Value::Binary(b) => b.len(),
                Value::Array(a) => a.len(),
                Value::Map(m) => m.len(),
                _ => return Err(format!("builtin len needs a sized value; got `{}`", render_python(item))),
            };
            encode(&Value::from(n as u64))
        }
        other => return Err(format!("builtin {other} is not a map function")),
    })
}

/// `flat_map` builtins: `split_whitespace`.
pub fn flat_map(name: &str, item: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    match name {
        "split_whitespace" => {
            let v = decode(item)?;
            Ok(text(name, &v, item)?.split_whitespace().map(crate::codec::encode_str).collect())
        }
        other => Err(format!("builtin {other} is not a flat_map function")),
    }
}

/// The builtin event-time getter `name` (`millis`: the item is milliseconds since the
/// Unix epoch, UTC, as an integer).
pub fn event_time(name: &str, item: &[u8]) -> Result<i64, String> {
    match name {
        "millis" => match decode(item)? {
            Value::Integer(i) => i.as_i64().ok_or_else(|| format!("builtin millis: {i} is out of range")),
            _ => Err(format!("builtin millis needs an integer (milliseconds since the Unix epoch); got `{}`", render_python(item))),
        },
        other => Err(format!("builtin {other} is not an event-time getter")),
    }
}

/// Reducer builtins: `add` (numbers, strings, lists).
pub fn reduce(name: &str, acc: &[u8], value: &[u8]) -> Result<Vec<u8>, String> {
    if name != "add" {
        return Err(format!("builtin {name} is not a reducer"));
    }
    let (a, b) = (decode(acc)?, decode(value)?);
    let sum = match (&a, &b) {
        (Value::Integer(x), Value::Integer(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => Value::from(x.checked_add(y).ok_or("integer overflow in builtin add")?),
            _ => Value::F64(x.as_f64().unwrap_or_default() + y.as_f64().unwrap_or_default()),
        },
        (Value::F64(x), Value::F64(y)) => Value::F64(x + y),
        (Value::F64(x), Value::Integer(y)) | (Value::Integer(y), Value::F64(x)) => Value::F64(x + y.as_f64().unwrap_or_default()),
        (Value::String(x), Value::String(y)) => {
            Value::from(format!("{}{}", x.as_str().unwrap_or_default(), y.as_str().unwrap_or_default()))
        }
        (Value::Array(x), Value::Array(y)) => Value::Array(x.iter().chain(y).cloned().collect()),
        _ => {
            return Err(format!(
                "builtin add cannot add `{}` and `{}`",
                render_python(acc),
                render_python(value)
            ))
        }
    };
    Ok(encode(&sum))
}

/// Builder builtins: `list` (an empty list).
pub fn build(name: &str) -> Result<Vec<u8>, String> {
    match name {
        "list" => Ok(encode(&Value::Array(Vec::new()))),
        other => Err(format!("builtin {other} is not a builder")),
    }
}

/// Folder builtins: `append` (the value at the end of the list accumulator).
pub fn fold(name: &str, acc: &[u8], value: &[u8]) -> Result<Vec<u8>, String> {
    if name != "append" {
        return Err(format!("builtin {name} is not a folder"));
    }
    match decode(acc)? {
        Value::Array(mut items) => {
            items.push(decode(value)?);
            Ok(encode(&Value::Array(items)))
        }
        _ => Err(format!("builtin append needs a list to append to; got `{}`", render_python(acc))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{encode_json, encode_str};

    #[test]
    fn list_and_append_fold_values_in_order() {
        let mut acc = build("list").unwrap();
        for v in [json!(1), json!("two")] {
            acc = fold("append", &acc, &encode_json(&v)).unwrap();
        }
        assert_eq!(render_python(&acc), "(1, 'two')");
        assert!(fold("append", &encode_json(&json!(3)), &acc).unwrap_err().contains("needs a list"));
        assert_eq!(build("nope").unwrap_err(), "builtin nope is not a builder");
    }
    use serde_json::json;

    #[test]
    fn builtins_work_on_encoded_items() {
        assert_eq!(map("lower", &encode_str("HeLLo")).unwrap(), encode_str("hello"));
        assert_eq!(flat_map("split_whitespace", &encode_str(" a  b ")).unwrap(), vec![encode_str("a"), encode_str("b")]);
        assert_eq!(reduce("add", &encode_json(&json!(2)), &encode_json(&json!(3))).unwrap(), encode_json(&json!(5)));
        assert!(reduce("add", &encode_json(&json!(2)), &encode_str("x")).unwrap_err().contains("cannot add `2` and `x`"));
    }
}
