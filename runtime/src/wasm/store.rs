//! What each guest instance's store holds: a WASI context with nothing granted, and the
//! memory limiter that enforces the step's cap.

use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::{FsPerms, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::plan::WasmGrants;

/// Store data of one step instance.
pub struct StepState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: MemoryCap,
}

impl StepState {
    /// No files, sockets, environment, arguments or real clocks unless `grants` names them:
    /// a guest sees a stopped clock and closed standard streams, whatever the host can reach.
    pub fn sandboxed(memory_bytes: usize, grants: &WasmGrants) -> Result<Self, String> {
        let mut wasi = WasiCtxBuilder::new();
        wasi.allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false);
        if !grants.clock {
            wasi.wall_clock(StoppedClock).monotonic_clock(StoppedClock);
        }
        for name in &grants.env {
            if let Ok(value) = std::env::var(name) {
                wasi.env(name, value);
            }
        }
        for dir in &grants.read_dirs {
            wasi.preopened_dir(&dir.host, &dir.guest, FsPerms::ReadOnly)
                .map_err(|e| format!("cannot grant directory {:?}: {e:#}", dir.host))?;
        }
        Ok(StepState { wasi: wasi.build(), table: ResourceTable::new(), limiter: MemoryCap { max: memory_bytes, hit: false } })
    }
}

impl WasiView for StepState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// A clock that always reads zero: guests get no time unless a plan grants it.
struct StoppedClock;

impl HostWallClock for StoppedClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for StoppedClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// Refuses memory growth past `max` and remembers that it did, so the trap that follows
/// can be reported as the cap rather than as a crash.
pub struct MemoryCap {
    max: usize,
    pub(crate) hit: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}
