//! `bifsmn data ...`: dataset counts, integrity check, one clip's features, archive download.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, bail};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Subcommand, ValueEnum};
use rayon::prelude::*;
use serde::Serialize;

use super::output::{byte_progress, print_json, progress};
use bifsmn_engine::audio;
use bifsmn_engine::data::{
    Archive, Dataset, DownloadOptions, FeatureCache, MergeMode, Progress, Protocol, ScaleOptions,
    Split, Stage, demo_root, fetch_archive, make_scaled, merge_datasets,
};
use bifsmn_engine::features::{FeatureParams, LogMel};
use bifsmn_engine::fsutil::write_atomic;

/// Dataset commands.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Print clips per class and split (Speech Commands layout; the demo set by default).
    Info(InfoArgs),
    /// Decode every audio file below a folder and list each bad one with the reason.
    ///
    /// Reads all *.wav, *.flac, *.ogg and *.mp3 files at any depth, including files that no
    /// protocol uses, keeps going past failures and exits non-zero at the end if any was bad.
    Check(CheckArgs),
    /// Write one clip's 32x32 log-mel features as CSV or as a PNG heatmap.
    ///
    /// Without --csv or --png the CSV goes to stdout. Rows are mel bins (lowest first),
    /// columns are frames; values are dB.
    Features(FeaturesArgs),
    /// Download, verify (SHA-256) and extract an official Speech Commands archive.
    ///
    /// Interrupted downloads resume from `<archive>.part` when run again. The data ends up in
    /// DEST/speech_commands_v0.0N.
    Fetch(FetchArgs),
    /// Make a keyword dataset from text: keywords and a negative vocabulary spoken by many
    /// synthetic speakers (espeak-ng, Festival), speaker-disjoint splits, long-form
    /// negatives and background noise, in the Speech Commands layout.
    ///
    /// Reproducible from --seed; an interrupted run resumes when the same command is run
    /// again. Needs espeak-ng, festival with its English voices, and wamerican (apt).
    Synth(super::synth::SynthArgs),
    /// Merge datasets into one: every clip keeps its split, noise files of the same name are
    /// taken once, keyword lists are united.
    ///
    /// A dataset with split lists contributes them as they are; one without gets the speaker
    /// hash split it would have on its own. Clips are symbolic links to the originals unless
    /// --copy is given. Two datasets with a clip of the same `<word>/<file>` name are refused.
    Merge(MergeArgs),
    /// Make a large dataset from a small one, for measuring the pipeline at scale: every clip
    /// rendered again as variants (speed, gain, shift, background noise).
    ///
    /// Variant v of <word>/<speaker>_nohash_<n>.wav is <word>/<speaker>v<v>_nohash_<n>.wav in
    /// the source clip's split; variant 0 is the source clip itself. Not a training recipe:
    /// variants add no new voices. Reproducible from --seed; an interrupted run resumes when
    /// the same command is run again.
    Scale(ScaleArgs),
    /// Compute the features of every clip of a dataset into the feature cache that training
    /// and evaluation read (on all cores), and report the time and the size on disk.
    Cache(CacheArgs),
}

/// `data scale` options.
#[derive(Debug, Args)]
pub struct ScaleArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// Clips to make (round-robin over the source's clips, one variant per round).
    #[arg(long, value_name = "N")]
    pub clips: usize,
    /// Output folder (created; a run in it with the same options is resumed).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the report as JSON (no progress bar).
    #[arg(long)]
    pub json: bool,
}

/// `data cache` options.
#[derive(Debug, Args)]
pub struct CacheArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// Cache folder [default: the one training uses, <user cache dir>/bifsmn-workbench/features].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Print the report as JSON (no progress bar).
    #[arg(long)]
    pub json: bool,
}

/// `data merge` options.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Datasets to merge, in order (`demo` is the embedded demo set).
    #[arg(required = true, num_args = 2.., value_name = "DIR")]
    pub roots: Vec<PathBuf>,
    /// The merged dataset folder (must not exist).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Copy the clips instead of linking to them (a self-contained folder).
    #[arg(long)]
    pub copy: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Which dataset folder to use.
#[derive(Debug, Args)]
pub struct RootArgs {
    /// Dataset folder.
    #[arg(long, value_name = "DIR", conflicts_with = "demo")]
    pub root: Option<PathBuf>,
    /// Use the embedded demo set (the default without --root).
    #[arg(long)]
    pub demo: bool,
}

/// `data info` options.
#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// Labelling protocol: v1-12 / v2-12 (10 words + unknown + silence on Speech Commands
    /// v0.01 / v0.02), v2-35 (all 35 words), 12 (the 12-class labelling on any folder).
    #[arg(
        long,
        default_value = "12",
        value_parser = PossibleValuesParser::new(["v1-12", "v2-12", "v2-35", "12"])
            .map(|s| s.parse::<Protocol>().expect("restricted to valid names"))
    )]
    pub protocol: Protocol,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `data check` options.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// Print JSON instead of text (no progress bar).
    #[arg(long)]
    pub json: bool,
}

/// `data features` options.
#[derive(Debug, Args)]
pub struct FeaturesArgs {
    /// Audio file (any supported format; decoded, resampled to 16 kHz, fixed to 1 s).
    pub clip: PathBuf,
    /// Write the features as CSV (32 rows of 32 values).
    #[arg(long, value_name = "OUT", conflicts_with = "png")]
    pub csv: Option<PathBuf>,
    /// Write a PNG heatmap (low frequencies at the bottom, time to the right).
    #[arg(long, value_name = "OUT")]
    pub png: Option<PathBuf>,
    /// Print the features and their range as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `data fetch` options.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Dataset version.
    #[arg(long, value_enum)]
    pub version: Version,
    /// Destination folder (the archive and the extracted folder go here).
    #[arg(long, value_name = "DIR")]
    pub dest: PathBuf,
    /// Server to download from (the archive file name is appended).
    #[arg(long, value_name = "URL", default_value = Archive::DEFAULT_BASE_URL)]
    pub base_url: String,
    /// Resume attempts after a dropped connection.
    #[arg(long, default_value_t = 3)]
    pub retries: u32,
    /// Delete the .tar.gz after a successful extraction.
    #[arg(long)]
    pub remove_archive: bool,
    /// Print the result as JSON (no progress bar).
    #[arg(long)]
    pub json: bool,
}

/// Speech Commands versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Version {
    /// speech_commands_v0.01 (30 words, about 1.4 GB).
    V1,
    /// speech_commands_v0.02 (35 words, about 2.3 GB).
    V2,
}

/// Run a `data` subcommand.
pub fn run(cmd: DataCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DataCommand::Info(args) => info(args),
        DataCommand::Check(args) => check(args),
        DataCommand::Features(args) => features(args),
        DataCommand::Fetch(args) => fetch(args),
        DataCommand::Synth(args) => super::synth::run(args),
        DataCommand::Merge(args) => merge(args),
        DataCommand::Scale(args) => scale(args),
        DataCommand::Cache(args) => cache(args),
    }
}

fn scale(args: ScaleArgs) -> anyhow::Result<ExitCode> {
    let root = resolve_root(&args.root)?;
    let source = Dataset::open(&root, Protocol::Twelve)?;
    let bar = progress(args.clips as u64, "Rendering", args.json);
    let opts = ScaleOptions {
        clips: args.clips,
        seed: args.seed,
    };
    let report = make_scaled(
        &source,
        &args.out,
        &opts,
        &AtomicBool::new(false),
        |d, _| bar.set_position(d as u64),
    )?;
    bar.finish_and_clear();
    if args.json {
        print_json(&report)?;
    } else {
        outln!(
            "{} clips in {} ({} written now; train {} / validation {} / test {}), {:.1} MB of audio, {:.1} s",
            report.clips,
            report.out.display(),
            report.written,
            report.train,
            report.validation,
            report.test,
            report.audio_bytes as f64 / 1e6,
            report.seconds
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn cache(args: CacheArgs) -> anyhow::Result<ExitCode> {
    let root = resolve_root(&args.root)?;
    let ds = Dataset::open(&root, Protocol::Twelve)?;
    let params = FeatureParams::default();
    let cache = match args.cache_dir {
        Some(dir) => FeatureCache::new(dir, params),
        None => FeatureCache::at_default_location(params)
            .context("this platform has no user cache folder; give --cache-dir")?,
    };
    let bar = progress(ds.clips.len() as u64, "Caching", args.json);
    let report = cache.fill(&ds, &AtomicBool::new(false), |d, t| {
        bar.set_length(t as u64);
        bar.set_position(d as u64)
    })?;
    bar.finish_and_clear();
    if report.write_errors > 0 {
        bail!(
            "{} of {} entries could not be written to {} (full or read-only?)",
            report.write_errors,
            report.clips,
            report.dir.display()
        );
    }
    if args.json {
        print_json(&report)?;
    } else {
        outln!(
            "{} clips: {} computed, {} already cached, {:.1} s ({:.0} clips/s); {:.1} MB of entries in {}",
            report.clips,
            report.computed,
            report.reused,
            report.seconds,
            report.clips as f64 / report.seconds.max(1e-9),
            report.entry_bytes as f64 / 1e6,
            report.dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let roots = args
        .roots
        .iter()
        .map(|r| {
            if r.as_os_str() == "demo" && !r.exists() {
                demo_root().context("the embedded demo set is not installed")
            } else {
                Ok(r.clone())
            }
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mode = if args.copy {
        MergeMode::Copy
    } else {
        MergeMode::Link
    };
    let report = merge_datasets(&roots, &args.out, mode)?;
    if args.json {
        print_json(&report)?;
    } else {
        for (root, clips) in &report.clips_per_root {
            outln!("{clips:>7} clips from {}", root.display());
        }
        outln!(
            "{:>7} noise files ({} of the same name left out)",
            report.noise_files,
            report.skipped_noise.len()
        );
        if let Some(words) = &report.keywords {
            outln!("keywords: {}", words.join(", "));
        }
        outln!("merged into {}", report.out.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn resolve_root(args: &RootArgs) -> anyhow::Result<PathBuf> {
    if let Some(root) = &args.root {
        return Ok(root.clone());
    }
    demo_root().context(
        "no --root given and the demo dataset was not found (looked at $BIFSMN_DEMO_DIR, \
         <exe dir>/../share/bifsmn-workbench/demo and the source checkout's assets/demo)",
    )
}

#[derive(Serialize)]
struct InfoReport<'a> {
    root: &'a Path,
    protocol: Protocol,
    splits_from: bifsmn_engine::data::speech_commands::SplitSource,
    fingerprint: String,
    background_files: usize,
    labels: &'a [String],
    counts: bifsmn_engine::data::ClassCounts,
    totals: Totals,
}

#[derive(Serialize)]
struct Totals {
    train: usize,
    validation: usize,
    test: usize,
}

fn info(args: InfoArgs) -> anyhow::Result<ExitCode> {
    let root = resolve_root(&args.root)?;
    let ds = Dataset::open(&root, args.protocol)?;
    let counts = ds.counts();
    let report = InfoReport {
        root: &ds.root,
        protocol: ds.protocol,
        splits_from: ds.split_source,
        fingerprint: ds.fingerprint(),
        background_files: ds.background.len(),
        labels: &ds.labels,
        totals: Totals {
            train: counts.total(Split::Train),
            validation: counts.total(Split::Validation),
            test: counts.total(Split::Test),
        },
        counts,
    };
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let splits_from = match ds.split_source {
        bifsmn_engine::data::speech_commands::SplitSource::Lists => {
            "validation_list.txt, testing_list.txt"
        }
        bifsmn_engine::data::speech_commands::SplitSource::SpeakerHash => {
            "speaker hash (no split lists), 10 % validation, 10 % test"
        }
    };
    outln!("dataset      {}", ds.root.display());
    outln!("protocol     {} ({} classes)", ds.protocol, ds.labels.len());
    outln!("splits       {splits_from}");
    outln!("noise files  {}", ds.background.len());
    outln!("fingerprint  {}", report.fingerprint);
    outln!();
    let width = ds.labels.iter().map(|l| l.len()).max().unwrap_or(5).max(5);
    outln!(
        "{:>3}  {:<width$}  {:>8}  {:>10}  {:>8}  {:>8}",
        "#",
        "class",
        "train",
        "validation",
        "test",
        "total"
    );
    for (class, name) in ds.labels.iter().enumerate() {
        let [a, b, c] = Split::ALL.map(|s| report.counts.get(class, s));
        outln!(
            "{class:>3}  {name:<width$}  {a:>8}  {b:>10}  {c:>8}  {:>8}",
            a + b + c
        );
    }
    let t = &report.totals;
    outln!(
        "{:>3}  {:<width$}  {:>8}  {:>10}  {:>8}  {:>8}",
        "",
        "total",
        t.train,
        t.validation,
        t.test,
        t.train + t.validation + t.test
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct BadFile {
    path: PathBuf,
    reason: String,
}

#[derive(Serialize)]
struct CheckReport {
    root: PathBuf,
    checked: usize,
    bad: Vec<BadFile>,
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let root = resolve_root(&args.root)?;
    if !root.is_dir() {
        bail!("{} is not a folder", root.display());
    }
    let files = audio_files_below(&root)?;
    let bar = progress(files.len() as u64, "Checking", args.json);
    let mut bad: Vec<BadFile> = files
        .par_iter()
        .filter_map(|path| {
            let result = audio::load_mono_16k(path);
            bar.inc(1);
            result.err().map(|e| BadFile {
                path: path.clone(),
                reason: e.kind.to_string(),
            })
        })
        .collect();
    bar.finish_and_clear();
    bad.sort_by(|a, b| a.path.cmp(&b.path));
    let report = CheckReport {
        root,
        checked: files.len(),
        bad,
    };
    if args.json {
        print_json(&report)?;
    } else {
        for b in &report.bad {
            outln!("bad: {}: {}", b.path.display(), b.reason);
        }
        outln!(
            "checked {} audio files below {}: {} bad",
            report.checked,
            report.root.display(),
            report.bad.len()
        );
    }
    Ok(if report.bad.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Every *.wav/*.flac/*.ogg/*.mp3 below `root`, sorted, following symlinks (each real folder
/// visited once, so a link loop cannot hang the walk).
fn audio_files_below(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let real = std::fs::canonicalize(&dir)
            .with_context(|| format!("cannot resolve {}", dir.display()))?;
        if !seen.insert(real) {
            continue;
        }
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let path = entry
                .with_context(|| format!("cannot list {}", dir.display()))?
                .path();
            if path.is_dir() {
                stack.push(path);
            } else if is_audio(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

fn is_audio(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["wav", "flac", "ogg", "mp3"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    })
}

#[derive(Serialize)]
struct FeaturesReport<'a> {
    clip: &'a Path,
    n_mels: usize,
    frames: usize,
    min_db: f32,
    max_db: f32,
    mean_db: f32,
    /// `[mel][frame]`, lowest mel bin first.
    features: Vec<&'a [f32]>,
    written: Vec<&'a Path>,
}

fn features(args: FeaturesArgs) -> anyhow::Result<ExitCode> {
    let params = FeatureParams::default();
    let samples = audio::load_clip(&args.clip)?;
    let feats = LogMel::new(params).compute(&samples);
    let (n_mels, frames) = (params.n_mels, params.frames());
    let rows: Vec<&[f32]> = feats.chunks_exact(frames).collect();

    let mut written = Vec::new();
    if let Some(out) = &args.csv {
        write_atomic(out, csv(&rows).as_bytes())
            .with_context(|| format!("cannot write {}", out.display()))?;
        written.push(out.as_path());
    }
    if let Some(out) = &args.png {
        let png = heatmap_png(&feats, n_mels, frames, 8)?;
        write_atomic(out, &png).with_context(|| format!("cannot write {}", out.display()))?;
        written.push(out.as_path());
    }
    if args.json {
        let min = feats.iter().copied().fold(f32::INFINITY, f32::min);
        let max = feats.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        print_json(&FeaturesReport {
            clip: &args.clip,
            n_mels,
            frames,
            min_db: min,
            max_db: max,
            mean_db: feats.iter().sum::<f32>() / feats.len() as f32,
            features: rows,
            written,
        })?;
    } else if written.is_empty() {
        out!("{}", csv(&rows));
    } else {
        for path in written {
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn csv(rows: &[&[f32]]) -> String {
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// Viridis, sampled at 9 evenly spaced points (sRGB); interpolated linearly in between.
const VIRIDIS: [[u8; 3]; 9] = [
    [68, 1, 84],
    [71, 44, 122],
    [59, 81, 139],
    [44, 113, 142],
    [33, 144, 141],
    [39, 173, 129],
    [92, 200, 99],
    [170, 220, 50],
    [253, 231, 37],
];

/// Colour for t in [0, 1] (clamped).
fn colormap(t: f32) -> [u8; 3] {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (VIRIDIS.len() - 1) as f32;
    let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let f = x - i as f32;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    std::array::from_fn(|c| (a[c] as f32 + (b[c] as f32 - a[c] as f32) * f).round() as u8)
}

/// A PNG heatmap of `[mel][frame]` features, `scale` pixels per cell, scaled to the clip's own
/// dB range, lowest mel bin at the bottom.
fn heatmap_png(feats: &[f32], n_mels: usize, frames: usize, scale: u32) -> anyhow::Result<Vec<u8>> {
    let min = feats.iter().copied().fold(f32::INFINITY, f32::min);
    let max = feats.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let span = if max > min { max - min } else { 1.0 };
    let (w, h) = (frames as u32 * scale, n_mels as u32 * scale);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let frame = (x / scale) as usize;
        let mel = n_mels - 1 - (y / scale) as usize;
        image::Rgb(colormap((feats[mel * frames + frame] - min) / span))
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, image::ImageFormat::Png)
        .context("encoding the PNG")?;
    Ok(bytes.into_inner())
}

fn fetch(args: FetchArgs) -> anyhow::Result<ExitCode> {
    let archive = match args.version {
        Version::V1 => Archive::V1,
        Version::V2 => Archive::V2,
    };
    let spec = archive.spec(&args.base_url);
    let options = DownloadOptions {
        retries: args.retries,
        keep_archive: !args.remove_archive,
        ..DownloadOptions::default()
    };
    let mut bar: Option<(Stage, indicatif::ProgressBar)> = None;
    let mut report = |p: Progress| {
        if args.json {
            return;
        }
        if bar.as_ref().is_none_or(|(stage, _)| *stage != p.stage) {
            if let Some((_, old)) = bar.take() {
                old.finish();
            }
            let label = match p.stage {
                Stage::Download => "Downloading",
                Stage::Verify => "Verifying",
                Stage::Extract => "Extracting",
            };
            bar = Some((p.stage, byte_progress(p.total.unwrap_or(0), label, false)));
        }
        if let Some((_, b)) = &bar {
            if let Some(total) = p.total {
                b.set_length(total);
            }
            b.set_position(p.done);
        }
    };
    let cancel = AtomicBool::new(false);
    let result = fetch_archive(&spec, &args.dest, &options, &mut report, &cancel);
    if let Some((_, b)) = bar.take() {
        b.finish();
    }
    let path = result.with_context(|| format!("fetching {}", spec.url))?;
    if args.json {
        print_json(&serde_json::json!({ "dataset": path, "archive": spec.file_name }))?;
    } else {
        outln!("dataset ready: {}", path.display());
        outln!(
            "next: bifsmn data info --root {} --protocol {}",
            path.display(),
            match archive {
                Archive::V1 => "v1-12",
                Archive::V2 => "v2-12",
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormap_ends_and_is_monotone_in_lightness() {
        assert_eq!(colormap(0.0), VIRIDIS[0]);
        assert_eq!(colormap(1.0), VIRIDIS[8]);
        assert_eq!(colormap(-3.0), VIRIDIS[0]);
        assert_eq!(colormap(f32::NAN), VIRIDIS[0]);
        let luma = |c: [u8; 3]| 0.2126 * c[0] as f32 + 0.7152 * c[1] as f32 + 0.0722 * c[2] as f32;
        let l: Vec<f32> = (0..=100)
            .map(|i| luma(colormap(i as f32 / 100.0)))
            .collect();
        assert!(l.windows(2).all(|w| w[1] >= w[0] - 0.5), "lightness rises");
    }

    #[test]
    fn heatmap_is_scaled_and_oriented() {
        // 2 mels x 3 frames; the highest value is mel 1 (top row), frame 2.
        let feats = [0.0, 0.0, 0.0, 0.0, 0.0, 10.0];
        let png = heatmap_png(&feats, 2, 3, 4).unwrap();
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (12, 8));
        assert_eq!(img.get_pixel(11, 0).0, VIRIDIS[8]);
        assert_eq!(img.get_pixel(11, 7).0, VIRIDIS[0]);
    }
}
