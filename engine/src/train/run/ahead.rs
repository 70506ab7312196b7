//! The teacher one batch ahead: a pipeline stage between the loader and the step. A student
//! run's frozen teacher does not depend on the student, so its forward pass for the next batch
//! runs on this stage's thread while the student trains on the current one. On one core it
//! was 14 % of a student step (`docs/SCALE.md`); the step itself keeps one core busy.
//!
//! The stage changes where the teacher runs, not what it computes: the same batches reach the
//! step in the same order with the same targets.

use std::sync::Arc;
use std::thread::JoinHandle;

use burn::prelude::*;
use crossbeam_channel::{Receiver, bounded};
use rayon::ThreadPool;

use super::pools::run_in;

use crate::data::{Batch, BatchLoader, DataError};
use crate::model::Dfsmn;
use crate::train::loss::TeacherTargets;
use crate::train::teacher;
use crate::train::tensors::features_tensor;

/// A batch ready for the step: its features as a tensor and, in a distilled run, the
/// teacher's targets, both on the plain device.
pub(super) struct Prepared {
    pub(super) batch: Batch,
    pub(super) features: Tensor<4>,
    pub(super) targets: Option<TeacherTargets>,
    /// Seconds the stage spent on the teacher for this batch (the step's `teacher` phase).
    pub(super) teacher_seconds: f32,
}

/// Batches from a [`BatchLoader`] with the teacher's targets computed one batch ahead on a
/// thread of their own. Ends where the loader ends (an error is passed on, then the end).
pub(super) struct TeacherAhead {
    receiver: Option<Receiver<Result<Prepared, DataError>>>,
    worker: Option<JoinHandle<()>>,
}

impl TeacherAhead {
    /// Prepare at most `steps` batches of `loader` on `device`, with `teacher`'s targets when
    /// it is given; its ops run in `pool` when one is given (see [`super::pools`]).
    pub(super) fn new(
        loader: BatchLoader,
        steps: usize,
        teacher: Option<Dfsmn>,
        device: Device,
        pool: Option<Arc<ThreadPool>>,
    ) -> Self {
        // One prepared batch waiting while the next is computed: the teacher stays one step
        // ahead without holding more targets in memory than that.
        let (sender, receiver) = bounded(1);
        let worker = std::thread::Builder::new()
            .name("bifsmn-teacher".into())
            .spawn(move || {
                for batch in loader.take(steps) {
                    let prepared = run_in(pool.as_deref(), || {
                        batch.map(|b| prepare(b, teacher.as_ref(), &device))
                    });
                    let failed = prepared.is_err();
                    // A send fails only when the stage was dropped: stop quietly.
                    if sender.send(prepared).is_err() || failed {
                        return;
                    }
                }
            })
            .expect("spawning the teacher thread");
        Self {
            receiver: Some(receiver),
            worker: Some(worker),
        }
    }
}

fn prepare(batch: Batch, teacher: Option<&Dfsmn>, device: &Device) -> Prepared {
    let features = features_tensor(&batch.features, batch.len(), device);
    let started = std::time::Instant::now();
    let targets = teacher.map(|t| teacher::targets(t, features.clone()));
    let teacher_seconds = match targets {
        Some(_) => started.elapsed().as_secs_f32(),
        None => 0.0,
    };
    Prepared {
        batch,
        features,
        targets,
        teacher_seconds,
    }
}

impl Iterator for TeacherAhead {
    type Item = Result<Prepared, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.receiver.as_ref()?.recv().ok()
    }
}

impl Drop for TeacherAhead {
    fn drop(&mut self) {
        // Dropping the receiver unblocks a worker waiting to send; the worker then drops the
        // loader, which stops its producer.
        self.receiver = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}
