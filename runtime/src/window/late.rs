//! Late items: 0.16 drops them without a word, and users ask where their data went. We
//! drop them too, count them per step, and say so once per window they were late for.

use std::collections::HashSet;

use super::set::{Placed, Shape};
use super::windower::WindowId;
use super::Millis;

/// The late-item count of one windowing step on one worker, and which windows (or, for
/// sessions, which keys) have been warned about.
#[derive(Debug, Default)]
pub struct LateLog {
    total: u64,
    warned_windows: HashSet<WindowId>,
    warned_keys: HashSet<String>,
}

impl LateLog {
    /// How many late items this step has dropped on this worker.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Counts what [`WindowSet::place`](super::WindowSet::place) found late, and logs a
    /// warning the first time a window (a session step: a key) gets a late item.
    pub fn note(&mut self, step_id: &str, shape: Shape, key: &str, t: Millis, placed: &Placed) {
        if placed.late == 0 {
            return;
        }
        self.total += 1;
        let (first, what) = match (shape, placed.late_window) {
            (Shape::Grid(grid), Some(id)) => (
                self.warned_windows.insert(id),
                format!("window {}..{}", show(grid.open_time(id)), show(grid.close_time(id))),
            ),
            _ => (self.warned_keys.insert(key.to_owned()), format!("the sessions of key {key:?}")),
        };
        if first {
            crate::log::warn(&format!(
                "step '{step_id}': dropped an item of key {key:?} at {} that came after the watermark had passed {what}; \
                 {} late item(s) dropped by this step so far. Raise `wait_for_system_duration` to wait longer for late items.",
                show(t),
                self.total
            ));
        }
    }
}

fn show(t: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(t).map_or_else(|| format!("{t} ms"), |dt| dt.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::{GridWindower, KeySlot};

    fn placed(late: usize, late_window: Option<WindowId>) -> Placed {
        // Any slot will do: the log never looks it up.
        Placed { slot: KeySlot::at(0), late, late_window }
    }

    #[test]
    fn counts_every_late_item_and_warns_once_per_window() {
        let grid = Shape::Grid(GridWindower::tumbling(0, 10));
        let mut log = LateLog::default();
        log.note("s", grid, "a", 3, &placed(0, None));
        assert_eq!(log.total(), 0);
        log.note("s", grid, "a", 3, &placed(1, Some(0)));
        log.note("s", grid, "b", 4, &placed(1, Some(0)));
        log.note("s", grid, "a", 13, &placed(1, Some(1)));
        assert_eq!(log.total(), 3);
        assert_eq!(log.warned_windows.len(), 2);
        let sessions = Shape::Session { gap: 5 };
        log.note("s", sessions, "a", 3, &placed(1, None));
        log.note("s", sessions, "a", 4, &placed(1, None));
        assert_eq!((log.total(), log.warned_keys.len()), (5, 1));
    }

    #[test]
    fn times_read_as_utc_instants() {
        assert_eq!(show(1_672_531_205_000), "2023-01-01T00:00:05Z");
    }
}
