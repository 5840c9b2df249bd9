//! Warnings for users that are not errors (late items, say). The Python module routes
//! them to Python's `logging`; `bytewax-wasm` prints them on stderr.

use std::sync::OnceLock;

static HANDLER: OnceLock<fn(&str)> = OnceLock::new();

/// Sends warnings to `handler` from now on; only the first call has an effect.
pub fn set_warning_handler(handler: fn(&str)) {
    let _ = HANDLER.set(handler);
}

/// Reports `message` as a warning.
pub fn warn(message: &str) {
    match HANDLER.get() {
        Some(handler) => handler(message),
        None => eprintln!("bytewax: warning: {message}"),
    }
}
