//! The seed wordcount's functions (`examples/wordcount/dataflow.py`) as WebAssembly steps.
//!
//! A plan points its steps at this component by name, e.g.
//! `{"kind": "wasm", "component": "wordcount_steps.wasm", "export": "tokenize"}`.

use bytewax_guest::{flat_map, map, reducer, CompactString};

/// Lower-cases a line, as Python's `str.lower`.
#[map]
pub fn lower(line: &str) -> String {
    line.to_lowercase()
}

/// The words of a line: the runs the seed's regex `[^\s!,.?":;0-9]+` matches.
#[flat_map]
pub fn tokenize(line: &str) -> Vec<CompactString> {
    line.split(is_separator)
        .filter(|word| !word.is_empty())
        .map(CompactString::from)
        .collect()
}

/// A word paired with its first count, the key and value `reduce_window` expects.
#[map]
pub fn initial_count(word: CompactString) -> (CompactString, i64) {
    (word, 1)
}

/// Adds two counts. Addition is associative, so the host may add up a batch's counts
/// per word before they reach the window (see `chain-combine` in `wit/steps.wit`).
#[reducer(associative)]
pub fn add(count1: i64, count2: i64) -> i64 {
    count1 + count2
}

bytewax_guest::export_steps!(lower, tokenize, initial_count, add);

/// Whether `c` ends a word: what the regex's negated class excludes. Python's `\s`
/// also counts the information separators U+001C..U+001F, which Rust's
/// `is_whitespace` does not, so they are added to match the seed exactly.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || ('\u{1c}'..='\u{1f}').contains(&c)
        || c.is_ascii_digit()
        || matches!(c, '!' | ',' | '.' | '?' | '"' | ':' | ';')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenize_matches_the_seed_regex() {
        let line = "\"Hello,  world!\" said 2 cats: one\tdog; why? (maybe) it's 3am";
        assert_eq!(
            tokenize(line),
            ["Hello", "world", "said", "cats", "one", "dog", "why", "(maybe)", "it's", "am"]
        );
        assert!(tokenize(" ,.;: 42 ").is_empty());
    }

    #[test]
    fn counting_steps() {
        assert_eq!(lower("ÀB"), "àb");
        assert_eq!(initial_count("w".into()), ("w".into(), 1));
        assert_eq!(add(2, 3), 5);
    }
}
