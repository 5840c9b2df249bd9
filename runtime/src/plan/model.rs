//! The typed plan: what a frontend hands the host.

use serde::{Deserialize, Serialize};

/// Resource limits of one WASM function (see [`crate::wasm`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WasmLimits {
    /// Linear memory the instance may grow to, in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    /// Wall-clock budget of one batch call, in milliseconds (enforced by epoch interruption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
}

/// The only plan format version this host reads.
pub const PLAN_VERSION: u64 = 1;

/// A whole dataflow: an ordered list of steps, each consuming the stream the step before it made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Always [`PLAN_VERSION`].
    pub plan_version: u64,
    /// How items are encoded where they leave Python: only `"msgpack"` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    /// The steps, in the order the frontend added them.
    pub steps: Vec<Step>,
}

/// What a WASM function may reach beyond its items; nothing unless granted here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WasmGrants {
    /// The real wall and monotonic clocks (otherwise both read zero).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub clock: bool,
    /// Environment variables passed through from the host, by name (unset ones are skipped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Host directories the guest may read, each seen at a guest path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_dirs: Vec<DirGrant>,
}

/// A host directory mounted read-only into a guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirGrant {
    /// The directory on the host.
    pub host: String,
    /// Where the guest sees it (e.g. `/data`).
    pub guest: String,
}

/// Where a step's user function lives. Never code: a reference the host resolves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FnRef {
    /// A Python callable the frontend registered with the host under `ref`.
    Python {
        /// The registry key.
        #[serde(rename = "ref")]
        reference: String,
        /// The callable's `__name__`, for error messages.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// A function built into the host.
    Builtin {
        /// One of [`crate::plan::BUILTIN_FUNCTIONS`].
        name: String,
    },
    /// An export of a WebAssembly component.
    Wasm {
        /// Path or content digest of the component.
        component: String,
        /// The step's name in the component (what `describe` lists).
        export: String,
        /// Memory cap and CPU deadline; defaults apply to what is left out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limits: Option<WasmLimits>,
        /// Clock, environment and directories the guest may use; none by default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grants: Option<WasmGrants>,
    },
}

impl FnRef {
    /// A short human label: `lower`, `builtin add`, `tokenize in steps.wasm`.
    pub fn label(&self) -> String {
        match self {
            FnRef::Python { name: Some(n), .. } => n.clone(),
            FnRef::Python { reference, .. } => reference.clone(),
            FnRef::Builtin { name } => format!("builtin {name}"),
            FnRef::Wasm { component, export, .. } => format!("{export} in {component}"),
        }
    }
}

/// Where an `input` step reads from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceSpec {
    /// A Python `PartitionedInput` or `DynamicInput` object registered under `ref`.
    Python {
        /// The registry key.
        #[serde(rename = "ref")]
        reference: String,
        /// True for `PartitionedInput`, false for `DynamicInput`.
        partitioned: bool,
        /// The input's class name, for messages.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class: Option<String>,
    },
    /// Lines of a text file, read natively (`FileInput` as-is): ends at EOF or the first empty line.
    File {
        /// The file to read.
        path: String,
    },
    /// Lines of every file in a directory whose name matches `glob` (`DirInput` as-is).
    Dir {
        /// The directory.
        path: String,
        /// Shell-style pattern for file names (`*`, `?`); `*` when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        glob: Option<String>,
    },
    /// Items written into the plan itself (JSON values; arrays become tuples), for tests and demos.
    Testing {
        /// The items, in order.
        items: Vec<serde_json::Value>,
    },
    /// Messages of Kafka topics as `(key, value)` byte pairs (`KafkaInput`): one partition
    /// per topic partition, named `"{index}-{topic}"`; positions are kept in snapshots.
    Kafka {
        /// `host:port` of the bootstrap brokers.
        brokers: Vec<String>,
        /// The topics to read.
        topics: Vec<String>,
        /// Keep waiting for new messages (true), or end at each partition's end (false).
        #[serde(default = "yes")]
        tail: bool,
        /// Where a partition without a snapshot starts: -2 the beginning, -1 the end, or an offset.
        #[serde(default = "beginning")]
        starting_offset: i64,
        /// Extra librdkafka settings.
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        add_config: std::collections::BTreeMap<String, String>,
    },
}

fn yes() -> bool {
    true
}

fn beginning() -> i64 {
    -2
}

/// Where an `output` step writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkSpec {
    /// A Python `PartitionedOutput` or `DynamicOutput` object registered under `ref`.
    Python {
        /// The registry key.
        #[serde(rename = "ref")]
        reference: String,
        /// True for `PartitionedOutput`, false for `DynamicOutput`.
        partitioned: bool,
        /// The output's class name, for messages.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        class: Option<String>,
    },
    /// Each item's `str()` on its own line of standard output (`StdOutput` as-is).
    /// (Braces so that serde refuses unknown fields here too.)
    Stdout {},
    /// Each item's `str()` on its own line of a file, which is created or truncated.
    File {
        /// The file to write.
        path: String,
    },
    /// `(key, value)` byte pairs produced to a Kafka topic (`KafkaOutput`), flushed when
    /// each epoch closes.
    Kafka {
        /// `host:port` of the bootstrap brokers.
        brokers: Vec<String>,
        /// The topic to write.
        topic: String,
        /// Extra librdkafka settings.
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        add_config: std::collections::BTreeMap<String, String>,
    },
}

/// How a windowing step tells time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClockSpec {
    /// Wall-clock time at processing.
    System {},
    /// Time read from each item; the watermark trails the newest item by `wait_for_system_duration_ms`.
    Event {
        /// Returns the item's tz-aware datetime.
        dt_getter: FnRef,
        /// How long to wait for late items, in milliseconds.
        wait_for_system_duration_ms: i64,
    },
}

/// Which windows an item falls into.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum WindowSpec {
    /// Back-to-back windows of `length_ms`, aligned to `align_to`.
    Tumbling {
        /// Window length in milliseconds (> 0).
        length_ms: i64,
        /// RFC 3339 instant the window grid is anchored to.
        align_to: String,
    },
    /// Windows of `length_ms` starting every `offset_ms`, aligned to `align_to`.
    Sliding {
        /// Window length in milliseconds (> 0).
        length_ms: i64,
        /// Distance between window starts in milliseconds (> 0).
        offset_ms: i64,
        /// RFC 3339 instant the window grid is anchored to.
        align_to: String,
    },
    /// Sessions of items closer than `gap_ms` to each other.
    Session {
        /// Inactivity gap in milliseconds (> 0).
        gap_ms: i64,
    },
}

/// One step of the plan. `step_id` is the user's id for inputs, outputs and stateful steps,
/// and a generated one (`map#2`: op, `#`, step index) for the rest, so that every error can name its step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
#[allow(missing_docs)] // fields are documented in docs/plan.md, one table per op
pub enum Step {
    Input { step_id: String, source: SourceSpec },
    Output { step_id: String, sink: SinkSpec },
    Map { step_id: String, mapper: FnRef },
    FlatMap { step_id: String, mapper: FnRef },
    Filter { step_id: String, predicate: FnRef },
    FilterMap { step_id: String, mapper: FnRef },
    Inspect { step_id: String, inspector: FnRef },
    InspectEpoch { step_id: String, inspector: FnRef },
    Reduce { step_id: String, reducer: FnRef, is_complete: FnRef },
    StatefulMap { step_id: String, builder: FnRef, mapper: FnRef },
    ReduceWindow { step_id: String, clock: ClockSpec, window: WindowSpec, reducer: FnRef },
    FoldWindow { step_id: String, clock: ClockSpec, window: WindowSpec, builder: FnRef, folder: FnRef },
    CollectWindow { step_id: String, clock: ClockSpec, window: WindowSpec },
}

impl Step {
    /// The step's id.
    pub fn step_id(&self) -> &str {
        match self {
            Step::Input { step_id, .. }
            | Step::Output { step_id, .. }
            | Step::Map { step_id, .. }
            | Step::FlatMap { step_id, .. }
            | Step::Filter { step_id, .. }
            | Step::FilterMap { step_id, .. }
            | Step::Inspect { step_id, .. }
            | Step::InspectEpoch { step_id, .. }
            | Step::Reduce { step_id, .. }
            | Step::StatefulMap { step_id, .. }
            | Step::ReduceWindow { step_id, .. }
            | Step::FoldWindow { step_id, .. }
            | Step::CollectWindow { step_id, .. } => step_id,
        }
    }

    /// The operator name as users write it (`reduce_window`).
    pub fn op(&self) -> &'static str {
        match self {
            Step::Input { .. } => "input",
            Step::Output { .. } => "output",
            Step::Map { .. } => "map",
            Step::FlatMap { .. } => "flat_map",
            Step::Filter { .. } => "filter",
            Step::FilterMap { .. } => "filter_map",
            Step::Inspect { .. } => "inspect",
            Step::InspectEpoch { .. } => "inspect_epoch",
            Step::Reduce { .. } => "reduce",
            Step::StatefulMap { .. } => "stateful_map",
            Step::ReduceWindow { .. } => "reduce_window",
            Step::FoldWindow { .. } => "fold_window",
            Step::CollectWindow { .. } => "collect_window",
        }
    }

    /// True for steps that need `(key, value)` items routed by key.
    pub fn is_stateful(&self) -> bool {
        matches!(
            self,
            Step::Reduce { .. }
                | Step::StatefulMap { .. }
                | Step::ReduceWindow { .. }
                | Step::FoldWindow { .. }
                | Step::CollectWindow { .. }
        )
    }

    /// Every function reference of the step, with the role it plays (`mapper`, `reducer`...).
    pub fn functions(&self) -> Vec<(&'static str, &FnRef)> {
        let mut fns = match self {
            Step::Input { .. } | Step::Output { .. } | Step::CollectWindow { .. } => vec![],
            Step::Map { mapper, .. } | Step::FlatMap { mapper, .. } | Step::FilterMap { mapper, .. } => {
                vec![("mapper", mapper)]
            }
            Step::Filter { predicate, .. } => vec![("predicate", predicate)],
            Step::Inspect { inspector, .. } | Step::InspectEpoch { inspector, .. } => {
                vec![("inspector", inspector)]
            }
            Step::Reduce { reducer, is_complete, .. } => {
                vec![("reducer", reducer), ("is_complete", is_complete)]
            }
            Step::StatefulMap { builder, mapper, .. } => vec![("builder", builder), ("mapper", mapper)],
            Step::ReduceWindow { reducer, .. } => vec![("reducer", reducer)],
            Step::FoldWindow { builder, folder, .. } => vec![("builder", builder), ("folder", folder)],
        };
        if let Step::ReduceWindow { clock, .. } | Step::FoldWindow { clock, .. } | Step::CollectWindow { clock, .. } = self {
            if let ClockSpec::Event { dt_getter, .. } = clock {
                fns.push(("dt_getter", dt_getter));
            }
        }
        fns
    }

    /// Like [`Step::functions`], mutable (to rewrite references, e.g. resolve component paths).
    pub fn functions_mut(&mut self) -> Vec<&mut FnRef> {
        let (mut fns, clock): (Vec<&mut FnRef>, Option<&mut ClockSpec>) = match self {
            Step::Input { .. } | Step::Output { .. } => (vec![], None),
            Step::CollectWindow { clock, .. } => (vec![], Some(clock)),
            Step::Map { mapper, .. } | Step::FlatMap { mapper, .. } | Step::FilterMap { mapper, .. } => (vec![mapper], None),
            Step::Filter { predicate, .. } => (vec![predicate], None),
            Step::Inspect { inspector, .. } | Step::InspectEpoch { inspector, .. } => (vec![inspector], None),
            Step::Reduce { reducer, is_complete, .. } => (vec![reducer, is_complete], None),
            Step::StatefulMap { builder, mapper, .. } => (vec![builder, mapper], None),
            Step::ReduceWindow { reducer, clock, .. } => (vec![reducer], Some(clock)),
            Step::FoldWindow { builder, folder, clock, .. } => (vec![builder, folder], Some(clock)),
        };
        if let Some(ClockSpec::Event { dt_getter, .. }) = clock {
            fns.push(dt_getter);
        }
        fns
    }

    /// `'sum' (reduce_window)`: how messages name a step.
    pub fn describe(&self) -> String {
        format!("'{}' ({})", self.step_id(), self.op())
    }
}
