//! Showing items the way Python's `print` shows the equivalent values, so a flow's output
//! reads the same whether its steps are Python or WASM.

use rmpv::Value;

/// `str()` of the Python value an encoded item stands for (arrays print as tuples). Bytes
/// that are not MessagePack are shown as such rather than failing an output.
pub fn render_python(item: &[u8]) -> String {
    let mut rd = item;
    match rmpv::decode::read_value(&mut rd) {
        Ok(Value::String(s)) if s.is_str() => s.into_str().unwrap_or_default(),
        Ok(v) => {
            let mut out = String::new();
            repr(&v, &mut out);
            out
        }
        Err(_) => format!("<{} undecodable bytes>", item.len()),
    }
}

fn repr(v: &Value, out: &mut String) {
    match v {
        Value::Nil => out.push_str("None"),
        Value::Boolean(b) => out.push_str(if *b { "True" } else { "False" }),
        Value::Integer(i) => out.push_str(&i.to_string()),
        Value::F32(f) => float(f64::from(*f), out),
        Value::F64(f) => float(*f, out),
        Value::String(s) => match s.as_str() {
            Some(s) => str_repr(s, out),
            None => out.push_str("<invalid utf-8>"),
        },
        Value::Binary(b) => {
            out.push('b');
            str_repr(&String::from_utf8_lossy(b), out);
        }
        Value::Array(items) => {
            out.push('(');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr(item, out);
            }
            if items.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        Value::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr(k, out);
                out.push_str(": ");
                repr(v, out);
            }
            out.push('}');
        }
        Value::Ext(tag, data) => out.push_str(&format!("<ext {tag}: {} bytes>", data.len())),
    }
}

fn float(f: f64, out: &mut String) {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        out.push_str(&format!("{f:.1}"));
    } else if f.is_nan() {
        out.push_str("nan");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "inf" } else { "-inf" });
    } else {
        out.push_str(&f.to_string());
    }
}

/// Python's `repr` of a `str`: single quotes unless the text has a `'` and no `"`.
fn str_repr(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{encode_json, encode_pair, encode_str};

    #[test]
    fn prints_like_python() {
        assert_eq!(render_python(&encode_pair("'tis", &encode_json(&serde_json::json!(2)))), "(\"'tis\", 2)");
        assert_eq!(render_python(&encode_json(&serde_json::json!([["a"], null, true, 1.5, 2.0]))), "(('a',), None, True, 1.5, 2.0)");
        assert_eq!(render_python(&encode_str("plain line")), "plain line");
        assert_eq!(render_python(&encode_json(&serde_json::json!({"k": "v"}))), "{'k': 'v'}");
    }
}
