//! Running a plan: timely workers, the worker loop, failure and interrupt handling.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use timely::dataflow::ProbeHandle;
use timely::worker::Worker;

use super::build::{build_dataflow, BuildContext};
use super::context::WorkerContext;
use super::host::{StepHost, WorkerInfo};
use crate::error::RunError;
use crate::plan::Plan;

/// How a run is laid out in time and across workers.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Wall time per epoch (0.16's default is 10 s).
    pub epoch_interval: Duration,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig { epoch_interval: Duration::from_secs(10) }
    }
}

/// How often the worker loop asks the host whether the user interrupted the run.
const INTERRUPT_CHECK: Duration = Duration::from_millis(50);

/// Runs `plan` on one worker in the calling thread, until every input is exhausted or a step fails.
pub fn run_single(plan: Arc<Plan>, host: Arc<dyn StepHost>, config: RunConfig) -> Result<(), RunError> {
    let abort = Arc::new(AtomicBool::new(false));
    timely::execute_directly(move |worker| run_worker(worker, &plan, &*host, &config, abort))
}

/// Runs `plan` on `threads` worker threads of this process. The calling thread waits,
/// asking `host` now and then whether the user interrupted the run (Ctrl-C is only
/// delivered to the main thread), and stops every worker if so.
pub fn run_threads(plan: Arc<Plan>, host: Arc<dyn StepHost>, config: RunConfig, threads: usize) -> Result<(), RunError> {
    let abort = Arc::new(AtomicBool::new(false));
    let running = Arc::new(AtomicUsize::new(threads));
    let guards = {
        let (abort, running, host) = (abort.clone(), running.clone(), host.clone());
        timely::execute(timely::Config::process(threads), move |worker| {
            let result = run_worker(worker, &plan, &*host, &config, abort.clone());
            running.fetch_sub(1, Ordering::SeqCst);
            result
        })
        .map_err(|e| RunError::Step(crate::error::StepError::message("", "cluster", e)))?
    };
    let mut interrupted = None;
    while running.load(Ordering::SeqCst) > 0 {
        std::thread::sleep(Duration::from_millis(5));
        if interrupted.is_none() {
            if let Err(e) = host.check_interrupt() {
                abort.store(true, Ordering::SeqCst);
                interrupted = Some(e);
            }
        }
    }
    let mut first_error = None;
    for result in guards.join() {
        match result {
            Ok(Ok(())) | Ok(Err(RunError::PeerFailed)) => {}
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(panic) => {
                first_error.get_or_insert(RunError::Step(crate::error::StepError::message("", "worker", panic)));
            }
        }
    }
    match (first_error, interrupted) {
        (Some(e), _) => Err(e),
        (None, Some(e)) => Err(e),
        (None, None) => Ok(()),
    }
}

/// The body of one timely worker.
pub fn run_worker(
    worker: &mut Worker,
    plan: &Plan,
    host: &dyn StepHost,
    config: &RunConfig,
    abort: Arc<AtomicBool>,
) -> Result<(), RunError> {
    let ctx = Rc::new(WorkerContext::new(abort.clone()));
    let probe = ProbeHandle::new();
    let info = WorkerInfo { index: worker.index(), count: worker.peers() };
    let dataflow_id = worker.next_dataflow_index();
    let built = worker.dataflow::<u64, _, _>(|scope| {
        let b = BuildContext {
            plan,
            host,
            worker: info,
            ctx: ctx.clone(),
            probe: probe.clone(),
            epoch_interval: config.epoch_interval,
        };
        build_dataflow(scope, &b)
    });
    if let Err(e) = built {
        abort.store(true, Ordering::SeqCst);
        worker.drop_dataflow(dataflow_id);
        return Err(RunError::Step(e));
    }
    let mut last_check = Instant::now();
    let mut interrupted = None;
    while worker.has_dataflows() && !abort.load(Ordering::Relaxed) {
        worker.step_or_park(Some(INTERRUPT_CHECK));
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
    if worker.installed_dataflows().contains(&dataflow_id) {
        worker.drop_dataflow(dataflow_id);
    }
    match (ctx.take_error(), interrupted) {
        (Some(e), _) => Err(RunError::Step(e)),
        (None, Some(e)) => Err(e),
        (None, None) => Err(RunError::PeerFailed),
    }
}
