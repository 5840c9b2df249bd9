//! The seed wordcount by hand, with no dataflow: the native baseline of
//! `bench/wasm_wordcount.py`.
//!
//! `native-wordcount TEXT_FILE` reads lines (stopping at the first empty one, as
//! `FileInput` does), lower-cases them, splits them into words with the same rule as
//! the wordcount guest's `tokenize` (`examples/wordcount-wasm/guest/src/lib.rs`), counts
//! each word in a `HashMap` and prints one `('word', n)` line per word, the way the
//! flow's `StdOutput` prints Python tuples.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;

/// Whether `c` ends a word: the negated class of the seed's regex `[^\s!,.?":;0-9]+`.
/// Python's `\s` also matches U+001C..U+001F, which `char::is_whitespace` does not.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || ('\u{1c}'..='\u{1f}').contains(&c)
        || c.is_ascii_digit()
        || matches!(c, '!' | ',' | '.' | '?' | '"' | ':' | ';')
}

/// Adds one to each word of `line` (already lower-cased) in `counts`.
fn count_words(line: &str, counts: &mut HashMap<String, i64>) {
    for word in line.split(is_separator).filter(|w| !w.is_empty()) {
        // Look up by `&str` first so a word already seen costs no allocation.
        match counts.get_mut(word) {
            Some(count) => *count += 1,
            None => {
                counts.insert(word.to_owned(), 1);
            }
        }
    }
}

/// Counts the words of the file at `path` up to its first empty line.
fn count_file(path: &str) -> io::Result<HashMap<String, i64>> {
    let mut reader = BufReader::with_capacity(1 << 16, File::open(path)?);
    let mut counts = HashMap::new();
    let mut buf = String::new();
    loop {
        buf.clear();
        if reader.read_line(&mut buf)? == 0 {
            break;
        }
        let line = buf.strip_suffix('\n').unwrap_or(&buf);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        count_words(&line.to_lowercase(), &mut counts);
    }
    Ok(counts)
}

/// `word` as Python's `repr` writes a `str`: single quotes unless the word holds a `'`
/// and no `"`. Control characters are escaped as Python does; other characters Python
/// would escape (format and unassigned code points) are written as they are, which
/// `ast.literal_eval` reads back the same.
fn python_repr(word: &str) -> String {
    let quote = if word.contains('\'') && !word.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(word.len() + 2);
    out.push(quote);
    for c in word.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 2 {
        eprintln!("usage: {} TEXT_FILE", args[0]);
        return ExitCode::from(2);
    }
    let counts = match count_file(&args[1]) {
        Ok(counts) => counts,
        Err(err) => {
            eprintln!("native-wordcount: {}: {err}", args[1]);
            return ExitCode::FAILURE;
        }
    };
    let mut out = BufWriter::new(io::stdout().lock());
    for (word, count) in &counts {
        if writeln!(out, "({}, {count})", python_repr(word)).is_err() {
            return ExitCode::FAILURE;
        }
    }
    if out.flush().is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_like_the_seed_regex() {
        let mut counts = HashMap::new();
        count_words("\"hello,  world!\" 2 cats: hello\tit's 3am", &mut counts);
        assert_eq!(counts["hello"], 2);
        assert_eq!(counts["it's"], 1);
        assert_eq!(counts["am"], 1);
        assert_eq!(counts.len(), 5);
    }

    #[test]
    fn quotes_as_python_repr() {
        assert_eq!(python_repr("abc"), "'abc'");
        assert_eq!(python_repr("it's"), "\"it's\"");
        assert_eq!(python_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(python_repr("a\\b\u{7f}"), "'a\\\\b\\x7f'");
    }
}
