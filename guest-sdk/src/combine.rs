//! Combining a batch's `(key, value)` pairs per key with an associative reducer, inside the
//! component, before they reach the host.
//!
//! A reducer declared associative may fold a key's values together in any grouping, so a
//! chain that ends in `(key, value)` pairs can hand the host one pair per key and batch
//! instead of one per item: the host's keying, routing and windowing then run per key.

use std::any::Any;
use std::collections::HashMap;

use compact_str::CompactString;
use foldhash::fast::FixedState;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codec;
use crate::lane::Lane;
use crate::wit::Batch;

/// Folds each key's values with `fold`, in arrival order across all of `lanes`, and encodes
/// one `(key, combined)` pair per key onto `out`, keys in order of first appearance. A
/// key's first value is its accumulator, as in `reduce-window`.
pub fn combine_pairs<A, V>(
    step: &str,
    lanes: &mut dyn Iterator<Item = Lane>,
    out: &mut Batch,
    fold: impl Fn(A, V) -> Result<A, String>,
) -> Result<(), String>
where
    A: Serialize + DeserializeOwned + 'static,
    V: DeserializeOwned + 'static,
{
    // A fixed seed: a guest has no random source unless the plan grants one, and a
    // crafted key set can only slow this guest down, which its deadline bounds. Short keys
    // sit inline in the table, so comparing one does not fetch another cache line.
    let mut index: HashMap<CompactString, usize, FixedState> = HashMap::default();
    let mut accs: Vec<Option<A>> = Vec::new();
    let mut add = |key: Key<'_>, value: V| -> Result<(), String> {
        match index.get(key.as_str()) {
            Some(&g) => {
                let acc = accs[g].take().expect("an accumulator is put back after each fold");
                accs[g] = Some(fold(acc, value)?);
            }
            None => {
                index.insert(key.into_compact(), accs.len());
                accs.push(Some(first_acc(step, value)?));
            }
        }
        Ok(())
    };
    for pairs in lanes {
        match pairs {
            Lane::Typed(items) => match items.downcast::<Vec<(String, V)>>() {
                Ok(items) => {
                    for (key, value) in *items {
                        add(Key::Owned(key), value)?;
                    }
                }
                Err(items) => {
                    let items = items.downcast::<Vec<(CompactString, V)>>().unwrap_or_else(|_| unreachable!("lane type checked by the chain"));
                    for (key, value) in *items {
                        add(Key::Compact(key), value)?;
                    }
                }
            },
            Lane::Encoded(items) => {
                for item in items.iter() {
                    let (key, value): (&str, V) = codec::decode_borrowed(step, item)?;
                    add(Key::Borrowed(key), value)?;
                }
            }
        }
    }
    let mut keys: Vec<Option<CompactString>> = vec![None; accs.len()];
    for (key, g) in index {
        keys[g] = Some(key);
    }
    for (key, acc) in keys.into_iter().zip(accs) {
        let key = key.expect("every group has a key");
        out.push_value(step, &(key.as_str(), acc.expect("every group has an accumulator")))?;
    }
    Ok(())
}

/// A key's first value as its accumulator. `#[reducer(associative)]` only accepts
/// `fn(A, A) -> A`, so the value already is one; moved, not re-encoded.
fn first_acc<A: 'static, V: 'static>(step: &str, value: V) -> Result<A, String> {
    let mut slot = Some(value);
    match (&mut slot as &mut dyn Any).downcast_mut::<Option<A>>() {
        Some(acc) => Ok(acc.take().expect("just filled")),
        None => Err(format!("step `{step}`: an associative reducer must take and return one type")),
    }
}

/// A key as a chain stage handed it over.
enum Key<'a> {
    Owned(String),
    Compact(CompactString),
    Borrowed(&'a str),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Owned(s) => s,
            Key::Compact(s) => s,
            Key::Borrowed(s) => s,
        }
    }

    fn into_compact(self) -> CompactString {
        match self {
            Key::Owned(s) => CompactString::from(s),
            Key::Compact(s) => s,
            Key::Borrowed(s) => CompactString::from(s),
        }
    }
}
