//! `KafkaInput`: this worker's partitions of the topics, each read from its own queue.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, DefaultConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::Offset;

use super::{client_config, unreachable, METADATA_TIMEOUT};
use crate::engine::{owner, restored_part, some_worker_idle, Poll, Restored, Source, WorkerInfo};
use crate::error::StepError;
use crate::item::Item;
use crate::recovery::{encode, KeyChange};

type PartitionQueue = rdkafka::consumer::base_consumer::PartitionQueue<DefaultConsumerContext>;

/// One owned partition of one topic, with a queue of its own: a message or error taken
/// from it belongs to this partition, so an error can say where it happened.
struct Part {
    index: i32,
    queue: PartitionQueue,
    /// The next offset to read: the last message's offset + 1, or where reading starts.
    next: Offset,
    ended: bool,
    moved: bool,
}

/// The partitions of one topic this worker reads, on one consumer.
struct TopicReader {
    topic: String,
    consumer: Arc<BaseConsumer>,
    parts: Vec<Part>,
}

/// This worker's share of a `KafkaInput`.
pub struct KafkaSource {
    step_id: String,
    brokers: String,
    readers: Vec<TopicReader>,
    tail: bool,
    idle_workers: bool,
    warned: Option<String>,
    // Which partition the next poll serves first, so that one busy partition cannot starve
    // the others of a batch's room.
    cursor: usize,
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

fn offset_of(n: i64) -> Offset {
    match n {
        -2 => Offset::Beginning,
        -1 => Offset::End,
        n if n >= 0 => Offset::Offset(n),
        n => Offset::OffsetTail(-n),
    }
}

/// An offset as users read it in a message.
fn describe(offset: Offset) -> String {
    match offset {
        Offset::Offset(n) => n.to_string(),
        Offset::Beginning => "beginning".into(),
        Offset::End => "end".into(),
        Offset::OffsetTail(n) => format!("end - {n}"),
        other => format!("{other:?}"),
    }
}

impl KafkaSource {
    /// Looks the topics up and assigns this worker's partitions, each at its restored
    /// position or `starting_offset`. A missing topic or unreachable brokers are errors
    /// naming the step, after at most [`METADATA_TIMEOUT`] per topic.
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
            let consumer: Arc<BaseConsumer> = Arc::new(config.create().map_err(|e| fail(format!("cannot create a consumer: {e}")))?);
            let metadata = consumer
                .fetch_metadata(Some(topic), METADATA_TIMEOUT)
                .map_err(|e| fail(unreachable(spec.brokers, &format!("look up topic {topic:?}"), e)))?;
            let described = metadata.topics().iter().find(|t| t.name() == topic);
            let partitions: Vec<i32> = match described {
                Some(t) if t.error().is_none() && !t.partitions().is_empty() => t.partitions().iter().map(|p| p.id()).collect(),
                Some(t) => {
                    let why = t.error().map(|e| format!("{e:?}")).unwrap_or("no partitions".into());
                    return Err(fail(format!("topic {topic:?} is not available: {why}")));
                }
                None => return Err(fail(format!("topic {topic:?} does not exist"))),
            };
            let mut assignment = TopicPartitionList::new();
            let mut parts = Vec::new();
            for index in partitions {
                let name = format!("{index}-{topic}");
                if owner(&name, worker.count) == worker.index {
                    let next = restored_part::<i64>(restored, &name)
                        .map_err(|e| fail(format!("resuming {name:?}: {e}")))?
                        .unwrap_or(spec.starting_offset);
                    let next = offset_of(next);
                    assignment.add_partition_offset(topic, index, next).map_err(|e| fail(e.to_string()))?;
                    // Split before assigning: once assigned, messages would go to the main queue.
                    let queue = consumer
                        .split_partition_queue(topic, index)
                        .ok_or_else(|| fail(format!("cannot open a queue for partition {index} of {topic:?}")))?;
                    parts.push(Part { index, queue, next, ended: false, moved: false });
                }
                names.push(name);
            }
            if !parts.is_empty() {
                consumer.assign(&assignment).map_err(|e| fail(format!("cannot assign partitions of {topic:?}: {e}")))?;
                readers.push(TopicReader { topic: topic.clone(), consumer, parts });
            }
        }
        let idle_workers = some_worker_idle(names.iter().map(String::as_str), worker.count);
        Ok(KafkaSource {
            step_id: step_id.to_owned(),
            brokers: spec.brokers.join(","),
            readers,
            tail: spec.tail,
            idle_workers,
            warned: None,
            cursor: 0,
        })
    }

    fn done(&self) -> bool {
        !self.tail && self.readers.iter().all(|r| r.parts.iter().all(|p| p.ended))
    }

    fn fail(&self, m: String) -> StepError {
        StepError::message(&self.step_id, "input, KafkaInput", m)
    }

    /// An error about the client as a whole (brokers down, say): librdkafka reconnects and
    /// retries by itself, so warn once per distinct message; a fatal one stops the input.
    fn client_error(&mut self, topic: &str, e: KafkaError) -> Result<(), StepError> {
        if let KafkaError::MessageConsumptionFatal(_) = e {
            return Err(self.fail(format!("Kafka topic {topic:?} on brokers {}: {e}", self.brokers)));
        }
        let message = format!("step {:?}: KafkaInput topic {topic:?} on brokers {}: {e}; retrying", self.step_id, self.brokers);
        if self.warned.as_deref() != Some(message.as_str()) {
            crate::log::warn(&message);
            self.warned = Some(message);
        }
        Ok(())
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

/// Why reading a partition failed, for the user: librdkafka's code plus what it usually
/// means here.
fn partition_error(e: &KafkaError) -> String {
    use rdkafka::types::RDKafkaErrorCode as Code;
    let hint = match e.rdkafka_error_code() {
        Some(Code::NotImplemented) => "; the messages there may use a compression codec this build cannot decode",
        Some(Code::BadCompression) | Some(Code::BadMessage) => "; the stored message batch there is corrupt",
        Some(Code::UnknownTopicOrPartition) | Some(Code::UnknownPartition) => "; the topic or partition was deleted",
        Some(Code::OffsetOutOfRange) | Some(Code::AutoOffsetReset) => "; the position is no longer (or not yet) in the partition's log",
        Some(Code::MessageSizeTooLarge) => "; raise fetch.max.bytes / receive.message.max.bytes in add_config",
        _ => "",
    };
    format!("{e}{hint}")
}

impl Source for KafkaSource {
    fn leaves_workers_idle(&self) -> bool {
        self.idle_workers
    }

    fn poll(&mut self, out: &mut Vec<Item>, max: usize) -> Result<Poll, StepError> {
        let mut client_errors = Vec::new();
        let mut failed = None;
        let total: usize = self.readers.iter().map(|r| r.parts.len()).sum();
        let start = if total == 0 { 0 } else { self.cursor % total };
        self.cursor = self.cursor.wrapping_add(1);
        // Every partition queue, starting at `start` and wrapping round.
        let mut slots: Vec<(usize, usize)> =
            self.readers.iter().enumerate().flat_map(|(r, reader)| (0..reader.parts.len()).map(move |p| (r, p))).collect();
        slots.rotate_left(start);
        for reader in &self.readers {
            // The main queue carries client-wide events only (every owned partition has a
            // queue of its own); it must be served or errors pile up there.
            while let Some(event) = reader.consumer.poll(Duration::ZERO) {
                if let Err(e) = event {
                    client_errors.push((reader.topic.clone(), e));
                }
            }
        }
        'parts: for (r, p) in slots {
            let reader = &mut self.readers[r];
            let part = &mut reader.parts[p];
            while !part.ended && out.len() < max {
                match part.queue.poll(Duration::ZERO) {
                    None => break,
                    Some(Ok(m)) => {
                        part.next = Offset::Offset(m.offset() + 1);
                        part.moved = true;
                        out.push(Item::Encoded(pair(m.key(), m.payload())));
                    }
                    Some(Err(KafkaError::PartitionEOF(_))) => {
                        part.ended = true;
                        part.moved = true;
                        let mut tpl = TopicPartitionList::new();
                        tpl.add_partition(&reader.topic, part.index);
                        // Stop fetching it: as in 0.16, a partition that ended stays ended.
                        let _ = reader.consumer.pause(&tpl);
                    }
                    Some(Err(e)) => {
                        // Going on would skip what could not be read: stop, saying where.
                        failed = Some(format!(
                            "Kafka topic {:?} partition {} offset {}: {}",
                            reader.topic,
                            part.index,
                            describe(part.next),
                            partition_error(&e)
                        ));
                        break 'parts;
                    }
                }
            }
        }
        if let Some(m) = failed {
            return Err(self.fail(m));
        }
        for (topic, e) in client_errors {
            self.client_error(&topic, e)?;
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
            for part in reader.parts.iter_mut().filter(|p| p.moved) {
                part.moved = false;
                if let Offset::Offset(next) = part.next {
                    changes.push(KeyChange { key: format!("{}-{}", part.index, reader.topic), snapshot: Some(encode(&next)) });
                }
            }
        }
        Ok(changes)
    }
}
