//! Dataset errors: every variant names the file or folder concerned and what is wrong with it.

use std::path::PathBuf;

use crate::audio::AudioError;

/// A dataset could not be opened, read or cached.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("dataset folder {} does not exist", .0.display())]
    RootMissing(PathBuf),
    #[error("{} is not a folder", .0.display())]
    NotADirectory(PathBuf),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "no clips in {}: expected Speech Commands layout `<word>/<speaker>_nohash_<n>.wav` (or .flac)",
        .0.display()
    )]
    NoClips(PathBuf),
    #[error("{}, line {line}: `{entry}` does not exist under {}", list.display(), root.display())]
    ListEntryMissing {
        list: PathBuf,
        line: usize,
        entry: String,
        root: PathBuf,
    },
    #[error(
        "{}, line {line}: `{entry}` is not a clip (expected `<word>/<speaker>_nohash_<n>.wav` or .flac)",
        list.display()
    )]
    ListEntryNotAClip {
        list: PathBuf,
        line: usize,
        entry: String,
    },
    #[error("`{entry}` is listed in both validation_list.txt and testing_list.txt under {}", root.display())]
    ListConflict { entry: String, root: PathBuf },
    #[error(
        "{} exists but {} does not: give both split lists or neither (then splits come from speaker hashes)",
        present.display(),
        missing.display()
    )]
    OnlyOneList { present: PathBuf, missing: PathBuf },
    #[error("protocol {protocol}: no clips for class `{class}` in {}", root.display())]
    EmptyClass {
        protocol: String,
        class: String,
        root: PathBuf,
    },
    #[error("protocol {protocol}: {} has word folders that are not part of it: {}{hint}", root.display(), words.join(", "))]
    UnexpectedWords {
        protocol: String,
        words: Vec<String>,
        root: PathBuf,
        hint: String,
    },
    #[error("{}, line {line}: {reason}", path.display())]
    Keywords {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("unknown protocol `{0}`; expected one of v1-12, v2-12, v2-35, 12")]
    UnknownProtocol(String),
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error("feature cache {}: {reason}", path.display())]
    Cache { path: PathBuf, reason: String },
    #[error("merging datasets: {}: {reason}", path.display())]
    Merge { path: PathBuf, reason: String },
    #[error("scaled dataset {}: {reason}", path.display())]
    Scale { path: PathBuf, reason: String },
    #[error("cancelled (batch loading or making a scaled dataset)")]
    Cancelled,
}

impl DataError {
    /// Wrap an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
