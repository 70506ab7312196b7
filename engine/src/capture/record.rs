//! Saving recordings as Speech Commands clips: `<root>/<label>/<speaker>_nohash_<n>.wav`
//! (16 kHz mono 16-bit, written atomically), optionally trimmed to the spoken part and
//! centred in a 1 s clip, with the split lists kept so that a speaker stays in one split.
//!
//! The functions here take samples, not a microphone: [`super::Capture::record`] produces
//! them, tests and the GUI can pass any audio.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use super::record_error::RecordError;
use super::splits::{SplitLists, clip_speaker, scan_clips};
use super::vad::{SpeechSpan, VadConfig, speech_span, trim_to_clip};
use crate::audio::{self, SAMPLE_RATE};
use crate::data::Split;
use crate::data::speech_commands::BACKGROUND_DIR;

/// Where and how to save.
#[derive(Clone, Debug, PartialEq)]
pub struct SaveOptions {
    /// Dataset folder (created if missing).
    pub root: PathBuf,
    /// Word folder, e.g. `yes`.
    pub label: String,
    /// The speaker's chosen name; the file name carries [`speaker_id`] of it.
    pub speaker: String,
    /// Trim to the spoken part and centre it in a 1 s clip; otherwise the recording is saved
    /// whole.
    pub trim: bool,
    pub vad: VadConfig,
}

impl SaveOptions {
    pub fn new(root: impl Into<PathBuf>, label: &str, speaker: &str) -> Self {
        Self {
            root: root.into(),
            label: label.to_string(),
            speaker: speaker.to_string(),
            trim: false,
            vad: VadConfig::default(),
        }
    }
}

/// A saved clip.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SavedClip {
    pub path: PathBuf,
    /// `label/<speaker>_nohash_<n>.wav`, as in the split lists.
    pub relative: String,
    pub speaker_id: String,
    pub index: u32,
    pub split: Split,
    /// The detected speech in the recording (also reported without trimming).
    pub speech: Option<SpeechSpan>,
    /// Speech longer than 1 s was cut to its middle second.
    pub truncated: bool,
    pub seconds: f32,
    pub peak_dbfs: f32,
    pub rms_dbfs: f32,
    /// Whether the split lists were (re)written.
    pub lists_written: bool,
}

/// What a recording session will do, before anything is recorded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordPlan {
    pub speaker_id: String,
    pub split: Split,
    /// The index the next clip will get.
    pub next_index: u32,
}

/// The 8-hex-digit speaker id of a speaker name: the first 4 bytes of SHA-256 of the name,
/// trimmed and lower-cased (so `Alice` and `alice ` are one speaker).
pub fn speaker_id(name: &str) -> String {
    let digest = Sha256::digest(name.trim().to_lowercase().as_bytes());
    hex::encode(&digest[..4])
}

/// Check that `label` can be a word folder.
pub fn validate_label(label: &str) -> Result<(), RecordError> {
    let ok = !label.is_empty()
        && !label.starts_with(['_', '.'])
        && label != BACKGROUND_DIR
        && label
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(RecordError::InvalidLabel(label.to_string()))
    }
}

/// One more than the highest `n` of `<speaker>_nohash_<n>` in the label's folder (0 if none).
pub fn next_index(root: &Path, label: &str, speaker_id: &str) -> Result<u32, RecordError> {
    let dir = root.join(label);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(RecordError::io(&dir, e)),
    };
    let mut next = 0;
    for entry in entries {
        let name = entry
            .map_err(|e| RecordError::io(&dir, e))?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if clip_speaker(&name) != Some(speaker_id) {
            continue;
        }
        let n = name
            .split_once("_nohash_")
            .and_then(|(_, rest)| rest.split('.').next())
            .and_then(|n| n.parse::<u32>().ok());
        if let Some(n) = n {
            next = next.max(n + 1);
        }
    }
    Ok(next)
}

/// The speaker id, split and next index for recording `label` by `speaker` into `root`.
pub fn plan(root: &Path, label: &str, speaker: &str) -> Result<RecordPlan, RecordError> {
    validate_label(label)?;
    if speaker.trim().is_empty() {
        return Err(RecordError::EmptySpeaker);
    }
    let id = speaker_id(speaker);
    let lists = SplitLists::load(root)?;
    let split = lists.split_for(&id, &scan_clips(root)?)?;
    Ok(RecordPlan {
        next_index: next_index(root, label, &id)?,
        speaker_id: id,
        split,
    })
}

/// Save `samples` (16 kHz mono) as the speaker's next clip of the label.
///
/// Order of writes: the WAV (atomically), then the lists (atomically). A crash in between
/// leaves the clip unlisted; the next save for the same speaker lists it (every clip of a
/// validation or test speaker is put on its list each time), so it cannot stay in train.
pub fn save_clip(opts: &SaveOptions, samples: &[f32]) -> Result<SavedClip, RecordError> {
    let plan = plan(&opts.root, &opts.label, &opts.speaker)?;
    if samples.is_empty() {
        return Err(RecordError::Empty);
    }
    let (peak_dbfs, _) = audio::levels_dbfs(samples);
    let speech = speech_span(samples, &opts.vad);
    let (clip, truncated) = if opts.trim {
        let (clip, _, truncated) =
            trim_to_clip(samples, &opts.vad).ok_or(RecordError::NoSpeech { peak_dbfs })?;
        (clip, truncated)
    } else {
        (samples.to_vec(), false)
    };
    let name = format!("{}_nohash_{}.wav", plan.speaker_id, plan.next_index);
    let relative = format!("{}/{}", opts.label, name);
    let path = opts.root.join(&opts.label).join(&name);
    audio::write_wav_mono_16k(&path, &clip)?;

    let mut lists = SplitLists::load(&opts.root)?;
    lists.add(&relative, plan.split);
    // Heal an earlier interrupted save: every clip of this speaker belongs to its list.
    for c in scan_clips(&opts.root)? {
        if c.speaker == plan.speaker_id && !lists.contains(&c.rel) {
            lists.add(&c.rel, plan.split);
        }
    }
    let lists_written = lists.save()?;

    let (peak_dbfs, rms_dbfs) = audio::levels_dbfs(&clip);
    Ok(SavedClip {
        path,
        relative,
        speaker_id: plan.speaker_id,
        index: plan.next_index,
        split: plan.split,
        speech,
        truncated,
        seconds: clip.len() as f32 / SAMPLE_RATE as f32,
        peak_dbfs,
        rms_dbfs,
        lists_written,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::which_set;

    /// 2 s of faint noise with a 0.4 s tone burst at 1.2 s.
    fn recording() -> Vec<f32> {
        let mut s = 7u32;
        (0..32_000)
            .map(|i| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let n = ((s >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.002;
                let w = if (19_200..25_600).contains(&i) {
                    0.4 * (i as f32 * 0.3).sin()
                } else {
                    0.0
                };
                n + w
            })
            .collect()
    }

    fn name_with_split(want: Split) -> String {
        (0..10_000)
            .map(|i| format!("speaker{i}"))
            .find(|n| which_set(&speaker_id(n), 10.0, 10.0) == want)
            .unwrap()
    }

    #[test]
    fn speaker_ids_are_8_hex_digits_and_ignore_case_and_spaces() {
        let id = speaker_id("Alice");
        assert_eq!(id.len(), 8);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(id, speaker_id(" alice "));
        assert_ne!(id, speaker_id("bob"));
    }

    #[test]
    fn labels_must_be_plain_folder_names() {
        validate_label("yes").unwrap();
        validate_label("turn-on_2").unwrap();
        for bad in ["", "_background_noise_", "../x", "a/b", ".hidden", "_x"] {
            assert!(validate_label(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn trimmed_clips_are_numbered_and_listed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("mine");
        let name = name_with_split(Split::Test);
        let mut opts = SaveOptions::new(&root, "yes", &name);
        opts.trim = true;
        let a = save_clip(&opts, &recording()).unwrap();
        let b = save_clip(&opts, &recording()).unwrap();
        assert_eq!((a.index, b.index), (0, 1));
        assert_eq!(a.split, Split::Test);
        assert_eq!(
            b.relative,
            format!("yes/{}_nohash_1.wav", speaker_id(&name))
        );
        assert_eq!(a.seconds, 1.0);
        assert!(!a.truncated);
        let span = a.speech.unwrap();
        assert!(span.start <= 19_200 && span.end >= 25_600, "{span:?}");
        let clip = audio::load_mono_16k(&a.path).unwrap();
        assert_eq!(clip.len(), 16_000);
        let test_list = std::fs::read_to_string(root.join("testing_list.txt")).unwrap();
        assert_eq!(test_list.lines().count(), 2);

        // A train speaker's clip is not listed; a second speaker shares nothing.
        let train = name_with_split(Split::Train);
        let c = save_clip(&SaveOptions::new(&root, "yes", &train), &recording()).unwrap();
        assert_eq!((c.split, c.index, c.seconds), (Split::Train, 0, 2.0));
        let lists = SplitLists::load(&root).unwrap();
        assert!(lists.contains(&a.relative) && lists.contains(&b.relative));
        assert!(!lists.contains(&c.relative));
    }

    #[test]
    fn an_unlisted_clip_of_a_test_speaker_is_listed_on_the_next_save() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let name = name_with_split(Split::Validation);
        let opts = SaveOptions::new(root, "go", &name);
        let first = save_clip(&opts, &recording()).unwrap();
        // Simulate a crash between the WAV and the list update of a second clip.
        let orphan = format!("go/{}_nohash_1.wav", speaker_id(&name));
        audio::write_wav_mono_16k(&root.join(&orphan), &recording()).unwrap();
        std::fs::write(
            root.join("validation_list.txt"),
            format!("{}\n", first.relative),
        )
        .unwrap();
        let third = save_clip(&opts, &recording()).unwrap();
        assert_eq!(third.index, 2);
        let lists = SplitLists::load(root).unwrap();
        assert!(lists.contains(&orphan));
        assert_eq!(lists.validation().len(), 3);
    }

    #[test]
    fn silence_cannot_be_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = SaveOptions::new(dir.path(), "yes", "x");
        opts.trim = true;
        assert!(matches!(
            save_clip(&opts, &vec![0.0; 16_000]),
            Err(RecordError::NoSpeech { .. })
        ));
        assert!(matches!(save_clip(&opts, &[]), Err(RecordError::Empty)));
        // Nothing was written.
        assert!(!dir.path().join("yes").exists());
    }
}
