//! `KafkaInput` and `KafkaOutput` run natively on librdkafka's blocking clients.
//!
//! Input: each topic partition is a partition of the input, named `"{index}-{topic}"` as in
//! 0.16 and read by the worker that owns that name; its position (the next offset) is in
//! the recovery snapshot, never committed to a consumer group. Items are `(key, value)`
//! byte pairs in the codec. Output: items are produced in batches and flushed when an epoch
//! closes, so a committed epoch never has unacknowledged writes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::engine::{owner, some_worker_idle, Poll, Restored, Sink, Source, WorkerInfo};
use crate::error::StepError;
use crate::item::Item;
use crate::recovery::{decode, encode, KeyChange};

/// How long start-up waits for the brokers to describe a topic.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an epoch's close waits for every produced message to be acknowledged.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

fn client_config(brokers: &[String], add_config: &BTreeMap<String, String>) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers.join(","));
    for (k, v) in add_config {
        config.set(k, v);
    }
    config
}

/// One owned partition of one topic.
struct Part {
    index: i32,
    next: Option<i64>,
    ended: bool,
    moved: bool,
}

/// The partitions of one topic this worker reads, on one consumer (so that an end-of-
/// partition event, which names only the partition, is unambiguous).
struct TopicReader {
    topic: String,
    consumer: BaseConsumer,
    parts: HashMap<i32, Part>,
}

/// This worker's share of a `KafkaInput`.
pub struct KafkaSource {
    step_id: String,
    readers: Vec<TopicReader>,
    tail: bool,
    idle_workers: bool,
    warned: Option<String>,
}

/// What a `KafkaInput` reads.
pub struct KafkaInputSpec<'a> {
    /// Bootstrap brokers.
    pub brokers: &'a [String],
    /// Topics.
    pub topics: &'a [String],
    /// Keep waiting at the end of partitions.
    pub tail: bool,
    /// -2 beginning, -1 end, else an offset.
    pub starting_offset: i64,
    /// Extra librdkafka settings.
    pub add_config: &'a BTreeMap<String, String>,
}

impl KafkaSource {
    /// Looks the topics up and assigns this worker's partitions, each at its restored
    /// position or `starting_offset`. A missing topic or unreachable brokers are errors
    /// naming the step.
    pub fn open(step_id: &str, spec: &KafkaInputSpec<'_>, worker: WorkerInfo, restored: Restored<'_>) -> Result<Self, StepError> {
        let fail = |m: String| StepError::message(step_id, "input, KafkaInput", m);
        let mut names = Vec::new();
        let mut readers = Vec::new();
        for topic in spec.topics {
            let mut config = client_config(spec.brokers, spec.add_config);
            config
                .set("group.id", "BYTEWAX_IGNORED")
                .set("enable.auto.commit", "false")
                .set("enable.partition.eof", if spec.tail { "false" } else { "true" });
            let consumer: BaseConsumer = config.create().map_err(|e| fail(format!("cannot create a consumer: {e}")))?;
            let metadata = consumer.fetch_metadata(Some(topic), METADATA_TIMEOUT).map_err(|e| {
                fail(format!("cannot get metadata of topic {topic:?} from brokers {}: {e}", spec.brokers.join(",")))
            })?;
            let described = metadata.topics().iter().find(|t| t.name() == topic);
            let partitions: Vec<i32> = match described {
                Some(t) if t.error().is_none() && !t.partitions().is_empty() => t.partitions().iter().map(|p| p.id()).collect(),
                Some(t) => {
                    let why = t.error().map(|e| format!("{:?}", rdkafka::types::RDKafkaRespErr::from(e))).unwrap_or("no partitions".into());
                    return Err(fail(format!("topic {topic:?} is not available: {why}")));
                }
                None => return Err(fail(format!("topic {topic:?} does not exist"))),
            };
            let mut assignment = TopicPartitionList::new();
            let mut parts = HashMap::new();
            for index in partitions {
                let name = format!("{index}-{topic}");
                if owner(&name, worker.count) == worker.index {
                    let next = match restored.iter().find(|(part, _)| *part == name) {
                        Some((_, state)) => Some(decode::<i64>(state).map_err(|e| fail(format!("resuming {name:?}: {e}")))?),
                        None => None,
                    };
                    let offset = match next.unwrap_or(spec.starting_offset) {
                        -2 => Offset::Beginning,
                        -1 => Offset::End,
                        n if n >= 0 => Offset::Offset(n),
                        n => Offset::OffsetTail(-n),
                    };
                    assignment.add_partition_offset(topic, index, offset).map_err(|e| fail(e.to_string()))?;
                    parts.insert(index, Part { index, next, ended: false, moved: false });
                }
                names.push(name);
            }
            if !parts.is_empty() {
                consumer.assign(&assignment).map_err(|e| fail(format!("cannot assign partitions of {topic:?}: {e}")))?;
                readers.push(TopicReader { topic: topic.clone(), consumer, parts });
            }
        }
        let idle_workers = some_worker_idle(names.iter().map(String::as_str), worker.count);
        Ok(KafkaSource { step_id: step_id.to_owned(), readers, tail: spec.tail, idle_workers, warned: None })
    }

    fn done(&self) -> bool {
        !self.tail && self.readers.iter().all(|r| r.parts.values().all(|p| p.ended))
    }
}

/// `(key, value)` as the codec's 2-array of byte strings (nil for a missing one).
fn pair(key: Option<&[u8]>, value: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len) + 12);
    rmp::encode::write_array_len(&mut out, 2).expect("writing to a Vec cannot fail");
    for part in [key, value] {
        match part {
            Some(b) => rmp::encode::write_bin(&mut out, b).expect("writing to a Vec cannot fail"),
            None => rmp::encode::write_nil(&mut out).expect("writing to a Vec cannot fail"),
        }
    }
    out
}

impl Source for KafkaSource {
    fn leaves_workers_idle(&self) -> bool {
        self.idle_workers
    }

    fn poll(&mut self, out: &mut Vec<Item>, max: usize) -> Result<Poll, StepError> {
        for reader in &mut self.readers {
            while out.len() < max {
                match reader.consumer.poll(Duration::ZERO) {
                    None => break,
                    Some(Ok(m)) => {
                        let Some(part) = reader.parts.get_mut(&m.partition()) else { continue };
                        if part.ended {
                            continue;
                        }
                        part.next = Some(m.offset() + 1);
                        part.moved = true;
                        out.push(Item::Encoded(pair(m.key(), m.payload())));
                    }
                    Some(Err(KafkaError::PartitionEOF(index))) => {
                        if let Some(part) = reader.parts.get_mut(&index) {
                            part.ended = true;
                            part.moved = true;
                            let mut tpl = TopicPartitionList::new();
                            tpl.add_partition(&reader.topic, part.index);
                            // Stop fetching it: as in 0.16, a partition that ended stays ended.
                            let _ = reader.consumer.pause(&tpl);
                        }
                    }
                    Some(Err(e)) => {
                        // librdkafka reconnects and retries by itself; say so once per kind.
                        let message = format!("step {:?}: KafkaInput topic {:?}: {e}; retrying", self.step_id, reader.topic);
                        if self.warned.as_deref() != Some(message.as_str()) {
                            crate::log::warn(&message);
                            self.warned = Some(message);
                        }
                        break;
                    }
                }
            }
        }
        Ok(if self.done() {
            Poll::Done
        } else if out.is_empty() {
            Poll::Idle
        } else {
            Poll::Ready
        })
    }

    fn close(&mut self) -> Result<(), StepError> {
        self.readers.clear();
        Ok(())
    }

    fn snapshot(&mut self) -> Result<Vec<KeyChange>, StepError> {
        let mut changes = Vec::new();
        for reader in &mut self.readers {
            for part in reader.parts.values_mut().filter(|p| p.moved) {
                part.moved = false;
                if let Some(next) = part.next {
                    changes.push(KeyChange { key: format!("{}-{}", part.index, reader.topic), snapshot: Some(encode(&next)) });
                }
            }
        }
        Ok(changes)
    }
}

/// Remembers the first failed delivery, which the next flush reports.
#[derive(Default, Clone)]
struct Deliveries {
    failed: Arc<Mutex<Option<String>>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, m)) = result {
            let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
            failed.get_or_insert_with(|| format!("partition {} of {:?}: {e}", m.partition(), m.topic()));
        }
    }
}

/// A `KafkaOutput` on one worker.
pub struct KafkaSink {
    step_id: String,
    topic: String,
    producer: BaseProducer<Deliveries>,
    deliveries: Deliveries,
}

impl KafkaSink {
    /// A producer for `topic`.
    pub fn open(step_id: &str, brokers: &[String], topic: &str, add_config: &BTreeMap<String, String>) -> Result<Self, StepError> {
        let deliveries = Deliveries::default();
        let producer = client_config(brokers, add_config)
            .create_with_context(deliveries.clone())
            .map_err(|e| StepError::message(step_id, "output, KafkaOutput", format!("cannot create a producer: {e}")))?;
        Ok(KafkaSink { step_id: step_id.to_owned(), topic: topic.to_owned(), producer, deliveries })
    }

    fn fail(&self, m: String) -> StepError {
        StepError::message(&self.step_id, "output, KafkaOutput", m)
    }

    /// Waits until everything produced is acknowledged, or reports the first failure.
    fn flush(&mut self) -> Result<(), StepError> {
        self.producer.flush(FLUSH_TIMEOUT).map_err(|e| self.fail(format!("flushing to {:?}: {e}", self.topic)))?;
        let failed = self.deliveries.failed.lock().unwrap_or_else(|p| p.into_inner()).take();
        match failed {
            Some(m) => Err(self.fail(format!("a message was not delivered to {m}"))),
            None => Ok(()),
        }
    }
}

/// The key and value of an encoded `(key, value)` item, as byte strings (or text).
fn key_value(bytes: &[u8]) -> Result<(Option<Vec<u8>>, Option<Vec<u8>>), String> {
    let value = rmpv::decode::read_value(&mut &bytes[..]).map_err(|e| e.to_string())?;
    let as_bytes = |v: &rmpv::Value| match v {
        rmpv::Value::Binary(b) => Ok(Some(b.clone())),
        rmpv::Value::String(s) => Ok(Some(s.as_bytes().to_vec())),
        rmpv::Value::Nil => Ok(None),
        other => Err(format!("expected bytes, got {other}")),
    };
    match &value {
        rmpv::Value::Array(kv) if kv.len() == 2 => Ok((as_bytes(&kv[0])?, as_bytes(&kv[1])?)),
        other => Err(format!("items must be (key: bytes, value: bytes) tuples; got {other}")),
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
                if let Some(k) = &key {
                    record = record.key(k.as_slice());
                }
                if let Some(v) = &value {
                    record = record.payload(v.as_slice());
                }
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull), _)) => {
                        // The local queue is full: serve acknowledgements, then try again.
                        self.producer.poll(Duration::from_millis(50));
                    }
                    Err((e, _)) => return Err(self.fail(format!("producing to {:?}: {e}", self.topic))),
                }
            }
        }
        self.producer.poll(Duration::ZERO);
        Ok(())
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
