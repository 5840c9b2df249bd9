//! The open windows of one windowing step on one worker, with their close timers kept in
//! order so closing never scans every key.

use std::collections::{BTreeSet, HashMap};

use super::windower::{GridWindower, WindowId};
use super::Millis;

/// Open windows per key, each with an accumulator `A`.
pub struct WindowSet<A> {
    windower: GridWindower,
    open: HashMap<String, HashMap<WindowId, A>>,
    timers: BTreeSet<(Millis, String, WindowId)>,
}

impl<A> WindowSet<A> {
    /// An empty set over `windower`'s grid.
    pub fn new(windower: GridWindower) -> Self {
        WindowSet { windower, open: HashMap::new(), timers: BTreeSet::new() }
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
            match windows.get_mut(&id) {
                Some(acc) => {
                    fold(Some(acc))?;
                }
                None => {
                    if let Some(acc) = fold(None)? {
                        windows.insert(id, acc);
                        self.timers.insert((close, key.to_owned(), id));
                    }
                }
            }
        }
        Ok(late)
    }

    /// Closes every window whose close time is before `watermark`, earliest first.
    pub fn close_before(&mut self, watermark: Millis, mut emit: impl FnMut(&str, WindowId, A)) {
        while let Some((close, _, _)) = self.timers.first() {
            if *close >= watermark {
                break;
            }
            let (_, key, id) = self.timers.pop_first().expect("checked non-empty");
            if let Some(windows) = self.open.get_mut(&key) {
                if let Some(acc) = windows.remove(&id) {
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
        self.timers.first().map(|(close, _, _)| *close)
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
        set.close_all(|k, id, acc| out.push((k.to_owned(), id, acc)));
        assert_eq!(&out[1..], [("a".to_owned(), 1, 4), ("b".to_owned(), 1, 7)]);
        assert_eq!(set.next_close(), None);
    }

    #[test]
    fn late_items_are_counted_not_added() {
        let mut set = WindowSet::new(GridWindower::tumbling(0, 10));
        assert_eq!(add(&mut set, "a", 3, 50, 1), 1);
        assert_eq!(set.next_close(), None);
    }
}
