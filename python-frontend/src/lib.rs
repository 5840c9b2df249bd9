//! `bytewax._engine`: the private compiled module behind the `bytewax` package.
//! Its Python-facing contract is `python/bytewax/_engine.pyi`.

use pyo3::prelude::*;

// Rust-side items, keys and snapshots are many small buffers; glibc malloc showed up in
// profiles of the seed wordcount. Python's own objects keep Python's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The module's initialiser.
#[pymodule]
fn _engine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    bytewax_runtime::python::register(m)
}
