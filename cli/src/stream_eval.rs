//! `bifsmn stream-eval`: false accepts per hour and false-reject rate of a packed model on a
//! long test stream, for a sweep of thresholds.
//!
//! To evaluate the trained demo model once it is exported (the numbers for the issue's note):
//!
//! ```text
//! bifsmn stream-eval --model demo.bkw --demo --minutes 30 --snr-db 20,10,5 \
//!     --target-fa-per-hour 0.5 --csv det.csv --stream stream-eval.wav
//! ```
//!
//! The stream (`stream-eval.wav` plus `.placements.json`/`.csv`) is written on the first run;
//! `--reuse-stream stream-eval.wav` evaluates another model on exactly the same audio.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::data::{RootArgs, resolve_root};
use super::output::print_json;
use bifsmn_engine::data::{Dataset, Protocol};
use bifsmn_engine::fsutil::write_atomic;
use bifsmn_engine::stream::eval::{
    EvalConfig, EvalReport, default_thresholds, evaluate, points_csv,
};
use bifsmn_engine::stream::mix::{self, MixConfig, MixedStream, PlacementKind};
use bifsmn_engine::stream::{DetectorConfig, ModelScorer, Scorer};

/// `stream-eval` options.
#[derive(Debug, Args)]
pub struct StreamEvalArgs {
    /// Packed model (.bkw) to evaluate.
    #[arg(long, value_name = "M.bkw")]
    pub model: PathBuf,
    /// Thin path of the model (0 = the full network).
    #[arg(long, default_value_t = 0)]
    pub path: usize,
    #[command(flatten)]
    pub root: RootArgs,
    /// Length of the generated stream, minutes.
    #[arg(long, value_name = "N", default_value_t = 10.0)]
    pub minutes: f64,
    /// SNRs of the placed keywords in dB (comma-separated; drawn uniformly per keyword).
    #[arg(
        long,
        value_name = "DB,...",
        value_delimiter = ',',
        default_value = "20,10,5",
        allow_negative_numbers = true
    )]
    pub snr_db: Vec<f32>,
    /// Thresholds to sweep (comma-separated); default 0.30, 0.35, ..., 0.95, 0.97, 0.99.
    #[arg(long, value_name = "T,...", value_delimiter = ',')]
    pub thresholds: Option<Vec<f32>>,
    /// Report the threshold with the lowest FRR at or below this many false accepts per hour.
    #[arg(long, value_name = "FA", default_value_t = 0.5)]
    pub target_fa_per_hour: f64,
    /// Seed of the stream (clip choice, times, SNRs, noise segments).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fraction of placements that are distractor words (not keywords).
    #[arg(long, value_name = "F", default_value_t = 0.25)]
    pub distractors: f32,
    /// Only these background files (names without extension, comma-separated, e.g.
    /// white_noise,pink_noise,brown_noise); default: every file in _background_noise_.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub noise: Option<Vec<String>>,
    /// Background noise level (RMS), dBFS.
    #[arg(long, value_name = "DBFS", default_value_t = -40.0, allow_negative_numbers = true)]
    pub noise_dbfs: f32,
    /// Only these labels are keywords (comma-separated); default: every class but
    /// unknown/silence.
    #[arg(long, value_delimiter = ',', value_name = "WORDS")]
    pub keywords: Option<Vec<String>>,
    /// Distance between analysis windows, ms.
    #[arg(long, value_name = "MS", default_value_t = 100.0)]
    pub hop_ms: f32,
    /// Windows in the moving average of the posteriors.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub smoothing: usize,
    /// Quiet time after each detection, ms.
    #[arg(long, value_name = "MS", default_value_t = 1000.0)]
    pub refractory_ms: f32,
    /// A detection counts for a keyword up to this long after the end of its speech, ms.
    #[arg(long, value_name = "MS", default_value_t = 1000.0)]
    pub tolerance_ms: f32,
    /// Where to write the generated stream; its placements go beside it
    /// (`.placements.json`, `.placements.csv`).
    #[arg(long, value_name = "WAV", default_value = "stream-eval.wav")]
    pub stream: PathBuf,
    /// Evaluate a stream written by an earlier run instead of generating one (dataset and
    /// mixing options are then ignored).
    #[arg(long, value_name = "WAV")]
    pub reuse_stream: Option<PathBuf>,
    /// Write the DET points as CSV.
    #[arg(long, value_name = "OUT")]
    pub csv: Option<PathBuf>,
    /// Print the full report as JSON (no progress output).
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    model: &'a Path,
    path: usize,
    stream: &'a Path,
    placements: PathBuf,
    seed: u64,
    snr_db: &'a [f32],
    #[serde(flatten)]
    report: &'a EvalReport,
}

/// Run `bifsmn stream-eval`.
pub fn run(args: StreamEvalArgs) -> anyhow::Result<ExitCode> {
    let mut scorer = ModelScorer::load(&args.model, args.path)?;
    let labels = scorer.labels().to_vec();
    let detector = DetectorConfig {
        hop_ms: args.hop_ms,
        smoothing: args.smoothing,
        refractory_ms: args.refractory_ms,
        keywords: args.keywords.clone(),
        ..DetectorConfig::default()
    };
    let flags = detector.decision(&labels, scorer.sample_rate())?.keywords;
    let keywords: Vec<String> = labels
        .iter()
        .zip(&flags)
        .filter(|(_, k)| **k)
        .map(|(l, _)| l.clone())
        .collect();

    let quiet = args.json;
    let (stream, wav) = match &args.reuse_stream {
        Some(wav) => (mix::load(wav)?, wav.clone()),
        None => (
            build_stream(&args, &labels, &keywords, quiet)?,
            args.stream.clone(),
        ),
    };
    let config = EvalConfig {
        thresholds: args.thresholds.clone().unwrap_or_else(default_thresholds),
        tolerance_ms: args.tolerance_ms,
        detector,
        target_fa_per_hour: Some(args.target_fa_per_hour),
    };
    if config.thresholds.is_empty() {
        bail!("--thresholds is empty");
    }
    let spinner = spinner(
        &format!(
            "scoring {:.1} min of audio",
            stream.samples.len() as f64 / stream.info.sample_rate as f64 / 60.0
        ),
        quiet,
    );
    let report = evaluate(&mut scorer, &stream, &config)?;
    spinner.finish_and_clear();

    if let Some(csv) = &args.csv {
        write_atomic(csv, points_csv(&report.points).as_bytes())
            .with_context(|| format!("cannot write {}", csv.display()))?;
    }
    if args.json {
        print_json(&JsonReport {
            model: &args.model,
            path: args.path,
            stream: &wav,
            placements: mix::placements_path(&wav),
            seed: stream.info.config.seed,
            snr_db: &stream.info.config.snr_db,
            report: &report,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    print_table(&args, &wav, &stream, &report);
    Ok(ExitCode::SUCCESS)
}

fn build_stream(
    args: &StreamEvalArgs,
    labels: &[String],
    keywords: &[String],
    quiet: bool,
) -> anyhow::Result<MixedStream> {
    let root = resolve_root(&args.root)?;
    // 35 alphabetical words is the V2-35 labelling; anything else is read with the 12-class
    // labelling, which accepts any folder (only `clip.word` matters for mixing).
    let protocol = if labels == Protocol::V2_35.labels().as_slice() {
        Protocol::V2_35
    } else {
        Protocol::Twelve
    };
    let dataset = Dataset::open(&root, protocol)?;
    let mix_config = MixConfig {
        minutes: args.minutes,
        snr_db: args.snr_db.clone(),
        seed: args.seed,
        distractor_fraction: args.distractors,
        noise_dbfs: args.noise_dbfs,
        noise_files: args.noise.clone(),
        ..MixConfig::default()
    };
    let spinner = spinner("building the test stream", quiet);
    let stream = mix::build(&dataset, keywords, &mix_config)?;
    mix::save(&stream, &args.stream)?;
    spinner.finish_and_clear();
    // Evaluate the 16-bit audio as written, so that `--reuse-stream` gives the same numbers.
    Ok(mix::load(&args.stream)?)
}

fn spinner(message: &str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner:.cyan} {msg} ({elapsed})").expect("static template"),
    );
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn print_table(args: &StreamEvalArgs, wav: &Path, stream: &MixedStream, r: &EvalReport) {
    let snrs: Vec<String> = stream
        .info
        .config
        .snr_db
        .iter()
        .map(|s| format!("{s}"))
        .collect();
    outln!(
        "stream    {} ({:.1} min, {} keywords, {} distractors, SNR {} dB, seed {})",
        wav.display(),
        r.stream_seconds / 60.0,
        r.keywords_placed,
        r.distractors_placed,
        snrs.join("/"),
        stream.info.config.seed
    );
    outln!(
        "          placements: {}",
        mix::placements_path(wav).display()
    );
    outln!(
        "model     {} (path {}, {} classes)",
        args.model.display(),
        args.path,
        r.labels.len()
    );
    outln!(
        "detector  hop {} ms, smoothing {}, refractory {} ms, tolerance {} ms",
        r.hop_ms,
        r.smoothing,
        r.refractory_ms,
        r.tolerance_ms
    );
    let by_snr_header: Vec<String> = r
        .points
        .first()
        .map(|p| {
            p.frr_by_snr
                .iter()
                .map(|s| format!("FRR@{}dB", s.snr_db))
                .collect()
        })
        .unwrap_or_default();
    out!(
        "\n{:>9} {:>6} {:>9} {:>7} {:>7}",
        "threshold",
        "FA",
        "FA/h",
        "misses",
        "FRR"
    );
    for h in &by_snr_header {
        out!(" {h:>9}");
    }
    outln!(" {:>12}", "latency p50");
    for p in &r.points {
        out!(
            "{:>9.2} {:>6} {:>9.2} {:>7} {:>6.1}%",
            p.threshold,
            p.false_accepts,
            p.fa_per_hour,
            p.misses,
            100.0 * p.frr
        );
        for s in &p.frr_by_snr {
            out!(" {:>8.1}%", 100.0 * s.frr);
        }
        match p.latency_ms_median {
            Some(l) => outln!(" {l:>9.0} ms"),
            None => outln!(" {:>12}", "-"),
        }
    }
    outln!();
    if let Some(t) = &r.target {
        match &t.point {
            Some(p) => outln!(
                "target {} FA/h: threshold {:.2} (FA/h {:.2}, FRR {:.1} %)",
                t.target_fa_per_hour,
                p.threshold,
                p.fa_per_hour,
                100.0 * p.frr
            ),
            None => outln!(
                "target {} FA/h: no threshold in the sweep meets it",
                t.target_fa_per_hour
            ),
        }
    }
    outln!(
        "real-time factor {:.4} ({:.2} ms per window, max {:.2} ms, {} windows)",
        r.compute.real_time_factor,
        r.compute.mean_window_ms,
        r.compute.max_window_ms,
        r.compute.windows
    );
    let distractor_words = stream
        .placements
        .iter()
        .filter(|p| p.kind == PlacementKind::Distractor)
        .count();
    if distractor_words == 0 {
        outln!(
            "note: the dataset's test split has no non-keyword words; no distractors were placed"
        );
    }
}
