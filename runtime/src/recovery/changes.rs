//! Key changes as a step reports them at the end of an epoch, written straight into the
//! layout a `state` row stores ([`super::entries`]), so snapshotting a key allocates
//! nothing of its own.

use serde::Serialize;

use super::format::FORMAT_VERSION;
use super::KeyChange;

/// Collects one step's key changes of one epoch, already encoded.
pub struct ChangeWriter {
    epoch: u64,
    count: u32,
    buf: Vec<u8>,
    scratch: Vec<u8>,
}

impl ChangeWriter {
    /// A writer for changes at the end of `epoch`.
    pub fn new(epoch: u64) -> Self {
        ChangeWriter { epoch, count: 0, buf: Vec::new(), scratch: Vec::new() }
    }

    /// How many changes were written.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn header(&mut self, key: &str) {
        self.count += 1;
        // An entry is [key, epoch, snapshot or nil], as `entries::Change` reads it.
        rmp::encode::write_array_len(&mut self.buf, 3).expect("writing to a Vec cannot fail");
        rmp::encode::write_str(&mut self.buf, key).expect("writing to a Vec cannot fail");
        rmp::encode::write_uint(&mut self.buf, self.epoch).expect("writing to a Vec cannot fail");
    }

    /// `key` has no state any more.
    pub fn gone(&mut self, key: &str) {
        self.header(key);
        rmp::encode::write_nil(&mut self.buf).expect("writing to a Vec cannot fail");
    }

    /// `key`'s state is `snapshot`, already in the snapshot format.
    pub fn raw(&mut self, key: &str, snapshot: &[u8]) {
        self.header(key);
        rmp::encode::write_bin(&mut self.buf, snapshot).expect("writing to a Vec cannot fail");
    }

    /// `key`'s state is `value`, encoded in the snapshot format (version byte, MessagePack).
    pub fn put<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), String> {
        self.scratch.clear();
        self.scratch.push(FORMAT_VERSION);
        rmp_serde::encode::write(&mut self.scratch, value).map_err(|e| format!("cannot snapshot key {key:?}: {e}"))?;
        let scratch = std::mem::take(&mut self.scratch);
        self.raw(key, &scratch);
        self.scratch = scratch;
        Ok(())
    }

    /// Adds a change a source or sink reported.
    pub fn change(&mut self, change: &KeyChange) {
        match &change.snapshot {
            Some(s) => self.raw(&change.key, s),
            None => self.gone(&change.key),
        }
    }

    /// The epoch, the count and the encoded entries.
    pub fn finish(self) -> (u64, u32, Vec<u8>) {
        (self.epoch, self.count, self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::entries::{decode_entries, encode_batches};
    use crate::recovery::{decode, EpochChanges, StateRow};

    #[test]
    fn written_changes_read_back_as_rows() {
        let mut a = ChangeWriter::new(7);
        a.put("k1", &(1u64, "x")).unwrap();
        a.gone("k2");
        let mut b = ChangeWriter::new(7);
        b.change(&KeyChange { key: "part".into(), snapshot: Some(vec![1, 2]) });
        let batches: Vec<EpochChanges> = [("count", a), ("inp", b)]
            .into_iter()
            .map(|(step, w)| {
                let (epoch, count, encoded) = w.finish();
                EpochChanges { step_id: step.into(), epoch, count, encoded }
            })
            .collect();
        let rows = decode_entries(&encode_batches(batches.iter())).unwrap();
        let row = |step: &str, key: &str, snapshot: Option<Vec<u8>>| StateRow { step_id: step.into(), key: key.into(), epoch: 7, snapshot };
        assert_eq!(rows[1], row("count", "k2", None));
        assert_eq!(rows[2], row("inp", "part", Some(vec![1, 2])));
        assert_eq!(decode::<(u64, String)>(rows[0].snapshot.as_ref().unwrap()).unwrap(), (1, "x".to_string()));
    }
}
