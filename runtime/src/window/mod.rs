//! Windows in Rust: which windows an item belongs to, when they close, and the per-key
//! window state of a windowing step. User code only folds values into accumulators.

mod clock;
mod key_windows;
mod late;
mod set;
mod windower;

pub use clock::{Clock, KeyClock};
pub use late::LateLog;
pub use key_windows::{KeyWindows, MappedWindows, Window};
pub use set::{KeySlot, Placed, Shape, WindowSet};

use crate::error::StepError;
use crate::plan::{parse_instant, ClockSpec, Step, WindowSpec};

/// The clock and window shape of a windowing step, checked. A bad `align_to` is an
/// error naming the step.
pub fn windowing(step: &Step, clock: &ClockSpec, window: &WindowSpec) -> Result<(Clock, Shape), StepError> {
    let fail = |what: String| StepError::message(step.step_id(), step.op(), what);
    let align = |text: &str| parse_instant(text).map(|t| t.timestamp_millis()).map_err(|m| fail(format!("align_to: {m}")));
    let clock = match clock {
        ClockSpec::System {} => Clock::System,
        ClockSpec::Event { wait_for_system_duration_ms, .. } => Clock::Event { wait: *wait_for_system_duration_ms },
    };
    let shape = match window {
        WindowSpec::Tumbling { length_ms, align_to } => Shape::Grid(GridWindower::tumbling(align(align_to)?, *length_ms)),
        WindowSpec::Sliding { length_ms, offset_ms, align_to } => Shape::Grid(GridWindower::sliding(align(align_to)?, *length_ms, *offset_ms)),
        WindowSpec::Session { gap_ms } => Shape::Session { gap: *gap_ms },
    };
    Ok((clock, shape))
}
pub use windower::{GridWindower, WindowId};

/// Milliseconds since the Unix epoch, the unit all window arithmetic uses (as 0.16 does).
pub type Millis = i64;

/// The current wall-clock time in [`Millis`].
pub fn now_millis() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// The [`std::time::Instant`] of a system time in [`Millis`] (now, if it has passed).
pub fn instant_at(at: Millis) -> std::time::Instant {
    let wait = (at - now_millis()).max(0) as u64;
    std::time::Instant::now() + std::time::Duration::from_millis(wait)
}
