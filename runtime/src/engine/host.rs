//! The seam between the engine and whatever runs step code (Python today, WASM next).
//!
//! The engine owns the dataflow shape, epochs, routing and timers; a [`StepHost`] builds the
//! objects that run user code for each step. Every call takes whole batches so that a host can
//! pay its entry cost (a GIL acquisition, a component call) once per batch.

use std::time::Instant;

use crate::error::StepError;
use crate::item::{Item, KeyedItem};
use crate::plan::{SinkSpec, SourceSpec, Step};
use crate::recovery::{ChangeWriter, KeyChange};

/// The snapshots a resumed run hands a step: `(key or partition, state)`, empty on a fresh
/// start.
pub type Restored<'a> = &'a [(String, Vec<u8>)];

/// The snapshot a resumed run saved for partition `part`, decoded; `None` on a fresh start
/// or when `part` saved nothing. The error is the decoder's, for a step error to carry.
pub fn restored_part<T: serde::de::DeserializeOwned>(restored: Restored<'_>, part: &str) -> Result<Option<T>, String> {
    restored.iter().find(|(p, _)| p == part).map(|(_, state)| crate::recovery::decode(state)).transpose()
}

/// Which worker is building, out of how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerInfo {
    /// This worker's index, `0..count`.
    pub index: usize,
    /// Workers in the whole cluster.
    pub count: usize,
}

/// What a poll of a source found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Poll {
    /// Items may be ready right away: poll again soon.
    Ready,
    /// Nothing now: poll again after a short pause.
    Idle,
    /// No more items, ever.
    Done,
}

/// A worker's share of an `input` step.
pub trait Source {
    /// Appends at most `max` items to `out`.
    fn poll(&mut self, out: &mut Vec<Item>, max: usize) -> Result<Poll, StepError>;
    /// Called once after [`Poll::Done`].
    fn close(&mut self) -> Result<(), StepError>;
    /// How many items to take per poll. Sources whose items are cheap to make take more,
    /// so that a stateful step downstream sees each key fewer times per item.
    fn batch_size(&self) -> usize {
        super::input::SOURCE_BATCH
    }
    /// Whether some worker owns no partition of this input, so would sit idle; the
    /// engine then spreads the input's items round-robin over all workers.
    fn leaves_workers_idle(&self) -> bool {
        false
    }
    /// The position of every partition this worker reads, to resume after the last item
    /// polled. A partition that ended reports its final position once more, then nothing.
    fn snapshot(&mut self) -> Result<Vec<KeyChange>, StepError> {
        Ok(Vec::new())
    }
}

/// A fused run of stateless steps (`map`, `filter`, ...), applied batch by batch.
pub trait Chain {
    /// Runs every item of `input` (drained) through the chain, appending results to `out`.
    fn process(
        &mut self,
        epoch: u64,
        input: &mut Vec<Item>,
        out: &mut Vec<Item>,
    ) -> Result<(), StepError>;
    /// How much the chain wants in one call when it gains from several batches at once, or
    /// `None` (the default) to process each batch as it comes. A chain that folds its output
    /// per key (see [`crate::native::combine_before`]) hands on fewer pairs the more items a
    /// call sees.
    fn gather_limit(&self) -> Option<GatherLimit> {
        None
    }
}

/// The most a gathering [`Chain`] is given in one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatherLimit {
    /// Items, at least 1 (one batch at a time).
    pub items: usize,
    /// Bytes of items, as [`Item::approx_bytes`] counts them.
    pub bytes: usize,
}

/// Splits `(key, value)` items for a stateful step, checking their shape.
pub trait KeyBy {
    /// Drains `input` into `out`.
    fn key_by(&mut self, input: &mut Vec<Item>, out: &mut Vec<KeyedItem>) -> Result<(), StepError>;
}

/// The per-key logic of a stateful step on one worker (it holds the state of all its keys).
pub trait KeyedLogic {
    /// Handles items of `epoch`, in order, appending emitted items to `out`.
    fn on_items(
        &mut self,
        epoch: u64,
        items: &mut Vec<KeyedItem>,
        out: &mut Vec<Item>,
    ) -> Result<(), StepError>;
    /// Called when the time from [`KeyedLogic::next_wake`] has come. Logic without timers
    /// (`reduce`, `stateful_map`) keeps the default, which does nothing.
    fn on_wake(&mut self, _out: &mut Vec<Item>) -> Result<(), StepError> {
        Ok(())
    }
    /// When the logic next needs [`KeyedLogic::on_wake`], if ever.
    fn next_wake(&self) -> Option<Instant> {
        None
    }
    /// The input has ended: emit whatever ends with it. By default nothing: as in 0.16,
    /// `reduce` keeps incomplete accumulators rather than flushing them.
    fn on_eof(&mut self, _out: &mut Vec<Item>) -> Result<(), StepError> {
        Ok(())
    }
    /// From now on, note which keys change, so [`KeyedLogic::snapshot`] can report them.
    fn track_changes(&mut self);
    /// Writes the state of every key that changed since the last call (or that it has
    /// none now).
    fn snapshot(&mut self, out: &mut ChangeWriter) -> Result<(), StepError>;
    /// Puts back one key's state from a snapshot, before any item arrives.
    fn restore(&mut self, key: &str, state: &[u8]) -> Result<(), StepError>;
}

/// The routing hash of each item a partitioned output writes (see [`Sink::router`]).
pub type ItemRouter = Box<dyn FnMut(&Item) -> u64>;

/// A worker's share of an `output` step.
pub trait Sink {
    /// Writes a batch; the items then continue downstream unchanged.
    fn write(&mut self, epoch: u64, items: &mut Vec<Item>) -> Result<(), StepError>;
    /// Called once when the stream ends.
    fn close(&mut self) -> Result<(), StepError>;
    /// For a partitioned output: the routing hash of an item (the route hash of its
    /// partition's name), so that each item reaches the worker owning its partition.
    fn router(&self) -> Option<ItemRouter> {
        None
    }
    /// The position of each part this worker writes, for a resumed run to continue from.
    fn snapshot(&mut self) -> Result<Vec<KeyChange>, StepError> {
        Ok(Vec::new())
    }
}

/// Builds the code-running parts of each step. One host serves all workers of a process.
pub trait StepHost: Send + Sync + 'static {
    /// The source of an `input` step on this worker.
    fn source(
        &self,
        step_id: &str,
        spec: &SourceSpec,
        worker: WorkerInfo,
        restored: Restored<'_>,
    ) -> Result<Box<dyn Source>, StepError>;
    /// A chain of consecutive stateless steps, and the step it feeds (a host may prepare
    /// items for it, e.g. combine values for an associative reducer).
    fn chain(&self, steps: &[Step], next: Option<&Step>) -> Result<Box<dyn Chain>, StepError>;
    /// The key splitter in front of a stateful step.
    fn key_by(&self, step: &Step) -> Result<Box<dyn KeyBy>, StepError>;
    /// The logic of a stateful step.
    fn keyed_logic(
        &self,
        step: &Step,
        worker: WorkerInfo,
    ) -> Result<Box<dyn KeyedLogic>, StepError>;
    /// The sink of an `output` step on this worker.
    fn sink(
        &self,
        step_id: &str,
        spec: &SinkSpec,
        worker: WorkerInfo,
        restored: Restored<'_>,
    ) -> Result<Box<dyn Sink>, StepError>;
    /// Called by the worker loop now and then; an error (e.g. Ctrl-C) stops the run.
    fn check_interrupt(&self) -> Result<(), crate::error::RunError> {
        Ok(())
    }

    /// Runs a whole worker (`body`) on its thread. A host that calls into a runtime from
    /// worker threads can set that thread up once here rather than on every call.
    fn run_worker_thread(&self, body: &mut dyn FnMut() -> Result<(), crate::error::RunError>) -> Result<(), crate::error::RunError> {
        body()
    }
}
