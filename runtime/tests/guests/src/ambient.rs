//! Steps that reach for what the sandbox withholds unless the plan grants it.

use bytewax_guest::{map, Value};

/// The value of the environment variable named by the item, or None.
#[map]
pub fn env_var(name: String) -> Option<String> {
    std::env::var(name).ok()
}

/// Milliseconds since the Unix epoch by the guest's wall clock (0 when no clock is granted).
#[map]
pub fn wall_millis(_item: Value) -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(-1)
}

/// The first line of the file at the item's path, or None when it cannot be read.
#[map]
pub fn first_line(path: String) -> Option<String> {
    std::fs::read_to_string(path).ok().and_then(|t| t.lines().next().map(str::to_owned))
}
