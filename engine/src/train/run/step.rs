//! One optimisation step (burn's `TrainStep` and `optimizer_step`) on a batch whose teacher
//! targets were prepared ahead ([`super::ahead`]): the student's front end once and every
//! trained path's loss on it, the loss and gradient health checks, then the optimiser's update.

use std::time::Instant;

use anyhow::bail;
use burn::optim::GradientsParams;
use burn::prelude::*;

use super::ahead::Prepared;
use super::state::{Running, TrainLoop};
use crate::model::ForwardTrace;
use crate::train::events::StepPhases;
use crate::train::health::check_gradients;
use crate::train::loss::{PathLoss, TeacherTargets, correct, path_loss};
use crate::train::tensors::labels_tensor;

/// Where a step stands in the run.
pub(super) struct StepAt {
    /// 0-based epoch.
    pub(super) epoch: usize,
    /// 0-based step within the epoch.
    pub(super) step: usize,
    /// Steps in the epoch.
    pub(super) steps: usize,
    /// The epoch's learning rate.
    pub(super) lr: f64,
}

impl StepAt {
    /// Fraction of the whole run done when the step starts (the binarizers' schedules use it).
    fn progress(&self, epochs: usize) -> f64 {
        (self.epoch as f64 + self.step as f64 / self.steps.max(1) as f64) / epochs as f64
    }
}

/// Seconds between successive laps, for [`StepPhases`].
pub(super) struct PhaseClock(Instant);

impl PhaseClock {
    pub(super) fn start() -> Self {
        Self(Instant::now())
    }

    /// Seconds since the start or the previous lap.
    pub(super) fn lap(&mut self) -> f32 {
        let now = Instant::now();
        let seconds = (now - self.0).as_secs_f32();
        self.0 = now;
        seconds
    }
}

/// The trained paths' losses on one batch.
struct StepLoss {
    /// The weighted sum that is differentiated.
    total: Tensor<1>,
    /// Path 0's distillation bands `(layer, high, low)`, read only when internals are on.
    path0_bands: Vec<(usize, f32, f32)>,
    /// The first path whose loss is not finite, with its terms named.
    non_finite: Option<String>,
}

impl TrainLoop {
    /// Train on one batch; `running` gets the batch's loss and accuracy per path and `phases`
    /// the time each phase took. Returns the batch's clip count. A loss or gradient that is
    /// not finite ends the run before the update is applied.
    pub(super) fn train_step(
        &mut self,
        prepared: Prepared,
        at: &StepAt,
        running: &mut [Running],
        phases: &mut StepPhases,
        want_internals: bool,
    ) -> anyhow::Result<usize> {
        let mut clock = PhaseClock::start();
        let b = prepared.batch.len();
        let x = prepared.features;
        let y = labels_tensor(&prepared.batch.labels, &self.ad);
        let progress = at.progress(self.config.epochs);
        let targets = prepared.targets.map(TeacherTargets::autodiff);
        phases.teacher += prepared.teacher_seconds;
        let mut trace = want_internals.then(ForwardTrace::default);
        let loss = self.path_losses(
            x.autodiff(),
            y,
            targets.as_ref(),
            progress,
            &mut trace,
            running,
        );
        if !loss.total.clone().into_scalar::<f32>().is_finite() {
            bail!(
                "the loss became {} at epoch {} step {} ({}); lower the learning rate (now {:.3e})",
                loss.total.into_scalar::<f32>(),
                at.epoch + 1,
                at.step + 1,
                loss.non_finite
                    .unwrap_or_else(|| "the sum of the paths' finite losses".into()),
                at.lr,
            );
        }
        phases.forward += clock.lap();
        let grads = loss.total.backward();
        if let (Some(int), Some(tr)) = (self.internals.as_mut(), trace.as_ref()) {
            int.record_binarizers(&self.model, tr, &grads, progress);
        }
        if let Some(int) = self.internals.as_mut() {
            int.record_bands(&loss.path0_bands);
        }
        let grads = GradientsParams::from_grads(grads, &self.model);
        phases.backward += clock.lap();
        if let Some(overflow) = check_gradients(&self.model, &grads) {
            bail!(
                "the gradients overflowed at epoch {} step {} ({overflow}); the step was not \
                 applied; lower the learning rate (now {:.3e})",
                at.epoch + 1,
                at.step + 1,
                at.lr,
            );
        }
        // The optimiser takes the model by value; the loop owns it, so it steps a clone (as
        // burn's `Learner::optimizer_step` does). The clone shares the parameters' tensors:
        // the update is the same, only not done in place.
        self.model = self.optimizer.step(at.lr, self.model.clone(), grads);
        phases.update += clock.lap();
        Ok(b)
    }

    /// The student's front end once, then every trained path's loss on it, weighted and
    /// summed. Path 0 is traced when `trace` is set.
    fn path_losses(
        &self,
        x: Tensor<4>,
        y: Tensor<1, Int>,
        targets: Option<&TeacherTargets>,
        progress: f64,
        trace: &mut Option<ForwardTrace>,
        running: &mut [Running],
    ) -> StepLoss {
        let [b] = y.dims();
        let z = self.model.frontend(x, progress, trace);
        let mut total = Tensor::<1>::zeros([1], &self.ad);
        let mut path0_bands = Vec::new();
        let mut non_finite = None;
        let weights = self.config.path_weights.iter().take(self.train_paths);
        for (p, weight) in weights.enumerate() {
            let mut path_trace = if p == 0 { trace.take() } else { None };
            let out = self.model.backbone(z.clone(), p, progress, &mut path_trace);
            if p == 0 {
                *trace = path_trace;
            }
            let pl = path_loss(
                &out,
                y.clone(),
                targets,
                self.config.distill,
                self.config.distill_alpha,
            );
            let path_total = pl.total.clone().into_scalar::<f32>();
            if !path_total.is_finite() && non_finite.is_none() {
                non_finite = Some(non_finite_terms(p, self.path_layers[p], &pl));
            }
            running[p].loss_sum += path_total as f64 * b as f64;
            running[p].correct += correct(out.logits.clone(), y.clone());
            running[p].seen += b;
            if p == 0 && self.internals.is_some() {
                path0_bands = pl
                    .bands
                    .iter()
                    .map(|(j, h, l)| {
                        (
                            *j,
                            h.clone().into_scalar::<f32>(),
                            l.clone().into_scalar::<f32>(),
                        )
                    })
                    .collect();
            }
            total = total + pl.total.mul_scalar(*weight);
        }
        StepLoss {
            total,
            path0_bands,
            non_finite,
        }
    }
}

/// Which parts of one path's loss are not finite, e.g. "path 0 (8 layers): cross-entropy NaN,
/// layer 3 high band inf", so that a diverged run says where it diverged.
fn non_finite_terms(path: usize, layers: usize, loss: &PathLoss) -> String {
    let value = |t: &Tensor<1>| t.clone().into_scalar::<f32>();
    let mut parts = Vec::new();
    let mut check = |name: String, v: f32| {
        if !v.is_finite() {
            parts.push(format!("{name} {v}"));
        }
    };
    check("cross-entropy".into(), value(&loss.ce));
    for (j, high, low) in &loss.bands {
        check(format!("layer {j} high band"), value(high));
        check(format!("layer {j} low band"), value(low));
    }
    if let Some(m) = &loss.logit_mse {
        check("logit MSE".into(), value(m));
    }
    if parts.is_empty() {
        parts.push(format!("total {}", value(&loss.total)));
    }
    format!("path {path} ({layers} layers): {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DfsmnConfig;
    use crate::train::config::TrainConfig;
    use crate::train::loss::cross_entropy;
    use crate::train::optim::build_optimizer;
    use crate::train::tensors::features_tensor;
    use std::path::PathBuf;

    /// Synthetic log-mel images: class c is a loud band on mel rows 6c..6c+3 over silence.
    fn tiny_set(classes: usize, per_class: usize) -> (Vec<f32>, Vec<usize>) {
        let mut feats = Vec::new();
        let mut labels = Vec::new();
        for c in 0..classes {
            for i in 0..per_class {
                for m in 0..32 {
                    for t in 0..32 {
                        let band = m >= 6 * c && m < 6 * c + 3;
                        let jitter = ((m * 7 + t * 13 + i * 31) % 17) as f32;
                        feats.push(if band { -20.0 + jitter } else { -80.0 + jitter });
                    }
                }
                labels.push(c);
            }
        }
        (feats, labels)
    }

    /// Losses of `steps` full-batch steps on the tiny set, with the optimiser settings of
    /// `run` (its learning rate, momentum, quantizer learning-rate factor and gradient
    /// clipping) and a seeded initialisation, so a failure reproduces on any machine.
    fn train_steps(model_config: DfsmnConfig, run: &TrainConfig, steps: usize) -> Vec<f32> {
        let device = Device::flex().autodiff();
        device.seed(run.seed);
        let mut model = model_config.init(&device);
        let (feats, labels) = tiny_set(4, 6);
        let x = features_tensor(&feats, labels.len(), &device);
        let y = labels_tensor(&labels, &device);
        let mut opt = build_optimizer(
            run.momentum,
            run.weight_decay,
            run.quant_lr_factor,
            run.grad_clip_norm,
        );
        let mut losses = Vec::with_capacity(steps);
        for _ in 0..steps {
            let out = model.forward(x.clone(), 0);
            let loss = cross_entropy(out.logits, y.clone());
            losses.push(loss.clone().into_scalar::<f32>());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = opt.step(run.lr, model, grads);
        }
        losses
    }

    /// Every loss finite and the mean of the last five under `fraction` of the first.
    fn assert_loss_falls(losses: &[f32], fraction: f32) {
        assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
        let tail = &losses[losses.len() - 5..];
        let tail_mean = tail.iter().sum::<f32>() / tail.len() as f32;
        assert!(tail_mean < fraction * losses[0], "{losses:?}");
    }

    fn dirs() -> (PathBuf, PathBuf) {
        ("unused-dataset".into(), "unused-run".into())
    }

    #[test]
    fn a_non_finite_loss_names_its_terms() {
        let device = Device::flex();
        let scalar = |v: f32| Tensor::<1>::from_floats([v], &device);
        let loss = PathLoss {
            total: scalar(f32::NAN),
            ce: scalar(1.5),
            bands: vec![
                (0, scalar(0.1), scalar(0.2)),
                (3, scalar(f32::INFINITY), scalar(0.2)),
            ],
            logit_mse: Some(scalar(f32::NAN)),
        };
        assert_eq!(
            non_finite_terms(0, 8, &loss),
            "path 0 (8 layers): layer 3 high band inf, logit MSE NaN"
        );
        let overflowed_sum = PathLoss {
            total: scalar(f32::INFINITY),
            ce: scalar(1.0),
            bands: Vec::new(),
            logit_mse: None,
        };
        assert_eq!(
            non_finite_terms(2, 2, &overflowed_sum),
            "path 2 (2 layers): total inf"
        );
    }

    #[test]
    fn teacher_loss_falls_on_a_tiny_set() {
        let (data, run) = dirs();
        let run = TrainConfig::teacher(data, run);
        let losses = train_steps(DfsmnConfig::teacher(4).with_dropout(0.0), &run, 30);
        assert_loss_falls(&losses, 0.3);
    }

    /// A student trained from scratch (no teacher to start from) with the default recipe.
    /// Without the default gradient clipping this diverges for some initialisations: the
    /// residual stream has no normalisation and one large step blows the logits up.
    #[test]
    fn student_loss_falls_on_a_tiny_set() {
        let (data, run) = dirs();
        let run = TrainConfig::student(data, run, "unused-teacher".into());
        for seed in [1, 2, 3] {
            let run = TrainConfig {
                seed,
                ..run.clone()
            };
            let losses = train_steps(DfsmnConfig::student(4), &run, 30);
            assert_loss_falls(&losses, 0.3);
        }
    }
}
