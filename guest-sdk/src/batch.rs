//! Reading and writing the flat [`Batch`] the host and the component exchange.

use serde::Serialize;

use crate::codec;
use crate::wit::Batch;

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch {
            data: Vec::new(),
            ends: Vec::new(),
        }
    }

    /// How many items it holds.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether it holds no items.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Item `i`'s bytes.
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.data[start..self.ends[i] as usize]
    }

    /// The items in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        // A running start: one slice per item rather than two offset lookups.
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let item = &self.data[start..end as usize];
            start = end as usize;
            item
        })
    }

    /// Appends an item that is already encoded (an empty one stands for "none" where the
    /// WIT allows it).
    pub fn push(&mut self, item: &[u8]) {
        self.data.extend_from_slice(item);
        self.close_item();
    }

    /// Encodes `value` straight onto the end of the batch; on failure the batch is unchanged.
    pub fn push_value<T: Serialize + ?Sized>(&mut self, step: &str, value: &T) -> Result<(), String> {
        let start = self.data.len();
        match codec::encode_into(&mut self.data, value) {
            Ok(()) => {
                self.close_item();
                Ok(())
            }
            Err(reason) => {
                self.data.truncate(start);
                Err(format!("step `{step}`: {reason}"))
            }
        }
    }

    /// Empties the batch, keeping its buffers for reuse.
    pub fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }

    /// The items in order as batches of at most `size` (`size` > 0), copied out one run at a
    /// time; a batch no longer than that comes back whole, uncopied.
    pub fn into_chunks(self, size: usize) -> impl Iterator<Item = Batch> {
        let whole = self.len() <= size;
        let mut at = 0;
        let mut batch = Some(self);
        std::iter::from_fn(move || {
            let all = batch.as_ref()?;
            if whole {
                return batch.take();
            }
            if at == all.len() {
                return None;
            }
            let end = (at + size).min(all.len());
            let from = if at == 0 { 0 } else { all.ends[at - 1] };
            let chunk = Batch {
                data: all.data[from as usize..all.ends[end - 1] as usize].to_vec(),
                ends: all.ends[at..end].iter().map(|e| e - from).collect(),
            };
            at = end;
            Some(chunk)
        })
    }

    fn close_item(&mut self) {
        self.ends.push(self.data.len() as u32);
    }
}

impl Default for Batch {
    fn default() -> Self {
        Batch::new()
    }
}

impl<'a> FromIterator<&'a [u8]> for Batch {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(iter: I) -> Self {
        let mut batch = Batch::new();
        iter.into_iter().for_each(|item| batch.push(item));
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_back_in_order_including_empty_ones() {
        let batch: Batch = [&b"ab"[..], b"", b"c"].into_iter().collect();
        assert_eq!(batch.len(), 3);
        assert_eq!(batch.iter().collect::<Vec<_>>(), [&b"ab"[..], b"", b"c"]);
        assert_eq!(batch.ends, [2, 2, 3]);
    }

    #[test]
    fn chunks_hold_every_item_once_in_order() {
        let items: Vec<Vec<u8>> = (0..7u8).map(|i| vec![i; i as usize]).collect();
        let batch: Batch = items.iter().map(Vec::as_slice).collect();
        let chunks: Vec<Batch> = batch.into_chunks(3).collect();
        assert_eq!(chunks.iter().map(Batch::len).collect::<Vec<_>>(), [3, 3, 1]);
        let again: Vec<Vec<u8>> = chunks.iter().flat_map(|c| c.iter().map(<[u8]>::to_vec)).collect();
        assert_eq!(again, items);
        let small: Batch = items[..2].iter().map(Vec::as_slice).collect();
        assert_eq!(small.into_chunks(3).map(|c| c.len()).collect::<Vec<_>>(), [2]);
        assert_eq!(Batch::new().into_chunks(3).map(|c| c.len()).collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn a_value_that_cannot_be_encoded_leaves_the_batch_as_it_was() {
        struct Bad;
        impl Serialize for Bad {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("no"))
            }
        }
        let mut batch = Batch::new();
        batch.push_value("s", &1i64).unwrap();
        let err = batch.push_value("s", &Bad).unwrap_err();
        assert!(err.starts_with("step `s`:"), "{err}");
        assert_eq!(batch.len(), 1);
        assert_eq!(batch.data.len(), 1);
    }
}
