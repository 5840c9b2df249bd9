//! Windows in Rust: which windows an item belongs to, when they close, and the per-key
//! window state of a windowing step. User code only folds values into accumulators.

mod set;
mod windower;

pub use set::WindowSet;
pub use windower::{GridWindower, WindowId};

/// Milliseconds since the Unix epoch, the unit all window arithmetic uses (as 0.16 does).
pub type Millis = i64;

/// The current wall-clock time in [`Millis`].
pub fn now_millis() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// When to wake up to close a window that closes at `close` on the system clock: once the
/// watermark (now) is strictly past it.
pub fn wake_to_close(close: Millis) -> std::time::Instant {
    let wait = (close + 1 - now_millis()).max(0) as u64;
    std::time::Instant::now() + std::time::Duration::from_millis(wait)
}
