//! `bifsmn train teacher|student` and `bifsmn eval`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use burn::module::Module;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use super::data::{RootArgs, resolve_root};
use super::output::{print_json, progress};
use super::session::{RunFiles, run_training};
use bifsmn_engine::data::{AugmentConfig, Dataset, Split};
use bifsmn_engine::model::BinarizerKind;
use bifsmn_engine::train::checkpoint::open_model;
use bifsmn_engine::train::eval::{PackedEvaluation, PathEvaluation, evaluate, evaluate_packed_on};
use bifsmn_engine::train::{Backend, DistillMode, Role, TrainConfig};

/// Which network to train.
#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// Train the full-precision D-FSMN teacher with cross-entropy.
    Teacher(TeacherArgs),
    /// Train the BiFSMNv2 binary student, initialised from and distilled by a teacher.
    Student(StudentArgs),
    /// Fine-tune a trained student on a few takes of your own voice (in about two
    /// minutes): writes a new run and .bkw and compares them with the base model.
    Finetune(super::finetune::FinetuneArgs),
    /// Follow a training started with --on HOST (after a restart, or from another
    /// terminal): replays its events from the start and copies its checkpoints back.
    Attach(super::train_remote::AttachArgs),
    /// Pause, resume, stop or cancel a training started with --on HOST.
    Control(super::train_remote::ControlArgs),
}

/// Every backend is a value in every build, so that a build without a GPU feature answers
/// `--backend wgpu` by naming the feature instead of not knowing the word.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum BackendArg {
    /// burn's CPU backend (the default).
    Flex,
    /// The deprecated burn-ndarray CPU backend, kept for comparison.
    Ndarray,
    /// burn's wgpu backend: Vulkan, Metal or DX12 (a build with `--features wgpu`).
    Wgpu,
    /// burn's CUDA backend (a build with `--features cuda`).
    Cuda,
}

impl From<BackendArg> for Backend {
    fn from(b: BackendArg) -> Self {
        match b {
            BackendArg::Flex => Backend::Flex,
            BackendArg::Ndarray => Backend::Ndarray,
            BackendArg::Wgpu => Backend::Wgpu,
            BackendArg::Cuda => Backend::Cuda,
        }
    }
}

/// Augmentation recipes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AugmentPreset {
    /// Every step: the paper's noise, gain, speed and shift plus voices, rooms, noise at
    /// 0-20 dB SNR with babble, microphone colouring and SpecAugment.
    Robust,
    /// The paper's steps only (noise mix, gain, speed, shift).
    Spec,
}

/// Which augmentation steps run.
#[derive(Debug, Args)]
pub struct AugmentArgs {
    /// Augmentation recipe; the --no-* switches below turn single steps of it off.
    #[arg(long, value_enum, default_value = "robust")]
    pub augment: AugmentPreset,
    /// No pitch/vocal-tract perturbation.
    #[arg(long)]
    pub no_voice: bool,
    /// No room reverberation.
    #[arg(long)]
    pub no_room: bool,
    /// No background noise and babble at a drawn SNR (the paper's noise mix instead).
    #[arg(long)]
    pub no_noise_snr: bool,
    /// No microphone/telephone colouring or soft clipping.
    #[arg(long)]
    pub no_channel: bool,
    /// No SpecAugment masks on the features.
    #[arg(long)]
    pub no_spec_augment: bool,
    /// Every augmentation setting from a JSON file (the `augmentation` object of a run's
    /// run.json); the preset and the --no-* switches then do not apply.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["no_voice", "no_room", "no_noise_snr", "no_channel", "no_spec_augment"])]
    pub augment_config: Option<PathBuf>,
}

impl AugmentArgs {
    /// The augmentation settings these options describe.
    pub fn config(&self) -> anyhow::Result<AugmentConfig> {
        if let Some(path) = &self.augment_config {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            return serde_json::from_str(&text)
                .with_context(|| format!("{}: not an augmentation config", path.display()));
        }
        let mut c = match self.augment {
            AugmentPreset::Robust => AugmentConfig::robust(),
            AugmentPreset::Spec => AugmentConfig::default(),
        };
        c.voice.enabled &= !self.no_voice;
        c.room.enabled &= !self.no_room;
        c.noise_snr.enabled &= !self.no_noise_snr;
        c.channel.enabled &= !self.no_channel;
        c.spec_augment.enabled &= !self.no_spec_augment;
        Ok(c)
    }
}

/// Options shared by both roles.
#[derive(Debug, Args)]
pub struct CommonArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// Labelling protocol (v1-12, v2-12, v2-35, or 12 for any folder with the 10 commands).
    #[arg(long, default_value = "12")]
    pub protocol: String,
    /// Directory for checkpoints, the best model and the run's settings.
    #[arg(long, value_name = "DIR")]
    pub run_dir: PathBuf,
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Base learning rate (cosine-annealed over the epochs).
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub weight_decay: Option<f64>,
    #[arg(long, default_value_t = 96)]
    pub batch_size: usize,
    /// Clip each parameter's gradient to this L2 norm.
    #[arg(long, value_name = "NORM", conflicts_with = "no_clip")]
    pub clip_norm: Option<f32>,
    /// No gradient clipping (the reference recipe).
    #[arg(long)]
    pub no_clip: bool,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// burn backend; the GPU ones need a build with their cargo feature.
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: BackendArg,
    /// Which of the backend's devices, as `bifsmn devices` numbers them (default: the
    /// backend's own choice, a high-power GPU first).
    #[arg(long, value_name = "N")]
    pub device: Option<usize>,
    /// Turn off training augmentation altogether.
    #[arg(long)]
    pub no_augment: bool,
    #[command(flatten)]
    pub augmentation: AugmentArgs,
    /// Use at most this many training clips per epoch (quick runs).
    #[arg(long, value_name = "N")]
    pub max_train_clips: Option<usize>,
    /// Continue the run in --run-dir from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Print one JSON object per epoch (and a final summary) instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Also produce the live charts' internals as events (distillation bands, the binarizers'
    /// learned shapes, activation bits), for a GUI following the run through --events-log;
    /// the Train form's "Run on" a host asks for them. Costs a little time per step.
    #[arg(long)]
    pub internals: bool,
    #[command(flatten)]
    pub remote: super::train_remote::RemoteArgs,
    /// Also append every training event to FILE as JSON lines (what --on follows).
    #[arg(long, value_name = "FILE")]
    pub events_log: Option<PathBuf>,
    /// Poll FILE for control words appended one a line: pause, resume, stop, cancel (what
    /// --on uses to control the remote run).
    #[arg(long, value_name = "FILE")]
    pub control_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TeacherArgs {
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct StudentArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Teacher run directory (or its best.json / .bpk).
    #[arg(long, value_name = "RUN")]
    pub teacher: Option<PathBuf>,
    /// Binarization method.
    #[arg(long, default_value = "lpb", value_parser = parse_binarizer)]
    pub binarizer: BinarizerKind,
    /// Distillation: fid (BiFSMNv2), hed (BiFSMN), plain (no band split), none.
    #[arg(long, default_value = "fid", value_parser = parse_distill)]
    pub distill: DistillMode,
    /// Activation planes: 2 = dual-scale (DTA), 1 = single plane.
    #[arg(long, default_value_t = 2)]
    pub planes: usize,
    /// Thin paths trained each step (1-4; weights 1, 0.5, 0.25, 0.125).
    #[arg(long, default_value_t = 3)]
    pub paths: usize,
    /// Freeze the LPB alphas at 1 (plain clipped STE).
    #[arg(long)]
    pub no_learn_alpha: bool,
    /// Reproduce the released code's scale axes (not exportable to the bit kernels).
    #[arg(long)]
    pub reference_code: bool,
    /// Start from random weights instead of the teacher's.
    #[arg(long)]
    pub no_init_from_teacher: bool,
}

pub fn parse_binarizer(s: &str) -> Result<BinarizerKind, String> {
    BinarizerKind::from_cli_name(s).ok_or_else(|| {
        let names: Vec<&str> = BinarizerKind::ALL.iter().map(|k| k.cli_name()).collect();
        format!(
            "unknown binarizer {s:?}; expected one of {}",
            names.join(", ")
        )
    })
}

pub fn parse_distill(s: &str) -> Result<DistillMode, String> {
    DistillMode::from_cli_name(s)
        .ok_or_else(|| format!("unknown distillation {s:?}; expected fid, hed, plain or none"))
}

fn base_config(role: Role, common: &CommonArgs) -> anyhow::Result<TrainConfig> {
    let dataset = resolve_root(&common.root)?;
    let mut c = match role {
        Role::Teacher => TrainConfig::teacher(dataset, common.run_dir.clone()),
        Role::Student => TrainConfig::student(dataset, common.run_dir.clone(), PathBuf::new()),
    };
    c.protocol = common.protocol.clone();
    if let Some(e) = common.epochs {
        c.epochs = e;
    }
    if let Some(lr) = common.lr {
        c.lr = lr;
    }
    if let Some(wd) = common.weight_decay {
        c.weight_decay = wd;
    }
    c.batch_size = common.batch_size;
    if common.no_clip {
        c.grad_clip_norm = None;
    } else if let Some(n) = common.clip_norm {
        c.grad_clip_norm = Some(n);
    }
    c.seed = common.seed;
    c.backend = common.backend.into();
    c.device_index = common.device;
    c.augment = !common.no_augment;
    c.augmentation = common.augmentation.config()?;
    c.max_train_clips = common.max_train_clips;
    c.internals = common.internals;
    Ok(c)
}

/// Build the student config from the command line (shared with `ablate`).
pub fn student_config(args: &StudentArgs) -> anyhow::Result<TrainConfig> {
    let mut c = base_config(Role::Student, &args.common)?;
    c.teacher = args.teacher.clone();
    c.binarizer = args.binarizer;
    c.distill = args.distill;
    c.planes = args.planes;
    c.learn_alpha = !args.no_learn_alpha;
    c.reference_code = args.reference_code;
    c.init_from_teacher = !args.no_init_from_teacher;
    if !(1..=4).contains(&args.paths) {
        bail!("--paths must be 1 to 4, got {}", args.paths);
    }
    c.path_weights = [1.0, 0.5, 0.25, 0.125][..args.paths].to_vec();
    if c.teacher.is_none() && (c.distill != DistillMode::None || c.init_from_teacher) {
        bail!("a student needs --teacher RUN_DIR (or --distill none --no-init-from-teacher)");
    }
    Ok(c)
}

pub fn run(cmd: TrainCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TrainCommand::Teacher(a) => train_role(&a.common, || base_config(Role::Teacher, &a.common)),
        TrainCommand::Student(a) => train_role(&a.common, || student_config(&a)),
        TrainCommand::Finetune(a) => super::finetune::run(a),
        TrainCommand::Attach(a) => super::train_remote::attach(a),
        TrainCommand::Control(a) => super::train_remote::control(a),
    }
}

/// Train here, or with --on on another host (whose paths are then used as given).
fn train_role(
    common: &CommonArgs,
    config: impl FnOnce() -> anyhow::Result<TrainConfig>,
) -> anyhow::Result<ExitCode> {
    if common.remote.on.is_some() {
        let dataset = common.root.root.as_ref().map(|p| p.display().to_string());
        let run_dir = common.run_dir.display().to_string();
        return super::train_remote::run_on(
            &common.remote,
            &run_dir,
            dataset.as_deref(),
            common.json,
        );
    }
    let files = RunFiles {
        events_log: common.events_log.clone(),
        control: common.control_file.clone(),
    };
    let (config, resume, json) = (config()?, common.resume, common.json);
    let outcome = run_training(config, resume, json, &files)?;
    Ok(if outcome.finished {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `bifsmn eval` options.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Run directory (uses its best model), sidecar .json or .bpk; or a packed .bkw model,
    /// run on the bit kernels as a board runs it.
    #[arg(long, value_name = "RUN")]
    pub model: PathBuf,
    /// Dataset (defaults to the one a run was trained on; the demo set for a .bkw).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Labelling protocol of --root for a .bkw (a run uses its own) [default: 12].
    #[arg(long)]
    pub protocol: Option<String>,
    #[arg(long, value_enum, default_value = "test")]
    pub split: SplitArg,
    #[arg(long, default_value_t = 96)]
    pub batch_size: usize,
    /// Threads that decode and classify the clips of a .bkw, each with its own session
    /// (0 = every core) [default: 0]. Results do not depend on it.
    #[arg(long, value_name = "T")]
    pub threads: Option<usize>,
    /// Print JSON (accuracy, per-class precision/recall and confusion per path).
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SplitArg {
    Train,
    Validation,
    Test,
}

impl From<SplitArg> for Split {
    fn from(s: SplitArg) -> Self {
        match s {
            SplitArg::Train => Split::Train,
            SplitArg::Validation => Split::Validation,
            SplitArg::Test => Split::Test,
        }
    }
}

#[derive(Serialize)]
struct EvalReport {
    model: String,
    split: String,
    labels: Vec<String>,
    /// How fast a .bkw was evaluated (absent for a run directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    throughput: Option<EvalThroughput>,
    paths: Vec<PathReport>,
}

/// Clips decoded and classified (on every thin path) per second of wall time.
#[derive(Serialize)]
struct EvalThroughput {
    clips: usize,
    threads: usize,
    seconds: f64,
    clips_per_sec: f64,
}

#[derive(Serialize)]
struct PathReport {
    path: usize,
    layers: usize,
    accuracy: f32,
    loss: f32,
    precision: Vec<Option<f32>>,
    recall: Vec<Option<f32>>,
    /// Keyword recall and non-keyword false-accept rate (12-class labellings).
    #[serde(flatten)]
    keywords: Option<bifsmn_engine::train::eval::KeywordScores>,
    confusion: Vec<Vec<u32>>,
}

/// Evaluate a saved model on a split, every path it has.
pub fn evaluate_saved(
    model: &std::path::Path,
    root: Option<PathBuf>,
    split: Split,
    batch_size: usize,
) -> anyhow::Result<(Vec<String>, Vec<PathEvaluation>)> {
    let device = Backend::Flex.device()?;
    let loaded = open_model(model, &device)?;
    let root = root.unwrap_or_else(|| loaded.sidecar.config.dataset.clone());
    let protocol = loaded.sidecar.config.protocol.parse()?;
    let dataset = Arc::new(
        Dataset::open(&root, protocol).with_context(|| format!("opening {}", root.display()))?,
    );
    if dataset.labels != loaded.sidecar.labels {
        bail!(
            "{} has labels {:?}, the model was trained on {:?}",
            root.display(),
            dataset.labels,
            loaded.sidecar.labels
        );
    }
    let m = loaded.model.valid();
    // Only the thin paths the run trained: an untrained path's output BatchNorm never saw data.
    let n = loaded
        .sidecar
        .config
        .path_weights
        .len()
        .clamp(1, m.num_paths());
    let evals = evaluate(&m, &dataset, split, batch_size, n)?;
    Ok((dataset.labels.clone(), evals))
}

/// Evaluate a packed `.bkw` model with the bit kernels (what a board runs) on a split, every
/// thin path the file holds, on `threads` threads (0 = every core); `--root` defaults to the
/// demo set, the protocol to 12.
pub fn evaluate_packed(
    model: &std::path::Path,
    root: Option<PathBuf>,
    protocol: Option<&str>,
    split: Split,
    threads: usize,
    quiet: bool,
) -> anyhow::Result<PackedEvaluation> {
    let root = match root {
        Some(r) => r,
        None => bifsmn_engine::data::demo_root()
            .context("no --root given and the embedded demo set was not found")?,
    };
    let protocol = protocol.unwrap_or("12").parse()?;
    let dataset =
        Dataset::open(&root, protocol).with_context(|| format!("opening {}", root.display()))?;
    let bar = progress(dataset.indices_in(split).len() as u64, "classifying", quiet);
    let out = evaluate_packed_on(model, &dataset, split, threads, &|| bar.inc(1))?;
    bar.finish_and_clear();
    Ok(out)
}

/// Whether `path` names a packed model (`.bkw`).
fn is_packed(path: &std::path::Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("bkw"))
}

pub fn eval(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let split: Split = args.split.into();
    let (labels, evals, throughput) = if is_packed(&args.model) {
        let e = evaluate_packed(
            &args.model,
            args.root,
            args.protocol.as_deref(),
            split,
            args.threads.unwrap_or(0),
            args.json,
        )?;
        let throughput = EvalThroughput {
            clips: e.clips,
            threads: e.threads,
            seconds: e.seconds,
            clips_per_sec: e.clips_per_sec(),
        };
        (e.labels, e.paths, Some(throughput))
    } else {
        if let Some(p) = &args.protocol {
            bail!(
                "--protocol {p} applies to a .bkw model; a run directory uses the protocol it was trained with"
            );
        }
        if args.threads.is_some() {
            bail!("--threads applies to a .bkw model; a run directory is evaluated by burn");
        }
        let (labels, evals) = evaluate_saved(&args.model, args.root, split, args.batch_size)?;
        (labels, evals, None)
    };
    let report = EvalReport {
        model: args.model.display().to_string(),
        split: split.name().to_string(),
        labels: labels.clone(),
        throughput,
        paths: evals
            .iter()
            .map(|e| PathReport {
                path: e.metrics.path,
                layers: e.metrics.layers,
                accuracy: e.metrics.accuracy,
                loss: e.metrics.loss,
                precision: e.precision(),
                recall: e.recall(),
                keywords: e.keyword_scores(&labels),
                confusion: e.confusion.clone(),
            })
            .collect(),
    };
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    print_eval(&report);
    Ok(ExitCode::SUCCESS)
}

/// The text form of `bifsmn eval`.
fn print_eval(report: &EvalReport) {
    let labels = &report.labels;
    outln!("{} on the {} split", report.model, report.split);
    if let Some(t) = &report.throughput {
        outln!(
            "{} clips decoded and classified on every path in {:.2} s on {} thread(s): {:.0} clips/s",
            t.clips,
            t.seconds,
            t.threads,
            t.clips_per_sec
        );
    }
    for p in &report.paths {
        outln!(
            "\npath {} ({} layers): accuracy {:.2}%  loss {:.4}",
            p.path,
            p.layers,
            100.0 * p.accuracy,
            p.loss
        );
        if let Some(k) = &p.keywords {
            outln!(
                "  keyword recall {:.2}% of {} keyword clips; false accepts {:.2}% of {} non-keyword words",
                100.0 * k.keyword_recall,
                k.keyword_clips,
                100.0 * k.false_accept_rate,
                k.negative_clips
            );
        }
        outln!("  {:<10} {:>9} {:>9}", "class", "precision", "recall");
        for (c, name) in labels.iter().enumerate() {
            let f = |v: Option<f32>| v.map_or("-".to_string(), |x| format!("{:.1}%", 100.0 * x));
            outln!(
                "  {:<10} {:>9} {:>9}",
                name,
                f(p.precision[c]),
                f(p.recall[c])
            );
        }
        outln!("  confusion (rows: true, columns: predicted)");
        out!("  {:<10}", "");
        for c in 0..labels.len() {
            out!("{c:>5}");
        }
        outln!();
        for (c, row) in p.confusion.iter().enumerate() {
            out!("  {:>2} {:<7}", c, labels[c]);
            for v in row {
                out!("{v:>5}");
            }
            outln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> AugmentArgs {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            aug: AugmentArgs,
        }
        use clap::Parser;
        let mut argv = vec!["x"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().aug
    }

    #[test]
    fn augmentation_comes_from_the_preset_the_switches_or_a_file() {
        assert_eq!(args(&[]).config().unwrap(), AugmentConfig::robust());
        assert_eq!(
            args(&["--augment", "spec"]).config().unwrap(),
            AugmentConfig::default()
        );
        let c = args(&["--no-room", "--no-spec-augment"]).config().unwrap();
        assert!(!c.room.enabled && !c.spec_augment.enabled);
        assert!(c.voice.enabled && c.channel.enabled && c.noise_snr.enabled);

        let dir = tempfile::tempdir().unwrap();
        let mut custom = AugmentConfig::robust();
        custom.voice.prob = 0.9;
        let file = dir.path().join("aug.json");
        std::fs::write(&file, serde_json::to_string(&custom).unwrap()).unwrap();
        let from_file = args(&["--augment-config", file.to_str().unwrap()]);
        assert_eq!(from_file.config().unwrap(), custom);
        std::fs::write(&file, "{\"voice\": 3}").unwrap();
        let err = from_file.config().unwrap_err().to_string();
        assert!(err.contains("aug.json"), "{err}");
    }
}
