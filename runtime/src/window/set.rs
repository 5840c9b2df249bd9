//! The open windows of one windowing step on one worker, with their close timers kept in
//! order so closing never scans every key.

use std::collections::{BTreeMap, HashMap};

use foldhash::fast::RandomState;

use super::windower::{GridWindower, WindowId};
use super::Millis;

/// Open windows per key, each with an accumulator `A`.
pub struct WindowSet<A> {
    windower: GridWindower,
    // A key rarely has more than a couple of open windows: a short vector beats a map.
    open: HashMap<String, Vec<(WindowId, A)>, RandomState>,
    // Windows closing at the same instant (all of one tumbling period) share an entry.
    timers: BTreeMap<Millis, Vec<(String, WindowId)>>,
}

impl<A> WindowSet<A> {
    /// An empty set over `windower`'s grid.
    pub fn new(windower: GridWindower) -> Self {
        WindowSet { windower, open: HashMap::default(), timers: BTreeMap::new() }
    }

    /// Adds an item of `key` at time `t` to each of its windows that is not late
    /// (closes at or after `watermark`). `fold` gets the window's accumulator to update in
    /// place, or `None` for a new window, for which it returns the first accumulator.
    /// Returns how many windows the item was late for.
    pub fn insert<E>(
        &mut self,
        key: &str,
        t: Millis,
        watermark: Millis,
        mut fold: impl FnMut(Option<&mut A>) -> Result<Option<A>, E>,
    ) -> Result<usize, E> {
        let mut late = 0;
        for id in self.windower.windows_for(t) {
            let close = self.windower.close_time(id);
            if close < watermark {
                late += 1;
                continue;
            }
            let windows = match self.open.get_mut(key) {
                Some(w) => w,
                None => self.open.entry(key.to_owned()).or_default(),
            };
            match windows.iter_mut().find(|(w, _)| *w == id) {
                Some((_, acc)) => {
                    fold(Some(acc))?;
                }
                None => {
                    if let Some(acc) = fold(None)? {
                        windows.push((id, acc));
                        self.timers.entry(close).or_default().push((key.to_owned(), id));
                    }
                }
            }
        }
        Ok(late)
    }

    /// The accumulator of an open window, if it is open.
    pub fn get_mut(&mut self, key: &str, id: WindowId) -> Option<&mut A> {
        self.open.get_mut(key)?.iter_mut().find(|(w, _)| *w == id).map(|(_, a)| a)
    }

    /// Opens window `id` of `key` with its first accumulator (for hosts that fold whole
    /// groups at once rather than item by item).
    pub fn open_window(&mut self, key: &str, id: WindowId, acc: A) {
        let close = self.windower.close_time(id);
        self.open.entry(key.to_owned()).or_default().push((id, acc));
        self.timers.entry(close).or_default().push((key.to_owned(), id));
    }

    /// Closes every window whose close time is before `watermark`, earliest first.
    pub fn close_before(&mut self, watermark: Millis, mut emit: impl FnMut(&str, WindowId, A)) {
        while let Some(entry) = self.timers.first_entry() {
            if *entry.key() >= watermark {
                break;
            }
            for (key, id) in entry.remove() {
                let Some(windows) = self.open.get_mut(&key) else { continue };
                if let Some(pos) = windows.iter().position(|(w, _)| *w == id) {
                    let (_, acc) = windows.swap_remove(pos);
                    emit(&key, id, acc);
                }
                if windows.is_empty() {
                    self.open.remove(&key);
                }
            }
        }
    }

    /// Closes every open window (end of input).
    pub fn close_all(&mut self, emit: impl FnMut(&str, WindowId, A)) {
        self.close_before(Millis::MAX, emit);
    }

    /// When the earliest open window closes.
    pub fn next_close(&self) -> Option<Millis> {
        self.timers.keys().next().copied()
    }

    /// The grid this set uses.
    pub fn windower(&self) -> &GridWindower {
        &self.windower
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(set: &mut WindowSet<i64>, key: &str, t: Millis, wm: Millis, v: i64) -> usize {
        set.insert::<()>(key, t, wm, |acc| match acc {
            Some(a) => {
                *a += v;
                Ok(None)
            }
            None => Ok(Some(v)),
        })
        .unwrap()
    }

    fn sorted(mut v: Vec<(String, WindowId, i64)>) -> Vec<(String, WindowId, i64)> {
        v.sort();
        v
    }

    #[test]
    fn folds_per_key_and_window_then_closes_in_time_order() {
        let mut set = WindowSet::new(GridWindower::tumbling(0, 10));
        add(&mut set, "a", 1, 0, 1);
        add(&mut set, "a", 5, 0, 2);
        add(&mut set, "b", 12, 0, 7);
        add(&mut set, "a", 15, 0, 4);
        assert_eq!(set.next_close(), Some(10));
        let mut out = Vec::new();
        set.close_before(11, |k, id, acc| out.push((k.to_owned(), id, acc)));
        assert_eq!(out, [("a".to_owned(), 0, 3)]);
        let mut rest = Vec::new();
        set.close_all(|k, id, acc| rest.push((k.to_owned(), id, acc)));
        assert_eq!(sorted(rest), [("a".to_owned(), 1, 4), ("b".to_owned(), 1, 7)]);
        assert_eq!(set.next_close(), None);
    }

    #[test]
    fn overlapping_windows_of_one_key_are_kept_apart() {
        let mut set = WindowSet::new(GridWindower::sliding(0, 10, 5));
        add(&mut set, "a", 7, 0, 1); // windows 0 and 1
        add(&mut set, "a", 12, 0, 10); // windows 1 and 2
        let mut out = Vec::new();
        set.close_all(|k, id, acc| out.push((k.to_owned(), id, acc)));
        assert_eq!(sorted(out), [("a".to_owned(), 0, 1), ("a".to_owned(), 1, 11), ("a".to_owned(), 2, 10)]);
    }

    #[test]
    fn late_items_are_counted_not_added() {
        let mut set = WindowSet::new(GridWindower::tumbling(0, 10));
        assert_eq!(add(&mut set, "a", 3, 50, 1), 1);
        assert_eq!(set.next_close(), None);
    }
}
