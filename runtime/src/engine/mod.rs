//! The engine: a plan becomes a timely dataflow with `u64` epochs, on as many workers as asked.

mod build;
mod context;
mod exchange;
mod host;
mod input;
mod mesh;
mod route;
mod run;
mod stateful;
mod stateless;

pub use context::WorkerContext;
pub use host::{restored_part, Chain, GatherLimit, ItemRouter, KeyBy, KeyedLogic, Poll, Restored, Sink, Source, StepHost, WorkerInfo};
pub use input::SOURCE_BATCH;
pub use route::{owner, owner_by_hash, route_hash, some_worker_idle};
pub use run::{run_cluster, run_single, run_threads, run_worker, ClusterLayout, RunConfig};
