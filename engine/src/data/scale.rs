//! A large dataset made from a small one (`bifsmn data scale`): every clip of a source dataset
//! rendered again as many variants (speed, gain, time shift, background noise), in the Speech
//! Commands layout. It exists to measure the training pipeline at Speech Commands scale
//! (`docs/SCALE.md`: cache build time, epoch time, memory, cache size) on a machine that cannot
//! download Speech Commands. It is not a training recipe: variants add no new voices.
//!
//! Variant `v` of source clip `<word>/<speaker>_nohash_<n>.wav` is
//! `<word>/<speaker>v<v>_nohash_<n>.wav`, in the source clip's split (so the splits stay
//! speaker-disjoint when the source's are), listed in the split lists. Clips are written
//! atomically, so an interrupted run resumes where it stopped when it is run again with the same
//! options; the options are kept in [`MANIFEST`] and a run with other options is refused.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::augment::{AugmentConfig, Augmenter};
use super::speech_commands::{BACKGROUND_DIR, KEYWORDS_FILE, Split, TESTING_LIST, VALIDATION_LIST};
use super::{ClipSource, DataError, Dataset};
use crate::audio::write_wav_mono_16k;
use crate::fsutil::write_atomic;

/// The file in the output folder that records the options it was made with.
pub const MANIFEST: &str = "scale.json";

/// Clips rendered between two progress reports (and two cancellation checks).
const CHUNK: usize = 256;

/// What to make.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScaleOptions {
    /// Clips in the output (variants of the source's clips, round-robin over them).
    pub clips: usize,
    /// Seed of every random choice.
    pub seed: u64,
}

/// The options and the source an output folder was made from.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Manifest {
    source: PathBuf,
    source_fingerprint: String,
    options: ScaleOptions,
}

/// What a run made.
#[derive(Debug, Serialize)]
pub struct ScaleReport {
    pub out: PathBuf,
    pub clips: usize,
    /// Clips written by this run (the others were there from an interrupted one).
    pub written: usize,
    pub train: usize,
    pub validation: usize,
    pub test: usize,
    /// Bytes of audio in the output.
    pub audio_bytes: u64,
    pub seconds: f64,
}

/// One output clip: its name relative to the output and the source clip it is a variant of.
struct Planned {
    rel: String,
    source: PathBuf,
    split: Split,
    variant: usize,
}

/// Make `opts.clips` variants of `source`'s recorded clips in `out` (created, or resumed when
/// it holds a run with the same options). `progress(done, total)` is called from this thread
/// after every chunk; `cancel` stops the run between chunks with [`DataError::Cancelled`].
pub fn make_scaled(
    source: &Dataset,
    out: &Path,
    opts: &ScaleOptions,
    cancel: &AtomicBool,
    mut progress: impl FnMut(usize, usize),
) -> Result<ScaleReport, DataError> {
    let t0 = Instant::now();
    let fail = |path: &Path, reason: String| DataError::Scale {
        path: path.to_path_buf(),
        reason,
    };
    if opts.clips == 0 {
        return Err(fail(out, "--clips must be at least 1".into()));
    }
    let plan = plan(source, opts.clips).map_err(|reason| fail(&source.root, reason))?;
    prepare_out(source, out, opts)?;

    let background = source.load_background()?;
    let augmenter = Augmenter::new(variant_config(), background);
    let mut written = 0;
    for (c, chunk) in plan.chunks(CHUNK).enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Err(DataError::Cancelled);
        }
        let results: Vec<Result<bool, DataError>> = chunk
            .par_iter()
            .enumerate()
            .map(|(k, p)| render(&augmenter, out, p, opts.seed, (c * CHUNK + k) as u64))
            .collect();
        for r in results {
            written += usize::from(r?);
        }
        progress(c * CHUNK + chunk.len(), plan.len());
    }
    write_lists(out, &plan)?;

    let count = |s: Split| plan.iter().filter(|p| p.split == s).count();
    let audio_bytes = plan
        .iter()
        .map(|p| std::fs::metadata(out.join(&p.rel)).map_or(0, |m| m.len()))
        .sum();
    Ok(ScaleReport {
        out: out.to_path_buf(),
        clips: plan.len(),
        written,
        train: count(Split::Train),
        validation: count(Split::Validation),
        test: count(Split::Test),
        audio_bytes,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Every step of the paper's augmentation, always on, so no two variants of a clip are alike.
fn variant_config() -> AugmentConfig {
    AugmentConfig {
        noise_prob: 1.0,
        noise_max: 0.1,
        gain_prob: 1.0,
        speed_prob: 1.0,
        speed_max: 0.1,
        shift_prob: 1.0,
        shift_max: 1600,
        ..AugmentConfig::default()
    }
}

/// The output clips: round-robin over the source's recorded clips, variant by variant.
fn plan(source: &Dataset, clips: usize) -> Result<Vec<Planned>, String> {
    let recorded: Vec<(&Path, Split, String)> = source
        .clips
        .iter()
        .filter_map(|c| match &c.source {
            ClipSource::File(p) => Some((p.as_path(), c.split, source.relative_name(c))),
            _ => None,
        })
        .collect();
    if recorded.is_empty() {
        return Err("has no recorded clips to make variants of".into());
    }
    (0..clips)
        .map(|i| {
            let (path, split, rel) = &recorded[i % recorded.len()];
            let variant = i / recorded.len();
            Ok(Planned {
                rel: variant_name(rel, variant)?,
                source: path.to_path_buf(),
                split: *split,
                variant,
            })
        })
        .collect()
}

/// `<word>/<speaker>_nohash_<n>.<ext>` -> `<word>/<speaker>v<variant>_nohash_<n>.wav`; a
/// name without `_nohash_` keeps its stem as the speaker.
fn variant_name(rel: &str, variant: usize) -> Result<String, String> {
    let (word, file) = rel
        .rsplit_once('/')
        .ok_or_else(|| format!("clip `{rel}` is not inside a word folder"))?;
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    Ok(match stem.split_once("_nohash_") {
        Some((speaker, n)) => format!("{word}/{speaker}v{variant}_nohash_{n}.wav"),
        None => format!("{word}/{stem}v{variant}_nohash_0.wav"),
    })
}

/// Create `out` with the manifest, the keyword list and the noise recordings, or check that an
/// existing `out` was started with the same source and options.
fn prepare_out(source: &Dataset, out: &Path, opts: &ScaleOptions) -> Result<(), DataError> {
    let manifest = Manifest {
        source: source.root.clone(),
        source_fingerprint: source.fingerprint(),
        options: opts.clone(),
    };
    let manifest_path = out.join(MANIFEST);
    if out.exists() {
        let text = std::fs::read_to_string(&manifest_path).map_err(|_| DataError::Scale {
            path: out.to_path_buf(),
            reason: format!(
                "exists and is not a scaled dataset (no {MANIFEST}); choose a new folder"
            ),
        })?;
        let old: Manifest = serde_json::from_str(&text).map_err(|e| DataError::Scale {
            path: manifest_path.clone(),
            reason: format!("unreadable: {e}"),
        })?;
        if old != manifest {
            return Err(DataError::Scale {
                path: out.to_path_buf(),
                reason: format!(
                    "was made from {} with {:?}; this run asks for {} with {:?} (use a new folder)",
                    old.source.display(),
                    old.options,
                    manifest.source.display(),
                    manifest.options
                ),
            });
        }
        return Ok(());
    }
    std::fs::create_dir_all(out).map_err(|e| DataError::io(out, e))?;
    let noise_dir = out.join(BACKGROUND_DIR);
    std::fs::create_dir_all(&noise_dir).map_err(|e| DataError::io(&noise_dir, e))?;
    for noise in &source.background {
        if let Some(name) = noise.file_name() {
            let dst = noise_dir.join(name);
            std::fs::copy(noise, &dst).map_err(|e| DataError::io(&dst, e))?;
        }
    }
    let keywords = source.root.join(KEYWORDS_FILE);
    if keywords.exists() {
        let dst = out.join(KEYWORDS_FILE);
        std::fs::copy(&keywords, &dst).map_err(|e| DataError::io(&dst, e))?;
    }
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| DataError::Scale {
        path: manifest_path.clone(),
        reason: e.to_string(),
    })?;
    write_atomic(&manifest_path, text.as_bytes()).map_err(|e| DataError::io(&manifest_path, e))
}

/// Write one variant unless an earlier run did; `true` if written.
fn render(
    augmenter: &Augmenter,
    out: &Path,
    p: &Planned,
    seed: u64,
    index: u64,
) -> Result<bool, DataError> {
    let dst = out.join(&p.rel);
    if dst.exists() {
        return Ok(false);
    }
    if let Some(dir) = dst.parent() {
        std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    }
    let samples = crate::audio::load_clip(&p.source)?;
    // One stream per output clip, whatever order the chunk is rendered in.
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let variant = if p.variant == 0 {
        samples
    } else {
        augmenter.apply(samples, &mut rng)
    };
    write_wav_mono_16k(&dst, &variant)?;
    Ok(true)
}

/// The split lists, written whole at the end (atomically).
fn write_lists(out: &Path, plan: &[Planned]) -> Result<(), DataError> {
    for (split, name) in [
        (Split::Validation, VALIDATION_LIST),
        (Split::Test, TESTING_LIST),
    ] {
        let mut text: String = plan
            .iter()
            .filter(|p| p.split == split)
            .map(|p| format!("{}\n", p.rel))
            .collect();
        if text.is_empty() {
            text.push('\n');
        }
        let path = out.join(name);
        write_atomic(&path, text.as_bytes()).map_err(|e| DataError::io(&path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Protocol;
    use crate::data::testutil;

    fn scaled(src: &Dataset, out: &Path, clips: usize, seed: u64) -> ScaleReport {
        make_scaled(
            src,
            out,
            &ScaleOptions { clips, seed },
            &AtomicBool::new(false),
            |_, _| {},
        )
        .unwrap()
    }

    #[test]
    fn variants_keep_word_speaker_and_split_and_the_result_opens() {
        let (tmp, src) = tiny_dataset();
        let out = tmp.path().join("scaled");
        let n_src = src.clips.iter().filter(|c| c.path().is_some()).count();
        let report = scaled(&src, &out, 3 * n_src + 1, 7);
        assert_eq!(report.clips, 3 * n_src + 1);
        assert_eq!(report.written, report.clips);
        let big = Dataset::open(&out, src.protocol).unwrap();
        let recorded = big.clips.iter().filter(|c| c.path().is_some()).count();
        assert_eq!(recorded, report.clips);
        // Every variant is in its source clip's split, under the source speaker's name + v.
        for c in big.clips.iter().filter(|c| c.path().is_some()) {
            let (base, _) = c.speaker.rsplit_once('v').unwrap();
            let same = src
                .clips
                .iter()
                .find(|s| s.speaker == base && s.word == c.word)
                .unwrap();
            assert_eq!(c.split, same.split, "{}", big.relative_name(c));
        }
        // Variants differ from the source; variant 0 is the source itself.
        let first = &big
            .clips
            .iter()
            .find(|c| c.speaker.ends_with("v1"))
            .unwrap();
        let v1 = crate::audio::load_clip(first.path().unwrap()).unwrap();
        let v0_path = first
            .path()
            .unwrap()
            .to_string_lossy()
            .replace("v1_nohash", "v0_nohash");
        let v0 = crate::audio::load_clip(Path::new(&v0_path)).unwrap();
        assert_ne!(v0, v1);
    }

    #[test]
    fn a_run_is_reproducible_and_resumes_after_an_interruption() {
        let (tmp, src) = tiny_dataset();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        let clips = CHUNK + 44;
        scaled(&src, &a, clips, 3);
        // Stop b after its first chunk, then run it again to the end.
        let cancel = AtomicBool::new(false);
        let opts = ScaleOptions { clips, seed: 3 };
        let stopped = make_scaled(&src, &b, &opts, &cancel, |_, _| {
            cancel.store(true, Ordering::Relaxed)
        });
        assert!(matches!(stopped, Err(DataError::Cancelled)));
        let report = scaled(&src, &b, clips, 3);
        assert_eq!(report.written, clips - CHUNK);
        let (files_a, files_b) = (walk(&a), walk(&b));
        assert_eq!(files_a.len(), files_b.len());
        for entry in files_a {
            let rel = entry.strip_prefix(&a).unwrap();
            assert_eq!(
                std::fs::read(&entry).unwrap(),
                std::fs::read(b.join(rel)).unwrap(),
                "{}",
                rel.display()
            );
        }
    }

    #[test]
    fn other_options_or_a_foreign_folder_are_refused_by_name() {
        let (tmp, src) = tiny_dataset();
        let out = tmp.path().join("scaled");
        scaled(&src, &out, 10, 1);
        let err = make_scaled(
            &src,
            &out,
            &ScaleOptions { clips: 10, seed: 2 },
            &AtomicBool::new(false),
            |_, _| {},
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("scaled") && err.contains("seed: 1") && err.contains("seed: 2"),
            "{err}"
        );
        let foreign = tmp.path().join("foreign");
        std::fs::create_dir(&foreign).unwrap();
        let err = make_scaled(
            &src,
            &foreign,
            &ScaleOptions { clips: 10, seed: 1 },
            &AtomicBool::new(false),
            |_, _| {},
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("foreign") && err.contains(MANIFEST), "{err}");
    }

    /// 11 words x 4 speakers, split by the speaker hash (3 in train, 1 in test).
    fn tiny_dataset() -> (tempfile::TempDir, Dataset) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("src");
        testutil::twelve_class_set(
            &root,
            &["0a7c2a8d", "c50f55b8", "3cfc6b3a", "bb05582b"],
            &["bed"],
        );
        let ds = Dataset::open(&root, Protocol::Twelve).unwrap();
        (tmp, ds)
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out.sort();
        out
    }
}
