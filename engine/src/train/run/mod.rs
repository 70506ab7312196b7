//! The training loop behind [`super::Trainer`], by phase, as burn's learner splits it:
//!
//! - [`open`]: open the run, or resume it from its last checkpoint, and start it;
//! - [`epoch`]: one epoch of training, polling the commands before every step;
//! - [`ahead`]: the teacher's targets for the next batch, on their own thread;
//! - [`split`]: the thin paths of a step on two threads;
//! - [`pools`]: the rayon pools of those threads and the teacher's;
//! - [`step`]: one step (forward, losses, distillation, health checks, optimiser update);
//! - [`validate`]: validation, the best-epoch choice and the checkpoints.
//!
//! The loop's state is one [`state::TrainLoop`]; this file drives the epochs.

mod ahead;
mod epoch;
mod open;
mod pools;
mod split;
mod state;
mod step;
mod validate;

use crossbeam_channel::Receiver;

use state::TrainLoop;

use crate::train::config::TrainConfig;
use crate::train::control::{Commands, Control, TrainCommand};
use crate::train::events::{EventSink, TrainEvent};

/// Run (or resume) the training `config` describes, reporting to `sink` and taking
/// `commands`, until its last epoch, a Stop or a Cancel.
pub(super) fn run(
    config: TrainConfig,
    resume: bool,
    commands: Receiver<TrainCommand>,
    sink: EventSink,
) -> anyhow::Result<()> {
    let Some(train) = open::open(config, resume, Commands::new(commands), sink)? else {
        return Ok(());
    };
    // A split run's loop runs in its own one-thread pool, all of it: the model's batch-norm
    // statistics must be updated and read on one thread (see [`pools`]).
    let pool = train.pools().map(|p| std::sync::Arc::clone(&p.training));
    pools::run_in(pool.as_deref(), move || train.run())
}

impl TrainLoop {
    fn run(mut self) -> anyhow::Result<()> {
        for epoch in self.start_epoch..self.config.epochs {
            let Some(trained) = self.train_epoch(epoch)? else {
                return Ok(());
            };
            self.validate_and_checkpoint(epoch, trained)?;
            match self.between_epochs(epoch) {
                Control::Continue => {}
                Control::Stop => break,
                Control::Cancel => return Ok(()),
            }
        }
        self.sink.send(TrainEvent::Finished {
            epochs_done: self.history.last().map_or(0, |m| m.epoch),
            best_epoch: self.best.map(|b| b.0),
            best_validation: self.best.map(|b| b.1),
            checkpoint: self.writer.dir().join("best.json").display().to_string(),
        });
        Ok(())
    }

    /// After 0-based `epoch`'s checkpoint: apply a new learning rate, and end the run on a Stop
    /// (asked during the epoch or now) or a Cancel (the Cancelled event is sent).
    fn between_epochs(&mut self, epoch: usize) -> Control {
        if let Some(lr) = self.commands.next_lr {
            self.base_lr = lr;
        }
        if self.commands.stop_requested {
            return Control::Stop;
        }
        match self.commands.poll(&self.sink) {
            Control::Cancel => {
                self.sink.send(TrainEvent::Cancelled {
                    epochs_done: epoch + 1,
                });
                return Control::Cancel;
            }
            Control::Stop => return Control::Stop,
            Control::Continue => {}
        }
        if let Some(lr) = self.commands.next_lr.take() {
            self.base_lr = lr;
        }
        Control::Continue
    }
}
