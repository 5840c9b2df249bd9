//! `bytewax._engine`: the private compiled module behind the `bytewax` package.
//! Its Python-facing contract is `python/bytewax/_engine.pyi`.

use pyo3::prelude::*;

/// The module's initialiser.
#[pymodule]
fn _engine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    bytewax_runtime::python::register(m)
}
