//! One board, start to finish: connect, probe, upload what is missing, run, record. Blocking;
//! [`super::fleet`] runs it on a thread per board. The cancel flag is checked between steps,
//! between upload chunks and while the runner runs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use bifsmn_kernels::format::{PackedModel, model_hash};
use sha2::{Digest, Sha256};

use super::error::{DeployError, runner_exit_meaning};
use super::events::{BoardSuccess, EventKind, Stage};
use super::history::{self, HistoryEntry};
use super::probe::{self, BoardFacts, PROBE_COMMAND};
use super::profile::{BoardProfile, ConnectSpec};
use super::quote::{join, quote};
use super::remote::{self, run_checked};
use super::report::{self, RunnerReport};
use super::runners::RunnerLocator;
use super::session::{self, Connection, Credentials, HostKeyInfo, HostKeyPolicy};
use super::ssh_config::SshConfig;
use super::upload::{self, LocalArtifact, RemoteFile, RemoteLayout};

/// A board to deploy to: its profile, resolved connection settings and the secrets for this
/// session.
#[derive(Clone, Debug)]
pub struct Target {
    pub profile: BoardProfile,
    pub spec: ConnectSpec,
    pub credentials: Credentials,
}

impl Target {
    /// Resolve `profile` through `ssh` (host aliases) and attach the credentials.
    pub fn new(
        profile: BoardProfile,
        ssh: &SshConfig,
        credentials: Credentials,
    ) -> Result<Self, DeployError> {
        let spec = profile.resolve(ssh)?;
        Ok(Self {
            profile,
            spec,
            credentials,
        })
    }

    fn layout(&self) -> RemoteLayout {
        RemoteLayout::new(self.profile.remote_workdir())
    }
}

/// Runner options for `bench`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchOptions {
    /// Timed runs (`--runs`).
    pub runs: u32,
    /// Untimed runs first (`--warmup`).
    pub warmup: u32,
    /// Threads for the large products (`--threads`).
    pub threads: u32,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            runs: 100,
            warmup: 10,
            threads: 1,
        }
    }
}

/// What to run after the upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `bifsmn-runner bench` on each requested path.
    Bench(BenchOptions),
    /// Upload the clip and `bifsmn-runner classify --json` it on each requested path.
    Classify { clip: PathBuf },
    /// Only upload runner and model.
    UploadOnly,
}

/// What to deploy and run, the same for every board.
#[derive(Clone, Debug)]
pub struct DeployRequest {
    /// The packed model (`.bkw`).
    pub model: PathBuf,
    pub action: Action,
    /// Thin path indices to run (each gives one report).
    pub paths: Vec<u32>,
    /// Where the runner builds are.
    pub runners: RunnerLocator,
    /// Bench history file to append to; `None` records nothing.
    pub history: Option<PathBuf>,
    pub host_keys: HostKeyPolicy,
}

impl DeployRequest {
    /// Bench `model` on path 0 with default options, standard runner search, the user's
    /// history file, and unknown host keys refused.
    pub fn bench(model: impl Into<PathBuf>) -> Self {
        Self {
            model: model.into(),
            action: Action::Bench(BenchOptions::default()),
            paths: vec![0],
            runners: RunnerLocator::standard(),
            history: super::dirs::history_file(),
            host_keys: HostKeyPolicy::Ask,
        }
    }
}

fn check_cancel(cancel: &AtomicBool, host: &str) -> Result<(), DeployError> {
    if cancel.load(Ordering::Relaxed) {
        Err(DeployError::Cancelled { host: host.into() })
    } else {
        Ok(())
    }
}

/// The local model, read and validated once before anything goes over the network.
#[derive(Debug)]
struct LocalModel {
    artifact: LocalArtifact,
    hash: String,
}

fn load_model(path: &Path) -> Result<LocalModel, DeployError> {
    let bytes = std::fs::read(path).map_err(|e| DeployError::local("read model", path, e))?;
    // Refuse to ship a file the runner would reject: the check is the same parser.
    PackedModel::from_bytes(&bytes).map_err(|e| DeployError::LocalModel {
        path: path.to_path_buf(),
        problem: e.to_string(),
    })?;
    Ok(LocalModel {
        artifact: LocalArtifact {
            path: path.to_path_buf(),
            len: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
        },
        hash: model_hash(&bytes),
    })
}

fn open(
    target: &Target,
    policy: HostKeyPolicy,
    emit: &mut dyn FnMut(EventKind),
) -> Result<Connection, DeployError> {
    emit(EventKind::Stage(Stage::Connecting));
    let known_hosts = target.spec.known_hosts.clone();
    session::connect(
        &target.spec,
        &target.credentials,
        policy,
        &mut |hk: &HostKeyInfo| {
            emit(EventKind::HostKeyAccepted {
                key_type: hk.key_type.clone(),
                fingerprint: hk.fingerprint.clone(),
                known_hosts: known_hosts.clone(),
            })
        },
    )
}

/// `uname -m` and the CPU model, and which runner the board gets.
pub fn probe_board(
    conn: &Connection,
    profile: &BoardProfile,
    cancel: &AtomicBool,
) -> Result<BoardFacts, DeployError> {
    let out = run_checked(conn, PROBE_COMMAND, cancel)?;
    let (machine, cpu_model) = probe::parse_probe(&out);
    let (runner_arch, emulated) = probe::runner_arch(
        &machine,
        profile.runner_arch.as_deref(),
        &profile.exec_prefix_words(),
    )
    .map_err(|arch| DeployError::UnsupportedArch {
        host: conn.spec.host.clone(),
        arch,
    })?;
    Ok(BoardFacts {
        uname_machine: machine,
        cpu_model,
        runner_arch,
        emulated,
    })
}

/// The shell command that runs the runner in the work dir (every word quoted).
pub fn runner_command(
    profile: &BoardProfile,
    layout: &RemoteLayout,
    action: &Action,
    path: u32,
) -> Option<String> {
    let mut words = profile.exec_prefix_words();
    words.push(format!("./{}", RemoteFile::Runner.name()));
    let model = RemoteFile::Model.name().to_string();
    match action {
        Action::Bench(o) => words.extend([
            "bench".into(),
            "--model".into(),
            model,
            "--path".into(),
            path.to_string(),
            "--runs".into(),
            o.runs.to_string(),
            "--warmup".into(),
            o.warmup.to_string(),
            "--threads".into(),
            o.threads.to_string(),
        ]),
        Action::Classify { .. } => words.extend([
            "classify".into(),
            "--json".into(),
            "--model".into(),
            model,
            "--path".into(),
            path.to_string(),
            RemoteFile::Clip.name().into(),
        ]),
        Action::UploadOnly => return None,
    }
    // `exec` so a crash of the runner reaches sshd as an exit signal, not as a shell status.
    Some(format!(
        "cd -- {} && exec {}",
        quote(&layout.dir),
        join(&words)
    ))
}

/// Run the runner once and parse its report; crashes, non-zero exits and bad output become
/// errors carrying the remote stderr.
fn run_once(
    conn: &Connection,
    target: &Target,
    action: &Action,
    path: u32,
    cancel: &AtomicBool,
    emit: &mut dyn FnMut(EventKind),
) -> Result<RunnerReport, DeployError> {
    let host = conn.spec.host.clone();
    let Some(cmd) = runner_command(&target.profile, &target.layout(), action, path) else {
        unreachable!("upload-only deploys do not run the runner")
    };
    let what = format!(
        "runner ({})",
        if matches!(action, Action::Bench(_)) {
            "bench"
        } else {
            "classify"
        }
    );
    let out = remote::exec(
        conn,
        &cmd,
        &what,
        conn.spec.command_timeout,
        cancel,
        &mut |stream, line| {
            emit(EventKind::Output {
                stream,
                line: line.to_string(),
            })
        },
    )?;
    if let Some(signal) = out.signal {
        return Err(DeployError::RunnerKilled {
            host,
            signal,
            stderr: out.stderr,
        });
    }
    if out.status != 0 {
        return Err(DeployError::RunnerFailed {
            host,
            status: out.status,
            meaning: runner_exit_meaning(out.status).into(),
            stderr: out.stderr,
        });
    }
    let malformed = |problem: String, out: &remote::ExecOutput| DeployError::MalformedReport {
        host: host.clone(),
        problem,
        stdout_head: out.stdout.chars().take(200).collect(),
        stderr: out.stderr.clone(),
    };
    let report = match action {
        Action::Bench(_) => {
            report::parse_bench(&out.stdout).map(|b| RunnerReport::Bench(Box::new(b)))
        }
        _ => report::parse_classify(&out.stdout).map(|c| RunnerReport::Classify(Box::new(c))),
    }
    .map_err(|p| malformed(p, &out))?;
    if report.path() != path {
        return Err(malformed(
            format!("report is for path {}, asked for {path}", report.path()),
            &out,
        ));
    }
    Ok(report)
}

/// Deploy to one board and run the requested action. Blocking; events go to `emit` (the last
/// one is *not* `Finished`: the caller sends that with the returned result).
pub fn deploy_board(
    target: &Target,
    request: &DeployRequest,
    cancel: &AtomicBool,
    emit: &mut dyn FnMut(EventKind),
) -> Result<BoardSuccess, DeployError> {
    let host = target.spec.host.clone();
    // Local checks first: a bad model or clip fails before any network traffic.
    let model = load_model(&request.model)?;
    let clip = match &request.action {
        Action::Classify { clip } => Some(LocalArtifact::hash(clip)?),
        _ => None,
    };
    check_cancel(cancel, &host)?;

    let conn = open(target, request.host_keys, emit)?;
    check_cancel(cancel, &host)?;

    emit(EventKind::Stage(Stage::Probing));
    let facts = probe_board(&conn, &target.profile, cancel)?;
    emit(EventKind::Board(facts.clone()));
    let runner = LocalArtifact::hash(&request.runners.find(facts.runner_arch)?)?;
    check_cancel(cancel, &host)?;

    emit(EventKind::Stage(Stage::Preparing));
    let layout = target.layout();
    layout.prepare(&conn, cancel)?;
    let remote_hashes = layout.remote_hashes(&conn, cancel)?;

    let mut uploaded = vec![];
    let mut skipped = vec![];
    let mut sftp = None;
    let files = [
        (RemoteFile::Runner, Some(&runner)),
        (RemoteFile::Model, Some(&model.artifact)),
        (RemoteFile::Clip, clip.as_ref()),
    ];
    for (file, artifact) in files {
        let Some(artifact) = artifact else { continue };
        check_cancel(cancel, &host)?;
        if remote_hashes.get(&file) == Some(&artifact.sha256) {
            skipped.push(file);
            emit(EventKind::UploadSkipped { file });
            continue;
        }
        emit(EventKind::Stage(Stage::Uploading { file }));
        if sftp.is_none() {
            sftp = Some(
                conn.session
                    .sftp()
                    .map_err(|e| DeployError::ssh(&host, "start SFTP", e))?,
            );
        }
        let sftp = sftp.as_ref().expect("just set");
        let step = (artifact.len / 200).max(256 * 1024);
        let mut last = 0u64;
        upload::upload(
            &conn,
            sftp,
            &layout,
            file,
            artifact,
            cancel,
            &mut |sent, total| {
                if sent == 0 || sent == total || sent - last >= step {
                    last = sent;
                    emit(EventKind::UploadProgress { file, sent, total });
                }
            },
        )?;
        uploaded.push(file);
    }
    drop(sftp);

    let mut reports = vec![];
    let mut warnings = vec![];
    if request.action != Action::UploadOnly {
        for &path in &request.paths {
            check_cancel(cancel, &host)?;
            emit(EventKind::Stage(Stage::Running { path }));
            let report = run_once(&conn, target, &request.action, path, cancel, emit)?;
            if report.model_hash() != model.hash {
                return Err(DeployError::MalformedReport {
                    host,
                    problem: format!(
                        "the runner reports model {}, but {} was deployed",
                        report.model_hash(),
                        model.hash
                    ),
                    stdout_head: String::new(),
                    stderr: String::new(),
                });
            }
            emit(EventKind::Report(Box::new(report.clone())));
            if let Some(h) = &request.history {
                let entry = HistoryEntry::now(
                    &target.profile.name,
                    &host,
                    &facts.uname_machine,
                    facts.cpu_model.clone(),
                    &request.model,
                    &model.hash,
                    report.clone(),
                );
                if let Err(e) = history::append(h, &entry) {
                    emit(EventKind::Warning(e.to_string()));
                    warnings.push(e.to_string());
                }
            }
            reports.push(report);
        }
    }
    Ok(BoardSuccess {
        board: target.profile.name.clone(),
        host,
        facts,
        model_hash: model.hash,
        uploaded,
        skipped,
        reports,
        warnings,
    })
}

/// What `bifsmn boards test` found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BoardCheck {
    pub board: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub host_key_type: String,
    pub host_key_fingerprint: String,
    pub host_key_newly_accepted: bool,
    pub facts: BoardFacts,
    /// `bifsmn-runner info --json` of the runner already on the board, if there is one.
    pub runner_info: Option<serde_json::Value>,
    /// Why the runner on the board could not be asked (absent, crashed, bad output).
    pub runner_problem: Option<String>,
}

/// Connect (checking the host key), probe the board and ask an installed runner for `info`.
pub fn check_board(
    target: &Target,
    policy: HostKeyPolicy,
    cancel: &AtomicBool,
    emit: &mut dyn FnMut(EventKind),
) -> Result<BoardCheck, DeployError> {
    let conn = open(target, policy, emit)?;
    emit(EventKind::Stage(Stage::Probing));
    let facts = probe_board(&conn, &target.profile, cancel)?;
    emit(EventKind::Board(facts.clone()));
    let layout = target.layout();
    let mut words = target.profile.exec_prefix_words();
    words.extend(["./bifsmn-runner".into(), "info".into(), "--json".into()]);
    let cmd = format!(
        "cd -- {d} 2>/dev/null && test -x ./bifsmn-runner || exit 100; exec {}",
        join(&words),
        d = quote(&layout.dir)
    );
    let out = remote::exec(
        &conn,
        &cmd,
        "runner info",
        conn.spec.command_timeout,
        cancel,
        &mut |_, _| {},
    )?;
    let (runner_info, runner_problem) = match (out.status, &out.signal) {
        (_, Some(sig)) => (
            None,
            Some(format!(
                "runner killed by signal {sig}: {}",
                out.stderr.trim()
            )),
        ),
        (100, None) => (
            None,
            Some(format!(
                "no runner in {} yet (deploy puts it there)",
                layout.dir
            )),
        ),
        (0, None) => match serde_json::from_str::<serde_json::Value>(out.stdout.trim()) {
            Ok(v) => (Some(v), None),
            Err(e) => (None, Some(format!("runner info is not JSON ({e})"))),
        },
        (s, None) => (
            None,
            Some(format!(
                "runner info exited with {s} ({}): {}",
                runner_exit_meaning(s),
                out.stderr.trim()
            )),
        ),
    };
    Ok(BoardCheck {
        board: target.profile.name.clone(),
        host: conn.spec.host.clone(),
        port: conn.spec.port,
        user: conn.spec.user.clone(),
        host_key_type: conn.host_key.key_type.clone(),
        host_key_fingerprint: conn.host_key.fingerprint.clone(),
        host_key_newly_accepted: conn.host_key.newly_accepted,
        facts,
        runner_info,
        runner_problem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runner_commands_quote_everything() {
        let mut p = BoardProfile::new("b", "h");
        p.exec_prefix = Some("qemu-aarch64  -cpu cortex-a53".into());
        let layout = RemoteLayout::new("dir with 'quotes' $(x)");
        let cmd = runner_command(&p, &layout, &Action::Bench(BenchOptions::default()), 2).unwrap();
        assert_eq!(
            cmd,
            "cd -- 'dir with '\\''quotes'\\'' $(x)' && exec qemu-aarch64 -cpu cortex-a53 ./bifsmn-runner \
             bench --model model.bkw --path 2 --runs 100 --warmup 10 --threads 1"
        );
        p.exec_prefix = None;
        let cmd = runner_command(
            &p,
            &RemoteLayout::new("w"),
            &Action::Classify {
                clip: "x.wav".into(),
            },
            0,
        )
        .unwrap();
        assert_eq!(
            cmd,
            "cd -- w && exec ./bifsmn-runner classify --json --model model.bkw --path 0 clip.wav"
        );
        assert!(runner_command(&p, &layout, &Action::UploadOnly, 0).is_none());
    }

    #[test]
    fn bad_local_models_fail_before_connecting() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("bad.bkw");
        std::fs::write(&m, b"not a model").unwrap();
        let e = load_model(&m).unwrap_err().to_string();
        assert!(
            e.contains("bad.bkw") && e.contains("not a valid packed model"),
            "{e}"
        );
        assert!(load_model(&dir.path().join("missing.bkw")).is_err());
    }
}
