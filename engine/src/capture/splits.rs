//! The split lists (`validation_list.txt`, `testing_list.txt`) of a dataset that clips are
//! being added to.
//!
//! The rule is the Speech Commands one: all clips of a speaker are in one split. A speaker
//! already in a list keeps that split; a speaker with clips that are in no list is a training
//! speaker; a new speaker gets the standard hash assignment ([`which_set`]). When a folder has
//! no lists yet, they are first written from the hash rule for every clip already there, which
//! is exactly the split [`crate::data::Dataset`] computes without lists, so nothing moves.

use std::path::{Path, PathBuf};

use super::record_error::RecordError;
use crate::data::speech_commands::{BACKGROUND_DIR, TESTING_LIST, VALIDATION_LIST};
use crate::data::{Split, which_set};
use crate::fsutil::write_atomic;

/// Validation and test percentages of the hash rule (the same as `Dataset` uses without lists).
pub const HASH_VALIDATION_PCT: f64 = 10.0;
pub const HASH_TESTING_PCT: f64 = 10.0;

/// A clip file found in a word folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClipFile {
    /// `word/name.wav`, `/`-separated.
    pub rel: String,
    pub speaker: String,
}

/// Every `<word>/<speaker>_nohash_<n>.{wav,flac}` below `root`, sorted.
pub fn scan_clips(root: &Path) -> Result<Vec<ClipFile>, RecordError> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(RecordError::io(root, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| RecordError::io(root, e))?;
        let word = entry.file_name().to_string_lossy().into_owned();
        let dir = entry.path();
        if word.starts_with('.') || word == BACKGROUND_DIR || !dir.is_dir() {
            continue;
        }
        for clip in std::fs::read_dir(&dir).map_err(|e| RecordError::io(&dir, e))? {
            let clip = clip.map_err(|e| RecordError::io(&dir, e))?;
            let name = clip.file_name().to_string_lossy().into_owned();
            if let Some(speaker) = clip_speaker(&name) {
                out.push(ClipFile {
                    rel: format!("{word}/{name}"),
                    speaker: speaker.to_string(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

/// The speaker of a clip file name (`<speaker>_nohash_<n>.wav|flac`), if it is one.
pub fn clip_speaker(name: &str) -> Option<&str> {
    let lower = name.to_ascii_lowercase();
    if !(lower.ends_with(".wav") || lower.ends_with(".flac")) {
        return None;
    }
    name.split_once("_nohash_").map(|(s, _)| s)
}

/// The two lists of a dataset folder, in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct SplitLists {
    root: PathBuf,
    validation: Vec<String>,
    testing: Vec<String>,
    /// Whether the files existed when loaded.
    existed: bool,
    changed: bool,
}

impl SplitLists {
    /// Read the lists of `root`. A folder without lists gets lists written from the hash rule
    /// when [`SplitLists::save`] is called; a folder with only one of the two is an error
    /// (as for [`crate::data::Dataset::open`]).
    pub fn load(root: &Path) -> Result<SplitLists, RecordError> {
        let val = root.join(VALIDATION_LIST);
        let test = root.join(TESTING_LIST);
        let read = |p: &Path| -> Result<Vec<String>, RecordError> {
            let text = std::fs::read_to_string(p).map_err(|e| RecordError::io(p, e))?;
            Ok(text
                .lines()
                .map(|l| {
                    l.trim()
                        .replace('\\', "/")
                        .trim_start_matches("./")
                        .to_string()
                })
                .filter(|l| !l.is_empty())
                .collect())
        };
        match (val.is_file(), test.is_file()) {
            (true, true) => Ok(SplitLists {
                root: root.to_path_buf(),
                validation: read(&val)?,
                testing: read(&test)?,
                existed: true,
                changed: false,
            }),
            (false, false) => {
                let mut lists = SplitLists {
                    root: root.to_path_buf(),
                    validation: Vec::new(),
                    testing: Vec::new(),
                    existed: false,
                    changed: false,
                };
                for clip in scan_clips(root)? {
                    let split = which_set(&clip.speaker, HASH_VALIDATION_PCT, HASH_TESTING_PCT);
                    lists.add(&clip.rel, split);
                }
                Ok(lists)
            }
            (true, false) => Err(RecordError::OnlyOneList {
                present: val,
                missing: test,
            }),
            (false, true) => Err(RecordError::OnlyOneList {
                present: test,
                missing: val,
            }),
        }
    }

    /// The split the lists give a speaker, if any of their clips is listed.
    pub fn listed_split(&self, speaker: &str) -> Result<Option<Split>, RecordError> {
        let has = |list: &[String]| list.iter().any(|rel| rel_speaker(rel) == Some(speaker));
        match (has(&self.validation), has(&self.testing)) {
            (false, false) => Ok(None),
            (true, false) => Ok(Some(Split::Validation)),
            (false, true) => Ok(Some(Split::Test)),
            (true, true) => Err(RecordError::SpeakerInBothLists {
                speaker: speaker.to_string(),
                root: self.root.clone(),
            }),
        }
    }

    /// The split for a new clip of `speaker`: listed speakers keep theirs, speakers with
    /// unlisted clips on disk are training speakers, new speakers get the hash rule.
    pub fn split_for(&self, speaker: &str, on_disk: &[ClipFile]) -> Result<Split, RecordError> {
        if let Some(split) = self.listed_split(speaker)? {
            return Ok(split);
        }
        if on_disk.iter().any(|c| c.speaker == speaker) {
            return Ok(Split::Train);
        }
        Ok(which_set(speaker, HASH_VALIDATION_PCT, HASH_TESTING_PCT))
    }

    /// Put `rel` in the list of `split` (nothing for train; nothing if already there).
    pub fn add(&mut self, rel: &str, split: Split) {
        let list = match split {
            Split::Train => return,
            Split::Validation => &mut self.validation,
            Split::Test => &mut self.testing,
        };
        if !list.iter().any(|r| r == rel) {
            list.push(rel.to_string());
            self.changed = true;
        }
    }

    /// Whether `rel` is in either list.
    pub fn contains(&self, rel: &str) -> bool {
        self.validation
            .iter()
            .chain(&self.testing)
            .any(|r| r == rel)
    }

    /// Write both lists atomically if they changed or did not exist. Returns whether
    /// anything was written.
    pub fn save(&mut self) -> Result<bool, RecordError> {
        if self.existed && !self.changed {
            return Ok(false);
        }
        for (name, list) in [
            (VALIDATION_LIST, &self.validation),
            (TESTING_LIST, &self.testing),
        ] {
            let path = self.root.join(name);
            let mut text = list.join("\n");
            if !text.is_empty() {
                text.push('\n');
            }
            write_atomic(&path, text.as_bytes()).map_err(|e| RecordError::io(&path, e))?;
        }
        self.existed = true;
        self.changed = false;
        Ok(true)
    }

    pub fn validation(&self) -> &[String] {
        &self.validation
    }
    pub fn testing(&self) -> &[String] {
        &self.testing
    }
}

fn rel_speaker(rel: &str) -> Option<&str> {
    clip_speaker(rel.rsplit('/').next()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    /// Speaker ids whose hash split is train, validation and test.
    fn speakers() -> (String, String, String) {
        let find = |want: Split| {
            (0..10_000)
                .map(|i| format!("{i:08x}"))
                .find(|s| which_set(s, 10.0, 10.0) == want)
                .unwrap()
        };
        (
            find(Split::Train),
            find(Split::Validation),
            find(Split::Test),
        )
    }

    #[test]
    fn missing_lists_are_written_from_the_hash_rule() {
        let dir = tempfile::tempdir().unwrap();
        let (tr, va, te) = speakers();
        for s in [&tr, &va, &te] {
            touch(dir.path(), &format!("yes/{s}_nohash_0.wav"));
        }
        touch(dir.path(), "_background_noise_/a_nohash_0.wav");
        let mut lists = SplitLists::load(dir.path()).unwrap();
        assert_eq!(lists.validation(), [format!("yes/{va}_nohash_0.wav")]);
        assert_eq!(lists.testing(), [format!("yes/{te}_nohash_0.wav")]);
        assert!(lists.save().unwrap());
        let text = std::fs::read_to_string(dir.path().join(TESTING_LIST)).unwrap();
        assert_eq!(text, format!("yes/{te}_nohash_0.wav\n"));
        // Reloading finds the same lists and nothing to write.
        let mut again = SplitLists::load(dir.path()).unwrap();
        assert_eq!(again, lists);
        assert!(!again.save().unwrap());
    }

    #[test]
    fn speakers_keep_their_split() {
        let dir = tempfile::tempdir().unwrap();
        let (tr, va, te) = speakers();
        touch(dir.path(), &format!("no/{te}_nohash_0.wav"));
        // A hash-test speaker listed nowhere in an existing list pair is a training speaker.
        touch(dir.path(), &format!("no/{va}_nohash_3.flac"));
        std::fs::write(dir.path().join(VALIDATION_LIST), "").unwrap();
        std::fs::write(
            dir.path().join(TESTING_LIST),
            format!("no/{te}_nohash_0.wav\n"),
        )
        .unwrap();
        let lists = SplitLists::load(dir.path()).unwrap();
        let disk = scan_clips(dir.path()).unwrap();
        assert_eq!(lists.split_for(&te, &disk).unwrap(), Split::Test);
        assert_eq!(lists.split_for(&va, &disk).unwrap(), Split::Train);
        assert_eq!(lists.split_for(&tr, &disk).unwrap(), Split::Train);
        // A brand-new speaker gets the hash rule.
        assert_eq!(
            lists.split_for("ffffffff", &disk).unwrap(),
            which_set("ffffffff", 10.0, 10.0)
        );
    }

    #[test]
    fn one_list_alone_and_a_speaker_in_both_lists_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(TESTING_LIST), "").unwrap();
        assert!(matches!(
            SplitLists::load(dir.path()),
            Err(RecordError::OnlyOneList { .. })
        ));
        std::fs::write(dir.path().join(VALIDATION_LIST), "a/abc_nohash_0.wav\n").unwrap();
        std::fs::write(dir.path().join(TESTING_LIST), "b/abc_nohash_1.wav\n").unwrap();
        let lists = SplitLists::load(dir.path()).unwrap();
        assert!(matches!(
            lists.listed_split("abc"),
            Err(RecordError::SpeakerInBothLists { .. })
        ));
    }
}
