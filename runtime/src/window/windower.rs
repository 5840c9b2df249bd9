//! Tumbling and sliding windows: a grid of windows anchored at `align_to`.

use super::Millis;

/// A window's index on its grid: window `k` starts at `align_to + k * offset`. Negative
/// indices are windows before `align_to`.
pub type WindowId = i64;

/// Windows of `length` starting every `offset` from `align_to` (tumbling: `offset == length`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridWindower {
    align_to: Millis,
    length: Millis,
    offset: Millis,
}

impl GridWindower {
    /// Tumbling windows of `length` ms. `length` must be positive.
    pub fn tumbling(align_to: Millis, length: Millis) -> Self {
        Self::sliding(align_to, length, length)
    }

    /// Sliding windows; `length` and `offset` must be positive.
    pub fn sliding(align_to: Millis, length: Millis, offset: Millis) -> Self {
        assert!(length > 0 && offset > 0, "validated by the plan");
        GridWindower { align_to, length, offset }
    }

    /// The windows containing `t` (start inclusive, end exclusive), earliest first.
    pub fn windows_for(&self, t: Millis) -> impl Iterator<Item = WindowId> {
        let rel = t - self.align_to;
        // Windows k with start <= t < start + length.
        let last = rel.div_euclid(self.offset);
        let first = (rel - self.length).div_euclid(self.offset) + 1;
        first..=last
    }

    /// The instant window `id` closes (its exclusive end).
    pub fn close_time(&self, id: WindowId) -> Millis {
        self.align_to + id * self.offset + self.length
    }

    /// The instant window `id` opens.
    pub fn open_time(&self, id: WindowId) -> Millis {
        self.align_to + id * self.offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tumbling_boundaries_are_start_inclusive() {
        let w = GridWindower::tumbling(1000, 10);
        assert_eq!(w.windows_for(1000).collect::<Vec<_>>(), [0]);
        assert_eq!(w.windows_for(1009).collect::<Vec<_>>(), [0]);
        assert_eq!(w.windows_for(1010).collect::<Vec<_>>(), [1]);
        assert_eq!(w.windows_for(999).collect::<Vec<_>>(), [-1]);
        assert_eq!(w.close_time(0), 1010);
        assert_eq!(w.open_time(-1), 990);
    }

    #[test]
    fn sliding_overlaps_and_gaps() {
        let overlapping = GridWindower::sliding(0, 10, 5);
        assert_eq!(overlapping.windows_for(7).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(overlapping.windows_for(10).collect::<Vec<_>>(), [1, 2]);
        let gapped = GridWindower::sliding(0, 5, 10);
        assert_eq!(gapped.windows_for(3).collect::<Vec<_>>(), [0]);
        assert_eq!(gapped.windows_for(7).count(), 0);
    }
}
