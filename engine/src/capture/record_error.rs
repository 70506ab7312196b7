//! The error of saving recordings and of reading a dataset's split lists (shared by
//! [`super::record`] and [`super::splits`]).

use std::path::{Path, PathBuf};

use crate::audio::AudioError;

/// Why a clip could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(
        "invalid label {0:?}: use a plain folder name (letters, digits, '-', '_'; not starting with '_' or '.')"
    )]
    InvalidLabel(String),
    #[error("the speaker name must not be empty")]
    EmptySpeaker,
    #[error(
        "no speech found in the recording (peak {peak_dbfs:.1} dBFS): speak louder or closer to the microphone"
    )]
    NoSpeech { peak_dbfs: f32 },
    #[error("the recording is empty")]
    Empty,
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error("{} exists but {} does not: add the missing list (it may be empty)", present.display(), missing.display())]
    OnlyOneList { present: PathBuf, missing: PathBuf },
    #[error("speaker {speaker} has clips in both the validation and the test list of {}", root.display())]
    SpeakerInBothLists { speaker: String, root: PathBuf },
}

impl RecordError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
