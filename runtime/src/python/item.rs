//! Python objects as stream items.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyFloat, PyInt, PyString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::item::Item;

/// A Python object travelling through the dataflow. It crosses process boundaries pickled.
#[derive(Debug)]
pub struct PyItem(pub Py<PyAny>);

static PICKLE_DUMPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static PICKLE_LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn pickle_fn<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    cell.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import("pickle")?.getattr(name)?.unbind())
    })
    .map(|f| f.bind(py).clone())
}

/// How a Python object crosses to another process: the commonest exact types directly
/// (no pickle call per item, which would cost more than the work on most items), the rest
/// pickled.
#[derive(Serialize, Deserialize)]
enum Wire {
    Int(i64),
    Float(f64),
    Str(String),
    Pickled(Pickled),
}

/// Pickle bytes, written as one byte string rather than a sequence of numbers.
struct Pickled(Vec<u8>);

impl Serialize for Pickled {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Pickled {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_bytes_vec(d).map(Pickled)
    }
}

impl Serialize for PyItem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let wire = Python::attach(|py| -> PyResult<Wire> {
            let obj = self.0.bind(py);
            // Exact types only: a subclass (or bool, a subclass of int) must come back as itself.
            if obj.is_exact_instance_of::<PyInt>() {
                if let Ok(i) = obj.extract::<i64>() {
                    return Ok(Wire::Int(i));
                }
            } else if obj.is_exact_instance_of::<PyString>() {
                return Ok(Wire::Str(obj.extract()?));
            } else if obj.is_exact_instance_of::<PyFloat>() {
                return Ok(Wire::Float(obj.extract()?));
            }
            let dumped = pickle_fn(py, &PICKLE_DUMPS, "dumps")?.call1((obj,))?;
            Ok(Wire::Pickled(Pickled(
                dumped.cast::<PyBytes>()?.as_bytes().to_vec(),
            )))
        })
        .map_err(serde::ser::Error::custom)?;
        wire.serialize(s)
    }
}

impl<'de> Deserialize<'de> for PyItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = Wire::deserialize(d)?;
        Python::attach(|py| -> PyResult<PyItem> {
            let obj = match wire {
                Wire::Int(i) => i.into_pyobject(py)?.into_any(),
                Wire::Float(f) => f.into_pyobject(py)?.into_any(),
                Wire::Str(s) => PyString::new(py, &s).into_any(),
                Wire::Pickled(Pickled(bytes)) => {
                    pickle_fn(py, &PICKLE_LOADS, "loads")?.call1((PyBytes::new(py, &bytes),))?
                }
            };
            Ok(PyItem(obj.unbind()))
        })
        .map_err(serde::de::Error::custom)
    }
}

fn serde_bytes_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("pickled bytes")
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut out = Vec::new();
            while let Some(b) = seq.next_element()? {
                out.push(b);
            }
            Ok(out)
        }
    }
    d.deserialize_bytes(V)
}

/// The item as a Python object (native items are converted here, once).
pub fn into_py(py: Python<'_>, item: Item) -> PyResult<Py<PyAny>> {
    Ok(match item {
        Item::Py(p) => p.0,
        Item::Str(s) => PyString::new(py, &s).into_any().unbind(),
        Item::Encoded(bytes) => super::codec::decode(py, &bytes)?.unbind(),
    })
}

/// Wraps a Python object as an item.
pub fn from_py(obj: Bound<'_, PyAny>) -> Item {
    Item::Py(PyItem(obj.unbind()))
}

/// A Python value as snapshot bytes: exact `int`, `float` and `str` in the codec, anything
/// else pickled.
pub fn snapshot_py(py: Python<'_>, value: &Py<PyAny>) -> Result<Vec<u8>, String> {
    crate::recovery::try_encode(&PyItem(value.clone_ref(py)))
}

/// A Python value back from [`snapshot_py`] bytes.
pub fn restore_py(state: &[u8]) -> Result<Py<PyAny>, String> {
    crate::recovery::decode::<PyItem>(state).map(|item| item.0)
}
