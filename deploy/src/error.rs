//! Everything that can go wrong while deploying, as values that name the board, host, file or
//! field and say what is wrong.
//!
//! The type is `Clone` (I/O errors are shared through `Arc`, libssh2 errors are kept as their
//! message) so a failure can travel both in a progress event and in the final summary.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A host key that is not in `known_hosts` yet. Carried by [`DeployError::UnknownHostKey`] so
/// the CLI can ask "accept?" and the GUI can show a dialog; [`super::accept_host_key`] records
/// it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownHost {
    /// Host name or address as used for the connection (after `~/.ssh/config` resolution).
    pub host: String,
    pub port: u16,
    /// SSH key type, e.g. `ssh-ed25519`.
    pub key_type: String,
    /// OpenSSH-style fingerprint, `SHA256:` + unpadded base64.
    pub fingerprint: String,
    /// The raw public key blob (what goes into `known_hosts`, base64-encoded there).
    pub key: Vec<u8>,
    /// The file it would be added to.
    pub known_hosts: PathBuf,
    /// Key types of other keys already recorded for this host (if any, the server now shows a
    /// key of a type we have never seen from it; worth a second look before accepting).
    pub other_known_types: Vec<String>,
}

/// A host key that differs from the one recorded in `known_hosts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyMismatch {
    pub host: String,
    pub port: u16,
    pub known_hosts: PathBuf,
    /// 1-based line of the recorded key.
    pub line: usize,
    /// Fingerprint of the recorded key (`SHA256:...`).
    pub expected: String,
    /// Type and fingerprint of the key the server presented.
    pub key_type: String,
    pub presented: String,
}

/// Errors of board profiles, connections, uploads and runs.
#[derive(Clone, Debug, thiserror::Error)]
pub enum DeployError {
    #[error("board config {path}: {problem}")]
    Config { path: PathBuf, problem: String },

    #[error(
        "no board named {name:?} (see `bifsmn boards list`; hosts from ~/.ssh/config work too)"
    )]
    UnknownBoard { name: String },

    #[error("board {name:?}: {problem}")]
    InvalidProfile { name: String, problem: String },

    #[error("ssh config {path}:{line}: {problem}")]
    SshConfig {
        path: PathBuf,
        line: usize,
        problem: String,
    },

    #[error("cannot resolve host {host}: {source}")]
    Resolve {
        host: String,
        #[source]
        source: Arc<io::Error>,
    },

    #[error("cannot connect to {host}:{port} within {}s: {source}", timeout.as_secs_f32())]
    Connect {
        host: String,
        port: u16,
        timeout: Duration,
        #[source]
        source: Arc<io::Error>,
    },

    #[error(
        "SSH handshake with {host}:{port} failed (timeout {}s): {message}. Is an SSH server listening there?",
        timeout.as_secs_f32()
    )]
    Handshake {
        host: String,
        port: u16,
        timeout: Duration,
        message: String,
    },

    #[error(
        "host key for {host}:{port} is not known ({key_type} {fingerprint}); accept it explicitly \
         (CLI: --accept-new-host-key) to add it to {known_hosts}",
        host = .0.host, port = .0.port, key_type = .0.key_type,
        fingerprint = .0.fingerprint, known_hosts = .0.known_hosts.display()
    )]
    UnknownHostKey(Box<UnknownHost>),

    #[error(
        "HOST KEY MISMATCH for {host}:{port}: {known_hosts}:{line} expects {expected} but the \
         server presented {key_type} {presented}. Refusing to connect: the board was reinstalled \
         or someone is intercepting the connection. If the change is expected, remove line {line} \
         from {known_hosts}.",
        host = .0.host, port = .0.port, known_hosts = .0.known_hosts.display(), line = .0.line,
        expected = .0.expected, key_type = .0.key_type, presented = .0.presented
    )]
    HostKeyMismatch(Box<KeyMismatch>),

    #[error("host key of {host}:{port} is revoked in {known_hosts}:{line} ({fingerprint})")]
    HostKeyRevoked {
        host: String,
        port: u16,
        known_hosts: PathBuf,
        line: usize,
        fingerprint: String,
    },

    #[error("known_hosts {path}: {problem}")]
    KnownHosts { path: PathBuf, problem: String },

    #[error("authentication as {user}@{host} with {method} failed: {message}")]
    Auth {
        host: String,
        user: String,
        method: String,
        message: String,
    },

    #[error("{host}: {action}: {message}")]
    Ssh {
        host: String,
        action: String,
        message: String,
    },

    /// A remote training could not be started, followed or checked (names the host and the
    /// remote path or what the training said).
    #[error("{host}: {problem}")]
    RemoteTraining { host: String, problem: String },

    #[error("{host}: `{command}` exited with {status}{}", stderr_suffix(stderr))]
    RemoteCommand {
        host: String,
        command: String,
        status: i32,
        stderr: String,
    },

    #[error(
        "{host}: unsupported board architecture {arch:?} (runners exist for aarch64 and x86_64)"
    )]
    UnsupportedArch { host: String, arch: String },

    #[error(
        "no {arch} runner found (looked at: {}); build it with `{build}`",
        searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    RunnerMissing {
        arch: String,
        searched: Vec<PathBuf>,
        build: String,
    },

    #[error("{action} {path}: {source}")]
    LocalFile {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },

    #[error("model {path} is not a valid packed model: {problem}")]
    LocalModel { path: PathBuf, problem: String },

    #[error("{host}: upload of {file} failed: {message}")]
    Upload {
        host: String,
        file: String,
        message: String,
    },

    #[error(
        "{host}: {file} arrived corrupted (SHA-256 local {local}, remote {remote}); the previous \
         file was left in place"
    )]
    HashMismatch {
        host: String,
        file: String,
        local: String,
        remote: String,
    },

    #[error(
        "{host}: runner exited with {status} ({meaning}){}",
        stderr_suffix(stderr)
    )]
    RunnerFailed {
        host: String,
        status: i32,
        meaning: String,
        stderr: String,
    },

    #[error(
        "{host}: runner was killed by signal {signal}{}",
        stderr_suffix(stderr)
    )]
    RunnerKilled {
        host: String,
        signal: String,
        stderr: String,
    },

    #[error(
        "{host}: runner output is not a valid report: {problem}; stdout starts {stdout_head:?}{}",
        stderr_suffix(stderr)
    )]
    MalformedReport {
        host: String,
        problem: String,
        stdout_head: String,
        stderr: String,
    },

    #[error("{host}: {what} did not finish within {}s{}", after.as_secs_f32(), stderr_suffix(stderr))]
    Timeout {
        host: String,
        what: String,
        after: Duration,
        stderr: String,
    },

    #[error("{host}: cancelled")]
    Cancelled { host: String },

    #[error("bench history {path}: {source}")]
    History {
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    let s = stderr.trim();
    if s.is_empty() {
        String::new()
    } else {
        format!("; remote stderr: {s}")
    }
}

impl DeployError {
    /// A local file error (`action` like "read", "write").
    pub fn local(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        DeployError::LocalFile {
            action,
            path: path.into(),
            source: Arc::new(source),
        }
    }

    /// A libssh2 failure during `action` on `host`.
    pub fn ssh(host: &str, action: impl Into<String>, e: impl std::fmt::Display) -> Self {
        DeployError::Ssh {
            host: host.to_string(),
            action: action.into(),
            message: e.to_string(),
        }
    }

    /// The unknown host key, if this is that error (for an "accept?" prompt or dialog).
    pub fn unknown_host(&self) -> Option<&UnknownHost> {
        match self {
            DeployError::UnknownHostKey(u) => Some(u),
            _ => None,
        }
    }

    /// The remote stderr this error carries, if any.
    pub fn remote_stderr(&self) -> Option<&str> {
        match self {
            DeployError::RemoteCommand { stderr, .. }
            | DeployError::RunnerFailed { stderr, .. }
            | DeployError::RunnerKilled { stderr, .. }
            | DeployError::MalformedReport { stderr, .. }
            | DeployError::Timeout { stderr, .. } => Some(stderr),
            _ => None,
        }
    }
}

/// What the runner's exit codes mean (docs/RUNNER.md), plus the shell's own codes.
pub fn runner_exit_meaning(status: i32) -> &'static str {
    match status {
        1 => "runtime failure",
        2 => "usage error",
        3 => "model file cannot be read or is invalid",
        4 => "input clip cannot be read or has the wrong sample rate",
        5 => "self-test mismatch",
        126 => "runner is not executable on the board",
        127 => "command not found (runner or execution prefix missing on the board)",
        132 => "illegal instruction (runner built for a newer CPU?)",
        134 => "aborted (panic in the runner)",
        137 => "killed (out of memory?)",
        139 => "segmentation fault",
        255 => "the execution prefix or loader failed",
        _ => "unexpected exit code",
    }
}
