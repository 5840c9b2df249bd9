//! A named step as the component sees it: its kind and its function over encoded items.
//!
//! The attribute macros build one [`StepDef`] per function, as a `static`; the kind is the
//! [`StepBody`] variant, so a function can only be dispatched as the kind it was declared.

use std::any::TypeId;

use crate::held::Held;
use crate::lane::{Lane, LaneTypes};
use crate::wit::{Batch, StepKind};

/// A step function applied to one encoded item: what it produces is encoded onto `out`,
/// its verdict (a filter's keep, an event time) is returned as `R`.
pub trait ItemStep<R>: Sync {
    /// Decodes `item`, calls the function, encodes its outputs onto `out`.
    fn run(&self, step: &str, item: &[u8], out: &mut Batch) -> Result<R, String>;

    /// What a producing step takes and gives as Rust types; none for a step whose items
    /// always go through the codec.
    fn lane_types(&self) -> Option<LaneTypes> {
        None
    }

    /// Runs over a whole chain stage: `input` is typed only when [`lane_types`](Self::lane_types)
    /// matched the stage before, and the output is typed when `typed_out` asks for it (again
    /// only for a step with lane types). Returns the output and a spent batch to reuse.
    fn run_lane(&self, step: &str, input: Lane, typed_out: bool, spare: Batch) -> Result<(Lane, Option<Batch>), String> {
        debug_assert!(!typed_out, "a step without lane types was asked for typed output");
        let Lane::Encoded(items) = input else {
            return Err(format!("step `{step}`: was handed decoded items it cannot take"));
        };
        let mut out = spare;
        out.clear();
        for item in items.iter() {
            self.run(step, item, &mut out)?;
        }
        Ok((Lane::Encoded(out), Some(items)))
    }
}

/// A builder: makes a fresh state or accumulator.
pub trait BuildStep: Sync {
    /// Calls the builder.
    fn build(&self, step: &str) -> Result<Held, String>;
}

/// A reducer or folder: folds one encoded value into an accumulator.
pub trait FoldStep: Sync {
    /// Calls `f(acc, value)`.
    fn fold(&self, step: &str, acc: Held, value: &[u8]) -> Result<Held, String>;
    /// Folds every value in turn, keeping the accumulator typed in between (no boxing or
    /// encoding per value).
    fn fold_all(
        &self,
        step: &str,
        acc: Held,
        values: &mut dyn Iterator<Item = &[u8]>,
    ) -> Result<Held, String>;
    /// The Rust types of a `(key, value)` pair this step folds (the key a `String` or a
    /// `CompactString`), so a chain can hand its pairs over without the codec.
    fn pair_types(&self) -> [TypeId; 2];
    /// Combines the `(key, value)` pairs of all `lanes` per key: each key's values folded
    /// together in arrival order, one `(key, combined)` pair per key onto `out`, keys in
    /// order of first appearance. Only offered for reducers declared associative.
    fn combine(&self, step: &str, lanes: &mut dyn Iterator<Item = Lane>, out: &mut Batch) -> Result<(), String>;
    /// Folds every value into the encoded accumulator `acc` and encodes the result onto
    /// `out`: decoded once, never boxed, so a window's share of a batch costs no allocation
    /// beyond what the function itself makes.
    fn fold_encoded(
        &self,
        step: &str,
        acc: &[u8],
        values: &mut dyn Iterator<Item = &[u8]>,
        out: &mut Batch,
    ) -> Result<(), String>;
}

/// A stateful mapper: gives the next state (none: forget the key) and one output.
pub trait StatefulMapStep: Sync {
    /// Calls `f(state, value)`; the output is encoded onto `out`.
    fn map_state(
        &self,
        step: &str,
        state: Held,
        value: &[u8],
        out: &mut Batch,
    ) -> Result<Option<Held>, String>;
}

/// An `is_complete` check on an accumulator.
pub trait IsCompleteStep: Sync {
    /// Calls `f(&acc)`.
    fn check(&self, step: &str, acc: &Held) -> Result<bool, String>;
}

/// The kind of a step and its type-erased function.
#[derive(Clone, Copy)]
pub enum StepBody {
    /// One output per input.
    Map(&'static dyn ItemStep<()>),
    /// Any number of outputs per input.
    FlatMap(&'static dyn ItemStep<()>),
    /// Keep the input or not.
    Filter(&'static dyn ItemStep<bool>),
    /// An output or none per input.
    FilterMap(&'static dyn ItemStep<()>),
    /// Sees each input.
    Inspect(&'static dyn ItemStep<()>),
    /// The mapper of a `stateful_map`.
    StatefulMap(&'static dyn StatefulMapStep),
    /// `fn(acc, value) -> acc`, for `reduce` and `reduce_window`.
    Reducer(&'static dyn FoldStep),
    /// The completion check of a `reduce`.
    IsComplete(&'static dyn IsCompleteStep),
    /// `fn() -> state`, for `stateful_map` and `fold_window`.
    Builder(&'static dyn BuildStep),
    /// `fn(acc, value) -> acc`, for `fold_window`.
    Folder(&'static dyn FoldStep),
    /// An item's event time in milliseconds since the Unix epoch.
    EventTime(&'static dyn ItemStep<i64>),
}

impl StepBody {
    /// The WIT kind this body implements.
    pub fn kind(&self) -> StepKind {
        match self {
            StepBody::Map(_) => StepKind::Map,
            StepBody::FlatMap(_) => StepKind::FlatMap,
            StepBody::Filter(_) => StepKind::Filter,
            StepBody::FilterMap(_) => StepKind::FilterMap,
            StepBody::Inspect(_) => StepKind::Inspect,
            StepBody::StatefulMap(_) => StepKind::StatefulMap,
            StepBody::Reducer(_) => StepKind::Reducer,
            StepBody::IsComplete(_) => StepKind::IsComplete,
            StepBody::Builder(_) => StepKind::Builder,
            StepBody::Folder(_) => StepKind::Folder,
            StepBody::EventTime(_) => StepKind::EventTime,
        }
    }
}

/// One step a component offers: the name plans use as `export`, and its body.
pub struct StepDef {
    /// The function's name.
    pub name: &'static str,
    /// Its kind and function.
    pub body: StepBody,
    /// A reducer whose author declared `f(f(a, b), c) == f(a, f(b, c))`
    /// (`#[reducer(associative)]`): a host may then fold values together before they reach
    /// the accumulator.
    pub associative: bool,
}

/// The kind with its article, as error messages say it: "a map", "an inspect".
pub fn kind_phrase(kind: StepKind) -> &'static str {
    match kind {
        StepKind::Map => "a map",
        StepKind::FlatMap => "a flat-map",
        StepKind::Filter => "a filter",
        StepKind::FilterMap => "a filter-map",
        StepKind::Inspect => "an inspect",
        StepKind::StatefulMap => "a stateful-map",
        StepKind::Reducer => "a reducer",
        StepKind::IsComplete => "an is-complete",
        StepKind::Builder => "a builder",
        StepKind::Folder => "a folder",
        StepKind::EventTime => "an event-time",
    }
}
