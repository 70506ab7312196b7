//! One training run on the trainer thread, drawn as progress bars (or JSON lines), for
//! `bifsmn train`, `bifsmn train finetune` and `bifsmn ablate`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use indicatif::ProgressBar;
use serde::Serialize;

use super::output::progress;
use super::run_files::{ControlFile, EventLog};
use bifsmn_engine::train::{EpochMetrics, TrainConfig, TrainEvent, Trainer};

/// How a run ended, as the CLI reports it.
#[derive(Debug, Serialize)]
pub struct TrainOutcome {
    pub finished: bool,
    pub epochs_done: usize,
    pub best_epoch: Option<usize>,
    pub best_validation: Option<f32>,
    pub run_dir: String,
    pub history: Vec<EpochMetrics>,
}

fn fmt_paths(m: &[bifsmn_engine::train::PathMetrics]) -> String {
    m.iter()
        .map(|p| format!("{}L {:5.1}%", p.layers, 100.0 * p.accuracy))
        .collect::<Vec<_>>()
        .join("  ")
}

/// Where the training steps' time went over `history`, e.g. "in training steps: forward 45%
/// (31.0 s), backward 48% ...; the teacher's forward passes took 5.1 s beside them", or `None`
/// when no epoch recorded it.
fn phase_profile(history: &[EpochMetrics]) -> Option<String> {
    let mut sum = bifsmn_engine::train::StepPhases::default();
    for m in history {
        sum.add(&m.phases);
    }
    let phases = sum.on_training_thread();
    let total: f32 = phases.iter().map(|(_, s)| s).sum();
    (total > 0.0).then(|| {
        let parts: Vec<String> = phases
            .iter()
            .map(|(name, s)| format!("{name} {:.0}% ({s:.1} s)", 100.0 * s / total))
            .collect();
        let teacher = if sum.teacher > 0.0 {
            format!(
                "; the teacher's forward passes took {:.1} s beside them",
                sum.teacher
            )
        } else {
            String::new()
        };
        format!("in training steps: {}{teacher}", parts.join(", "))
    })
}

/// Draws a run's events as progress bars and an epoch table (or JSON lines) and collects the
/// outcome; the same for a local and a remote run.
pub struct EventView {
    json: bool,
    run_dir: String,
    bar: Option<ProgressBar>,
    history: Vec<EpochMetrics>,
    outcome: Option<TrainOutcome>,
    error: Option<String>,
}

impl EventView {
    pub fn new(run_dir: String, json: bool) -> Self {
        Self {
            json,
            run_dir,
            bar: None,
            history: Vec::new(),
            outcome: None,
            error: None,
        }
    }

    /// Show one event.
    pub fn show(&mut self, event: TrainEvent) -> anyhow::Result<()> {
        match event {
            TrainEvent::Started {
                epochs,
                train_clips,
                validation_clips,
                paths,
                resumed_from,
                history: h,
                role,
                ..
            } => {
                self.history = h;
                if !self.json {
                    eprintln!(
                        "{:>12} {role} on {train_clips} training / {validation_clips} validation clips, {epochs} epochs, paths {:?} layers{}",
                        "Training",
                        paths,
                        resumed_from
                            .map(|e| format!(", resuming after epoch {e}"))
                            .unwrap_or_default()
                    );
                    outln!(
                        "{:>5}  {:>9}  {:>10}  {:>8}  {:<40}  {:<40}",
                        "epoch",
                        "lr",
                        "clips/s",
                        "seconds",
                        "train accuracy per path",
                        "validation accuracy per path"
                    );
                }
            }
            TrainEvent::Step(s) => {
                let b = self
                    .bar
                    .get_or_insert_with(|| progress(s.steps_per_epoch as u64, "epoch", self.json));
                b.set_length(s.steps_per_epoch as u64);
                b.set_position(s.step as u64);
                b.set_message(format!("epoch {}", s.epoch));
            }
            TrainEvent::Epoch(m) => {
                if let Some(b) = self.bar.take() {
                    b.finish_and_clear();
                }
                if self.json {
                    outln!("{}", serde_json::to_string(&m)?);
                } else {
                    outln!(
                        "{:>5}  {:>9.2e}  {:>10.0}  {:>8.1}  {:<40}  {:<40}",
                        m.epoch,
                        m.lr,
                        m.clips_per_sec,
                        m.seconds,
                        fmt_paths(&m.train),
                        fmt_paths(&m.validation)
                    );
                }
                self.history.push(m);
            }
            TrainEvent::Log(text) => eprintln!("{text}"),
            TrainEvent::Finished {
                epochs_done,
                best_epoch,
                best_validation,
                ..
            } => {
                self.outcome = Some(TrainOutcome {
                    finished: true,
                    epochs_done,
                    best_epoch,
                    best_validation,
                    run_dir: self.run_dir.clone(),
                    history: self.history.clone(),
                })
            }
            TrainEvent::Cancelled { epochs_done } => {
                self.outcome = Some(TrainOutcome {
                    finished: false,
                    epochs_done,
                    best_epoch: None,
                    best_validation: None,
                    run_dir: self.run_dir.clone(),
                    history: self.history.clone(),
                })
            }
            TrainEvent::Error(e) => self.error = Some(e),
            _ => {}
        }
        Ok(())
    }

    /// The run's outcome once its events are all shown (an error if it failed).
    pub fn finish(self) -> anyhow::Result<TrainOutcome> {
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
        if let Some(e) = self.error {
            bail!("training failed: {e}");
        }
        let outcome = self
            .outcome
            .context("the trainer ended without reporting an outcome")?;
        if self.json {
            outln!(
                "{}",
                serde_json::to_string(&serde_json::json!({
                    "finished": outcome.finished,
                    "epochs_done": outcome.epochs_done,
                    "best_epoch": outcome.best_epoch,
                    "best_validation": outcome.best_validation,
                    "run_dir": outcome.run_dir,
                }))?
            );
        } else {
            if let Some(profile) = phase_profile(&outcome.history) {
                eprintln!("{:>12} {profile}", "Time");
            }
            if let (Some(e), Some(v)) = (outcome.best_epoch, outcome.best_validation) {
                eprintln!(
                    "{:>12} best validation accuracy {:.2}% (8-layer path) at epoch {e}; model in {}/best.json",
                    "Finished",
                    100.0 * v,
                    outcome.run_dir
                );
            }
        }
        Ok(outcome)
    }
}

/// Files that connect a run to a remote driver (`bifsmn train ... --on HOST` starts the
/// remote trainer with both).
#[derive(Clone, Debug, Default)]
pub struct RunFiles {
    /// Every event appended here as one JSON line.
    pub events_log: Option<PathBuf>,
    /// Control words (`pause`, `resume`, `stop`, `cancel`) polled from here.
    pub control: Option<PathBuf>,
}

/// Run a training to the end on the trainer thread, showing progress; Ctrl-C is not trapped,
/// a killed run resumes with `--resume`.
pub fn run_training(
    config: TrainConfig,
    resume: bool,
    json: bool,
    files: &RunFiles,
) -> anyhow::Result<TrainOutcome> {
    let mut view = EventView::new(config.run_dir.display().to_string(), json);
    let mut log = files
        .events_log
        .as_deref()
        .map(EventLog::create)
        .transpose()?;
    let trainer = Trainer::spawn(config, resume);
    let commands = match &files.control {
        Some(path) => ControlFile::watch(path.clone())?,
        None => crossbeam_channel::never(),
    };
    loop {
        crossbeam_channel::select! {
            recv(trainer.events()) -> event => {
                let Ok(event) = event else { break };
                if let Some(log) = log.as_mut() {
                    log.append(&event)?;
                }
                view.show(event)?;
            }
            recv(commands) -> command => {
                if let Ok(command) = command {
                    trainer.send(command);
                }
            }
        }
    }
    trainer.join();
    view.finish()
}
