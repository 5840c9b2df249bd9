//! The flat [`Batch`] of `wit/steps.wit` on the host side: built from items, read back
//! after a call, and checked, since its offsets come from code the host does not trust.

use super::bindings::{Batch, GroupResults, Groups};
use super::instance::WasmCallError;

impl Batch {
    /// An empty batch with room for `items` items of about `bytes` bytes in all.
    pub fn with_capacity(items: usize, bytes: usize) -> Batch {
        Batch { data: Vec::with_capacity(bytes), ends: Vec::with_capacity(items) }
    }

    /// How many items it holds.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether it holds no items.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Item `i`'s bytes. Only for batches that passed [`Batch::check`] or were built here.
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.data[start..self.ends[i] as usize]
    }

    /// The items in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        // A running start: one slice per item rather than two offset lookups.
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let item = &self.data[start..end as usize];
            start = end as usize;
            item
        })
    }

    /// Appends one encoded item (empty stands for "none" where the WIT allows it).
    pub fn push(&mut self, item: &[u8]) {
        self.data.extend_from_slice(item);
        self.close_item();
    }

    /// Appends a string, encoded as the codec encodes one.
    pub fn push_str(&mut self, s: &str) {
        rmp::encode::write_str(&mut self.data, s).expect("writing to a Vec cannot fail");
        self.close_item();
    }

    fn close_item(&mut self) {
        self.ends.push(self.data.len() as u32);
    }

    /// Checks that the offsets a guest returned describe `data`: never decreasing, never
    /// past its end. `what` names the batch in the error.
    pub fn check(&self, what: &str) -> Result<(), WasmCallError> {
        check_ends(&self.ends, self.data.len(), what)
    }
}

fn check_ends(ends: &[u32], len: usize, what: &str) -> Result<(), WasmCallError> {
    let mut last = 0;
    for &end in ends {
        if end < last || end as usize > len {
            return Err(WasmCallError::Guest(format!("returned a malformed batch of {what}: offset {end} after {last} in {len} bytes")));
        }
        last = end;
    }
    Ok(())
}

impl Groups {
    /// No groups yet.
    pub fn new() -> Groups {
        Groups { states: Batch::with_capacity(0, 0), values: Batch::with_capacity(0, 0), group_ends: Vec::new() }
    }

    /// Adds a group: its state before the batch (if any) and its values.
    pub fn push<'a>(&mut self, state: Option<&[u8]>, values: impl IntoIterator<Item = &'a [u8]>) {
        self.states.push(state.unwrap_or(&[]));
        values.into_iter().for_each(|v| self.values.push(v));
        self.group_ends.push(self.values.len() as u32);
    }

    /// How many groups there are.
    pub fn len(&self) -> usize {
        self.group_ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.group_ends.is_empty()
    }
}

impl Default for Groups {
    fn default() -> Self {
        Groups::new()
    }
}

impl GroupResults {
    /// Checks the results describe exactly `groups` groups, with well-formed batches.
    pub fn check(&self, groups: usize) -> Result<(), WasmCallError> {
        self.states.check("states")?;
        self.emitted.check("emitted items")?;
        check_ends(&self.emitted_ends, self.emitted.len(), "emitted items per group")?;
        if self.states.len() != groups || self.emitted_ends.len() != groups {
            return Err(WasmCallError::Guest(format!(
                "returned results for {} keys, not {groups}",
                self.states.len().min(self.emitted_ends.len())
            )));
        }
        Ok(())
    }

    /// Group `g`'s state after the batch; `None` means forget the key.
    pub fn state(&self, g: usize) -> Option<&[u8]> {
        Some(self.states.get(g)).filter(|s| !s.is_empty())
    }

    /// What group `g` emitted, in order.
    pub fn emitted(&self, g: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let start = if g == 0 { 0 } else { self.emitted_ends[g - 1] as usize };
        (start..self.emitted_ends[g] as usize).map(|i| self.emitted.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip_including_empty_ones() {
        let mut batch = Batch::with_capacity(3, 8);
        batch.push(b"ab");
        batch.push(b"");
        batch.push_str("c");
        assert_eq!(batch.iter().collect::<Vec<_>>(), [&b"ab"[..], b"", &[0xa1, b'c']]);
        assert!(batch.check("items").is_ok());
    }

    #[test]
    fn offsets_from_a_guest_are_checked() {
        let backwards = Batch { data: vec![1, 2, 3], ends: vec![2, 1] };
        let past_end = Batch { data: vec![1], ends: vec![5] };
        for bad in [backwards, past_end] {
            let err = bad.check("items").unwrap_err().to_string();
            assert!(err.contains("malformed batch of items"), "{err}");
        }
    }

    #[test]
    fn group_results_must_cover_every_group() {
        let mut results = GroupResults {
            states: Batch::with_capacity(0, 0),
            emitted: Batch::with_capacity(0, 0),
            emitted_ends: vec![],
        };
        results.states.push(b"\x01");
        results.emitted.push(b"\x02");
        results.emitted_ends.push(1);
        assert!(results.check(1).is_ok());
        assert_eq!(results.state(0), Some(&b"\x01"[..]));
        assert_eq!(results.emitted(0).collect::<Vec<_>>(), [&b"\x02"[..]]);
        assert!(results.check(2).unwrap_err().to_string().contains("for 1 keys, not 2"));
    }
}
