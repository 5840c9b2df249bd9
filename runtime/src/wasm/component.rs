//! Loading step components: compile once per process (and once per content on disk),
//! link WASI, and keep an [`InstancePre`] so each instance is cheap.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use wasmtime::component::{Component, InstancePre, Linker};

use super::bindings::StepComponentPre;
use super::engine::engine;
use super::store::StepState;

/// A compiled component ready to instantiate.
pub struct LoadedComponent {
    /// Where it was loaded from.
    pub path: PathBuf,
    pub(crate) pre: StepComponentPre<StepState>,
}

static LOADED: OnceLock<Mutex<HashMap<PathBuf, Arc<LoadedComponent>>>> = OnceLock::new();

/// Loads (or returns the already loaded) component at `path`. Errors are one line, for users.
pub fn load_component(path: &Path) -> Result<Arc<LoadedComponent>, String> {
    let key = path.canonicalize().map_err(|e| format!("cannot open WebAssembly component {}: {e}", path.display()))?;
    let mut loaded = LOADED.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = loaded.get(&key) {
        return Ok(c.clone());
    }
    let engine = engine()?;
    let component = Component::from_file(engine, &key)
        .map_err(|e| format!("{} is not a usable WebAssembly component: {e:#}", path.display()))?;
    let mut linker: Linker<StepState> = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| format!("linking WASI: {e:#}"))?;
    let pre: InstancePre<StepState> = linker
        .instantiate_pre(&component)
        .map_err(|e| format!("{} needs imports this host does not provide: {e:#}", path.display()))?;
    let pre = StepComponentPre::new(pre)
        .map_err(|e| format!("{} does not export the bytewax:steps interface: {e:#}", path.display()))?;
    let c = Arc::new(LoadedComponent { path: key.clone(), pre });
    loaded.insert(key, c.clone());
    Ok(c)
}
