//! Python values <-> MessagePack items, at the boundary between Python and WASM steps
//! (mapping documented in docs/wasm.md).

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use rmpv::Value;

/// Encodes `obj`; a type with no MessagePack form is a `TypeError` naming it.
pub fn encode(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let mut out = Vec::new();
    if !encode_plain(obj, &mut out)? {
        rmpv::encode::write_value(&mut out, &to_value(obj)?).expect("writing to a Vec cannot fail");
    }
    Ok(out)
}

/// Encodes `obj` when it is an exact `str`, `float` or 64-bit `int`; `None` for anything
/// else (which stays a Python object where that is cheaper).
pub fn encode_if_plain(obj: &Bound<'_, PyAny>) -> PyResult<Option<Vec<u8>>> {
    let mut out = Vec::new();
    Ok(encode_plain(obj, &mut out)?.then_some(out))
}

/// Writes an exact `str`, `float` or 64-bit `int` straight to MessagePack (the bytes
/// [`to_value`] would give, without building a `Value`); false for anything else.
fn encode_plain(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> PyResult<bool> {
    const INFALLIBLE: &str = "writing to a Vec cannot fail";
    if obj.is_exact_instance_of::<PyString>() {
        let s = obj.cast::<PyString>().map_err(PyErr::from)?.to_str()?;
        rmp::encode::write_str(out, s).expect(INFALLIBLE);
    } else if obj.is_exact_instance_of::<PyInt>() {
        match obj.extract::<i64>() {
            // As rmpv writes integers: non-negative ones in the unsigned formats.
            Ok(i) if i >= 0 => {
                rmp::encode::write_uint(out, i as u64).expect(INFALLIBLE);
            }
            Ok(i) => {
                rmp::encode::write_sint(out, i).expect(INFALLIBLE);
            }
            Err(_) => return Ok(false),
        }
    } else if obj.is_exact_instance_of::<PyFloat>() {
        let f = obj.cast::<PyFloat>().map_err(PyErr::from)?.value();
        rmp::encode::write_f64(out, f).expect(INFALLIBLE);
    } else {
        return Ok(false);
    }
    Ok(true)
}

fn to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    Ok(if obj.is_none() {
        Value::Nil
    } else if let Ok(b) = obj.cast::<PyBool>() {
        Value::Boolean(b.is_true())
    } else if obj.is_instance_of::<PyInt>() {
        match obj.extract::<i64>() {
            Ok(i) => Value::from(i),
            Err(_) => Value::from(obj.extract::<u64>().map_err(|_| {
                PyTypeError::new_err(format!("{} does not fit in 64 bits, which WASM steps need", super::error::repr(obj)))
            })?),
        }
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        Value::F64(f.value())
    } else if let Ok(s) = obj.cast::<PyString>() {
        Value::from(s.to_str()?)
    } else if let Ok(b) = obj.cast::<PyBytes>() {
        Value::Binary(b.as_bytes().to_vec())
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        Value::Array(t.iter().map(|v| to_value(&v)).collect::<PyResult<_>>()?)
    } else if let Ok(l) = obj.cast::<PyList>() {
        Value::Array(l.iter().map(|v| to_value(&v)).collect::<PyResult<_>>()?)
    } else if let Ok(d) = obj.cast::<PyDict>() {
        Value::Map(d.iter().map(|(k, v)| Ok((to_value(&k)?, to_value(&v)?))).collect::<PyResult<_>>()?)
    } else {
        return Err(PyTypeError::new_err(format!(
            "a `{}` cannot be passed to a WASM step (use None, bool, int, float, str, bytes, tuple, list or dict)",
            obj.get_type().name()?
        )));
    })
}

/// Decodes an item into the Python value it stands for (arrays become tuples).
pub fn decode<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    if let Some(plain) = decode_plain(py, bytes)? {
        return Ok(plain);
    }
    let mut rd = bytes;
    let v = rmpv::decode::read_value(&mut rd)
        .map_err(|e| PyTypeError::new_err(format!("a WASM step returned bytes that are not MessagePack: {e}")))?;
    from_value(py, &v)
}

/// A string, an integer that fits `i64` or a 64-bit float read straight from the bytes
/// (the value [`from_value`] would give, without building a `Value`); `None` for the rest.
fn decode_plain<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Option<Bound<'py, PyAny>>> {
    use rmp::Marker;
    let Some(&first) = bytes.first() else { return Ok(None) };
    let mut rd = bytes;
    Ok(Some(match Marker::from_u8(first) {
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
            let Ok(len) = rmp::decode::read_str_len(&mut rd) else { return Ok(None) };
            let Some(Ok(s)) = rd.get(..len as usize).map(std::str::from_utf8) else { return Ok(None) };
            PyString::new(py, s).into_any()
        }
        Marker::FixPos(_)
        | Marker::FixNeg(_)
        | Marker::U8
        | Marker::U16
        | Marker::U32
        | Marker::U64
        | Marker::I8
        | Marker::I16
        | Marker::I32
        | Marker::I64 => match rmp::decode::read_int::<i64, _>(&mut rd) {
            Ok(i) => i.into_pyobject(py)?.into_any(),
            Err(_) => return Ok(None),
        },
        Marker::F64 => match rmp::decode::read_f64(&mut rd) {
            Ok(f) => PyFloat::new(py, f).into_any(),
            Err(_) => return Ok(None),
        },
        _ => return Ok(None),
    }))
}

fn from_value<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Nil => py.None().into_bound(py),
        Value::Boolean(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Integer(i) => match i.as_i64() {
            Some(i) => i.into_pyobject(py)?.into_any(),
            None => i.as_u64().unwrap_or_default().into_pyobject(py)?.into_any(),
        },
        Value::F32(f) => PyFloat::new(py, f64::from(*f)).into_any(),
        Value::F64(f) => PyFloat::new(py, *f).into_any(),
        Value::String(s) => PyString::new(py, s.as_str().unwrap_or_default()).into_any(),
        Value::Binary(b) => PyBytes::new(py, b).into_any(),
        Value::Array(items) => {
            PyTuple::new(py, items.iter().map(|i| from_value(py, i)).collect::<PyResult<Vec<_>>>()?)?.into_any()
        }
        Value::Map(entries) => {
            let d = PyDict::new(py);
            for (k, v) in entries {
                d.set_item(from_value(py, k)?, from_value(py, v)?)?;
            }
            d.into_any()
        }
        Value::Ext(tag, _) => return Err(PyTypeError::new_err(format!("MessagePack extension type {tag} has no Python form"))),
    })
}
