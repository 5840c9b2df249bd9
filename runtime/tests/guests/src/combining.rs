//! A chain that ends in `(key, value)` pairs and reducers whose results show the order
//! they folded in, so the host's tests can tell when values were combined per batch.

use bytewax_guest::{map, reducer};

/// A word keyed by its first character.
#[map]
pub fn key_by_initial(word: String) -> (String, String) {
    let initial = word.chars().next().map(String::from).unwrap_or_default();
    (initial, word)
}

/// Joins two values with the grouping written out. Declared associative (the text, less
/// the brackets, is); the brackets show which values were folded together first.
/// `boom` cannot be joined, to test errors raised while combining.
#[reducer(associative)]
pub fn join(a: String, b: String) -> Result<String, String> {
    if b == "boom" {
        return Err("cannot join `boom`".to_string());
    }
    Ok(format!("({a} {b})"))
}

/// The same join, not declared associative: it must see the values one by one.
#[reducer]
pub fn join_in_order(a: String, b: String) -> String {
    format!("({a} {b})")
}
