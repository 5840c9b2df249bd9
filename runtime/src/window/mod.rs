//! Windows in Rust: which windows an item belongs to, when they close, and the per-key
//! window state of a windowing step. User code only folds values into accumulators.

mod set;
mod windower;

pub use set::{KeySlot, WindowSet};

use crate::error::StepError;
use crate::plan::{parse_instant, ClockSpec, Step, WindowSpec};

/// The window grid of a windowing step, for what this version runs: the system clock with
/// tumbling or sliding windows. Anything else is an error naming the step.
pub fn system_clock_windower(step: &Step, clock: &ClockSpec, window: &WindowSpec) -> Result<GridWindower, StepError> {
    let fail = |what: String| StepError::message(step.step_id(), step.op(), what);
    if !matches!(clock, ClockSpec::System {}) {
        return Err(fail("event-time clocks (EventClockConfig) are not supported by this version yet".into()));
    }
    let align = |text: &str| parse_instant(text).map(|t| t.timestamp_millis()).map_err(|m| fail(format!("align_to: {m}")));
    Ok(match window {
        WindowSpec::Tumbling { length_ms, align_to } => GridWindower::tumbling(align(align_to)?, *length_ms),
        WindowSpec::Sliding { length_ms, offset_ms, align_to } => GridWindower::sliding(align(align_to)?, *length_ms, *offset_ms),
        WindowSpec::Session { .. } => return Err(fail("session windows (SessionWindow) are not supported by this version yet".into())),
    })
}
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
