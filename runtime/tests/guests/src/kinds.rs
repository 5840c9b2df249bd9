//! One step of each kind, with answers simple enough to check from the host's tests.

use bytewax_guest::{
    builder, event_time, filter, filter_map, flat_map, folder, inspect, is_complete, map, reducer,
    stateful_mapper, Value,
};
use serde::Deserialize;

/// Returns any item unchanged (a codec round trip through the guest).
#[map]
pub fn echo(item: Value) -> Value {
    item
}

/// Parses a decimal integer; a bad one is a step error (the `err` path, not a trap).
#[map]
pub fn parse(text: String) -> Result<i64, std::num::ParseIntError> {
    text.trim().parse()
}

/// Keeps even numbers.
#[filter]
pub fn is_even(n: &i64) -> bool {
    n % 2 == 0
}

/// Halves even numbers and drops odd ones.
#[filter_map]
pub fn maybe_half(n: i64) -> Option<i64> {
    (n % 2 == 0).then_some(n / 2)
}

/// A string's characters, each as a one-character string.
#[flat_map]
pub fn explode(text: &str) -> Vec<String> {
    text.chars().map(String::from).collect()
}

/// Sees any item and does nothing.
#[inspect]
pub fn peek(_item: &Value) {}

/// The first state of `running_count`.
#[builder]
pub fn count_builder() -> i64 {
    0
}

/// Counts a key's values and emits the count; after the third it forgets the key, so the
/// fourth value starts again from `count_builder`.
#[stateful_mapper]
pub fn running_count(count: i64, _value: Value) -> (Option<i64>, i64) {
    let count = count + 1;
    let state = if count >= 3 { None } else { Some(count) };
    (state, count)
}

/// Adds two numbers.
#[reducer]
pub fn sum(acc: i64, value: i64) -> i64 {
    acc + value
}

/// Complete once the sum reaches 10.
#[is_complete]
pub fn at_least_10(acc: &i64) -> bool {
    *acc >= 10
}

/// The first accumulator of `push`.
#[builder]
pub fn list_builder() -> Vec<i64> {
    Vec::new()
}

/// Appends a value to the list.
#[folder]
pub fn push(mut acc: Vec<i64>, value: i64) -> Vec<i64> {
    acc.push(value);
    acc
}

/// An item with an event time: a map such as `{"t": 1700000000000}` (other keys ignored).
#[derive(Deserialize)]
pub struct Stamped {
    /// Milliseconds since the Unix epoch, UTC.
    pub t: i64,
}

/// The item's `t`.
#[event_time]
pub fn ts(item: &Stamped) -> i64 {
    item.t
}

/// A timed measurement: `{"t": ms since the Unix epoch, "v": value}`.
#[derive(serde::Serialize, Deserialize)]
pub struct Reading {
    /// Milliseconds since the Unix epoch, UTC.
    pub t: i64,
    /// The measured value.
    pub v: i64,
}

/// Sums readings' values, keeping the latest time.
#[reducer]
pub fn add_readings(acc: Reading, value: Reading) -> Reading {
    Reading { t: acc.t.max(value.t), v: acc.v + value.v }
}
