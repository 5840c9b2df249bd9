//! The blob a `state` row holds: key changes grouped by step, each with its epoch, in the
//! snapshot format ([`super::format`]).

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use foldhash::fast::RandomState;

use serde::{Deserialize, Serialize};

use super::format::{decode, encode, FORMAT_VERSION};
use super::{EpochChanges, StateRow};

#[derive(Deserialize)]
struct Change {
    key: String,
    epoch: u64,
    #[serde(with = "serde_bytes")]
    snapshot: Option<Vec<u8>>,
}

/// [`Change`] as written, borrowing from the row.
#[derive(Serialize)]
struct ChangeRef<'a> {
    key: &'a str,
    epoch: u64,
    #[serde(with = "serde_bytes")]
    snapshot: Option<&'a [u8]>,
}

/// Encodes the changes of `batches` as one blob: the same layout [`encode_rows`] writes,
/// with each batch's entries copied in as its [`super::ChangeWriter`] encoded them.
pub fn encode_batches<'a>(batches: impl Iterator<Item = &'a EpochChanges> + Clone) -> Vec<u8> {
    let size: usize = batches.clone().map(|b| b.encoded.len() + b.step_id.len() + 16).sum();
    let mut out = Vec::with_capacity(size + 8);
    out.push(FORMAT_VERSION);
    let write = |out: &mut Vec<u8>| -> Result<(), rmp::encode::ValueWriteError> {
        rmp::encode::write_array_len(out, batches.clone().count() as u32)?;
        for b in batches.clone() {
            rmp::encode::write_array_len(out, 2)?;
            rmp::encode::write_str(out, &b.step_id)?;
            rmp::encode::write_array_len(out, b.count)?;
            out.extend_from_slice(&b.encoded);
        }
        Ok(())
    };
    write(&mut out).expect("writing to a Vec cannot fail");
    out
}

/// Encodes `rows` as one blob.
pub fn encode_rows(rows: &[StateRow]) -> Vec<u8> {
    let groups: Vec<(&str, Vec<ChangeRef<'_>>)> = rows
        .iter()
        .map(|r| (r.step_id.as_str(), vec![ChangeRef { key: &r.key, epoch: r.epoch, snapshot: r.snapshot.as_deref() }]))
        .collect();
    encode(&groups)
}

/// The rows of a blob written by [`encode_entries`].
pub fn decode_entries(blob: &[u8]) -> Result<Vec<StateRow>, String> {
    let by_step: Vec<(String, Vec<Change>)> = decode(blob)?;
    Ok(by_step
        .into_iter()
        .flat_map(|(step_id, changes)| {
            changes.into_iter().map(move |c| StateRow { step_id: step_id.clone(), key: c.key, epoch: c.epoch, snapshot: c.snapshot })
        })
        .collect())
}

/// Of several rows of one key, the newest, in no particular order.
pub fn newest(rows: Vec<StateRow>) -> Vec<StateRow> {
    // (step id, key) -> (epoch, snapshot) of the newest row seen.
    type Newest = HashMap<(String, String), (u64, Option<Vec<u8>>), RandomState>;
    let mut newest: Newest = HashMap::default();
    for row in rows {
        match newest.entry((row.step_id, row.key)) {
            Entry::Occupied(mut have) => {
                if have.get().0 < row.epoch {
                    have.insert((row.epoch, row.snapshot));
                }
            }
            Entry::Vacant(slot) => {
                slot.insert((row.epoch, row.snapshot));
            }
        }
    }
    newest.into_iter().map(|((step_id, key), (epoch, snapshot))| StateRow { step_id, key, epoch, snapshot }).collect()
}
