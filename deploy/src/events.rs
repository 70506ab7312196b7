//! What a deploy reports while it runs and when it is done. Every board's worker sends
//! [`DeployEvent`]s over one channel; the GUI drains them each frame, the CLI drives progress
//! bars with them.

use std::path::PathBuf;

use serde::Serialize;

use super::error::DeployError;
use super::probe::BoardFacts;
use super::remote::OutputStream;
use super::report::RunnerReport;
use super::upload::RemoteFile;

/// One event from one board.
#[derive(Clone, Debug)]
pub struct DeployEvent {
    /// The board's name (profile name).
    pub board: String,
    pub kind: EventKind,
}

/// The steps of a deploy, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "stage")]
pub enum Stage {
    /// TCP connect, SSH handshake, host key check, authentication.
    Connecting,
    /// `uname -m` and `/proc/cpuinfo`.
    Probing,
    /// Work dir creation, remote hashes of what is already there.
    Preparing,
    /// Upload, remote hash check and rename of one file.
    Uploading { file: RemoteFile },
    /// The runner is running on one thin path.
    Running { path: u32 },
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stage::Connecting => f.write_str("connecting"),
            Stage::Probing => f.write_str("probing"),
            Stage::Preparing => f.write_str("preparing"),
            Stage::Uploading { file } => write!(f, "uploading {file}"),
            Stage::Running { path } => write!(f, "running path {path}"),
        }
    }
}

/// What happened.
#[derive(Clone, Debug)]
pub enum EventKind {
    /// A new step started.
    Stage(Stage),
    /// The board's host key was not known and has been added (only with
    /// [`super::HostKeyPolicy::AcceptNew`]).
    HostKeyAccepted {
        key_type: String,
        fingerprint: String,
        known_hosts: PathBuf,
    },
    /// Architecture and CPU of the board, and the runner it gets.
    Board(BoardFacts),
    /// Bytes of a file sent so far (throttled to a few hundred events per file).
    UploadProgress {
        file: RemoteFile,
        sent: u64,
        total: u64,
    },
    /// The board already has this file with the same SHA-256: not sent again.
    UploadSkipped { file: RemoteFile },
    /// A line of the runner's stdout or stderr, as it arrives.
    Output { stream: OutputStream, line: String },
    /// A parsed report (one per thin path).
    Report(Box<RunnerReport>),
    /// A non-fatal problem (e.g. the history file could not be written).
    Warning(String),
    /// The board is done: the last event for this board.
    Finished(Result<Box<BoardSuccess>, DeployError>),
}

/// A board that completed its deploy.
#[derive(Clone, Debug, Serialize)]
pub struct BoardSuccess {
    pub board: String,
    pub host: String,
    pub facts: BoardFacts,
    /// Identity of the deployed model (`fnv1a64:...`).
    pub model_hash: String,
    /// Files sent this time, and files that were already there.
    pub uploaded: Vec<RemoteFile>,
    pub skipped: Vec<RemoteFile>,
    /// One report per requested thin path (empty for upload-only deploys).
    pub reports: Vec<RunnerReport>,
    pub warnings: Vec<String>,
}

impl BoardSuccess {
    /// End-to-end p50 (microseconds) per thin path, for bench reports.
    pub fn p50_by_path(&self) -> Vec<(u32, f64)> {
        self.reports
            .iter()
            .filter_map(|r| r.p50_us().map(|p| (r.path(), p)))
            .collect()
    }
}

/// The outcome of one board.
#[derive(Clone, Debug)]
pub struct BoardOutcome {
    pub board: String,
    pub result: Result<Box<BoardSuccess>, DeployError>,
}

/// The outcome of a whole deploy, boards in the order they were given.
#[derive(Clone, Debug, Default)]
pub struct DeploySummary {
    pub boards: Vec<BoardOutcome>,
}

impl DeploySummary {
    /// Whether every board succeeded.
    pub fn all_ok(&self) -> bool {
        self.boards.iter().all(|b| b.result.is_ok())
    }

    /// The boards that failed, with their errors.
    pub fn failures(&self) -> impl Iterator<Item = (&str, &DeployError)> {
        self.boards
            .iter()
            .filter_map(|b| b.result.as_ref().err().map(|e| (b.board.as_str(), e)))
    }
}
