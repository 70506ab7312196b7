//! Evaluation streams: keywords from a dataset split placed at known times over background
//! noise at chosen SNRs, with unknown words as distractors. Seeded: the same dataset, keywords
//! and settings always give the same samples and placements.
//!
//! The background is a bed of segments cut at random from the `_background_noise_` files,
//! each file normalised to the same RMS level (seeded white noise when the folder has none).
//! A keyword is mixed at `SNR = 20 log10(rms(speech) / rms(noise))`, with the speech RMS
//! taken over the clip's spoken part ([`crate::capture::vad`]); if that would clip, the gain
//! is lowered and the placement records the SNR actually used. Placements are separated by
//! `gap_s` seconds of noise, so every keyword's tolerance window is free of other words.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::StreamError;
use crate::audio::{self, CLIP_SAMPLES, SAMPLE_RATE};
use crate::capture::vad::{VadConfig, speech_span};
use crate::data::{Clip, ClipSource, Dataset, Split};
use crate::fsutil::write_atomic;

/// How to build the stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MixConfig {
    /// Stream length.
    pub minutes: f64,
    /// SNRs (dB) to draw from, uniformly, per placement.
    pub snr_db: Vec<f32>,
    pub seed: u64,
    /// Noise between the end of one placed clip and the start of the next, drawn uniformly
    /// from this range (seconds). Keep its minimum above the match tolerance.
    pub gap_s: (f32, f32),
    /// Fraction of placements that are distractors (words that are not keywords).
    pub distractor_fraction: f32,
    /// RMS level of the background noise, dBFS.
    pub noise_dbfs: f32,
    /// Where the clips come from.
    pub split: Split,
    /// Only the background files with these names (without extension, e.g. `pink_noise`);
    /// `None` uses every file in `_background_noise_`.
    #[serde(default)]
    pub noise_files: Option<Vec<String>>,
}

impl Default for MixConfig {
    fn default() -> Self {
        Self {
            minutes: 10.0,
            snr_db: vec![20.0, 10.0, 5.0],
            seed: 0,
            gap_s: (1.5, 3.5),
            distractor_fraction: 0.25,
            noise_dbfs: -40.0,
            split: Split::Test,
            noise_files: None,
        }
    }
}

/// Keyword or distractor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlacementKind {
    Keyword,
    Distractor,
}

/// One clip placed in the stream. Sample positions are from the stream start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    pub index: usize,
    pub kind: PlacementKind,
    /// The clip's word (for keywords, the class label the detector should report).
    pub word: String,
    /// The clip, relative to the dataset root.
    pub clip: String,
    /// Where the 1 s clip starts and ends.
    pub start: u64,
    pub end: u64,
    /// The spoken part, as found by the energy VAD on the clean clip.
    pub speech_start: u64,
    pub speech_end: u64,
    /// The SNR drawn for this placement, and the one used (lower if the clip would clip).
    pub snr_db: f32,
    pub actual_snr_db: f32,
    pub gain: f32,
}

/// What the stream was made from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamInfo {
    pub sample_rate: u32,
    pub samples: u64,
    pub seconds: f64,
    pub config: MixConfig,
    pub dataset: PathBuf,
    pub keywords: Vec<String>,
    /// Test-split clips available per keyword (few clips are reused in long streams).
    pub keyword_clips: BTreeMap<String, usize>,
    pub distractor_clips: usize,
    /// Noise files used, or `generated white noise`.
    pub noise: Vec<String>,
}

/// A built stream and its ground truth.
#[derive(Clone, Debug, PartialEq)]
pub struct MixedStream {
    pub samples: Vec<f32>,
    pub placements: Vec<Placement>,
    pub info: StreamInfo,
}

/// The placements file written beside a stream WAV.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlacementsFile {
    pub format: String,
    pub info: StreamInfo,
    pub placements: Vec<Placement>,
}

const PLACEMENTS_FORMAT: &str = "bifsmn-stream-placements-1";

/// Build a stream from `dataset`'s `config.split` with clips of `keywords` as keywords and
/// every other word as distractors.
pub fn build(
    dataset: &Dataset,
    keywords: &[String],
    config: &MixConfig,
) -> Result<MixedStream, StreamError> {
    if config.snr_db.is_empty() {
        return Err(StreamError::Mix("no SNR given".into()));
    }
    if !(config.gap_s.0 >= 0.0 && config.gap_s.1 >= config.gap_s.0) {
        return Err(StreamError::Mix(format!(
            "bad gap range {:?}",
            config.gap_s
        )));
    }
    let total = (config.minutes.max(0.0) * 60.0 * SAMPLE_RATE as f64) as usize;
    if total < 2 * CLIP_SAMPLES {
        return Err(StreamError::Mix(format!(
            "{} minutes is too short for a stream",
            config.minutes
        )));
    }
    let mut by_word: BTreeMap<&str, Vec<&Clip>> = BTreeMap::new();
    let mut distractors: Vec<&Clip> = Vec::new();
    for clip in dataset
        .clips_in(config.split)
        .filter(|c| c.path().is_some())
    {
        if keywords.contains(&clip.word) {
            by_word.entry(clip.word.as_str()).or_default().push(clip);
        } else {
            distractors.push(clip);
        }
    }
    if by_word.is_empty() {
        return Err(StreamError::Mix(format!(
            "the {} split of {} has no clips of the keywords {}",
            config.split,
            dataset.root.display(),
            keywords.join(", ")
        )));
    }
    let words: Vec<&str> = by_word.keys().copied().collect();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);

    let noise_rms = 10f32.powf(config.noise_dbfs / 20.0);
    let noise_paths = chosen_noise(dataset, config.noise_files.as_deref())?;
    let (mut samples, noise_names) = noise_bed(&noise_paths, total, noise_rms, &mut rng)?;

    let mut cache: HashMap<String, Option<Prepared>> = HashMap::new();
    let mut placements = Vec::new();
    let gap = |rng: &mut ChaCha8Rng| {
        let (lo, hi) = config.gap_s;
        let s = if hi > lo {
            rng.random_range(lo..hi)
        } else {
            lo
        };
        (s * SAMPLE_RATE as f32) as usize
    };
    let mut t = gap(&mut rng);
    while t + CLIP_SAMPLES + (config.gap_s.0 * SAMPLE_RATE as f32) as usize <= total {
        let distractor =
            !distractors.is_empty() && rng.random::<f32>() < config.distractor_fraction;
        // A clip without detectable speech is skipped (a few tries, then give up on it).
        let mut chosen = None;
        for _ in 0..8 {
            let clip = if distractor {
                distractors[rng.random_range(0..distractors.len())]
            } else {
                let list = &by_word[words[rng.random_range(0..words.len())]];
                list[rng.random_range(0..list.len())]
            };
            let rel = dataset.relative_name(clip);
            if !cache.contains_key(&rel) {
                cache.insert(rel.clone(), prepare(dataset, clip)?);
            }
            if cache[&rel].is_some() {
                chosen = Some((clip, rel));
                break;
            }
        }
        let snr = config.snr_db[rng.random_range(0..config.snr_db.len())];
        let Some((clip, rel)) = chosen else {
            t += CLIP_SAMPLES + gap(&mut rng);
            continue;
        };
        let p = cache[&rel].as_ref().expect("chosen clips have speech");
        let len = p.samples.len();
        if t + len > total {
            break;
        }
        let mut gain = noise_rms * 10f32.powf(snr / 20.0) / p.speech_rms;
        if p.peak * gain > 0.99 {
            gain = 0.99 / p.peak;
        }
        let actual = 20.0 * (p.speech_rms * gain / noise_rms).log10();
        for (o, s) in samples[t..t + len].iter_mut().zip(&p.samples) {
            *o += gain * s;
        }
        placements.push(Placement {
            index: placements.len(),
            kind: if distractor {
                PlacementKind::Distractor
            } else {
                PlacementKind::Keyword
            },
            word: clip.word.clone(),
            clip: rel,
            start: t as u64,
            end: (t + len) as u64,
            speech_start: (t + p.speech.0) as u64,
            speech_end: (t + p.speech.1) as u64,
            snr_db: snr,
            actual_snr_db: actual,
            gain,
        });
        t += len + gap(&mut rng);
    }
    for s in &mut samples {
        *s = s.clamp(-1.0, 1.0);
    }
    let info = StreamInfo {
        sample_rate: SAMPLE_RATE,
        samples: total as u64,
        seconds: total as f64 / SAMPLE_RATE as f64,
        config: config.clone(),
        dataset: dataset.root.clone(),
        keywords: keywords.to_vec(),
        keyword_clips: by_word
            .iter()
            .map(|(w, c)| (w.to_string(), c.len()))
            .collect(),
        distractor_clips: distractors.len(),
        noise: noise_names,
    };
    Ok(MixedStream {
        samples,
        placements,
        info,
    })
}

/// A loaded clip with its speech span and levels.
struct Prepared {
    samples: Vec<f32>,
    speech: (usize, usize),
    speech_rms: f32,
    peak: f32,
}

/// A clip, or for a window of a long recording the whole recording: a distractor from
/// `_long_speech_` is seconds of continuous conversation, not a one-second cut of it.
fn prepare(dataset: &Dataset, clip: &Clip) -> Result<Option<Prepared>, StreamError> {
    let samples = match (&clip.source, clip.path()) {
        (ClipSource::Excerpt { .. }, Some(path)) => audio::load_mono_16k(path)?,
        _ => dataset.load(clip)?,
    };
    let Some(span) = speech_span(&samples, &VadConfig::default()) else {
        return Ok(None);
    };
    let speech = &samples[span.start..span.end];
    let speech_rms = (speech.iter().map(|v| v * v).sum::<f32>() / speech.len() as f32).sqrt();
    let peak = samples.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if speech_rms <= 0.0 {
        return Ok(None);
    }
    Ok(Some(Prepared {
        samples,
        speech: (span.start, span.end),
        speech_rms,
        peak,
    }))
}

/// `total` samples of background at RMS `rms`: random 3-8 s segments of the noise files
/// (each file scaled to `rms`), with 10 ms fades at the joins.
/// The background files to use: all, or the named ones (each must exist).
fn chosen_noise(dataset: &Dataset, names: Option<&[String]>) -> Result<Vec<PathBuf>, StreamError> {
    let Some(names) = names else {
        return Ok(dataset.background.clone());
    };
    let stem = |p: &Path| p.file_stem().map(|s| s.to_string_lossy().into_owned());
    names
        .iter()
        .map(|name| {
            dataset
                .background
                .iter()
                .find(|p| stem(p).as_deref() == Some(name.as_str()))
                .cloned()
                .ok_or_else(|| {
                    let have: Vec<String> =
                        dataset.background.iter().filter_map(|p| stem(p)).collect();
                    StreamError::Mix(format!(
                        "no background file `{name}` in {}/_background_noise_ (it has: {})",
                        dataset.root.display(),
                        have.join(", ")
                    ))
                })
        })
        .collect()
}

fn noise_bed(
    paths: &[PathBuf],
    total: usize,
    rms: f32,
    rng: &mut ChaCha8Rng,
) -> Result<(Vec<f32>, Vec<String>), StreamError> {
    let mut files = Vec::new();
    let mut names = Vec::new();
    for path in paths {
        let mut x = audio::load_mono_16k(path)?;
        let r = (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt();
        if x.len() < SAMPLE_RATE as usize || r <= 0.0 {
            continue;
        }
        x.iter_mut().for_each(|v| *v *= rms / r);
        files.push(x);
        names.push(path.display().to_string());
    }
    let mut bed = Vec::with_capacity(total);
    if files.is_empty() {
        // Uniform noise in [-a, a] has RMS a / sqrt(3).
        let a = rms * 3f32.sqrt();
        bed.extend((0..total).map(|_| rng.random_range(-a..a)));
        return Ok((bed, vec!["generated white noise".into()]));
    }
    let fade = (SAMPLE_RATE / 100) as usize;
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.shuffle(rng);
    let mut k = 0;
    while bed.len() < total {
        let f = &files[order[k % order.len()]];
        k += 1;
        let want = rng.random_range(3 * SAMPLE_RATE as usize..8 * SAMPLE_RATE as usize);
        let len = want.min(f.len()).min(total - bed.len());
        let off = rng.random_range(0..=f.len() - len);
        let seg = &f[off..off + len];
        let n = seg.len();
        bed.extend(seg.iter().enumerate().map(|(i, v)| {
            let edge = i.min(n - 1 - i);
            if edge < fade {
                v * edge as f32 / fade as f32
            } else {
                *v
            }
        }));
    }
    Ok((bed, names))
}

/// The placements file of a stream WAV: `<stem>.placements.json` beside it.
pub fn placements_path(wav: &Path) -> PathBuf {
    wav.with_extension("placements.json")
}

/// The CSV version of the placements, for spreadsheets: `<stem>.placements.csv`.
pub fn placements_csv_path(wav: &Path) -> PathBuf {
    wav.with_extension("placements.csv")
}

/// Write the stream as 16-bit WAV and its placements (JSON and CSV) beside it, atomically.
pub fn save(stream: &MixedStream, wav: &Path) -> Result<(), StreamError> {
    audio::write_wav_atomic(wav, &stream.samples, stream.info.sample_rate)?;
    let file = PlacementsFile {
        format: PLACEMENTS_FORMAT.into(),
        info: stream.info.clone(),
        placements: stream.placements.clone(),
    };
    let json_path = placements_path(wav);
    let json = serde_json::to_vec_pretty(&file).map_err(|e| StreamError::File {
        path: json_path.clone(),
        reason: e.to_string(),
    })?;
    write_atomic(&json_path, &json).map_err(|e| StreamError::File {
        path: json_path.clone(),
        reason: e.to_string(),
    })?;
    let csv_path = placements_csv_path(wav);
    let mut csv = String::from(
        "index,kind,word,clip,start_sample,end_sample,speech_start,speech_end,start_s,snr_db,actual_snr_db\n",
    );
    for p in &stream.placements {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{},{},{:.4},{},{:.2}\n",
            p.index,
            match p.kind {
                PlacementKind::Keyword => "keyword",
                PlacementKind::Distractor => "distractor",
            },
            p.word,
            p.clip,
            p.start,
            p.end,
            p.speech_start,
            p.speech_end,
            p.start as f64 / stream.info.sample_rate as f64,
            p.snr_db,
            p.actual_snr_db
        ));
    }
    write_atomic(&csv_path, csv.as_bytes()).map_err(|e| StreamError::File {
        path: csv_path,
        reason: e.to_string(),
    })
}

/// Read a stream written by [`save`] (the WAV and its `.placements.json`).
pub fn load(wav: &Path) -> Result<MixedStream, StreamError> {
    let json_path = placements_path(wav);
    let text = std::fs::read_to_string(&json_path).map_err(|e| StreamError::File {
        path: json_path.clone(),
        reason: format!("cannot read the placements file: {e}"),
    })?;
    let file: PlacementsFile = serde_json::from_str(&text).map_err(|e| StreamError::File {
        path: json_path.clone(),
        reason: format!("not a placements file: {e}"),
    })?;
    if file.format != PLACEMENTS_FORMAT {
        return Err(StreamError::File {
            path: json_path,
            reason: format!("unknown format {:?}", file.format),
        });
    }
    let samples = audio::load_mono_16k(wav)?;
    if samples.len() as u64 != file.info.samples {
        return Err(StreamError::File {
            path: wav.to_path_buf(),
            reason: format!(
                "has {} samples, its placements file says {}",
                samples.len(),
                file.info.samples
            ),
        });
    }
    Ok(MixedStream {
        samples,
        placements: file.placements,
        info: file.info,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Protocol;
    use crate::data::speech_commands::LONG_SPEECH_DIR;
    use crate::data::testutil::{twelve_class_set, write_tone, write_wav};

    /// The ten commands from two test speakers, a 4 s recording of "conversation" in the
    /// test split, and two noise files.
    fn dataset(dir: &Path) -> Dataset {
        twelve_class_set(dir, &["aaaa", "bbbb"], &["bed"]);
        // Words of 0.5 s with 0.3 s pauses, as a VAD sees speech.
        let talk: Vec<f32> = (0..4 * CLIP_SAMPLES)
            .map(|i| {
                let on = (i % 12800) < 8000;
                if on {
                    0.3 * ((i as f32 * 0.07).sin() + (i as f32 * 0.011).sin())
                } else {
                    0.0
                }
            })
            .collect();
        write_wav(&dir.join(LONG_SPEECH_DIR).join("bbbb_nohash_0.wav"), &talk);
        let list: String = std::fs::read_dir(dir)
            .unwrap()
            .flat_map(|e| {
                let word = e.unwrap().file_name().to_string_lossy().into_owned();
                let sub = dir.join(&word);
                std::fs::read_dir(&sub)
                    .into_iter()
                    .flatten()
                    .map(move |f| format!("{word}/{}\n", f.unwrap().file_name().to_string_lossy()))
            })
            .collect();
        std::fs::write(dir.join("validation_list.txt"), "").unwrap();
        std::fs::write(dir.join("testing_list.txt"), list).unwrap();
        write_tone(
            &dir.join("_background_noise_/pink_noise.wav"),
            300.0,
            3 * CLIP_SAMPLES,
        );
        write_tone(
            &dir.join("_background_noise_/babble.wav"),
            500.0,
            3 * CLIP_SAMPLES,
        );
        Dataset::open(dir, Protocol::Twelve).unwrap()
    }

    #[test]
    fn a_long_recording_is_placed_whole_as_conversation() {
        let tmp = tempfile::tempdir().unwrap();
        let ds = dataset(tmp.path());
        let config = MixConfig {
            minutes: 3.0,
            distractor_fraction: 0.5,
            ..MixConfig::default()
        };
        let keywords: Vec<String> = vec!["yes".into(), "no".into()];
        let stream = build(&ds, &keywords, &config).unwrap();
        let long: Vec<&Placement> = stream
            .placements
            .iter()
            .filter(|p| p.clip.starts_with(LONG_SPEECH_DIR))
            .collect();
        assert!(!long.is_empty(), "the recording was drawn as a distractor");
        for p in long {
            assert_eq!(p.kind, PlacementKind::Distractor);
            assert_eq!(p.end - p.start, 4 * CLIP_SAMPLES as u64, "placed whole");
        }
        let mut ends = 0;
        for p in &stream.placements {
            assert!(p.start >= ends, "placements do not overlap");
            ends = p.end;
        }
    }

    #[test]
    fn the_noise_bed_uses_only_the_named_files() {
        let tmp = tempfile::tempdir().unwrap();
        let ds = dataset(tmp.path());
        let keywords: Vec<String> = vec!["yes".into()];
        let only_pink = MixConfig {
            minutes: 1.0,
            noise_files: Some(vec!["pink_noise".into()]),
            ..MixConfig::default()
        };
        let s = build(&ds, &keywords, &only_pink).unwrap();
        assert_eq!(s.info.noise.len(), 1);
        assert!(s.info.noise[0].ends_with("pink_noise.wav"));
        let all = build(
            &ds,
            &keywords,
            &MixConfig {
                minutes: 1.0,
                ..MixConfig::default()
            },
        )
        .unwrap();
        assert_eq!(all.info.noise.len(), 2);
        let bad = MixConfig {
            noise_files: Some(vec!["traffic".into()]),
            ..only_pink
        };
        let err = build(&ds, &keywords, &bad).unwrap_err().to_string();
        assert!(
            err.contains("`traffic`") && err.contains("pink_noise"),
            "{err}"
        );
    }
}
