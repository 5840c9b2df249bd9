//! State a worker's operators share: the first error, and the cluster-wide stop flag.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::StepError;

/// Shared by every operator of one worker. The first failure wins; later ones are dropped
/// because they are usually consequences of the first.
#[derive(Default)]
pub struct WorkerContext {
    error: RefCell<Option<StepError>>,
    abort: Arc<AtomicBool>,
}

impl WorkerContext {
    /// A context tied to the cluster's stop flag.
    pub fn new(abort: Arc<AtomicBool>) -> Self {
        WorkerContext { error: RefCell::new(None), abort }
    }

    /// Records a failure and tells every worker to stop.
    pub fn fail(&self, err: StepError) {
        let mut slot = self.error.borrow_mut();
        if slot.is_none() {
            *slot = Some(err);
        }
        self.abort.store(true, Ordering::SeqCst);
    }

    /// True once any worker failed: operators stop calling user code.
    pub fn stopped(&self) -> bool {
        self.abort.load(Ordering::Relaxed)
    }

    /// Takes this worker's own error, if it had one.
    pub fn take_error(&self) -> Option<StepError> {
        self.error.borrow_mut().take()
    }
}
