//! The Speech Commands layout (V1 and V2): clips, splits, labels and the demo set's location.
//!
//! Layout: `<root>/<word>/<speaker>_nohash_<n>.{wav,flac}`, optional `validation_list.txt` and
//! `testing_list.txt` (paths relative to the root, one per line), and `_background_noise_/`
//! with long noise recordings for augmentation. Splits and labels follow docs/METHOD.md §1.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::DataError;
use crate::audio::{self, CLIP_SAMPLES};
use sha1::Sha1;

/// The ten command words of the 12-class protocols, in class order (classes 2..=11).
pub const COMMAND_WORDS: [&str; 10] = [
    "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
];

/// The 30 words of Speech Commands v0.01, alphabetical.
pub const V1_WORDS: [&str; 30] = [
    "bed", "bird", "cat", "dog", "down", "eight", "five", "four", "go", "happy", "house", "left",
    "marvin", "nine", "no", "off", "on", "one", "right", "seven", "sheila", "six", "stop", "three",
    "tree", "two", "up", "wow", "yes", "zero",
];

/// The 35 words of Speech Commands v0.02, alphabetical: also the V2-35 class order.
pub const V2_WORDS: [&str; 35] = [
    "backward", "bed", "bird", "cat", "dog", "down", "eight", "five", "follow", "forward", "four",
    "go", "happy", "house", "learn", "left", "marvin", "nine", "no", "off", "on", "one", "right",
    "seven", "sheila", "six", "stop", "three", "tree", "two", "up", "visual", "wow", "yes", "zero",
];

/// Folder with the long noise recordings used by augmentation; never a word.
pub const BACKGROUND_DIR: &str = "_background_noise_";
/// Folder with long recordings of continuous non-keyword speech, cut into 1 s `unknown`
/// windows (`<speaker>_nohash_<n>.wav`, split by the lists like any clip).
pub const LONG_SPEECH_DIR: &str = "_long_speech_";
/// Optional: the keyword folders of a 12-class dataset with its own keywords, one per line, in
/// class order (classes 2, 3, ...). Without it the keywords are the ten commands.
pub const KEYWORDS_FILE: &str = "keywords.txt";
/// Validation split list, relative to the dataset root.
pub const VALIDATION_LIST: &str = "validation_list.txt";
/// Test split list, relative to the dataset root.
pub const TESTING_LIST: &str = "testing_list.txt";
/// Class index of `unknown` in the 12-class protocols.
pub const UNKNOWN: usize = 0;
/// Class index of `silence` in the 12-class protocols.
pub const SILENCE: usize = 1;
/// The `word` of a synthetic silence clip (a name no real folder uses).
pub const SILENCE_WORD: &str = "_silence_";

/// Percentages of speakers assigned to validation and test when the split lists are absent
/// (the standard Speech Commands assignment).
const HASH_VALIDATION_PCT: f64 = 10.0;
const HASH_TESTING_PCT: f64 = 10.0;

/// Which words become which classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Protocol {
    /// Speech Commands v0.01, 12 classes: unknown, silence and the 10 command words.
    #[serde(rename = "v1-12")]
    V1_12,
    /// Speech Commands v0.02, 12 classes: unknown, silence and the 10 command words.
    #[serde(rename = "v2-12")]
    V2_12,
    /// Speech Commands v0.02, all 35 words alphabetically, no silence and no unknown.
    #[serde(rename = "v2-35")]
    V2_35,
    /// The 12-class labelling on any folder that has the 10 command words (e.g. the demo set):
    /// every other word is unknown, whatever the vocabulary.
    #[serde(rename = "12")]
    Twelve,
}

impl Protocol {
    /// All protocols, for menus.
    pub const ALL: [Protocol; 4] = [Self::V1_12, Self::V2_12, Self::V2_35, Self::Twelve];

    /// Short name as used on the command line (`v1-12`, `v2-12`, `v2-35`, `12`).
    pub fn name(self) -> &'static str {
        match self {
            Self::V1_12 => "v1-12",
            Self::V2_12 => "v2-12",
            Self::V2_35 => "v2-35",
            Self::Twelve => "12",
        }
    }

    /// Class names in class-index order.
    pub fn labels(self) -> Vec<String> {
        match self {
            Self::V2_35 => V2_WORDS.iter().map(|w| w.to_string()).collect(),
            _ => ["unknown", "silence"]
                .iter()
                .chain(COMMAND_WORDS.iter())
                .map(|w| w.to_string())
                .collect(),
        }
    }

    /// Whether silence clips are added to every split.
    pub fn has_silence(self) -> bool {
        self != Self::V2_35
    }

    /// The word folders the protocol's dataset version has, if it is tied to one.
    pub fn vocabulary(self) -> Option<&'static [&'static str]> {
        match self {
            Self::V1_12 => Some(&V1_WORDS),
            Self::V2_12 | Self::V2_35 => Some(&V2_WORDS),
            Self::Twelve => None,
        }
    }

    /// Class index of a word folder, or `None` if the protocol drops it.
    pub fn label_of(self, word: &str) -> Option<usize> {
        match self {
            Self::V2_35 => V2_WORDS.iter().position(|w| *w == word),
            _ => Some(
                COMMAND_WORDS
                    .iter()
                    .position(|w| *w == word)
                    .map_or(UNKNOWN, |i| i + 2),
            ),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Protocol {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "v1-12" => Ok(Self::V1_12),
            "v2-12" => Ok(Self::V2_12),
            "v2-35" => Ok(Self::V2_35),
            "12" | "twelve" => Ok(Self::Twelve),
            _ => Err(DataError::UnknownProtocol(s.to_string())),
        }
    }
}

/// One of the three dataset splits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Validation,
    Test,
}

impl Split {
    /// All splits in table order.
    pub const ALL: [Split; 3] = [Self::Train, Self::Validation, Self::Test];

    /// Lower-case name (`train`, `validation`, `test`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Validation => "validation",
            Self::Test => "test",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a clip's samples come from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ClipSource {
    /// An audio file (absolute or relative to the working directory, as the root was given).
    File(PathBuf),
    /// An all-zero 16000-sample waveform (the silence class).
    Silence,
    /// One second of a long recording (continuous non-keyword speech in `_long_speech_`),
    /// starting at sample `start`. Training with augmentation draws a fresh window from
    /// the whole recording every epoch; evaluation always uses `start`.
    Excerpt {
        path: PathBuf,
        start: usize,
        /// Samples in the whole recording (16 kHz).
        len: usize,
    },
}

/// One labelled example.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clip {
    pub source: ClipSource,
    /// Class index into [`Dataset::labels`].
    pub label: usize,
    pub split: Split,
    /// Speaker id (the file name before `_nohash_`); empty for silence.
    pub speaker: String,
    /// Word folder name; [`SILENCE_WORD`] for silence.
    pub word: String,
}

impl Clip {
    /// The audio file (for an excerpt, the whole recording), or `None` for silence.
    pub fn path(&self) -> Option<&Path> {
        match &self.source {
            ClipSource::File(p) | ClipSource::Excerpt { path: p, .. } => Some(p),
            ClipSource::Silence => None,
        }
    }

    /// Whether the clip is a window of a long recording rather than a file of its own.
    pub fn is_excerpt(&self) -> bool {
        matches!(self.source, ClipSource::Excerpt { .. })
    }
}

/// Where the split assignment came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SplitSource {
    /// `validation_list.txt` and `testing_list.txt`.
    Lists,
    /// No lists: speaker-id hash, 10 % validation, 10 % test.
    SpeakerHash,
}

/// Clips per class per split.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassCounts {
    pub labels: Vec<String>,
    pub train: Vec<usize>,
    pub validation: Vec<usize>,
    pub test: Vec<usize>,
}

impl ClassCounts {
    /// Per-class counts of one split.
    pub fn split(&self, split: Split) -> &[usize] {
        match split {
            Split::Train => &self.train,
            Split::Validation => &self.validation,
            Split::Test => &self.test,
        }
    }

    /// Count for one class in one split.
    pub fn get(&self, class: usize, split: Split) -> usize {
        self.split(split)[class]
    }

    /// Clips in a split, all classes.
    pub fn total(&self, split: Split) -> usize {
        self.split(split).iter().sum()
    }
}

/// An opened dataset: every clip with its label and split.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub root: PathBuf,
    pub protocol: Protocol,
    /// Class names in class-index order.
    pub labels: Vec<String>,
    /// Real clips sorted by relative path, then the silence clips of train, validation, test.
    pub clips: Vec<Clip>,
    /// Noise recordings in `_background_noise_`, sorted.
    pub background: Vec<PathBuf>,
    /// Where the splits came from.
    pub split_source: SplitSource,
    fingerprint: String,
}

/// `root` exists and is a folder; otherwise the error that says which of the two is wrong.
pub(super) fn check_root(root: &Path) -> Result<(), DataError> {
    match std::fs::metadata(root) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(DataError::RootMissing(root.to_path_buf()))
        }
        Err(e) => Err(DataError::io(root, e)),
        Ok(m) if !m.is_dir() => Err(DataError::NotADirectory(root.to_path_buf())),
        Ok(_) => Ok(()),
    }
}

/// The split of a speaker's clips in a dataset without split lists.
pub(super) fn hashed_split(speaker: &str) -> Split {
    which_set(speaker, HASH_VALIDATION_PCT, HASH_TESTING_PCT)
}

/// An audio file found in a word folder.
pub(super) struct Found {
    pub(super) rel: String,
    pub(super) word: String,
    pub(super) speaker: String,
    size: u64,
}

impl Dataset {
    /// Scan `root` and label its clips under `protocol`.
    pub fn open(root: impl AsRef<Path>, protocol: Protocol) -> Result<Dataset, DataError> {
        let root = root.as_ref().to_path_buf();
        check_root(&root)?;
        let (found, background) = scan(&root)?;
        if found.is_empty() {
            return Err(DataError::NoClips(root));
        }
        check_vocabulary(&root, protocol, &found)?;

        let lists = read_split_lists(&root, &found)?;
        let split_source = if lists.is_some() {
            SplitSource::Lists
        } else {
            SplitSource::SpeakerHash
        };

        let keywords = match protocol {
            Protocol::Twelve => read_keywords(&root)?,
            _ => None,
        };
        let labels = match &keywords {
            Some(words) => twelve_labels(words),
            None => protocol.labels(),
        };
        let label_of = |word: &str| -> Option<usize> {
            if word == LONG_SPEECH_DIR {
                // Continuous non-keyword speech is `unknown`; protocols without one drop it.
                return protocol.has_silence().then_some(UNKNOWN);
            }
            match &keywords {
                Some(words) => Some(
                    words
                        .iter()
                        .position(|w| w == word)
                        .map_or(UNKNOWN, |i| i + 2),
                ),
                None => protocol.label_of(word),
            }
        };

        let mut clips = Vec::with_capacity(found.len() + found.len() / 8);
        let mut per_split = [0usize; 3];
        for f in &found {
            let Some(label) = label_of(&f.word) else {
                continue;
            };
            let split = match &lists {
                Some(map) => map.get(&f.rel).copied().unwrap_or(Split::Train),
                None => hashed_split(&f.speaker),
            };
            let path = root.join(&f.rel);
            let sources = if f.word == LONG_SPEECH_DIR {
                excerpts(&path)?
            } else {
                vec![ClipSource::File(path)]
            };
            per_split[split.index()] += sources.len();
            clips.extend(sources.into_iter().map(|source| Clip {
                source,
                label,
                split,
                speaker: f.speaker.clone(),
                word: f.word.clone(),
            }));
        }

        let mut has_clips = vec![false; labels.len()];
        for c in &clips {
            has_clips[c.label] = true;
        }
        for (class, name) in labels.iter().enumerate() {
            let synthetic = protocol.has_silence() && class == SILENCE;
            if !synthetic && !has_clips[class] {
                return Err(DataError::EmptyClass {
                    protocol: protocol.name().into(),
                    class: name.clone(),
                    root,
                });
            }
        }

        if protocol.has_silence() {
            for split in Split::ALL {
                // floor(0.1 * files in the split), as the reference code does.
                let n = per_split[split.index()] / 10;
                clips.extend((0..n).map(|_| Clip {
                    source: ClipSource::Silence,
                    label: SILENCE,
                    split,
                    speaker: String::new(),
                    word: SILENCE_WORD.into(),
                }));
            }
        }

        let fingerprint = fingerprint(&root, &labels, &found, &clips, &background)?;
        Ok(Dataset {
            root,
            protocol,
            labels,
            clips,
            background,
            split_source,
            fingerprint,
        })
    }

    /// The clips of one split, in dataset order.
    pub fn clips_in(&self, split: Split) -> impl Iterator<Item = &Clip> + '_ {
        self.clips.iter().filter(move |c| c.split == split)
    }

    /// Indices into [`Dataset::clips`] of one split, in dataset order.
    pub fn indices_in(&self, split: Split) -> Vec<usize> {
        (0..self.clips.len())
            .filter(|&i| self.clips[i].split == split)
            .collect()
    }

    /// Clips per class per split.
    pub fn counts(&self) -> ClassCounts {
        let n = self.labels.len();
        let mut table = [vec![0; n], vec![0; n], vec![0; n]];
        for c in &self.clips {
            table[c.split.index()][c.label] += 1;
        }
        let [train, validation, test] = table;
        ClassCounts {
            labels: self.labels.clone(),
            train,
            validation,
            test,
        }
    }

    /// SHA-256 (hex) over the labels, the sorted relative paths and sizes of every clip and
    /// noise file, each clip's split and the split lists' bytes: a checkpoint stores it to tell
    /// whether it was trained on this data. Computed once when the dataset is opened.
    pub fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    /// A clip's 16000 samples (mono, 16 kHz); zeros for silence.
    pub fn load(&self, clip: &Clip) -> Result<Vec<f32>, DataError> {
        match &clip.source {
            ClipSource::File(path) => Ok(audio::load_clip(path)?),
            ClipSource::Excerpt { path, start, .. } => {
                Ok(window(&audio::load_mono_16k(path)?, *start))
            }
            ClipSource::Silence => Ok(vec![0.0; CLIP_SAMPLES]),
        }
    }

    /// Decode every background noise file at full length (mono, 16 kHz) for augmentation.
    pub fn load_background(&self) -> Result<Vec<Vec<f32>>, DataError> {
        self.background
            .iter()
            .map(|p| audio::load_mono_16k(p).map_err(DataError::from))
            .collect()
    }

    /// Up to `limit` recordings of training-split speech that is not a keyword, for babble
    /// noise: the long recordings of `_long_speech_` first, then `unknown` word clips, spread
    /// evenly over the split. Validation and test speech never becomes noise in training.
    pub fn babble_sources(&self, limit: usize) -> Result<Vec<Vec<f32>>, DataError> {
        let mut long: Vec<&Path> = Vec::new();
        let mut words: Vec<&Path> = Vec::new();
        for c in self.clips_in(Split::Train) {
            let is_speech = self.labels.get(c.label).is_some_and(|l| l == "unknown");
            match (&c.source, is_speech) {
                (ClipSource::Excerpt { path, .. }, true)
                    if long.last() != Some(&path.as_path()) =>
                {
                    long.push(path)
                }
                (ClipSource::File(path), true) => words.push(path),
                _ => {}
            }
        }
        let spread = |paths: &[&Path], n: usize| -> Vec<PathBuf> {
            let step = (paths.len() / n.max(1)).max(1);
            paths
                .iter()
                .step_by(step)
                .take(n)
                .map(|p| p.to_path_buf())
                .collect()
        };
        let mut chosen = spread(&long, limit);
        chosen.extend(spread(&words, limit - chosen.len()));
        chosen
            .iter()
            .map(|p| audio::load_mono_16k(p).map_err(DataError::from))
            .collect()
    }

    /// A clip's path relative to the root with `/` separators (`silence` for silence; for a
    /// window of a long recording, the recording's path and `@<start>s`).
    pub fn relative_name(&self, clip: &Clip) -> String {
        match &clip.source {
            ClipSource::File(p) => relative(&self.root, p),
            ClipSource::Excerpt { path, start, .. } => {
                format!("{}@{}s", relative(&self.root, path), start / CLIP_SAMPLES)
            }
            ClipSource::Silence => "silence".into(),
        }
    }
}

/// The 12-class labels of a dataset with its own keywords: unknown, silence, the keywords.
fn twelve_labels(keywords: &[String]) -> Vec<String> {
    ["unknown", "silence"]
        .iter()
        .map(|s| s.to_string())
        .chain(keywords.iter().cloned())
        .collect()
}

/// `keywords.txt`, if the dataset has one: keyword folders, one per line, `#` comments.
pub(super) fn read_keywords(root: &Path) -> Result<Option<Vec<String>>, DataError> {
    let path = root.join(KEYWORDS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(DataError::io(&path, e)),
    };
    let mut words: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let word = line.split('#').next().unwrap_or_default().trim();
        if word.is_empty() {
            continue;
        }
        let bad = |reason: &str| DataError::Keywords {
            path: path.clone(),
            line: i + 1,
            reason: format!("`{word}` {reason}"),
        };
        if word.starts_with('_') || word.contains(['/', '\\']) || word.contains(char::is_whitespace)
        {
            return Err(bad("is not a word folder name"));
        }
        if ["unknown", "silence"].contains(&word) {
            return Err(bad("is a reserved class name"));
        }
        if words.iter().any(|w| w == word) {
            return Err(bad("is listed twice"));
        }
        words.push(word.to_string());
    }
    if words.is_empty() {
        return Err(DataError::Keywords {
            path,
            line: 0,
            reason: "lists no keyword".into(),
        });
    }
    Ok(Some(words))
}

/// The 1 s windows of a long recording: back to back from its start, at least one.
fn excerpts(path: &Path) -> Result<Vec<ClipSource>, DataError> {
    let len = audio::duration_samples_16k(path)?;
    let count = (len / CLIP_SAMPLES).max(1);
    Ok((0..count)
        .map(|k| ClipSource::Excerpt {
            path: path.to_path_buf(),
            start: k * CLIP_SAMPLES,
            len,
        })
        .collect())
}

/// 16000 samples of `samples` from `start`, zero-padded past the end.
pub fn window(samples: &[f32], start: usize) -> Vec<f32> {
    let from = start.min(samples.len());
    let to = (start + CLIP_SAMPLES).min(samples.len());
    audio::fix_length(samples[from..to].to_vec(), CLIP_SAMPLES)
}

/// The standard Speech Commands split of a speaker: SHA-1 of the speaker id, read as a number,
/// modulo 2^27, scaled to a percentage of 2^27 - 1; below `validation_pct` is validation, below
/// `validation_pct + testing_pct` is test, the rest train. All of a speaker's clips land in one
/// split, and adding data never moves existing speakers.
pub fn which_set(speaker: &str, validation_pct: f64, testing_pct: f64) -> Split {
    const MAX_CLIPS_PER_CLASS: u64 = (1 << 27) - 1;
    let digest = Sha1::digest(speaker.as_bytes());
    // The number mod 2^27 only depends on its low 27 bits, i.e. the digest's last bytes.
    let tail = u32::from_be_bytes([digest[16], digest[17], digest[18], digest[19]]) as u64;
    let bucket = tail % (MAX_CLIPS_PER_CLASS + 1);
    let pct = bucket as f64 * (100.0 / MAX_CLIPS_PER_CLASS as f64);
    if pct < validation_pct {
        Split::Validation
    } else if pct < validation_pct + testing_pct {
        Split::Test
    } else {
        Split::Train
    }
}

/// Where the embedded demo set is: `$BIFSMN_DEMO_DIR` if set (even if wrong, so a typo is
/// reported instead of silently using another set), then the installed layout
/// `<exe dir>/../share/bifsmn-workbench/demo`, then the dev checkout's `assets/demo`.
pub fn demo_root() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("BIFSMN_DEMO_DIR").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let installed = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("share/bifsmn-workbench/demo")));
    let dev = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo");
    installed
        .into_iter()
        .chain([dev])
        .find(|p| p.is_dir())
        // Shown to users: `/usr/share/...` reads better than `/usr/bin/../share/...`.
        .map(|p| std::fs::canonicalize(&p).unwrap_or(p))
}

/// Whether a file name is a clip: `*_nohash_*` with a .wav or .flac extension.
fn is_clip_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name.contains("_nohash_") && (lower.ends_with(".wav") || lower.ends_with(".flac"))
}

fn is_audio_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".wav", ".flac", ".ogg", ".mp3"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn sorted_entries(dir: &Path) -> Result<Vec<(String, PathBuf)>, DataError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        out.push((
            entry.file_name().to_string_lossy().into_owned(),
            entry.path(),
        ));
    }
    out.sort();
    Ok(out)
}

/// Find every clip (`<word>/*_nohash_*.{wav,flac}`) and every noise file, sorted.
pub(super) fn scan(root: &Path) -> Result<(Vec<Found>, Vec<PathBuf>), DataError> {
    let mut found = Vec::new();
    let mut background = Vec::new();
    for (word, dir) in sorted_entries(root)? {
        // Follow symlinks: a dataset assembled from links is still a dataset.
        if word.starts_with('.') || !dir.is_dir() {
            continue;
        }
        for (name, path) in sorted_entries(&dir)? {
            let meta = std::fs::metadata(&path).map_err(|e| DataError::io(&path, e))?;
            if !meta.is_file() {
                continue;
            }
            if word == BACKGROUND_DIR {
                if is_audio_name(&name) {
                    background.push(path);
                }
                continue;
            }
            if !is_clip_name(&name) {
                continue;
            }
            let speaker = name
                .split("_nohash_")
                .next()
                .unwrap_or_default()
                .to_string();
            found.push(Found {
                rel: format!("{word}/{name}"),
                word: word.clone(),
                speaker,
                size: meta.len(),
            });
        }
    }
    Ok((found, background))
}

/// Refuse a folder whose words do not belong to the protocol's dataset version: V1-12 on a V2
/// folder would quietly relabel five extra words as unknown and not be V1-12 any more.
fn check_vocabulary(root: &Path, protocol: Protocol, found: &[Found]) -> Result<(), DataError> {
    let Some(vocab) = protocol.vocabulary() else {
        return Ok(());
    };
    let mut extra: Vec<String> = found
        .iter()
        .filter(|f| f.word != LONG_SPEECH_DIR && !vocab.contains(&f.word.as_str()))
        .map(|f| f.word.clone())
        .collect();
    extra.dedup();
    if extra.is_empty() {
        return Ok(());
    }
    let hint =
        if protocol == Protocol::V1_12 && extra.iter().all(|w| V2_WORDS.contains(&w.as_str())) {
            " (this looks like Speech Commands v0.02: use v2-12)".to_string()
        } else {
            " (use protocol 12 for a folder with its own vocabulary)".to_string()
        };
    Err(DataError::UnexpectedWords {
        protocol: protocol.name().into(),
        words: extra,
        root: root.to_path_buf(),
        hint,
    })
}

/// Read both split lists into `relative path -> split`, or `None` if neither exists.
pub(super) fn read_split_lists(
    root: &Path,
    found: &[Found],
) -> Result<Option<HashMap<String, Split>>, DataError> {
    let val_path = root.join(VALIDATION_LIST);
    let test_path = root.join(TESTING_LIST);
    match (val_path.is_file(), test_path.is_file()) {
        (false, false) => return Ok(None),
        (true, false) => {
            return Err(DataError::OnlyOneList {
                present: val_path,
                missing: test_path,
            });
        }
        (false, true) => {
            return Err(DataError::OnlyOneList {
                present: test_path,
                missing: val_path,
            });
        }
        (true, true) => {}
    }
    let known: std::collections::HashSet<&str> = found.iter().map(|f| f.rel.as_str()).collect();
    let mut map = HashMap::new();
    for (list, split) in [(&val_path, Split::Validation), (&test_path, Split::Test)] {
        let text = std::fs::read_to_string(list).map_err(|e| DataError::io(list, e))?;
        for (i, line) in text.lines().enumerate() {
            let entry = line.trim().replace('\\', "/");
            let entry = entry.trim_start_matches("./").to_string();
            if entry.is_empty() {
                continue;
            }
            if !known.contains(entry.as_str()) {
                let on_disk = root.join(&entry);
                return Err(if on_disk.is_file() {
                    DataError::ListEntryNotAClip {
                        list: list.to_path_buf(),
                        line: i + 1,
                        entry,
                    }
                } else {
                    DataError::ListEntryMissing {
                        list: list.to_path_buf(),
                        line: i + 1,
                        entry,
                        root: root.to_path_buf(),
                    }
                });
            }
            if let Some(prev) = map.insert(entry.clone(), split)
                && prev != split
            {
                return Err(DataError::ListConflict {
                    entry,
                    root: root.to_path_buf(),
                });
            }
        }
    }
    Ok(Some(map))
}

fn fingerprint(
    root: &Path,
    labels: &[String],
    found: &[Found],
    clips: &[Clip],
    background: &[PathBuf],
) -> Result<String, DataError> {
    let mut h = Sha256::new();
    h.update(b"bifsmn dataset fingerprint v1\n");
    h.update(labels.join(",").as_bytes());
    h.update(b"\n");
    // Clips in `found` order (sorted by relative path); their splits, in the same order, are
    // the first `found.len()` entries of `clips` minus any words the protocol dropped.
    let splits: BTreeMap<String, Split> = clips
        .iter()
        .filter_map(|c| Some((relative(root, c.path()?), c.split)))
        .collect();
    for f in found {
        let split = splits.get(&f.rel).map_or("dropped", |s| s.name());
        h.update(format!("{}\t{}\t{split}\n", f.rel, f.size).as_bytes());
    }
    for p in background {
        let size = std::fs::metadata(p).map_err(|e| DataError::io(p, e))?.len();
        h.update(format!("noise\t{}\t{size}\n", relative(root, p)).as_bytes());
    }
    for list in [VALIDATION_LIST, TESTING_LIST] {
        let path = root.join(list);
        match std::fs::read(&path) {
            Ok(bytes) => {
                h.update(format!("{list}\t{}\n", bytes.len()).as_bytes());
                h.update(&bytes);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                h.update(format!("{list}\tabsent\n").as_bytes());
            }
            Err(e) => return Err(DataError::io(&path, e)),
        }
    }
    let silence = clips.iter().filter(|c| c.source == ClipSource::Silence);
    h.update(format!("silence\t{}\n", silence.count()).as_bytes());
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testutil::{twelve_class_set, write_clips, write_tone};

    #[test]
    fn twelve_class_order_is_exactly_the_spec() {
        let expected = [
            "unknown", "silence", "yes", "no", "up", "down", "left", "right", "on", "off", "stop",
            "go",
        ];
        for p in [Protocol::V1_12, Protocol::V2_12, Protocol::Twelve] {
            assert_eq!(p.labels(), expected);
            assert!(p.has_silence());
            assert_eq!(p.label_of("go"), Some(11));
            assert_eq!(p.label_of("marvin"), Some(UNKNOWN));
        }
        let v35 = Protocol::V2_35.labels();
        assert_eq!(v35.len(), 35);
        assert!(v35.windows(2).all(|w| w[0] < w[1]), "alphabetical");
        assert_eq!(Protocol::V2_35.label_of("backward"), Some(0));
        assert_eq!(Protocol::V2_35.label_of("zero"), Some(34));
        assert_eq!(Protocol::V2_35.label_of("silence"), None);
        assert!(V1_WORDS.iter().all(|w| V2_WORDS.contains(w)));
    }

    #[test]
    fn protocol_names_round_trip() {
        for p in Protocol::ALL {
            assert_eq!(p.name().parse::<Protocol>().unwrap(), p);
        }
        assert_eq!("V1_12".parse::<Protocol>().unwrap(), Protocol::V1_12);
        let err = "v3-99".parse::<Protocol>().unwrap_err();
        assert!(err.to_string().contains("v3-99"));
    }

    #[test]
    fn which_set_matches_the_standard_hash_assignment() {
        // Expected values computed independently with Python's hashlib (percentages in
        // comments) following the published description of the assignment.
        assert_eq!(which_set("0a7c2a8d", 10.0, 10.0), Split::Train); // 56.84
        assert_eq!(which_set("bb05582b", 10.0, 10.0), Split::Test); // 18.13
        assert_eq!(which_set("2aa787cf", 10.0, 10.0), Split::Test); // 13.74
        assert_eq!(which_set("00000000", 10.0, 10.0), Split::Validation); // 9.56
        assert_eq!(which_set("9e3779b1", 10.0, 10.0), Split::Validation); // 1.70
        assert_eq!(which_set("012c8314", 10.0, 10.0), Split::Train); // 95.15
    }

    #[test]
    fn lists_assign_splits_and_silence_is_a_tenth_of_each_split() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        // 12 words x 11 speakers = 132 files.
        let speakers: Vec<String> = (0..11).map(|i| format!("spk{i:02}")).collect();
        let speakers: Vec<&str> = speakers.iter().map(|s| s.as_str()).collect();
        let rels = twelve_class_set(root, &speakers, &["marvin", "sheila"]);
        let val: Vec<&String> = rels.iter().filter(|r| r.contains("spk00_")).collect();
        let test: Vec<&String> = rels
            .iter()
            .filter(|r| r.contains("spk01_") || r.contains("spk02_"))
            .collect();
        let join = |v: &[&String]| v.iter().map(|s| format!("{s}\n")).collect::<String>();
        std::fs::write(root.join(VALIDATION_LIST), join(&val)).unwrap();
        // CRLF line endings and a blank line are tolerated.
        std::fs::write(
            root.join(TESTING_LIST),
            join(&test).replace('\n', "\r\n") + "\r\n",
        )
        .unwrap();
        write_tone(&root.join("_background_noise_/white.wav"), 100.0, 32000);
        // Files that are not clips are ignored.
        std::fs::write(root.join("yes/README.txt"), "x").unwrap();
        std::fs::write(root.join("LICENSE"), "x").unwrap();

        let ds = Dataset::open(root, Protocol::Twelve).unwrap();
        assert_eq!(ds.split_source, SplitSource::Lists);
        assert_eq!(
            ds.background,
            vec![root.join("_background_noise_/white.wav")]
        );
        let counts = ds.counts();
        // Train: 12 words x 8 speakers = 96 files -> 9 silence. Val: 12 -> 1. Test: 24 -> 2.
        assert_eq!(counts.get(SILENCE, Split::Train), 9);
        assert_eq!(counts.get(SILENCE, Split::Validation), 1);
        assert_eq!(counts.get(SILENCE, Split::Test), 2);
        assert_eq!(
            counts.get(UNKNOWN, Split::Train),
            16,
            "marvin + sheila, 8 speakers"
        );
        assert_eq!(counts.get(2, Split::Validation), 1);
        assert_eq!(counts.get(11, Split::Test), 2);
        assert_eq!(counts.total(Split::Train), 96 + 9);
        assert_eq!(ds.clips_in(Split::Validation).count(), 13);
        for c in ds.clips_in(Split::Validation) {
            assert!(c.word == SILENCE_WORD || c.speaker == "spk00");
        }
        let marvin = ds.clips.iter().find(|c| c.word == "marvin").unwrap();
        assert_eq!(marvin.label, UNKNOWN);
        let go = ds.clips.iter().find(|c| c.word == "go").unwrap();
        assert_eq!((go.label, ds.labels[go.label].as_str()), (11, "go"));

        // Silence loads as zeros; files as one 16000-sample clip.
        let silence = ds
            .clips
            .iter()
            .find(|c| c.source == ClipSource::Silence)
            .unwrap();
        assert_eq!(ds.load(silence).unwrap(), vec![0.0; 16000]);
        assert_eq!(ds.load(go).unwrap().len(), 16000);
        assert_eq!(ds.load_background().unwrap()[0].len(), 32000);
        assert_eq!(ds.relative_name(go), "go/spk00_nohash_0.wav");
    }

    #[test]
    fn without_lists_splits_come_from_speaker_hashes() {
        let tmp = tempfile::tempdir().unwrap();
        let speakers = ["0a7c2a8d", "bb05582b", "9e3779b1"];
        twelve_class_set(tmp.path(), &speakers, &["bed"]);
        let ds = Dataset::open(tmp.path(), Protocol::V1_12).unwrap();
        assert_eq!(ds.split_source, SplitSource::SpeakerHash);
        for c in ds.clips.iter().filter(|c| c.source != ClipSource::Silence) {
            let expected = match c.speaker.as_str() {
                "0a7c2a8d" => Split::Train,
                "bb05582b" => Split::Test,
                _ => Split::Validation,
            };
            assert_eq!(c.split, expected, "{}", c.speaker);
        }
        // 11 words per split -> 1 silence clip each.
        for split in Split::ALL {
            assert_eq!(ds.counts().get(SILENCE, split), 1);
        }
    }

    #[test]
    fn v2_35_has_no_silence_and_needs_every_word() {
        let tmp = tempfile::tempdir().unwrap();
        let spec: Vec<(&str, &str, usize)> = V2_WORDS.iter().map(|w| (*w, "aaaa", 0)).collect();
        write_clips(tmp.path(), &spec);
        let ds = Dataset::open(tmp.path(), Protocol::V2_35).unwrap();
        assert_eq!(ds.clips.len(), 35);
        assert!(ds.clips.iter().all(|c| c.source != ClipSource::Silence));
        assert!(ds.clips.iter().all(|c| ds.labels[c.label] == c.word));

        std::fs::remove_dir_all(tmp.path().join("wow")).unwrap();
        let err = Dataset::open(tmp.path(), Protocol::V2_35).unwrap_err();
        assert!(
            matches!(&err, DataError::EmptyClass { class, .. } if class == "wow"),
            "{err}"
        );
    }

    #[test]
    fn a_keywords_file_makes_its_own_twelve_class_labels() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write_clips(
            root,
            &[
                ("lights_on", "aaaa", 0),
                ("music", "aaaa", 0),
                ("yes", "aaaa", 0),
                ("table", "aaaa", 0),
            ],
        );
        std::fs::write(root.join(KEYWORDS_FILE), "# mine\nmusic\nlights_on\n").unwrap();
        let ds = Dataset::open(root, Protocol::Twelve).unwrap();
        assert_eq!(ds.labels, vec!["unknown", "silence", "music", "lights_on"]);
        let label = |w: &str| ds.clips.iter().find(|c| c.word == w).unwrap().label;
        assert_eq!((label("music"), label("lights_on")), (2, 3));
        // Without the file "yes" would be a keyword; with it, it is just another word.
        assert_eq!((label("yes"), label("table")), (UNKNOWN, UNKNOWN));

        for (text, needle) in [
            ("music\nmusic\n", "listed twice"),
            ("silence\n", "reserved"),
            ("_long_speech_\n", "not a word folder"),
            ("# nothing\n", "lists no keyword"),
            ("music\npause\n", "`pause`"),
        ] {
            std::fs::write(root.join(KEYWORDS_FILE), text).unwrap();
            let err = Dataset::open(root, Protocol::Twelve)
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }

    #[test]
    fn long_speech_becomes_unknown_windows_split_by_the_lists() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        twelve_class_set(root, &["aaaa", "bbbb"], &[]);
        let long = |name: &str, samples: usize| {
            let values: Vec<f32> = (0..samples)
                .map(|i| ((i % 97) as f32 - 48.0) / 200.0)
                .collect();
            crate::data::testutil::write_wav(&root.join(LONG_SPEECH_DIR).join(name), &values);
        };
        long("aaaa_nohash_0.wav", 3 * CLIP_SAMPLES + 500);
        long("bbbb_nohash_0.wav", CLIP_SAMPLES / 2);
        std::fs::write(root.join(VALIDATION_LIST), "").unwrap();
        std::fs::write(root.join(TESTING_LIST), "_long_speech_/bbbb_nohash_0.wav\n").unwrap();
        let ds = Dataset::open(root, Protocol::Twelve).unwrap();
        let windows: Vec<&Clip> = ds.clips.iter().filter(|c| c.is_excerpt()).collect();
        assert_eq!(
            windows.len(),
            3 + 1,
            "back-to-back windows, at least one per file"
        );
        assert!(windows.iter().all(|c| c.label == UNKNOWN));
        let test: Vec<&&Clip> = windows.iter().filter(|c| c.split == Split::Test).collect();
        assert_eq!(test.len(), 1);
        assert_eq!(
            ds.relative_name(windows[1]),
            "_long_speech_/aaaa_nohash_0.wav@1s"
        );
        // A window is one second of the recording; a short recording is zero-padded.
        let w = ds.load(windows[1]).unwrap();
        assert_eq!(w.len(), CLIP_SAMPLES);
        let whole = audio::load_mono_16k(windows[1].path().unwrap()).unwrap();
        assert_eq!(&w[..], &whole[CLIP_SAMPLES..2 * CLIP_SAMPLES]);
        let short = ds.load(test[0]).unwrap();
        assert!(short[CLIP_SAMPLES / 2..].iter().all(|&v| v == 0.0));
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();

        let missing = root.join("nope");
        let err = Dataset::open(&missing, Protocol::Twelve).unwrap_err();
        assert!(matches!(err, DataError::RootMissing(_)));
        assert!(err.to_string().contains("nope"));

        let empty = root.join("empty");
        std::fs::create_dir(&empty).unwrap();
        let err = Dataset::open(&empty, Protocol::Twelve).unwrap_err();
        assert!(matches!(err, DataError::NoClips(_)), "{err}");

        let set = root.join("set");
        twelve_class_set(&set, &["aaaa"], &["marvin"]);

        // A command word without clips.
        std::fs::remove_dir_all(set.join("stop")).unwrap();
        let err = Dataset::open(&set, Protocol::Twelve).unwrap_err();
        assert!(err.to_string().contains("`stop`"), "{err}");
        write_clips(&set, &[("stop", "aaaa", 0)]);

        // V1-12 on a folder with a V2-only word.
        write_clips(&set, &[("backward", "aaaa", 0)]);
        let err = Dataset::open(&set, Protocol::V1_12).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("backward") && msg.contains("v2-12"), "{msg}");
        assert!(Dataset::open(&set, Protocol::V2_12).is_ok());
        assert!(Dataset::open(&set, Protocol::Twelve).is_ok());

        // Only one list.
        std::fs::write(set.join(VALIDATION_LIST), "yes/aaaa_nohash_0.wav\n").unwrap();
        let err = Dataset::open(&set, Protocol::Twelve).unwrap_err();
        assert!(err.to_string().contains("testing_list.txt"), "{err}");

        // A list entry pointing to a missing file names the list, line and entry.
        std::fs::write(
            set.join(TESTING_LIST),
            "no/aaaa_nohash_0.wav\nno/gone_nohash_1.wav\n",
        )
        .unwrap();
        let err = Dataset::open(&set, Protocol::Twelve).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("testing_list.txt, line 2") && msg.contains("no/gone_nohash_1.wav"),
            "{msg}"
        );

        // The same file in both lists.
        std::fs::write(set.join(TESTING_LIST), "yes/aaaa_nohash_0.wav\n").unwrap();
        let err = Dataset::open(&set, Protocol::Twelve).unwrap_err();
        assert!(matches!(err, DataError::ListConflict { .. }), "{err}");

        // A file that is not a file: the root itself.
        let file = root.join("file.txt");
        std::fs::write(&file, "x").unwrap();
        let err = Dataset::open(&file, Protocol::Twelve).unwrap_err();
        assert!(matches!(err, DataError::NotADirectory(_)), "{err}");
    }

    #[test]
    fn fingerprint_follows_files_sizes_and_lists() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        twelve_class_set(root, &["0a7c2a8d", "bb05582b"], &["bed"]);
        let fp = || Dataset::open(root, Protocol::Twelve).unwrap().fingerprint();
        let base = fp();
        assert_eq!(base.len(), 64);
        assert_eq!(fp(), base, "stable");

        // A changed size.
        write_tone(&root.join("yes/0a7c2a8d_nohash_0.wav"), 300.0, 5000);
        let resized = fp();
        assert_ne!(resized, base);

        // A new file.
        write_clips(root, &[("yes", "0a7c2a8d", 1)]);
        let added = fp();
        assert_ne!(added, resized);

        // Lists that move a file to another split.
        std::fs::write(root.join(VALIDATION_LIST), "yes/0a7c2a8d_nohash_1.wav\n").unwrap();
        std::fs::write(root.join(TESTING_LIST), "").unwrap();
        assert_ne!(fp(), added);

        // The protocol's name is not data: V1-12 and 12 label this folder identically.
        let v1 = Dataset::open(root, Protocol::V1_12).unwrap().fingerprint();
        assert_eq!(v1, fp());
    }

    #[test]
    fn demo_set_opens_with_all_twelve_classes() {
        let Some(root) = demo_root().filter(|r| r.is_dir()) else {
            println!("note: demo dataset not found (assets/demo or BIFSMN_DEMO_DIR); skipped");
            return;
        };
        let ds = match Dataset::open(&root, Protocol::Twelve) {
            Ok(ds) => ds,
            Err(e) => {
                // The demo set may still be being generated while this runs.
                println!(
                    "note: demo dataset at {} not usable yet: {e}; skipped",
                    root.display()
                );
                return;
            }
        };
        let counts = ds.counts();
        for (class, name) in ds.labels.iter().enumerate() {
            let total: usize = Split::ALL.iter().map(|&s| counts.get(class, s)).sum();
            assert!(total > 0, "class {name} empty in the demo set");
        }
        assert!(counts.total(Split::Validation) > 0 && counts.total(Split::Test) > 0);
    }
}
