//! The fine-tune on a worker thread: prepare (the engine's [`finetune::prepare`]), train with
//! progress and Cancel, compare ([`finetune::finish`]). Which corpus is replayed depends on
//! the [`TeachMode`]: the demo set for the loaded model's keywords, the user's corpus for new
//! ones (the engine then gives the student a new classifier for its keywords).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bifsmn_engine::train::finetune::{self, FinetuneConfig, FinetuneReport, Prepared};
use bifsmn_engine::train::{TrainEvent, Trainer};
use crossbeam_channel::RecvTimeoutError;

use super::logic::TrainProgress;
use super::new_words::TeachMode;
use crate::paths;
use crate::task::Progress;
use crate::widgets::Notice;

/// Phases of the fine-tune task ([`Progress::phase`]).
pub(super) const PHASE_PREPARE: u64 = 0;
pub(super) const PHASE_TRAIN: u64 = 1;
pub(super) const PHASE_COMPARE: u64 = 2;
/// Resolution of the fine-tune's progress fraction.
const PROGRESS_UNITS: u64 = 1000;
/// Epochs of a fine-tune for new words: a new classifier needs longer than a new voice.
pub(crate) const NEW_WORDS_EPOCHS: usize = 12;
/// Replay clips of a fine-tune for new words: all of a corpus made by "Make the corpus" (about
/// 2,400 training clips for three words), so the new classifier sees every voice. Measured:
/// 12 epochs of three words took 5 minutes on 2 busy cores, the comparison included.
pub(crate) const NEW_WORDS_REPLAY_CLIPS: usize = 4000;

/// Settings of the fine-tune that differ from the engine's defaults (tests run a tiny one).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FinetuneOverrides {
    pub epochs: Option<usize>,
    pub replay_clips: Option<usize>,
    /// Parent of the new run folder instead of the workbench's runs folder.
    pub runs_dir: Option<PathBuf>,
}

impl FinetuneOverrides {
    fn apply(&self, config: &mut FinetuneConfig) {
        if let Some(e) = self.epochs {
            config.epochs = e.max(1);
        }
        if let Some(n) = self.replay_clips {
            config.replay_clips = n;
        }
    }
}

/// What one fine-tune starts from and replays (sent to the worker).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FinetuneJob {
    pub mode: TeachMode,
    /// The loaded student (a .bkw with its run beside it, or a run folder).
    pub base: PathBuf,
    pub takes: PathBuf,
    /// The corpus of the new words (in [`TeachMode::NewKeywords`]).
    pub corpus: Option<PathBuf>,
    pub overrides: FinetuneOverrides,
}

/// The engine's settings for a fine-tune replaying `replay`: its defaults for a voice, more
/// epochs and replay clips for new words, then the overrides.
pub(crate) fn finetune_config(
    job: &FinetuneJob,
    replay: PathBuf,
    run_dir: PathBuf,
) -> FinetuneConfig {
    let mut config = FinetuneConfig::new(job.base.clone(), job.takes.clone(), replay, run_dir);
    if job.mode == TeachMode::NewKeywords {
        config.epochs = NEW_WORDS_EPOCHS;
        config.replay_clips = NEW_WORDS_REPLAY_CLIPS;
    }
    job.overrides.apply(&mut config);
    config
}

/// The corpus replayed: the bundled demo set, or the corpus of the new words.
fn replay_root(job: &FinetuneJob) -> Result<PathBuf, Notice> {
    match job.mode {
        TeachMode::ModelKeywords => bifsmn_engine::data::demo_root().ok_or_else(|| {
            Notice::error(
                "The bundled demo set was not found; fine-tuning replays it so that the model \
                 keeps hearing other voices.",
                "Reinstall the workbench, or set BIFSMN_DEMO_DIR to the demo set's folder.",
            )
        }),
        TeachMode::NewKeywords => job.corpus.clone().ok_or_else(|| {
            Notice::error(
                "No corpus of the new keywords is chosen.",
                "Type your words and press Make the corpus, then Fine-tune.",
            )
        }),
    }
}

/// The hint for an error of [`finetune::prepare`], from its text (the engine's errors are
/// untyped).
fn prepare_hint(error: &str, mode: TeachMode) -> &'static str {
    let new_words = mode == TeachMode::NewKeywords;
    if error.contains("holds only the packed") {
        "Load the student's run folder in the model row above, or keep the .bkw next to the \
         run folder it was exported from, then press Fine-tune again."
    } else if error.contains("FP32 teacher") {
        "Load a binary student (.bkw or run folder) in the model row above."
    } else if error.contains("is not a keyword") {
        if new_words {
            "Use another takes folder for other words (Takes folder, above): this one holds \
             takes of a word that is not in the corpus. Or move that word's folder out of it."
        } else {
            "Use another takes folder for other words (Takes folder, above): this one holds \
             takes of a word the model does not know. Or move that word's folder out of it; to \
             teach new words, choose New keywords at the top."
        }
    } else if error.contains("replay corpus") {
        if new_words {
            "Press Make the corpus again (an interrupted corpus resumes), or choose the folder \
             of a finished corpus, then press Fine-tune again."
        } else {
            "Fine-tuning replays the bundled demo set, so it works for models of its 12 \
             classes; for other words choose New keywords at the top."
        }
    } else if error.contains("teacher") {
        "The base model's teacher could not be used; fine-tune from the command line with \
         `bifsmn train finetune --teacher <run>`."
    } else {
        "Check the takes folder and the loaded model, then press Fine-tune again."
    }
}

fn cancelled_notice(run_dir: &Path) -> Notice {
    Notice::info(format!(
        "Fine-tune cancelled. Your takes are kept; the unfinished run is in {} (delete it if \
         you like).",
        run_dir.display()
    ))
}

/// Prepare, train and compare (worker thread): the whole fine-tune.
pub(super) fn run_finetune(
    job: &FinetuneJob,
    progress: &Progress,
) -> Result<FinetuneReport, Notice> {
    progress.set_phase(PHASE_PREPARE);
    let replay = replay_root(job)?;
    let runs = job
        .overrides
        .runs_dir
        .clone()
        .unwrap_or_else(paths::runs_dir);
    let name = match job.mode {
        TeachMode::ModelKeywords => "finetune",
        TeachMode::NewKeywords => "new-keywords",
    };
    let config = finetune_config(job, replay, paths::new_run_dir(&runs, name));
    let prepared = finetune::prepare(&config).map_err(|e| {
        let text = format!("{e:#}");
        Notice::error(
            format!("Cannot start the fine-tune: {text}"),
            prepare_hint(&text, job.mode),
        )
    })?;
    if progress.is_cancelled() {
        return Err(cancelled_notice(&config.run_dir));
    }
    progress.set_phase(PHASE_TRAIN);
    let started = Instant::now();
    train(&prepared, progress)?;
    if progress.is_cancelled() {
        return Err(cancelled_notice(&config.run_dir));
    }
    progress.set_phase(PHASE_COMPARE);
    finetune::finish(&prepared, started.elapsed().as_secs_f64()).map_err(|e| {
        Notice::error(
            format!("The fine-tuned model could not be exported or compared: {e:#}"),
            format!(
                "The trained run is kept in {}; check the free disk space and press Fine-tune \
                 again.",
                config.run_dir.display()
            ),
        )
    })
}

/// Run the prepared training to its end, mirroring its progress and honouring Cancel.
fn train(prepared: &Prepared, progress: &Progress) -> Result<(), Notice> {
    let run_dir = &prepared.config.run_dir;
    let trainer = Trainer::spawn(prepared.train.clone(), false);
    let mut tracker = TrainProgress::new(prepared.train.epochs);
    let mut outcome = None;
    let mut cancel_sent = false;
    loop {
        match trainer.events().recv_timeout(Duration::from_millis(100)) {
            Ok(event) => {
                tracker.apply(&event);
                match event {
                    TrainEvent::Finished { .. } => outcome = Some(Ok(())),
                    TrainEvent::Cancelled { .. } => outcome = Some(Err(cancelled_notice(run_dir))),
                    TrainEvent::Error(e) => {
                        outcome = Some(Err(Notice::error(
                            format!("Fine-tuning failed: {e}"),
                            "Record a few more takes or re-record unclear ones, then press \
                             Fine-tune again; `bifsmn train finetune` in a terminal shows the \
                             same run step by step.",
                        )))
                    }
                    _ => {}
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            // The trainer thread has ended (its event senders are gone).
            Err(RecvTimeoutError::Disconnected) => break,
        }
        progress.set(
            (tracker.fraction() * PROGRESS_UNITS as f32) as u64,
            Some(PROGRESS_UNITS),
        );
        if progress.is_cancelled() && !cancel_sent {
            trainer.cancel();
            cancel_sent = true;
        }
    }
    trainer.join();
    outcome.unwrap_or_else(|| {
        Err(Notice::error(
            "The training thread ended without reporting how it went.",
            "Press Fine-tune again; if it happens again, run `bifsmn train finetune` in a \
             terminal to see the error.",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(mode: TeachMode) -> FinetuneJob {
        FinetuneJob {
            mode,
            base: PathBuf::from("/m/student.bkw"),
            takes: PathBuf::from("/t"),
            corpus: Some(PathBuf::from("/t-corpus")),
            overrides: FinetuneOverrides::default(),
        }
    }

    #[test]
    fn new_words_train_longer_on_their_corpus() {
        let voice = finetune_config(&job(TeachMode::ModelKeywords), "/demo".into(), "/r".into());
        let defaults = FinetuneConfig::new("/m".into(), "/t".into(), "/demo".into(), "/r".into());
        assert_eq!(
            (voice.epochs, voice.replay_clips),
            (defaults.epochs, defaults.replay_clips)
        );
        assert_eq!(voice.replay, PathBuf::from("/demo"));
        let mut words = job(TeachMode::NewKeywords);
        let config = finetune_config(&words, "/t-corpus".into(), "/r".into());
        assert_eq!((config.epochs, config.replay_clips), (12, 4000));
        assert_eq!(config.replay, PathBuf::from("/t-corpus"));
        assert_eq!(config.takes, PathBuf::from("/t"));
        assert_eq!(config.base, PathBuf::from("/m/student.bkw"));
        // The overrides (tests) win.
        words.overrides.epochs = Some(1);
        words.overrides.replay_clips = Some(32);
        let config = finetune_config(&words, "/t-corpus".into(), "/r".into());
        assert_eq!((config.epochs, config.replay_clips), (1, 32));
    }

    #[test]
    fn new_words_replay_their_corpus() {
        assert_eq!(
            replay_root(&job(TeachMode::NewKeywords)),
            Ok(PathBuf::from("/t-corpus"))
        );
        let none = FinetuneJob {
            corpus: None,
            ..job(TeachMode::NewKeywords)
        };
        assert!(
            replay_root(&none)
                .unwrap_err()
                .hint
                .contains("Make the corpus")
        );
    }

    #[test]
    fn prepare_errors_get_a_hint_that_says_what_to_do() {
        let voice = TeachMode::ModelKeywords;
        let words = TeachMode::NewKeywords;
        assert!(
            prepare_hint("x.bkw holds only the packed 1-bit weights", voice).contains("run folder")
        );
        let foreign = "/t/yes: `yes` is not a keyword of this run (it has lights_on, pause)";
        for mode in [voice, words] {
            let hint = prepare_hint(foreign, mode);
            assert!(
                hint.contains("another takes folder for other words"),
                "{hint}"
            );
        }
        assert!(prepare_hint(foreign, voice).contains("New keywords"));
        assert!(
            prepare_hint("opening the replay corpus /c: no such folder", words)
                .contains("Make the corpus")
        );
        assert!(prepare_hint("something else", words).contains("press Fine-tune again"));
    }
}
