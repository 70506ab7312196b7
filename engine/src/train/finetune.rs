//! Fine-tuning a trained student on a user's own takes, so that it hears their voice.
//!
//! Three phases, so that the caller runs the training its own way (the CLI with a progress
//! bar, the GUI with its live charts):
//!
//! 1. [`prepare`]: read the takes (`<word>/<file>.wav`), hold back the last take of every
//!    keyword for the before/after comparison, and build the training set in the new run's
//!    folder: the other takes, each several times (each copy is augmented differently), plus
//!    a replay sample of the base corpus so the model does not forget other voices. Returns
//!    the [`TrainConfig`]: start from the base student, distil from the FP teacher where one
//!    is known, a few epochs at a low learning rate.
//! 2. Train it.
//! 3. [`finish`]: export the new `.bkw` and compare it with the base model on the held-back
//!    takes (per keyword), on the base corpus's test split, and with the streaming detector
//!    on a stream of the base corpus's test words.
//!
//! The base model is never written to; the new run goes into a folder that must not exist yet.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::checkpoint::{Sidecar, open_model};
use super::config::{Backend, TrainConfig};
use super::eval::{PathEvaluation, evaluate_packed};
use super::loss::DistillMode;
use crate::data::speech_commands::{BACKGROUND_DIR, KEYWORDS_FILE, TESTING_LIST, VALIDATION_LIST};
use crate::data::{AugmentConfig, ClipSource, Dataset, Protocol, Split};
use crate::fsutil::write_atomic;

/// The speaker id of the user's takes in the training set.
pub const ME: &str = "me";

/// What to fine-tune, on what, and how.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinetuneConfig {
    /// The student to start from: its run folder, or a `.bkw` with its run folder beside it
    /// (`demo-student.bkw` and `demo-student/`).
    pub base: PathBuf,
    /// The takes: `<keyword>/<any name>.wav` (or .flac, .ogg, .mp3).
    pub takes: PathBuf,
    /// The corpus replayed alongside the takes (the demo set by default).
    pub replay: PathBuf,
    /// FP teacher to distil from; `None` finds the base run's own teacher if it still exists.
    pub teacher: Option<PathBuf>,
    /// The new run's folder (must not exist or be empty).
    pub run_dir: PathBuf,
    pub epochs: usize,
    pub lr: f64,
    pub batch_size: usize,
    /// Clips of the replay corpus's training split mixed in.
    pub replay_clips: usize,
    /// Copies of each training take (each augmented differently every epoch).
    pub take_copies: usize,
    /// Takes of each keyword held back for the comparison.
    pub held_back: usize,
    pub seed: u64,
}

impl FinetuneConfig {
    /// The defaults: measured to finish within two minutes on a 2-core laptop-class CPU.
    pub fn new(base: PathBuf, takes: PathBuf, replay: PathBuf, run_dir: PathBuf) -> Self {
        Self {
            base,
            takes,
            replay,
            teacher: None,
            run_dir,
            epochs: 6,
            lr: 0.005,
            batch_size: 32,
            replay_clips: 400,
            take_copies: 4,
            held_back: 1,
            seed: 1,
        }
    }
}

/// A prepared fine-tuning run: train `train`, then call [`finish`].
#[derive(Clone, Debug)]
pub struct Prepared {
    pub config: FinetuneConfig,
    pub train: TrainConfig,
    /// The base student's run folder.
    pub base_run: PathBuf,
    pub labels: Vec<String>,
    /// Held-back takes, relative to the training set's root (its test split).
    pub held_back: Vec<String>,
    pub train_takes: usize,
    pub replay_clips: usize,
}

/// The run folder of a base model given as a run folder, a sidecar, or a `.bkw` with its run
/// folder beside it.
pub fn resolve_base(model: &Path) -> anyhow::Result<PathBuf> {
    let is_bkw = model
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("bkw"));
    if !is_bkw {
        return Ok(model.to_path_buf());
    }
    let run = model.with_extension("");
    if run.join("best.json").is_file() || run.join("checkpoint.json").is_file() {
        return Ok(run);
    }
    bail!(
        "{} holds only the packed 1-bit weights; fine-tuning needs the run it was exported \
         from (a folder with best.json, expected at {})",
        model.display(),
        run.display()
    )
}

/// The teacher to distil from: the one given, else the shipped teacher beside a shipped
/// student (`demo-teacher/` next to `demo-student/`: they travel together), else the base
/// run's own teacher if it still exists where it was trained.
fn find_teacher(config: &FinetuneConfig, base_run: &Path, base: &Sidecar) -> Option<PathBuf> {
    if let Some(t) = &config.teacher {
        return Some(t.clone());
    }
    let recorded = base.config.teacher.clone().filter(|t| t.exists());
    let beside = base_run
        .parent()
        .map(|dir| dir.join("demo-teacher"))
        .filter(|t| t.join("best.json").is_file());
    beside.or(recorded)
}

/// Check the inputs, build the training set and return what to train.
pub fn prepare(config: &FinetuneConfig) -> anyhow::Result<Prepared> {
    let base_run = resolve_base(&config.base)?;
    let device = Backend::Flex.device()?;
    let base = open_model(&base_run, &device)
        .with_context(|| format!("opening the base model {}", base_run.display()))?;
    if !base.model.config.is_binary() {
        bail!(
            "{} is an FP32 teacher; fine-tune the binary student (its run folder or .bkw)",
            base_run.display()
        );
    }
    // The classes come from the replay corpus: the base model's own for new takes of its
    // keywords, or new keywords (a corpus made with `data synth`), which start from the base
    // network with a new classifier.
    let replay = Dataset::open(&config.replay, Protocol::Twelve)
        .with_context(|| format!("opening the replay corpus {}", config.replay.display()))?;
    let labels = replay.labels.clone();
    let takes = read_takes(&config.takes, &labels)?;
    let teacher = match find_teacher(config, &base_run, &base.sidecar) {
        Some(t) => {
            let teacher_labels = open_model(&t, &device)
                .with_context(|| format!("opening the teacher {}", t.display()))?
                .sidecar
                .labels;
            // Distillation matches logits class by class: a teacher of other words cannot
            // teach these (an explicit --teacher must fit; a found one is just not used).
            if teacher_labels != labels && config.teacher.is_some() {
                bail!(
                    "the teacher {} knows {:?}, this run's classes are {:?}",
                    t.display(),
                    teacher_labels,
                    labels
                );
            }
            (teacher_labels == labels).then_some(t)
        }
        None => None,
    };
    claim_run_dir(&config.run_dir)?;
    let data = config.run_dir.join("data");
    let (held_back, train_takes) = write_takes(config, &takes, &data)?;
    let replay_clips = write_replay(config, &replay, &data)?;
    let keywords: String = labels[2..].iter().map(|k| format!("{k}\n")).collect();
    write(&data.join(KEYWORDS_FILE), &keywords)?;
    let list: String = held_back.iter().map(|r| format!("{r}\n")).collect();
    write(&data.join(TESTING_LIST), &list)?;

    let mut train = TrainConfig::student(data, config.run_dir.join("run"), PathBuf::new());
    train.teacher = teacher;
    train.distill = if train.teacher.is_some() {
        base.sidecar.config.distill
    } else {
        DistillMode::None
    };
    train.init_from_teacher = false;
    train.init_from = Some(base_run.clone());
    train.path_weights = base.sidecar.config.path_weights.clone();
    train.binarizer = base.sidecar.config.binarizer;
    train.planes = base.sidecar.config.planes;
    train.learn_alpha = base.sidecar.config.learn_alpha;
    train.epochs = config.epochs;
    train.lr = config.lr;
    train.batch_size = config.batch_size;
    train.seed = config.seed;
    train.augmentation = AugmentConfig::robust();
    train.validate().map_err(anyhow::Error::msg)?;
    Ok(Prepared {
        config: config.clone(),
        train,
        base_run,
        labels,
        held_back,
        train_takes,
        replay_clips,
    })
}

/// The takes per keyword, sorted by file name. Words that are not the model's keywords are
/// refused by name.
fn read_takes(dir: &Path, labels: &[String]) -> anyhow::Result<BTreeMap<String, Vec<PathBuf>>> {
    let mut takes: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading the takes in {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let word = entry.file_name().to_string_lossy().into_owned();
        if word.starts_with(['.', '_']) || !entry.path().is_dir() {
            continue;
        }
        let keyword = labels[2..].contains(&word);
        let mut files: Vec<PathBuf> = std::fs::read_dir(entry.path())
            .with_context(|| format!("reading {}", entry.path().display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|e| {
                    ["wav", "flac", "ogg", "mp3"]
                        .contains(&e.to_string_lossy().to_lowercase().as_str())
                })
            })
            .collect();
        if files.is_empty() {
            continue;
        }
        if !keyword {
            bail!(
                "{}: `{word}` is not a keyword of this run (it has {}); for new words, \
                 make a corpus of them with `bifsmn data synth` and pass it as --replay",
                entry.path().display(),
                labels[2..].join(", ")
            );
        }
        files.sort();
        takes.insert(word, files);
    }
    if takes.is_empty() {
        bail!(
            "no takes in {}: expected <keyword>/<take>.wav for the keywords {}",
            dir.display(),
            labels[2..].join(", ")
        );
    }
    Ok(takes)
}

/// Refuse a run folder that already holds something: a fine-tune never overwrites.
fn claim_run_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} already exists and is not empty; a fine-tune writes a new run folder",
            dir.display()
        );
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    write_atomic(path, text.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

/// Copy the takes into the training set: the last `held_back` of each keyword into the test
/// split, the others `take_copies` times into training. Returns the held-back relative paths
/// and the number of training takes.
fn write_takes(
    config: &FinetuneConfig,
    takes: &BTreeMap<String, Vec<PathBuf>>,
    data: &Path,
) -> anyhow::Result<(Vec<String>, usize)> {
    let mut held_back = Vec::new();
    let mut trained = 0;
    for (word, files) in takes {
        let keep = files.len().saturating_sub(config.held_back).max(1);
        for (n, file) in files.iter().enumerate() {
            // Every take goes through the decoder once: 16 kHz mono WAV whatever came in.
            let samples = crate::audio::load_mono_16k(file)
                .with_context(|| format!("reading the take {}", file.display()))?;
            let samples = crate::audio::fix_length(samples, crate::audio::CLIP_SAMPLES);
            let copies = if n < keep {
                config.take_copies.max(1)
            } else {
                1
            };
            for c in 0..copies {
                let rel = if n < keep {
                    format!("{word}/{ME}_nohash_{n}c{c}.wav")
                } else {
                    format!("{word}/{ME}held_nohash_{n}.wav")
                };
                crate::audio::write_wav_mono_16k(&data.join(&rel), &samples)?;
                if n >= keep {
                    held_back.push(rel);
                }
            }
            trained += usize::from(n < keep);
        }
    }
    Ok((held_back, trained))
}

/// Link a seeded sample of the replay corpus's training split (and its validation split, for
/// choosing the best epoch, and its noise files) into the training set.
fn write_replay(config: &FinetuneConfig, replay: &Dataset, data: &Path) -> anyhow::Result<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut pick = |split: Split, n: usize| -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = replay
            .clips_in(split)
            .filter_map(|c| match &c.source {
                ClipSource::File(p) => Some(p.clone()),
                _ => None,
            })
            .collect();
        files.shuffle(&mut rng);
        files.truncate(n);
        files
    };
    let train = pick(Split::Train, config.replay_clips);
    let validation = pick(Split::Validation, 200);
    let mut listed = String::new();
    for (files, list) in [(&train, false), (&validation, true)] {
        for f in files {
            let rel = f
                .strip_prefix(&replay.root)
                .unwrap_or(f)
                .to_string_lossy()
                .replace('\\', "/");
            link(f, &data.join(&rel))?;
            if list {
                listed.push_str(&rel);
                listed.push('\n');
            }
        }
    }
    write(&data.join(VALIDATION_LIST), &listed)?;
    for noise in &replay.background {
        if let Some(name) = noise.file_name() {
            link(noise, &data.join(BACKGROUND_DIR).join(name))?;
        }
    }
    Ok(train.len())
}

fn link(from: &Path, to: &Path) -> anyhow::Result<()> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let from =
        std::fs::canonicalize(from).with_context(|| format!("reading {}", from.display()))?;
    std::os::unix::fs::symlink(&from, to).with_context(|| format!("linking {}", to.display()))
}

/// Accuracy of one model on one set, per thin path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BeforeAfter {
    pub before: Vec<f32>,
    pub after: Vec<f32>,
}

/// One keyword's held-back takes: how many the old and the new model got right (8 layers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeywordResult {
    pub keyword: String,
    pub takes: u32,
    pub before: u32,
    pub after: u32,
}

/// What the fine-tune gained and what it cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinetuneReport {
    pub run_dir: PathBuf,
    /// The new packed model.
    pub model: PathBuf,
    pub base: PathBuf,
    pub train_takes: usize,
    pub replay_clips: usize,
    pub per_keyword: Vec<KeywordResult>,
    /// Held-back takes, per thin path.
    pub held_back: BeforeAfter,
    /// The replay corpus's test split, per thin path.
    pub base_test: BeforeAfter,
    /// The streaming detector (8 layers, threshold 0.7) on a 10-minute stream of the replay
    /// corpus's test keywords and other words at 20 and 10 dB SNR.
    pub stream: StreamBeforeAfter,
    pub seconds_training: f64,
}

/// False accepts per hour and false-reject rate of the streaming detector, old and new.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamBeforeAfter {
    pub minutes: f64,
    pub threshold: f32,
    pub fa_per_hour: (f64, f64),
    pub frr: (f64, f64),
}

/// Export the trained run and compare it with the base model.
pub fn finish(prepared: &Prepared, seconds_training: f64) -> anyhow::Result<FinetuneReport> {
    let dir = &prepared.config.run_dir;
    let model = dir.join("model.bkw");
    let base_bkw = dir.join("base.bkw");
    // Exact float sections: the before/after figures compare the networks, not the rounding of
    // a smaller storage (`bifsmn export` can write a q8 copy for the board).
    let storage = bifsmn_kernels::format::Storage::EXACT;
    crate::export::export_run(&prepared.train.run_dir, &model, storage)
        .context("exporting the fine-tuned model")?;
    crate::export::export_run(&prepared.base_run, &base_bkw, storage)
        .context("exporting the base model for the comparison")?;

    let takes = Dataset::open(&prepared.train.dataset, Protocol::Twelve)?;
    let replay = Dataset::open(&prepared.config.replay, Protocol::Twelve)?;
    let eval = |bkw: &Path, ds: &Dataset| -> anyhow::Result<Vec<PathEvaluation>> {
        Ok(evaluate_packed(bkw, ds, Split::Test, &|| {})?.1)
    };
    let (held_after, test_after) = (eval(&model, &takes)?, eval(&model, &replay)?);
    // A base model of other words cannot be scored on these classes: it recognises none of
    // the new keywords (0 right), and its accuracy on the new corpus does not exist.
    let same_classes = open_model(&prepared.base_run, &Backend::Flex.device()?)?
        .sidecar
        .labels
        == prepared.labels;
    let (held_before, test_before) = if same_classes {
        (eval(&base_bkw, &takes)?, eval(&base_bkw, &replay)?)
    } else {
        let mut nothing = held_after.clone();
        for p in &mut nothing {
            for row in p.confusion.iter_mut() {
                let n: u32 = row.iter().sum();
                row.fill(0);
                row[0] = n; // all taken for `unknown`
            }
        }
        (nothing, Vec::new())
    };
    let stream = stream_before_after(&replay, &base_bkw, &model)?;
    let accuracy = |e: &[PathEvaluation]| e.iter().map(|p| p.metrics.accuracy).collect();
    let keyword_accuracy = |e: &[PathEvaluation]| e.iter().map(keyword_rows_accuracy).collect();
    let report = FinetuneReport {
        run_dir: dir.clone(),
        model,
        base: prepared.base_run.clone(),
        train_takes: prepared.train_takes,
        replay_clips: prepared.replay_clips,
        per_keyword: per_keyword(&prepared.labels, &held_before[0], &held_after[0]),
        held_back: BeforeAfter {
            before: keyword_accuracy(&held_before),
            after: keyword_accuracy(&held_after),
        },
        // Empty `before` when the base model has other classes.
        base_test: BeforeAfter {
            before: accuracy(&test_before),
            after: accuracy(&test_after),
        },
        stream,
        seconds_training,
    };
    write(
        &dir.join("finetune.json"),
        &serde_json::to_string_pretty(&report)?,
    )?;
    Ok(report)
}

/// Accuracy over the keyword clips only (the set's silence clips are not takes).
fn keyword_rows_accuracy(e: &PathEvaluation) -> f32 {
    let (mut right, mut all) = (0u32, 0u32);
    for (c, row) in e.confusion.iter().enumerate().skip(2) {
        right += row[c];
        all += row.iter().sum::<u32>();
    }
    right as f32 / all.max(1) as f32
}

/// Both models on the same stream of the replay corpus's test split.
fn stream_before_after(
    replay: &Dataset,
    base: &Path,
    new: &Path,
) -> anyhow::Result<StreamBeforeAfter> {
    use crate::stream::eval::{EvalConfig, evaluate};
    use crate::stream::mix::{MixConfig, build};
    use crate::stream::{DetectorConfig, ModelScorer};

    let keywords: Vec<String> = replay.labels[2..].to_vec();
    let mix = MixConfig {
        minutes: 10.0,
        snr_db: vec![20.0, 10.0],
        seed: 1,
        ..MixConfig::default()
    };
    let stream = build(replay, &keywords, &mix)?;
    let threshold = DetectorConfig::default().threshold;
    let config = EvalConfig {
        thresholds: vec![threshold],
        target_fa_per_hour: None,
        ..EvalConfig::default()
    };
    let point = |bkw: &Path| -> anyhow::Result<(f64, f64)> {
        let mut scorer = ModelScorer::load(bkw, 0)?;
        let report = evaluate(&mut scorer, &stream, &config)?;
        let p = report.points.first().context("the sweep gave no point")?;
        Ok((p.fa_per_hour, p.frr))
    };
    let (before, after) = (point(base)?, point(new)?);
    Ok(StreamBeforeAfter {
        minutes: mix.minutes,
        threshold,
        fa_per_hour: (before.0, after.0),
        frr: (before.1, after.1),
    })
}

fn per_keyword(
    labels: &[String],
    before: &PathEvaluation,
    after: &PathEvaluation,
) -> Vec<KeywordResult> {
    (2..labels.len())
        .filter_map(|c| {
            let takes: u32 = before.confusion[c].iter().sum();
            (takes > 0).then(|| KeywordResult {
                keyword: labels[c].clone(),
                takes,
                before: before.confusion[c][c],
                after: after.confusion[c][c],
            })
        })
        .collect()
}
