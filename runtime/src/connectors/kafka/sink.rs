//! `KafkaOutput`: a batching producer that an epoch's close waits on.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;

use super::{client_config, unreachable, METADATA_TIMEOUT};
use crate::engine::Sink;
use crate::error::StepError;
use crate::item::Item;
use crate::recovery::KeyChange;

/// How long one wait of a flush lasts before it says what it is waiting for. The flush
/// itself ends when every message is acknowledged or has failed: librdkafka retries a
/// message until its `message.timeout.ms` (300 s unless `add_config` says otherwise).
const FLUSH_REPORT_EVERY: Duration = Duration::from_secs(10);

/// Failed deliveries since the last flush: how many, and the first one's reason.
#[derive(Default)]
struct Failures {
    count: u64,
    first: Option<String>,
}

/// Collects failed deliveries, which the next flush reports.
#[derive(Default, Clone)]
struct Deliveries {
    failed: Arc<Mutex<Failures>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, m)) = result {
            let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
            failed.count += 1;
            failed.first.get_or_insert_with(|| format!("partition {}: {e}", m.partition()));
        }
    }
}

/// A `KafkaOutput` on one worker. With recovery, each epoch's snapshot waits for its
/// messages; without, librdkafka sends them in the background and the end of the run
/// waits for all of them.
pub struct KafkaSink {
    step_id: String,
    brokers: String,
    topic: String,
    producer: BaseProducer<Deliveries>,
    deliveries: Deliveries,
}

impl KafkaSink {
    /// A producer for `topic`, once the brokers have answered (an error naming them after
    /// at most [`METADATA_TIMEOUT`] when they do not).
    pub fn open(step_id: &str, brokers: &[String], topic: &str, add_config: &BTreeMap<String, String>) -> Result<Self, StepError> {
        let fail = |m: String| StepError::message(step_id, "output, KafkaOutput", m);
        let deliveries = Deliveries::default();
        let producer: BaseProducer<Deliveries> = client_config(brokers, add_config)
            .create_with_context(deliveries.clone())
            .map_err(|e| fail(format!("cannot create a producer: {e}")))?;
        // Ask for every topic's metadata rather than this one's: naming the topic would
        // create it on brokers that auto-create, before anything is written.
        producer
            .client()
            .fetch_metadata(None, METADATA_TIMEOUT)
            .map_err(|e| fail(unreachable(brokers, &format!("write to topic {topic:?}"), e)))?;
        Ok(KafkaSink { step_id: step_id.to_owned(), brokers: brokers.join(","), topic: topic.to_owned(), producer, deliveries })
    }

    fn fail(&self, m: String) -> StepError {
        StepError::message(&self.step_id, "output, KafkaOutput", m)
    }

    /// Waits until every message produced so far is acknowledged or has failed, then
    /// reports the failures: an epoch is never committed with a message undelivered.
    fn flush(&mut self) -> Result<(), StepError> {
        loop {
            match self.producer.flush(FLUSH_REPORT_EVERY) {
                Ok(()) => break,
                Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) => crate::log::warn(&format!(
                    "step {:?}: KafkaOutput still waiting for brokers {} to acknowledge {} message(s) to topic {:?}; \
                     librdkafka retries each until its message.timeout.ms",
                    self.step_id,
                    self.brokers,
                    self.producer.in_flight_count(),
                    self.topic
                )),
                Err(e) => return Err(self.fail(format!("flushing to topic {:?}: {e}", self.topic))),
            }
        }
        self.report_failures()
    }

    /// Fails with the deliveries that failed since the last report, if any.
    fn report_failures(&mut self) -> Result<(), StepError> {
        let failed = std::mem::take(&mut *self.deliveries.failed.lock().unwrap_or_else(|p| p.into_inner()));
        match failed.first {
            Some(first) => Err(self.fail(format!(
                "{} message(s) could not be delivered to topic {:?} on brokers {} (the first: {first})",
                failed.count, self.topic, self.brokers
            ))),
            None => Ok(()),
        }
    }
}

/// One byte string (or text, or nil) at the front of `rd`, borrowed from it.
fn bytes_field<'a>(rd: &mut &'a [u8]) -> Option<Option<&'a [u8]>> {
    use rmp::Marker;
    let (&marker, rest) = rd.split_first()?;
    let (len_bytes, rest) = match Marker::from_u8(marker) {
        Marker::Null => {
            *rd = rest;
            return Some(None);
        }
        Marker::FixStr(n) => (usize::from(n), rest),
        Marker::Bin8 | Marker::Str8 => (usize::from(*rest.first()?), rest.get(1..)?),
        Marker::Bin16 | Marker::Str16 => (usize::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?)), rest.get(2..)?),
        Marker::Bin32 | Marker::Str32 => (u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize, rest.get(4..)?),
        _ => return None,
    };
    let (field, rest) = (rest.get(..len_bytes)?, rest.get(len_bytes..)?);
    *rd = rest;
    Some(Some(field))
}

/// A message's key and value, each absent when nil.
type KeyValue<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// The key and value of an encoded `(key, value)` item (byte strings, text or nil),
/// borrowed from the item: no copy per message.
fn key_value(bytes: &[u8]) -> Result<KeyValue<'_>, String> {
    let mut rd = bytes;
    let pair = match rd.split_first() {
        Some((&m, rest)) if rmp::Marker::from_u8(m) == rmp::Marker::FixArray(2) => {
            rd = rest;
            bytes_field(&mut rd).and_then(|k| bytes_field(&mut rd).map(|v| (k, v)))
        }
        _ => None,
    };
    match pair {
        Some(kv) if rd.is_empty() => Ok(kv),
        _ => Err(format!("items must be (key, value) tuples of bytes, str or None; got `{}`", crate::codec::render_python(bytes))),
    }
}

impl Sink for KafkaSink {
    fn write(&mut self, _epoch: u64, items: &mut Vec<Item>) -> Result<(), StepError> {
        for item in items.iter() {
            let Item::Encoded(bytes) = item else {
                return Err(self.fail("items must be (key: bytes, value: bytes) tuples".into()));
            };
            let (key, value) = key_value(bytes).map_err(|e| self.fail(e))?;
            loop {
                let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&self.topic);
                if let Some(k) = key {
                    record = record.key(k);
                }
                if let Some(v) = value {
                    record = record.payload(v);
                }
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        // The local queue is full: serve acknowledgements, then try again.
                        self.producer.poll(Duration::from_millis(50));
                    }
                    Err((e, _)) => return Err(self.fail(format!("producing to topic {:?}: {e}", self.topic))),
                }
            }
        }
        self.producer.poll(Duration::ZERO);
        // A message that failed for good is lost: stop now rather than at the next flush,
        // which a run without recovery only reaches at the end.
        self.report_failures()
    }

    fn close(&mut self) -> Result<(), StepError> {
        self.flush()
    }

    fn snapshot(&mut self) -> Result<Vec<KeyChange>, StepError> {
        // Nothing to resume from, but an epoch must not be committed with writes in flight.
        self.flush()?;
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::key_value;

    fn encode(v: &rmpv::Value) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, v).unwrap();
        out
    }

    #[test]
    fn key_value_borrows_bytes_text_and_nil_of_every_length() {
        use rmpv::Value;
        let long = vec![7u8; 70_000];
        for (k, v) in [
            (Value::Binary(b"k".to_vec()), Value::Binary(long.clone())),
            (Value::from("text"), Value::Nil),
            (Value::Nil, Value::from("x".repeat(300))),
            (Value::Binary(vec![1; 300]), Value::Binary(Vec::new())),
        ] {
            let item = encode(&Value::Array(vec![k.clone(), v.clone()]));
            let as_bytes = |x: &Value| match x {
                Value::Binary(b) => Some(b.clone()),
                Value::String(s) => Some(s.as_bytes().to_vec()),
                _ => None,
            };
            let (gk, gv) = key_value(&item).unwrap();
            assert_eq!((gk.map(<[u8]>::to_vec), gv.map(<[u8]>::to_vec)), (as_bytes(&k), as_bytes(&v)));
        }
    }

    #[test]
    fn key_value_refuses_other_shapes_showing_the_item() {
        use rmpv::Value;
        for bad in [
            Value::from(3),
            Value::Array(vec![Value::Binary(b"k".to_vec())]),
            Value::Array(vec![Value::from(1), Value::Binary(b"v".to_vec())]),
            Value::Array(vec![Value::Nil, Value::Nil, Value::Nil]),
        ] {
            let err = key_value(&encode(&bad)).unwrap_err();
            assert!(err.starts_with("items must be (key, value) tuples"), "{err}");
        }
        assert!(key_value(&[0x92, 0xc4, 0x05, b'a']).is_err(), "a truncated item is refused");
    }
}
