//! A test host: text items, `word=n` pairs, counts per key, a sink that records lines.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytewax_runtime::engine::{Chain, KeyBy, KeyedLogic, Poll, Restored, Sink, Source, StepHost, WorkerInfo};
use bytewax_runtime::recovery::ChangeWriter;
use bytewax_runtime::error::StepError;
use bytewax_runtime::item::{Item, KeyedItem};
use bytewax_runtime::plan::{SinkSpec, SourceSpec, Step};

fn text(item: Item) -> String {
    #[allow(unreachable_patterns)] // other variants exist with the `python` feature
    match item {
        Item::Str(s) => s,
        other => panic!("the test host only makes text items, got {other:?}"),
    }
}

/// Records what every worker's sink saw, and which worker saw it.
#[derive(Default, Clone)]
pub struct Recorder(pub Arc<Mutex<Vec<(usize, String)>>>);

/// Sources: `lines` of the plan's file spec (its path is ignored), given to worker 0.
pub struct TestHost {
    pub lines: Vec<String>,
    pub out: Recorder,
}

struct VecSource(std::vec::IntoIter<String>);

impl Source for VecSource {
    fn poll(&mut self, out: &mut Vec<Item>, max: usize) -> Result<Poll, StepError> {
        out.extend(self.0.by_ref().take(max).map(Item::Str));
        Ok(if self.0.len() == 0 { Poll::Done } else { Poll::Ready })
    }
    fn close(&mut self) -> Result<(), StepError> {
        Ok(())
    }
}

/// `map` upper-cases; `filter` fails the step on the line "boom".
struct TextChain(Vec<Step>);

impl Chain for TextChain {
    fn process(&mut self, _epoch: u64, input: &mut Vec<Item>, out: &mut Vec<Item>) -> Result<(), StepError> {
        for item in input.drain(..) {
            let mut s = text(item);
            for step in &self.0 {
                match step {
                    Step::Map { .. } => s = s.to_uppercase(),
                    Step::Filter { step_id, .. } if s.eq_ignore_ascii_case("boom") => {
                        return Err(StepError::message(step_id, "filter", "boom"));
                    }
                    _ => {}
                }
            }
            out.push(Item::Str(s));
        }
        Ok(())
    }
}

struct SplitKey;

impl KeyBy for SplitKey {
    fn key_by(&mut self, input: &mut Vec<Item>, out: &mut Vec<KeyedItem>) -> Result<(), StepError> {
        out.extend(input.drain(..).map(|i| KeyedItem::new(text(i), Item::Str(String::new()))));
        Ok(())
    }
}

/// Counts items per key; emits `key=count` for every key at end of input, tagged with the worker.
struct CountAtEof {
    worker: usize,
    counts: HashMap<String, usize>,
}

impl KeyedLogic for CountAtEof {
    fn on_items(&mut self, _epoch: u64, items: &mut Vec<KeyedItem>, _out: &mut Vec<Item>) -> Result<(), StepError> {
        for item in items.drain(..) {
            *self.counts.entry(item.key).or_default() += 1;
        }
        Ok(())
    }
    fn on_wake(&mut self, _out: &mut Vec<Item>) -> Result<(), StepError> {
        Ok(())
    }
    fn next_wake(&self) -> Option<Instant> {
        None
    }
    fn on_eof(&mut self, out: &mut Vec<Item>) -> Result<(), StepError> {
        let mut keys: Vec<_> = self.counts.drain().collect();
        keys.sort();
        out.extend(keys.into_iter().map(|(k, n)| Item::Str(format!("{k}={n}@{}", self.worker))));
        Ok(())
    }
    fn track_changes(&mut self) {}
    fn snapshot(&mut self, _out: &mut ChangeWriter) -> Result<(), StepError> {
        Ok(())
    }
    fn restore(&mut self, _key: &str, _state: &[u8]) -> Result<(), StepError> {
        Ok(())
    }
}

struct RecordSink(usize, Recorder);

impl Sink for RecordSink {
    fn write(&mut self, _epoch: u64, items: &mut Vec<Item>) -> Result<(), StepError> {
        let mut seen = self.1 .0.lock().unwrap();
        seen.extend(items.drain(..).map(|i| (self.0, text(i))));
        Ok(())
    }
    fn close(&mut self) -> Result<(), StepError> {
        Ok(())
    }
}

impl StepHost for TestHost {
    fn source(&self, _id: &str, _spec: &SourceSpec, worker: WorkerInfo, _restored: Restored<'_>) -> Result<Box<dyn Source>, StepError> {
        let lines = if worker.index == 0 { self.lines.clone() } else { Vec::new() };
        Ok(Box::new(VecSource(lines.into_iter())))
    }
    fn chain(&self, steps: &[Step], _next: Option<&Step>) -> Result<Box<dyn Chain>, StepError> {
        Ok(Box::new(TextChain(steps.to_vec())))
    }
    fn key_by(&self, _step: &Step) -> Result<Box<dyn KeyBy>, StepError> {
        Ok(Box::new(SplitKey))
    }
    fn keyed_logic(&self, _step: &Step, worker: WorkerInfo) -> Result<Box<dyn KeyedLogic>, StepError> {
        Ok(Box::new(CountAtEof { worker: worker.index, counts: HashMap::new() }))
    }
    fn sink(&self, _id: &str, _spec: &SinkSpec, worker: WorkerInfo, _restored: Restored<'_>) -> Result<Box<dyn Sink>, StepError> {
        Ok(Box::new(RecordSink(worker.index, self.out.clone())))
    }
}
