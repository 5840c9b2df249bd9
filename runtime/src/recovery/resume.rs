//! Where a restarted dataflow resumes: the first epoch that some worker of the last
//! execution had not committed. A worker of that execution with no progress row at all
//! (it died before its first commit) counts as having committed nothing past the
//! execution's start, so an early crash never skips data.

use super::{ExecutionRow, ProgressRow, FINISHED};

/// The execution a start becomes, and the epoch it resumes at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResumePoint {
    /// The new execution's number.
    pub execution: u64,
    /// Its first epoch; state rows before it are restored.
    pub epoch: u64,
    /// Workers of the execution before, if there was one.
    pub previous_workers: Option<usize>,
}

/// Computes the resume point from every file's rows; `newest_epoch` is the newest epoch
/// of any stored state. When every worker of the last execution finished, the next run
/// continues after everything stored.
pub fn resume_point(executions: &[ExecutionRow], progress: &[ProgressRow], newest_epoch: Option<u64>) -> ResumePoint {
    let Some(last) = executions.iter().map(|e| e.execution).max() else {
        return ResumePoint { execution: 0, epoch: 0, previous_workers: None };
    };
    let started: Vec<&ExecutionRow> = executions.iter().filter(|e| e.execution == last).collect();
    let workers = started.iter().map(|e| e.worker_count).max().unwrap_or(1);
    let start = started.iter().map(|e| e.resume_epoch).min().unwrap_or(0);
    let epoch = (0..workers)
        .map(|w| {
            progress
                .iter()
                .filter(|p| p.execution == last && p.worker == w)
                .map(|p| p.frontier)
                .max()
                .unwrap_or(start)
        })
        .min()
        .unwrap_or(start);
    let epoch = if epoch == FINISHED {
        let after_rows = newest_epoch.map_or(0, |e| e + 1);
        let after_progress = progress.iter().map(|p| p.frontier).filter(|&f| f != FINISHED).max().unwrap_or(0);
        after_rows.max(after_progress).max(start)
    } else {
        epoch
    };
    ResumePoint { execution: last + 1, epoch, previous_workers: Some(workers) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(execution: u64, worker: usize, worker_count: usize, resume_epoch: u64) -> ExecutionRow {
        ExecutionRow { execution, worker, worker_count, resume_epoch }
    }

    fn prog(execution: u64, worker: usize, frontier: u64) -> ProgressRow {
        ProgressRow { execution, worker, frontier }
    }

    #[test]
    fn a_fresh_store_starts_at_zero() {
        assert_eq!(resume_point(&[], &[], None), ResumePoint { execution: 0, epoch: 0, previous_workers: None });
    }

    #[test]
    fn resumes_at_the_slowest_worker_of_the_last_execution() {
        let e = [exec(0, 0, 2, 0), exec(0, 1, 2, 0), exec(1, 0, 2, 5), exec(1, 1, 2, 5)];
        let p = [prog(0, 0, 5), prog(0, 1, 6), prog(1, 0, 9), prog(1, 1, 8)];
        assert_eq!(resume_point(&e, &p, None), ResumePoint { execution: 2, epoch: 8, previous_workers: Some(2) });
    }

    #[test]
    fn a_worker_that_never_committed_holds_the_resume_at_its_start() {
        // Worker 1 of execution 1 died before writing anything (bytewax#181).
        let e = [exec(0, 0, 2, 0), exec(0, 1, 2, 0), exec(1, 0, 2, 4)];
        let p = [prog(0, 0, 4), prog(0, 1, 4), prog(1, 0, 9)];
        assert_eq!(resume_point(&e, &p, None).epoch, 4);
    }

    #[test]
    fn the_last_executions_worker_count_rules_after_a_rescale() {
        let e = [exec(0, 0, 2, 0), exec(0, 1, 2, 0), exec(1, 0, 1, 3)];
        let p = [prog(0, 0, 3), prog(0, 1, 3), prog(1, 0, 7)];
        assert_eq!(resume_point(&e, &p, None), ResumePoint { execution: 2, epoch: 7, previous_workers: Some(1) });
    }

    #[test]
    fn a_finished_run_continues_after_its_newest_state() {
        // Worker 1 never saw epoch 6 in its frontier before the end; worker 0's input did.
        let e = [exec(0, 0, 2, 0), exec(0, 1, 2, 0)];
        let p = [prog(0, 0, FINISHED), prog(0, 1, FINISHED)];
        assert_eq!(resume_point(&e, &p, Some(6)).epoch, 7);
        // One worker died before its last commit: its epoch is done again.
        let p = [prog(0, 0, FINISHED), prog(0, 1, 5)];
        assert_eq!(resume_point(&e, &p, Some(6)).epoch, 5);
    }
}
