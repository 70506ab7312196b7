//! One-thread rayon pools for the threads of a split step.
//!
//! flex hands its convolutions and matrix products to rayon. By default that is the process's
//! shared pool, one thread per core, which the loader also uses to augment clips. In a split
//! step three threads already keep two cores busy (path 0, the worker's paths, the teacher one
//! batch ahead), so a flex op sent to the shared pool waits there behind the others' ops and
//! the loader's clips, and the pool's idle threads spin between jobs on cores the step needs.
//! Each of the three threads therefore runs its work in a pool of its own with one thread: an
//! op's parallel loop then runs in order on that pool's thread, which waits for no other
//! thread's op and spins for none. Measured in `docs/SCALE.md`.
//!
//! The price: a split run's validation, which runs in the training loop's pool too, has one
//! core for its forward passes instead of two (a validation split is a fraction of the
//! training split and has no backward pass).
//!
//! A pool's work runs on the pool's thread, not on the caller's. burn keeps a batch norm's
//! pending running-statistics update per thread (`RunningState`), so everything that updates
//! or reads the training model's statistics must stay on one thread: the whole training loop
//! runs in [`StepPools::training`], not just its steps.

use std::sync::Arc;

use rayon::{ThreadPool, ThreadPoolBuilder};

/// The pools of a split run: the training loop's (path 0), the worker's, the teacher's.
#[derive(Clone, Debug)]
pub(super) struct StepPools {
    pub(super) training: Arc<ThreadPool>,
    pub(super) worker: Arc<ThreadPool>,
    pub(super) teacher: Arc<ThreadPool>,
}

impl StepPools {
    /// Three one-thread pools, or `None` when the system refuses a thread: the run then uses
    /// rayon's shared pool, as an unsplit run does (slower, the same numbers).
    pub(super) fn new() -> Option<Self> {
        let pool = |name: &'static str| {
            ThreadPoolBuilder::new()
                .num_threads(1)
                .thread_name(move |_| name.to_string())
                .build()
                .ok()
                .map(Arc::new)
        };
        Some(Self {
            training: pool("bifsmn-path0")?,
            worker: pool("bifsmn-paths")?,
            teacher: pool("bifsmn-teacher-ops")?,
        })
    }
}

/// Run `work` in `pool` when there is one, here otherwise.
pub(super) fn run_in<R: Send>(pool: Option<&ThreadPool>, work: impl FnOnce() -> R + Send) -> R {
    match pool {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

#[cfg(test)]
mod tests {
    use rayon::prelude::*;

    use super::*;

    #[test]
    fn a_parallel_loop_in_a_step_pool_runs_on_that_pool_alone() {
        let pools = StepPools::new().expect("one-thread pools");
        let threads = run_in(Some(&pools.worker), || {
            (0..64)
                .into_par_iter()
                .map(|_| std::thread::current().name().map(str::to_string))
                .collect::<std::collections::BTreeSet<_>>()
        });
        assert_eq!(
            threads.into_iter().collect::<Vec<_>>(),
            vec![Some("bifsmn-paths".to_string())]
        );
        assert_eq!(run_in(None, || 7), 7);
    }
}
