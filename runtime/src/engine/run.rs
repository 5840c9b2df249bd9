//! Running a plan: timely workers, the worker loop, failure and interrupt handling.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::{Input, Inspect};
use timely::dataflow::ProbeHandle;
use timely::worker::Worker;

use super::build::{build_dataflow, BuildContext, RecoveryBuild};
use super::context::WorkerContext;
use super::host::{StepHost, WorkerInfo};
use crate::error::RunError;
use crate::plan::Plan;
use crate::recovery::commit::Committer;
use crate::recovery::{load, RecoveryConfig, SnapshotLog};

/// How a run is laid out in time and across workers.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Wall time per epoch (0.16's default is 10 s).
    pub epoch_interval: Duration,
    /// Where snapshots go, when recovery is on.
    pub recovery: Option<RecoveryConfig>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            epoch_interval: Duration::from_secs(10),
            recovery: None,
        }
    }
}

/// How often the worker loop asks the host whether the user interrupted the run.
const INTERRUPT_CHECK: Duration = Duration::from_millis(50);

/// Runs `plan` on one worker in the calling thread, until every input is exhausted or a step fails.
pub fn run_single(
    plan: Arc<Plan>,
    host: Arc<dyn StepHost>,
    config: RunConfig,
) -> Result<(), RunError> {
    let abort = Arc::new(AtomicBool::new(false));
    timely::execute_directly(move |worker| run_worker(worker, &plan, &*host, &config, abort, false))
}

/// Runs `plan` on `threads` worker threads of this process. The calling thread waits,
/// asking `host` now and then whether the user interrupted the run (Ctrl-C is only
/// delivered to the main thread), and stops every worker if so.
pub fn run_threads(plan: Arc<Plan>, host: Arc<dyn StepHost>, config: RunConfig, threads: usize) -> Result<(), RunError> {
    run_workers(Workers::Threads(threads), plan, host, config)
}

/// Where this process sits in a cluster of processes.
#[derive(Debug, Clone)]
pub struct ClusterLayout {
    /// This process's index into `addresses`.
    pub process: usize,
    /// `host:port` of every process, in process order.
    pub addresses: Vec<String>,
    /// Worker threads per process.
    pub threads: usize,
    /// How long to wait for every process to connect before giving up.
    pub connect_timeout: Duration,
}

/// Runs this process's share of `plan` in a cluster of processes connected by TCP
/// (timely's communication layer). Waits at most `connect_timeout` for the other
/// processes, and never writes to stdout, which is the user's.
pub fn run_cluster(plan: Arc<Plan>, host: Arc<dyn StepHost>, config: RunConfig, layout: ClusterLayout) -> Result<(), RunError> {
    if layout.process >= layout.addresses.len() {
        return Err(setup_error(format!(
            "process id {} is not below the number of addresses ({})",
            layout.process,
            layout.addresses.len()
        )));
    }
    run_workers(Workers::Cluster(&layout), plan, host, config)
}

fn setup_error(message: String) -> RunError {
    RunError::Cluster(message)
}

/// Where a run's workers are.
enum Workers<'a> {
    /// Threads of this process only.
    Threads(usize),
    /// Threads of this process, in a cluster of processes.
    Cluster(&'a ClusterLayout),
}

fn run_workers(workers: Workers<'_>, plan: Arc<Plan>, host: Arc<dyn StepHost>, config: RunConfig) -> Result<(), RunError> {
    let threads = match workers {
        Workers::Threads(n) => n,
        Workers::Cluster(layout) => layout.threads,
    };
    let abort = Arc::new(AtomicBool::new(false));
    let in_cluster = matches!(workers, Workers::Cluster(_));
    let (finished, finishes) = mpsc::channel::<()>();
    let body = {
        let (abort, host) = (abort.clone(), host.clone());
        move |worker: &mut Worker| {
            // Sent when the worker returns or unwinds, so the wait below always ends.
            let _finished = Finished(finished.clone());
            host.run_worker_thread(&mut || run_worker(worker, &plan, &*host, &config, abort.clone(), in_cluster))
        }
    };
    let guards = match workers {
        Workers::Threads(n) => timely::execute(timely::Config::process(n), body).map_err(setup_error)?,
        Workers::Cluster(layout) => connect(body, layout)?,
    };
    // Asleep until a worker finishes, waking every INTERRUPT_CHECK to ask the host about
    // Ctrl-C: asking a Python host takes the GIL, which a worker running Python holds.
    let mut interrupted = None;
    let mut running = threads;
    while running > 0 {
        match finishes.recv_timeout(INTERRUPT_CHECK) {
            Ok(()) => running -= 1,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if interrupted.is_none() {
            if let Err(e) = host.check_interrupt() {
                abort.store(true, Ordering::SeqCst);
                interrupted = Some(e);
            }
        }
    }
    let mut first_error = None;
    let mut peer_failed = false;
    for result in guards.join() {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(RunError::PeerFailed)) => peer_failed = true,
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            // A lost connection panics timely's network threads, and then the workers.
            Err(_) if in_cluster => peer_failed = true,
            Err(panic) => {
                first_error.get_or_insert(RunError::Step(crate::error::StepError::message(
                    "", "worker", panic,
                )));
            }
        }
    }
    match (first_error, interrupted) {
        (Some(e), _) => Err(e),
        (None, Some(e)) => Err(e),
        (None, None) if peer_failed => Err(RunError::PeerFailed),
        (None, None) => Ok(()),
    }
}

/// Connects to every process of the cluster, then starts this process's workers on
/// timely's communication layer over those connections.
fn connect<F>(body: F, layout: &ClusterLayout) -> Result<timely::communication::WorkerGuards<Result<(), RunError>>, RunError>
where
    F: Fn(&mut Worker) -> Result<(), RunError> + Send + Sync + 'static,
{
    use timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
    use timely::communication::allocator::{AllocatorBuilder, ProcessBuilder};

    let sockets = super::mesh::connect_mesh(&layout.addresses, layout.process, layout.connect_timeout).map_err(setup_error)?;
    let hooks = timely::communication::Hooks::default();
    let local = ProcessBuilder::new_typed_vector(layout.threads, hooks.refill.clone(), hooks.spill.clone());
    let (builders, guard) = initialize_networking_from_sockets(local, sockets, layout.process, layout.threads, hooks)
        .map_err(|e| setup_error(format!("cannot start the cluster's network threads: {e}")))?;
    let builders = builders.into_iter().map(AllocatorBuilder::Tcp).collect();
    timely::execute::execute_from(builders, Box::new(guard), timely::WorkerConfig::default(), body).map_err(setup_error)
}

/// Tells the waiting main thread that one worker is done, when dropped.
struct Finished(Sender<()>);

impl Drop for Finished {
    fn drop(&mut self) {
        // The receiver is gone only once the wait is over.
        let _ = self.0.send(());
    }
}

/// How long a failing worker keeps its network going after telling the others to stop.
const ABORT_FLUSH: Duration = Duration::from_millis(200);

/// The body of one timely worker. With `peers_elsewhere` (workers in other processes), a
/// failing worker keeps its network going a moment so that its "stop" reaches them; the
/// threads of one process share `abort` and need no such wait.
pub fn run_worker(
    worker: &mut Worker,
    plan: &Plan,
    host: &dyn StepHost,
    config: &RunConfig,
    abort: Arc<AtomicBool>,
    peers_elsewhere: bool,
) -> Result<(), RunError> {
    let ctx = Rc::new(WorkerContext::new(abort.clone()));
    let probe = ProbeHandle::new();
    let info = WorkerInfo {
        index: worker.index(),
        count: worker.peers(),
    };
    // A tiny dataflow of its own carries "stop" to every worker of every process: the
    // abort flag only reaches the threads of this one.
    let told_to_stop = Rc::new(Cell::new(false));
    let mut stop_signal = Some(worker.dataflow::<u64, _, _>(|scope| {
        let (input, stream) = scope.new_input::<Vec<()>>();
        let told = told_to_stop.clone();
        stream.broadcast().inspect_core(move |event| {
            if matches!(event, Ok((_, signals)) if !signals.is_empty()) {
                told.set(true);
            }
        });
        input
    }));
    let recovery = match &config.recovery {
        Some(rc) => match load(worker, rc) {
            Ok(resume) => {
                let log = Rc::new(SnapshotLog::default());
                let committer = Committer {
                    store: resume.store,
                    execution: resume.execution,
                    worker: info.index,
                    log: log.clone(),
                    probe: probe.clone(),
                };
                Some(std::cell::RefCell::new(RecoveryBuild { start: resume.epoch, state: resume.state, log, committer: Some(committer) }))
            }
            Err(e) => {
                abort.store(true, Ordering::SeqCst);
                drop_all(worker);
                return Err(RunError::Recovery(e.0));
            }
        },
        None => None,
    };
    let dataflow_id = worker.next_dataflow_index();
    let built = worker.dataflow::<u64, _, _>(|scope| {
        let b = BuildContext {
            plan,
            host,
            worker: info,
            ctx: ctx.clone(),
            probe: probe.clone(),
            epoch_interval: config.epoch_interval,
            recovery,
        };
        let built = build_dataflow(scope, &b);
        if let Some(r) = &b.recovery {
            for step_id in r.borrow().state.keys() {
                crate::log::warn(&format!(
                    "the recovery store has snapshots for step {step_id:?}, which this dataflow does not have; they are ignored"
                ));
            }
        }
        built
    });
    if let Err(e) = built {
        abort.store(true, Ordering::SeqCst);
        drop_all(worker);
        return Err(RunError::Step(e));
    }
    let mut last_check = Instant::now();
    let mut interrupted = None;
    while worker.has_dataflows() && !abort.load(Ordering::Relaxed) {
        worker.step_or_park(Some(INTERRUPT_CHECK));
        if told_to_stop.get() {
            abort.store(true, Ordering::SeqCst);
        }
        if stop_signal.is_some() && !worker.installed_dataflows().contains(&dataflow_id) {
            // Done: closing the stop signal's input lets its dataflow finish too.
            stop_signal = None;
        }
        if last_check.elapsed() >= INTERRUPT_CHECK {
            last_check = Instant::now();
            if let Err(e) = host.check_interrupt() {
                abort.store(true, Ordering::SeqCst);
                interrupted = Some(e);
            }
        }
    }
    if !abort.load(Ordering::SeqCst) {
        return Ok(());
    }
    let error = ctx.take_error();
    let should_tell = peers_elsewhere && (error.is_some() || interrupted.is_some());
    if let (Some(signal), true) = (stop_signal.as_mut(), should_tell) {
        signal.send(());
        signal.flush();
        let until = Instant::now() + ABORT_FLUSH;
        while Instant::now() < until {
            worker.step_or_park(Some(Duration::from_millis(5)));
        }
    }
    drop(stop_signal);
    drop_all(worker);
    match (error, interrupted) {
        (Some(e), _) => Err(RunError::Step(e)),
        (None, Some(e)) => Err(e),
        (None, None) => Err(RunError::PeerFailed),
    }
}

fn drop_all(worker: &mut Worker) {
    for id in worker.installed_dataflows() {
        worker.drop_dataflow(id);
    }
}
