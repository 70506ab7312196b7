//! One training run on the trainer thread, drawn as progress bars (or JSON lines), for
//! `bifsmn train`, `bifsmn train finetune` and `bifsmn ablate`.

use anyhow::{Context, bail};
use indicatif::ProgressBar;
use serde::Serialize;

use super::output::progress;
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

/// Run a training to the end on the trainer thread, showing progress; Ctrl-C is not trapped,
/// a killed run resumes with `--resume`.
pub fn run_training(config: TrainConfig, resume: bool, json: bool) -> anyhow::Result<TrainOutcome> {
    let run_dir = config.run_dir.display().to_string();
    let trainer = Trainer::spawn(config, resume);
    let mut bar: Option<ProgressBar> = None;
    let mut history = Vec::new();
    let mut outcome = None;
    let mut error = None;
    for event in trainer.events().iter() {
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
                history = h;
                if !json {
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
                let b =
                    bar.get_or_insert_with(|| progress(s.steps_per_epoch as u64, "epoch", json));
                b.set_length(s.steps_per_epoch as u64);
                b.set_position(s.step as u64);
                b.set_message(format!("epoch {}", s.epoch));
            }
            TrainEvent::Epoch(m) => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
                if json {
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
                history.push(m);
            }
            TrainEvent::Log(text) => eprintln!("{text}"),
            TrainEvent::Finished {
                epochs_done,
                best_epoch,
                best_validation,
                ..
            } => {
                outcome = Some(TrainOutcome {
                    finished: true,
                    epochs_done,
                    best_epoch,
                    best_validation,
                    run_dir: run_dir.clone(),
                    history: history.clone(),
                })
            }
            TrainEvent::Cancelled { epochs_done } => {
                outcome = Some(TrainOutcome {
                    finished: false,
                    epochs_done,
                    best_epoch: None,
                    best_validation: None,
                    run_dir: run_dir.clone(),
                    history: history.clone(),
                })
            }
            TrainEvent::Error(e) => error = Some(e),
            _ => {}
        }
    }
    trainer.join();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Some(e) = error {
        bail!("training failed: {e}");
    }
    let outcome = outcome.context("the trainer ended without reporting an outcome")?;
    if json {
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
    } else if let (Some(e), Some(v)) = (outcome.best_epoch, outcome.best_validation) {
        eprintln!(
            "{:>12} best validation accuracy {:.2}% (8-layer path) at epoch {e}; model in {}/best.json",
            "Finished",
            100.0 * v,
            outcome.run_dir
        );
    }
    Ok(outcome)
}
