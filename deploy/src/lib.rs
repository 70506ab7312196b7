//! Deploy to ARMv8 boards over SSH: upload the board runner and a packed model, run `bench`
//! or `classify` there, and bring the JSON reports back.
//!
//! * Boards: [`BoardProfile`] / [`BoardStore`] (`boards.toml` in the user's config dir,
//!   `$BIFSMN_CONFIG_DIR` overrides), `~/.ssh/config` aliases through [`SshConfig`].
//! * Safety: host keys checked against `known_hosts` ([`DeployError::HostKeyMismatch`],
//!   [`DeployError::UnknownHostKey`] + [`accept_host_key`]); uploads go to temporary names,
//!   are hashed on the board and renamed into place, so an interrupted deploy leaves the
//!   previous runner and model working; every remote command is built with [`quote`].
//! * Driving it: [`spawn_deploy`] runs one thread per board and streams [`DeployEvent`]s;
//!   [`spawn_check`] tests one board. Both return a [`JobHandle`] that can be cancelled.
//!   [`deploy_board`] and [`check_board`] are the same work, blocking, for callers that
//!   manage their own threads.
//! * Secrets: [`secret_need`] says which password or key passphrase a [`Target`] needs; the
//!   CLI prompt and the GUI dialog both ask through it.
//! * Results: [`RunnerReport`] (the runner's own report types from `bifsmn_kernels::report`,
//!   read tolerantly), [`DeploySummary`], and the JSON-lines history ([`history`]) in the
//!   user's data dir.

mod base64;
pub mod dirs;
mod error;
mod events;
mod fleet;
pub mod history;
mod hostkey;
mod job;
mod probe;
mod profile;
pub mod quote;
mod remote;
mod report;
mod runners;
mod secrets;
mod session;
mod ssh_config;
pub mod train_follow;
pub mod train_link;
mod upload;

pub use error::{DeployError, KeyMismatch, UnknownHost, runner_exit_meaning};
pub use events::{BoardOutcome, BoardSuccess, DeployEvent, DeploySummary, EventKind, Stage};
pub use fleet::{CheckHandle, DeployHandle, JobHandle, spawn_check, spawn_deploy};
pub use history::HistoryEntry;
pub use hostkey::{fingerprint, known_hosts_name};
pub use job::{
    Action, BenchOptions, BoardCheck, DeployRequest, Target, check_board, deploy_board,
    probe_board, runner_command,
};
pub use probe::{Arch, BoardFacts};
pub use profile::{
    Auth, BoardProfile, BoardStore, ConnectSpec, DEFAULT_COMMAND_TIMEOUT_SECS,
    DEFAULT_CONNECT_TIMEOUT_SECS, DEFAULT_WORKDIR,
};
pub use quote::quote;
pub use remote::{ExecOutput, OutputStream, exec, run_checked};
pub use report::{
    BenchClassification, BenchReport, ClassifyReport, Latency, LayerTiming, RunnerBoard,
    RunnerReport,
};
pub use runners::{RunnerLocator, workspace_runners_dir};
pub use secrets::{SecretKind, SecretNeed, secret_need};
pub use session::{
    Connection, Credentials, HostKeyInfo, HostKeyPolicy, Secret, accept_host_key, connect,
    key_needs_passphrase,
};
pub use ssh_config::{HostSettings, SshConfig};
pub use upload::{LocalArtifact, RemoteFile, RemoteLayout};
