//! `KafkaInput` and `KafkaOutput` run natively on librdkafka's blocking clients.
//!
//! Input: each topic partition is a partition of the input, named `"{index}-{topic}"` as in
//! 0.16 and read by the worker that owns that name; its position (the next offset) is in
//! the recovery snapshot, never committed to a consumer group. Items are `(key, value)`
//! byte pairs in the codec. Output: items are produced in batches and flushed when an epoch
//! closes, so a committed epoch never has unacknowledged writes.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::config::ClientConfig;

mod sink;
mod source;

pub use sink::KafkaSink;
pub use source::{KafkaInputSpec, KafkaSource};

/// How long start-up waits for the brokers to answer a metadata request: the bound on how
/// long a run with unreachable brokers takes to fail.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

fn client_config(brokers: &[String], add_config: &BTreeMap<String, String>) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers.join(","));
    for (k, v) in add_config {
        config.set(k, v);
    }
    config
}

/// What to tell a user whose brokers did not answer in time.
fn unreachable(brokers: &[String], what: &str, e: impl std::fmt::Display) -> String {
    format!(
        "cannot {what}: no answer from Kafka brokers {} within {} s ({e}); check that the brokers run and \
         the addresses are right",
        brokers.join(","),
        METADATA_TIMEOUT.as_secs()
    )
}
