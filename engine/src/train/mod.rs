//! Training: the FP teacher with cross-entropy, then the BiFSMNv2 student distilled from it,
//! all thin paths every step. A [`Trainer`] runs on its own thread, takes [`TrainCommand`]s
//! and emits [`TrainEvent`]s; checkpoints make a killed run resumable.
//!
//! The files, in the order a run meets them: `config.rs` (what defines a run), `run/` (the
//! loop: open or resume, one epoch, one step, validate and checkpoint), `teacher.rs` (loading
//! the teacher, starting a student from it, its distillation targets), [`loss`], [`optim`],
//! [`health`], [`eval`], [`checkpoint`], `control.rs` (the commands a run polls) and [`events`]
//! (what it reports). Each file imports from the files that define what it uses, never from
//! this one, so the files form no import cycle.

pub mod checkpoint;
mod config;
mod control;
pub mod devices;
pub mod eval;
pub mod events;
pub mod finetune;
pub mod health;
mod internals;
pub mod loss;
pub mod optim;
mod run;
mod teacher;
mod tensors;
mod warm_start;

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

pub use config::{Backend, Role, TrainConfig};
pub use control::TrainCommand;
pub use devices::{BackendError, DeviceInfo, list_devices, open_device};
pub use events::*;
pub use loss::DistillMode;

/// A training run on its own thread.
pub struct Trainer {
    commands: Sender<TrainCommand>,
    events: Receiver<TrainEvent>,
    handle: Option<JoinHandle<()>>,
}

impl Trainer {
    /// Start a run (or resume it when `resume` and the run directory has a checkpoint).
    pub fn spawn(config: TrainConfig, resume: bool) -> Trainer {
        let (ctx, crx) = crossbeam_channel::unbounded();
        let (etx, erx) = crossbeam_channel::bounded(1024);
        let sink = EventSink::new(etx);
        let handle = std::thread::Builder::new()
            .name("bifsmn-trainer".into())
            .spawn(move || {
                // A GPU runtime reports a driver's refusal by panicking; the listener gets it
                // as the run's error instead of a run that ends without an outcome.
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run::run(config, resume, crx, sink.clone())
                }));
                match run {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        let mut text = format!("{e}");
                        for cause in e.chain().skip(1) {
                            text.push_str(&format!(": {cause}"));
                        }
                        sink.send(TrainEvent::Error(text));
                    }
                    Err(panic) => sink.send(TrainEvent::Error(format!(
                        "training stopped on an internal error: {}",
                        devices::panic_text(panic.as_ref())
                    ))),
                }
            })
            .expect("spawning the trainer thread");
        Trainer {
            commands: ctx,
            events: erx,
            handle: Some(handle),
        }
    }

    pub fn events(&self) -> &Receiver<TrainEvent> {
        &self.events
    }

    pub fn send(&self, command: TrainCommand) {
        let _ = self.commands.send(command);
    }

    pub fn pause(&self) {
        self.send(TrainCommand::Pause)
    }

    pub fn resume(&self) {
        self.send(TrainCommand::Resume)
    }

    pub fn stop(&self) {
        self.send(TrainCommand::Stop)
    }

    pub fn cancel(&self) {
        self.send(TrainCommand::Cancel)
    }

    /// Whether the training thread has ended.
    pub fn is_finished(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }

    /// Wait for the thread to end.
    pub fn join(mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Trainer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = self.commands.send(TrainCommand::Cancel);
            let _ = h.join();
        }
    }
}
