//! Clocks: what time an item has, and each key's watermark ("no items before this
//! time are expected any more").

use serde::{Deserialize, Serialize};

use super::Millis;

/// How a windowing step tells time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Items are timed when processed; the watermark is now.
    System,
    /// Items carry their own time; a key's watermark trails the newest item it has seen by
    /// `wait` and moves on with system time from there, never backwards.
    Event {
        /// How long to wait for late items, in milliseconds.
        wait: Millis,
    },
}

/// One key's event-time clock: its watermark was `watermark` at system time `seen_at`, and
/// has advanced with system time since. Nothing before the key's first item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyClock {
    base: Option<(Millis, Millis)>,
}

impl Clock {
    /// Notes an item of time `t` seen at system time `now`.
    pub fn observe(&self, key: &mut KeyClock, t: Millis, now: Millis) {
        if let Clock::Event { wait } = self {
            let candidate = t.saturating_sub(*wait);
            // Only a watermark ahead of the drifting one moves it: it never goes back.
            if self.watermark(key, now) < candidate {
                key.base = Some((candidate, now));
            }
        }
    }

    /// The key's watermark at system time `now`.
    pub fn watermark(&self, key: &KeyClock, now: Millis) -> Millis {
        match (self, key.base) {
            (Clock::System, _) => now,
            (Clock::Event { .. }, Some((watermark, seen_at))) => watermark.saturating_add(now - seen_at),
            (Clock::Event { .. }, None) => Millis::MIN,
        }
    }

    /// The system time at which the key's watermark passes `t` (becomes greater), if it
    /// ever does without new items.
    pub fn passes_at(&self, key: &KeyClock, t: Millis) -> Option<Millis> {
        match (self, key.base) {
            (Clock::System, _) => Some(t.saturating_add(1)),
            (Clock::Event { .. }, Some((watermark, seen_at))) => Some(seen_at.saturating_add(t.saturating_sub(watermark)).saturating_add(1)),
            (Clock::Event { .. }, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_watermark_trails_the_newest_item_then_drifts_with_system_time() {
        let clock = Clock::Event { wait: 10 };
        let mut key = KeyClock::default();
        assert_eq!(clock.watermark(&key, 0), Millis::MIN);
        clock.observe(&mut key, 100, 1_000);
        assert_eq!(clock.watermark(&key, 1_000), 90);
        assert_eq!(clock.watermark(&key, 1_005), 95);
        assert_eq!(clock.passes_at(&key, 95), Some(1_006));
        // An older item does not move it back; a newer one moves it forward.
        clock.observe(&mut key, 50, 1_005);
        assert_eq!(clock.watermark(&key, 1_005), 95);
        clock.observe(&mut key, 200, 1_005);
        assert_eq!(clock.watermark(&key, 1_005), 190);
    }

    #[test]
    fn a_newer_item_behind_the_drifting_watermark_leaves_it() {
        let clock = Clock::Event { wait: 0 };
        let mut key = KeyClock::default();
        clock.observe(&mut key, 100, 0);
        clock.observe(&mut key, 120, 50);
        assert_eq!(clock.watermark(&key, 50), 150);
    }

    #[test]
    fn system_watermark_is_now() {
        let key = KeyClock::default();
        assert_eq!(Clock::System.watermark(&key, 42), 42);
        assert_eq!(Clock::System.passes_at(&key, 42), Some(43));
    }
}
