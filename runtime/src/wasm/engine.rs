//! The one wasmtime [`Engine`] of a process, with its epoch ticker and compile cache.

use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the engine's epoch advances; CPU deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Most instances alive at once in the pool (steps × workers × flows).
const POOL_INSTANCES: u32 = 256;
/// Largest linear memory any guest may have; per-step caps are lower.
const POOL_MAX_MEMORY: usize = 1 << 30;

static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();

/// The process's engine, created on first use: component model, pooling allocator, epoch
/// interruption (a ticker thread advances the epoch every [`EPOCH_TICK`]), and wasmtime's
/// on-disk cache of compiled components keyed by their content hash.
pub fn engine() -> Result<&'static Engine, String> {
    ENGINE.get_or_init(build).as_ref().map_err(Clone::clone)
}

fn build() -> Result<Engine, String> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOL_INSTANCES);
    pool.total_core_instances(POOL_INSTANCES * 4);
    pool.total_memories(POOL_INSTANCES * 2);
    pool.total_tables(POOL_INSTANCES * 4);
    pool.max_memory_size(POOL_MAX_MEMORY);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    // A full 32-bit address space per memory (virtual, never committed): with it the
    // compiled code needs no bounds check on loads and stores, the guard pages catch them.
    config.memory_reservation(1 << 32);
    // For profiling guests: `perf` then names guest functions instead of raw addresses.
    if std::env::var_os("BYTEWAX_WASM_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    if let Some(cache) = compile_cache() {
        config.cache(Some(cache));
    }
    let engine = Engine::new(&config).map_err(|e| format!("cannot start the WebAssembly engine: {e:#}"))?;
    let ticker = engine.weak();
    std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || {
            while let Some(engine) = ticker.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map_err(|e| format!("cannot start the WebAssembly epoch ticker: {e}"))?;
    Ok(engine)
}

/// `$BYTEWAX_WASM_CACHE_DIR`, or `~/.cache/bytewax-wasm`; none if neither can be used
/// (compiling then happens on every start, which is slower but correct).
fn compile_cache() -> Option<wasmtime::Cache> {
    let dir = std::env::var_os("BYTEWAX_WASM_CACHE_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache/bytewax-wasm")))?;
    let mut cache_config = wasmtime::CacheConfig::new();
    cache_config.with_directory(dir);
    wasmtime::Cache::new(cache_config).ok()
}
