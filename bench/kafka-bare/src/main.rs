//! Copies every message of a topic to another topic, key and value unchanged, with
//! librdkafka's blocking clients and nothing else: what a Kafka → Kafka passthrough costs
//! without a dataflow. One thread, like one worker.
//!
//! Usage: `kafka-bare [--main-queue] BROKERS IN_TOPIC OUT_TOPIC`. Reads every partition of
//! IN_TOPIC from its beginning to its end (partition EOF), produces each message to
//! OUT_TOPIC with the default partitioner, waits for every acknowledgement, then prints
//! `messages=N seconds=S` on stdout.
//!
//! By default each partition is read from a queue of its own, polled round-robin without
//! blocking, as KafkaInput does; `--main-queue` reads the consumer's one queue with a
//! blocking poll instead, the simplest loop (about half as fast against the test broker).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::base_consumer::PartitionQueue;
use rdkafka::consumer::{BaseConsumer, Consumer, DefaultConsumerContext};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let main_queue = args.first().is_some_and(|a| a == "--main-queue");
    if main_queue {
        args.remove(0);
    }
    let [brokers, input, output] = args.as_slice() else {
        eprintln!("usage: kafka-bare [--main-queue] BROKERS IN_TOPIC OUT_TOPIC");
        return ExitCode::from(2);
    };
    match copy(brokers, input, output, main_queue) {
        Ok((messages, seconds)) => {
            println!("messages={messages} seconds={seconds:.3}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kafka-bare: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Produces `m` to `output`, serving acknowledgements while the local queue is full.
fn forward(producer: &BaseProducer, output: &str, m: &BorrowedMessage<'_>) -> Result<(), String> {
    loop {
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(output);
        if let Some(k) = m.key() {
            record = record.key(k);
        }
        if let Some(v) = m.payload() {
            record = record.payload(v);
        }
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                producer.poll(Duration::from_millis(50));
            }
            Err((e, _)) => return Err(format!("produce: {e}")),
        }
    }
}

/// What one poll gave: a message forwarded, the end of a partition, or nothing yet.
enum Step {
    Copied,
    Ended,
    Nothing,
}

fn handle(event: Option<KafkaResult<BorrowedMessage<'_>>>, producer: &BaseProducer, output: &str) -> Result<Step, String> {
    match event {
        None => Ok(Step::Nothing),
        Some(Ok(m)) => forward(producer, output, &m).map(|()| Step::Copied),
        Some(Err(KafkaError::PartitionEOF(_))) => Ok(Step::Ended),
        Some(Err(e)) => Err(format!("consume: {e}")),
    }
}

fn copy(brokers: &str, input: &str, output: &str, main_queue: bool) -> Result<(u64, f64), String> {
    let start = Instant::now();
    // The settings KafkaInput uses for each of its consumers, and KafkaOutput's defaults.
    let consumer: Arc<BaseConsumer> = Arc::new(
        ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", "BYTEWAX_IGNORED")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .create()
            .map_err(|e| format!("consumer: {e}"))?,
    );
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", brokers).create().map_err(|e| format!("producer: {e}"))?;
    let metadata = consumer.fetch_metadata(Some(input), Duration::from_secs(10)).map_err(|e| format!("metadata: {e}"))?;
    let partitions: Vec<i32> =
        metadata.topics().iter().find(|t| t.name() == input).map(|t| t.partitions().iter().map(|p| p.id()).collect()).unwrap_or_default();
    if partitions.is_empty() {
        return Err(format!("topic {input:?} has no partitions"));
    }
    let mut assignment = TopicPartitionList::new();
    let mut queues: Vec<PartitionQueue<DefaultConsumerContext>> = Vec::new();
    for &p in &partitions {
        assignment.add_partition_offset(input, p, Offset::Beginning).map_err(|e| e.to_string())?;
        if !main_queue {
            queues.push(consumer.split_partition_queue(input, p).ok_or("cannot split a partition queue")?);
        }
    }
    consumer.assign(&assignment).map_err(|e| format!("assign: {e}"))?;

    let mut ended = 0;
    let mut messages = 0u64;
    while ended < partitions.len() {
        let mut copied = 0;
        if main_queue {
            for _ in 0..1024 {
                match handle(consumer.poll(Duration::from_millis(100)), &producer, output)? {
                    Step::Copied => copied += 1,
                    Step::Ended => ended += 1,
                    Step::Nothing => break,
                }
            }
        } else {
            // Client-wide events (errors, logs) still arrive on the main queue.
            while let Some(event) = consumer.poll(Duration::ZERO) {
                event.map_err(|e| format!("consume: {e}"))?;
            }
            for queue in &queues {
                for _ in 0..1024 {
                    match handle(queue.poll(Duration::ZERO), &producer, output)? {
                        Step::Copied => copied += 1,
                        Step::Ended => ended += 1,
                        Step::Nothing => break,
                    }
                }
            }
            if copied == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        messages += copied;
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(120)).map_err(|e| format!("flush: {e}"))?;
    Ok((messages, start.elapsed().as_secs_f64()))
}
