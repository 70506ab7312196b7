//! The training loop's state: what lives from the first epoch to the last ([`TrainLoop`]), and
//! what one epoch accumulates ([`Running`], [`TrainedEpoch`]).

use std::sync::Arc;

use burn::optim::ModuleOptimizer;
use burn::prelude::*;

use super::pools::StepPools;
use super::split::PathSplit;
use crate::data::{Augmenter, Dataset};
use crate::model::{Dfsmn, DfsmnConfig};
use crate::train::checkpoint::CheckpointWriter;
use crate::train::config::TrainConfig;
use crate::train::control::Commands;
use crate::train::events::{EpochMetrics, EventSink, PathMetrics, StepPhases};
use crate::train::internals::Internals;

/// A run between its opening and its end (burn's `Learner` with the loop's bookkeeping): the
/// model and its optimiser, what a step needs besides them, and what the epochs carry forward.
pub(super) struct TrainLoop {
    pub(super) config: TrainConfig,
    pub(super) dataset: Arc<Dataset>,
    /// The plain device: input features, the teacher.
    pub(super) device: Device,
    /// Its autodiff twin: the student or teacher being trained.
    pub(super) ad: Device,
    /// The network trained (the checkpoint's when resumed).
    pub(super) model_cfg: DfsmnConfig,
    pub(super) model: Dfsmn,
    pub(super) optimizer: ModuleOptimizer,
    /// The FP teacher of a student run, in eval mode on the plain device.
    pub(super) teacher: Option<Dfsmn>,
    pub(super) writer: CheckpointWriter,
    /// Every epoch's metrics so far, the resumed run's included.
    pub(super) history: Vec<EpochMetrics>,
    /// The best epoch so far (1-based) and its path-0 validation accuracy.
    pub(super) best: Option<(usize, f32)>,
    /// 0-based epoch the loop starts at (the number of epochs a resumed run had done).
    pub(super) start_epoch: usize,
    /// The thin paths of the network, as layer lists.
    pub(super) paths: Vec<Vec<usize>>,
    /// How many of them are trained (and validated): the first `train_paths`.
    pub(super) train_paths: usize,
    /// Layers of each path, for the metrics.
    pub(super) path_layers: Vec<usize>,
    /// How a step's trained paths are split over two threads, when they are.
    pub(super) split: Option<PathSplit>,
    pub(super) augmenter: Option<Arc<Augmenter>>,
    /// The heavy events, when the run was asked for them.
    pub(super) internals: Option<Internals>,
    /// Base learning rate of the cosine schedule (a SetLearningRate command changes it).
    pub(super) base_lr: f64,
    /// Optimiser steps since the run's first epoch.
    pub(super) global_step: usize,
    pub(super) commands: Commands,
    pub(super) sink: EventSink,
}

impl TrainLoop {
    /// The split run's own rayon pools (see [`super::pools`]), when the run is split.
    pub(super) fn pools(&self) -> Option<&StepPools> {
        self.split.as_ref().and_then(|s| s.pools.as_ref())
    }

    /// One metrics entry per trained path from the running means.
    pub(super) fn path_metrics(&self, running: &[Running]) -> Vec<PathMetrics> {
        running
            .iter()
            .enumerate()
            .map(|(p, r)| r.metrics(p, self.path_layers[p]))
            .collect()
    }
}

/// Running means of one path's loss and accuracy within an epoch.
#[derive(Clone, Default)]
pub(super) struct Running {
    pub(super) loss_sum: f64,
    pub(super) correct: usize,
    pub(super) seen: usize,
}

impl Running {
    fn metrics(&self, path: usize, layers: usize) -> PathMetrics {
        PathMetrics {
            path,
            layers,
            loss: (self.loss_sum / self.seen.max(1) as f64) as f32,
            accuracy: self.correct as f32 / self.seen.max(1) as f32,
        }
    }
}

/// What an epoch's training gave, for its validation and checkpoint.
pub(super) struct TrainedEpoch {
    /// The epoch's learning rate.
    pub(super) lr: f64,
    pub(super) running: Vec<Running>,
    pub(super) clips: usize,
    pub(super) seconds: f32,
    pub(super) phases: StepPhases,
}
