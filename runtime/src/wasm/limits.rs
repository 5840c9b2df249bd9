//! Defaults and accessors for [`WasmLimits`], the per-function limits a plan sets.

pub use crate::plan::WasmLimits;

/// Default memory cap per step instance.
pub const DEFAULT_MEMORY_MB: u64 = 64;
/// Default CPU deadline for one batch call.
pub const DEFAULT_DEADLINE_MS: u64 = 2000;

impl WasmLimits {
    /// The memory cap in bytes.
    pub fn memory_bytes(&self) -> usize {
        (self.memory_mb.unwrap_or(DEFAULT_MEMORY_MB) as usize).saturating_mul(1 << 20)
    }

    /// The deadline in milliseconds.
    pub fn deadline(&self) -> u64 {
        self.deadline_ms.unwrap_or(DEFAULT_DEADLINE_MS)
    }
}
