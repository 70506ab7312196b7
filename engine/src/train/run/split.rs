//! The trained thin paths on two threads. A student step is a serial chain of small ops on
//! one core (`docs/SCALE.md`), but its thin paths are independent once the front end has run:
//! path 0 (8 layers) stays on the training thread while a worker runs the other paths (4 + 2
//! layers) on a fork of the model, each with its own front end and autodiff graph, and the two
//! gradients are added.
//!
//! What this changes against one thread, and how it is kept the same:
//! - **Gradients**: the sum of the two groups' gradients instead of one backward pass over the
//!   summed loss: the same value up to float rounding (the order of the additions).
//! - **Batch-norm running statistics.** In one thread every path's forward updates the running
//!   mean and variance of each batch norm it passes, path after path:
//!   `r <- (1 - m) r + m s`. The fork gets private statistics starting from the step's `r0`,
//!   so the worker's `k` updates give `r_B = (1 - m)^k r0 + c`, while the training thread's
//!   path gives `r_A`. Applying the worker's updates after path 0's, as one thread does, is
//!   `r_B + (1 - m)^k (r_A - r0)`; that is what is stored. The front end's batch norms keep
//!   the training thread's single update, as in one thread.
//! - **Dropout** would draw from the device's random stream in an order that depends on the
//!   threads, so a model with dropout is never split (the student has none).
//! - **Internals**: the live charts trace path 0, on the training thread; the gradient they
//!   show reaching the front end's binarizers (conv2, fc1) is the one path 0's loss sends.
//!
//! A run splits whenever its model and backend allow it (see [`PathSplit::plan`]), so the
//! numbers of a seeded run do not depend on whether its internals are drawn.

use std::ops::Range;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, RunningState};
use burn::nn::BatchNorm;
use burn::optim::GradientsParams;
use burn::prelude::*;

use super::pools::StepPools;
use crate::model::Dfsmn;

/// Which batch norm of a D-FSMN layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LayerNorm {
    Memory,
    Expand,
    /// The output batch norm of one thin-path set.
    Out(usize),
}

/// A layer's batch norm the worker's paths update, and how many times per step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Touched {
    layer: usize,
    norm: LayerNorm,
    updates: i32,
}

/// The two groups of a split step: path 0 on the training thread, `worker` on the other.
#[derive(Clone, Debug)]
pub(super) struct PathSplit {
    pub(super) worker: Range<usize>,
    touched: Vec<Touched>,
    /// The split run's threads' own rayon pools (see [`super::pools`]).
    pub(super) pools: Option<StepPools>,
}

impl PathSplit {
    /// The split for training `train_paths` of `paths` (layer lists) on `model`, or `None`
    /// when one thread must do it: a single path, dropout, or fewer than two cores.
    pub(super) fn plan(model: &Dfsmn, paths: &[Vec<usize>], train_paths: usize) -> Option<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if train_paths < 2 || model.config.dropout > 0.0 || cores < 2 {
            return None;
        }
        let worker = 1..train_paths;
        let mut touched: Vec<Touched> = Vec::new();
        for p in worker.clone() {
            for &layer in &paths[p] {
                let sets = model.layers[layer].out_bn.len();
                for norm in [
                    LayerNorm::Memory,
                    LayerNorm::Expand,
                    LayerNorm::Out(p.min(sets - 1)),
                ] {
                    match touched
                        .iter_mut()
                        .find(|t| t.layer == layer && t.norm == norm)
                    {
                        Some(t) => t.updates += 1,
                        None => touched.push(Touched {
                            layer,
                            norm,
                            updates: 1,
                        }),
                    }
                }
            }
        }
        Some(Self {
            worker,
            touched,
            pools: StepPools::new(),
        })
    }

    /// The worker's copy of `model` for one step: its own parameter leaves (the same ids,
    /// so the gradients line up) and private batch-norm statistics, with the starting values
    /// of those the worker's paths update. Call on the training thread, before the step.
    pub(super) fn fork(&self, model: &Dfsmn) -> Fork {
        // Not `Module::fork`: on an autodiff device it moves each tracked parameter with
        // `to_device`, which records a step on the parameter's graph. Parameters the
        // optimiser leaves alone live all run, so their graphs grew by a step per fork and
        // were never freed; burn's graph sweep after every backward pass walked them all,
        // and a run slowed down step by step (docs/SCALE.md).
        let mut forked = model.clone().map(&mut FreshLeaves);
        // The fork shares its running statistics with the model: give it its own, or the
        // two threads' updates would be averaged by burn in whatever order they arrive.
        private_stats(&mut forked.bn1);
        private_stats(&mut forked.bn2);
        for layer in &mut forked.layers {
            private_stats(&mut layer.memory_bn);
            private_stats(&mut layer.expand_bn);
            layer.out_bn.iter_mut().for_each(private_stats);
        }
        let starts = self
            .touched
            .iter()
            .map(|t| stats(norm(&forked, t)))
            .collect();
        Fork {
            model: forked,
            starts,
        }
    }

    /// The worker's statistics after its paths' forward passes: read on the worker thread
    /// (burn keeps an update pending per thread until that thread reads it).
    pub(super) fn worker_stats(&self, fork: &Fork) -> Vec<(Tensor<1>, Tensor<1>)> {
        self.touched
            .iter()
            .map(|t| stats(norm(&fork.model, t)))
            .collect()
    }

    /// Apply the worker's batch-norm updates to `model` after path 0's, as one thread would
    /// have (see the module's notes). Call on the training thread.
    pub(super) fn merge_stats(
        &self,
        model: &Dfsmn,
        starts: &[(Tensor<1>, Tensor<1>)],
        worker: &[(Tensor<1>, Tensor<1>)],
    ) {
        for ((t, (mean0, var0)), (mean_b, var_b)) in self.touched.iter().zip(starts).zip(worker) {
            let bn = norm(model, t);
            let decay = (1.0 - bn.momentum).powi(t.updates);
            let (mean_a, var_a) = stats(bn);
            bn.running_mean
                .update(mean_b.clone() + (mean_a - mean0.clone()).mul_scalar(decay));
            bn.running_var
                .update(var_b.clone() + (var_a - var0.clone()).mul_scalar(decay));
        }
    }
}

/// Every float parameter as a new leaf of the autodiff graph, with the same value, id and
/// `require_grad`, and no step recorded on the parameter it comes from.
struct FreshLeaves;

impl ModuleMapper for FreshLeaves {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|tensor| {
            let tracked = tensor.is_require_grad();
            let leaf = tensor.detach();
            if tracked { leaf.require_grad() } else { leaf }
        })
    }
}

/// The worker's model for one step.
pub(super) struct Fork {
    pub(super) model: Dfsmn,
    /// Running (mean, variance) of each touched batch norm before the step.
    pub(super) starts: Vec<(Tensor<1>, Tensor<1>)>,
}

fn norm<'a>(model: &'a Dfsmn, t: &Touched) -> &'a BatchNorm {
    let layer = &model.layers[t.layer];
    match t.norm {
        LayerNorm::Memory => &layer.memory_bn,
        LayerNorm::Expand => &layer.expand_bn,
        LayerNorm::Out(set) => &layer.out_bn[set],
    }
}

/// Current running (mean, variance), with this thread's pending update applied.
fn stats(bn: &BatchNorm) -> (Tensor<1>, Tensor<1>) {
    (bn.running_mean.value_sync(), bn.running_var.value_sync())
}

fn private_stats(bn: &mut BatchNorm) {
    let (mean, var) = stats(bn);
    bn.running_mean = RunningState::new(mean);
    bn.running_var = RunningState::new(var);
}

/// Add `other`'s gradients into `grads`, parameter by parameter of `model`.
pub(super) fn add_gradients(model: &Dfsmn, grads: &mut GradientsParams, other: GradientsParams) {
    struct Adder<'a> {
        grads: &'a mut GradientsParams,
        other: GradientsParams,
    }
    impl ModuleVisitor for Adder<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let Some(theirs) = self.other.remove::<D>(param.id) else {
                return;
            };
            let sum = match self.grads.remove::<D>(param.id) {
                Some(ours) => ours + theirs,
                None => theirs,
            };
            self.grads.register::<D>(param.id, sum);
        }
    }
    model.visit(&mut Adder { grads, other });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DfsmnConfig;

    #[test]
    fn the_worker_touches_each_layer_norm_once_per_path_through_it() {
        let device = Device::flex().autodiff();
        let model = DfsmnConfig::student(3).init(&device);
        let paths = model.config.paths();
        let split = PathSplit::plan(&model, &paths, 3);
        if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
            assert!(split.is_none());
            return;
        }
        let split = split.unwrap();
        assert_eq!(split.worker, 1..3);
        let expected: usize = paths[1..3].iter().map(|p| p.len()).sum();
        for norm in [LayerNorm::Memory, LayerNorm::Expand] {
            let updates: i32 = split
                .touched
                .iter()
                .filter(|t| t.norm == norm)
                .map(|t| t.updates)
                .sum();
            assert_eq!(updates as usize, expected);
        }
        // Each path has its own output set.
        for (p, layers) in paths.iter().enumerate().take(3).skip(1) {
            let outs: i32 = split
                .touched
                .iter()
                .filter(|t| t.norm == LayerNorm::Out(p))
                .map(|t| t.updates)
                .sum();
            assert_eq!(outs as usize, layers.len());
        }
        assert!(PathSplit::plan(&model, &paths, 1).is_none());
    }
}
