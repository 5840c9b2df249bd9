//! Python values <-> MessagePack items, at the boundary between Python and WASM steps
//! (mapping documented in docs/wasm.md).

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use rmpv::Value;

/// Encodes `obj`; a type with no MessagePack form is a `TypeError` naming it.
pub fn encode(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, &to_value(obj)?).expect("writing to a Vec cannot fail");
    Ok(out)
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
    let mut rd = bytes;
    let v = rmpv::decode::read_value(&mut rd)
        .map_err(|e| PyTypeError::new_err(format!("a WASM step returned bytes that are not MessagePack: {e}")))?;
    from_value(py, &v)
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
