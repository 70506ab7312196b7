//! One epoch of training (burn's `SingleDeviceTrainEpoch`): the seeded, augmented batches of
//! the training split, with the teacher's targets prepared one batch ahead, through
//! [`TrainLoop::train_step`], with the commands polled before every
//! step and the step and internals events rate-limited.

use std::time::{Duration, Instant};

use anyhow::Context;

use super::ahead::TeacherAhead;
use super::state::{Running, TrainLoop, TrainedEpoch};
use super::step::{PhaseClock, StepAt};
use crate::data::{BatchLoader, Split};
use crate::train::control::Control;
use crate::train::events::{StepMetrics, StepPhases, TrainEvent};
use crate::train::loss::DistillMode;
use crate::train::optim::cosine_lr;

/// Step events at most this often.
const STEP_EVENT_INTERVAL: Duration = Duration::from_millis(150);
/// Heavy internals (maps, curves, bits) at most this often during an epoch.
const INTERNALS_INTERVAL: Duration = Duration::from_secs(3);

impl TrainLoop {
    /// Train 0-based `epoch`. `None` when a Cancel arrived (the Cancelled event is sent).
    pub(super) fn train_epoch(&mut self, epoch: usize) -> anyhow::Result<Option<TrainedEpoch>> {
        let lr = cosine_lr(self.base_lr, epoch, self.config.epochs);
        let epoch_start = Instant::now();
        let loader = BatchLoader::new(
            self.dataset.clone(),
            Split::Train,
            self.config.batch_size,
            self.augmenter.clone(),
            self.config.seed,
            epoch as u64,
        );
        let limit = self.config.max_train_clips.unwrap_or(usize::MAX);
        let steps = loader
            .num_batches()
            .min(limit.div_ceil(self.config.batch_size));
        let mut running = vec![Running::default(); self.train_paths];
        let mut phases = StepPhases::default();
        let mut clips = 0usize;
        let mut last_step_event = Instant::now() - STEP_EVENT_INTERVAL;
        let mut last_internals = Instant::now();
        self.commands.next_lr = None;
        let teacher = self
            .teacher
            .clone()
            .filter(|_| self.config.distill != DistillMode::None);
        let teacher_pool = self.pools().map(|p| std::sync::Arc::clone(&p.teacher));
        let mut batches =
            TeacherAhead::new(loader, steps, teacher, self.device.clone(), teacher_pool)
                .enumerate();
        loop {
            let mut clock = PhaseClock::start();
            let Some((step, prepared)) = batches.next() else {
                break;
            };
            phases.data += clock.lap();
            match self.commands.poll(&self.sink) {
                Control::Continue | Control::Stop => {}
                Control::Cancel => {
                    self.sink.send(TrainEvent::Cancelled { epochs_done: epoch });
                    return Ok(None);
                }
            }
            let prepared = prepared.context("loading a training batch")?;
            let want_internals = self.internals.is_some()
                && (last_internals.elapsed() >= INTERNALS_INTERVAL || step + 1 == steps);
            let at = StepAt {
                epoch,
                step,
                steps,
                lr,
            };
            phases.other += clock.lap();
            clips += self.train_step(prepared, &at, &mut running, &mut phases, want_internals)?;
            // The step counted its own phases; start "other" after it.
            clock.lap();
            self.global_step += 1;

            if last_step_event.elapsed() >= STEP_EVENT_INTERVAL || step + 1 == steps {
                last_step_event = Instant::now();
                self.sink.send(TrainEvent::Step(StepMetrics {
                    epoch: epoch + 1,
                    step: step + 1,
                    steps_per_epoch: steps,
                    global_step: self.global_step,
                    paths: self.path_metrics(&running),
                    lr,
                    clips_per_sec: clips as f32 / epoch_start.elapsed().as_secs_f32().max(1e-6),
                }));
            }
            if want_internals && let Some(int) = self.internals.as_mut() {
                last_internals = Instant::now();
                int.emit(
                    &self.sink,
                    &self.model,
                    self.teacher.as_ref(),
                    epoch + 1,
                    self.global_step,
                    &self.paths[..self.train_paths],
                );
            }
            phases.other += clock.lap();
        }
        Ok(Some(TrainedEpoch {
            lr,
            running,
            clips,
            seconds: epoch_start.elapsed().as_secs_f32(),
            phases,
        }))
    }
}
