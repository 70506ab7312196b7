//! The end of an epoch: validate the model, report the epoch, choose the best epoch and write
//! the checkpoints (burn's validation epoch, checkpointer and metric-based strategy in one).

use anyhow::Context;
use burn::module::Module;

use super::state::{TrainLoop, TrainedEpoch};
use crate::data::Split;
use crate::train::checkpoint::{CHECKPOINT_VERSION, Sidecar};
use crate::train::eval::evaluate;
use crate::train::events::{EpochMetrics, TrainEvent};

impl TrainLoop {
    /// Validate 0-based `epoch`'s model, add the epoch to the history and report it, then
    /// checkpoint it: first as the best model when it is the best so far, then as the run's
    /// last checkpoint.
    pub(super) fn validate_and_checkpoint(
        &mut self,
        epoch: usize,
        trained: TrainedEpoch,
    ) -> anyhow::Result<()> {
        let validation = evaluate(
            &self.model.valid(),
            &self.dataset,
            Split::Validation,
            self.config.batch_size,
            self.train_paths,
        )
        .context("validating")?;
        let metrics = EpochMetrics {
            epoch: epoch + 1,
            train: self.path_metrics(&trained.running),
            validation: validation.iter().map(|v| v.metrics.clone()).collect(),
            lr: trained.lr,
            seconds: trained.seconds,
            clips_per_sec: trained.clips as f32 / trained.seconds.max(1e-6),
            phases: trained.phases,
        };
        self.history.push(metrics.clone());
        self.sink.send(TrainEvent::Epoch(metrics.clone()));

        let accuracies: Vec<f32> = metrics.validation.iter().map(|m| m.accuracy).collect();
        let new_best = is_new_best(self.best, &accuracies, self.train_paths);
        if new_best {
            self.best = Some((epoch + 1, accuracies[0]));
        }
        let sidecar = self.sidecar(epoch + 1);
        if new_best {
            let p = self.writer.save_best(&self.model, sidecar.clone())?;
            self.sink.send(TrainEvent::Checkpoint {
                epoch: epoch + 1,
                path: p.display().to_string(),
                best: true,
            });
        }
        let p = self.writer.save(&self.model, &self.optimizer, sidecar)?;
        self.sink.send(TrainEvent::Checkpoint {
            epoch: epoch + 1,
            path: p.display().to_string(),
            best: false,
        });
        Ok(())
    }

    /// The sidecar of a checkpoint after `epochs_done` epochs (the writer fills in the files).
    fn sidecar(&self, epochs_done: usize) -> Sidecar {
        Sidecar {
            version: CHECKPOINT_VERSION,
            engine_version: crate::version::LONG.to_string(),
            epoch: epochs_done,
            model_file: String::new(),
            optimizer_file: None,
            config: self.config.clone(),
            model: self.model_cfg.clone(),
            labels: self.dataset.labels.clone(),
            dataset_fingerprint: self.dataset.fingerprint(),
            history: self.history.clone(),
            best_epoch: self.best.map(|b| b.0),
            best_validation: self.best.map(|b| b.1),
        }
    }
}

/// Whether an epoch with these validation accuracies (one per trained path) becomes the best:
/// best by path-0 validation accuracy, preferring epochs where the paths are ordered (acc
/// 8 >= 4 >= 2 layers) as the reference selection does (it demands strict order).
fn is_new_best(best: Option<(usize, f32)>, accuracies: &[f32], train_paths: usize) -> bool {
    let ordered = accuracies.windows(2).all(|w| w[0] >= w[1]);
    let better = match best {
        None => true,
        Some((_, b)) => accuracies[0] > b || (accuracies[0] == b && ordered),
    };
    better && (ordered || train_paths == 1 || best.is_none())
}
