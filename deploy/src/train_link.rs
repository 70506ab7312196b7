//! Training on a bigger machine over SSH, with the same profiles and sessions as the boards.
//!
//! * The `bifsmn` binary goes to the host's work dir ([`install_trainer`]) when the copy
//!   there is missing or differs (SHA-256), through the atomic [`super::upload`] path.
//! * The training starts detached ([`start_training`]: `setsid nohup`, stdio redirected), so a
//!   dropped connection does not stop it. Its event stream (one JSON object per line, the
//!   trainer's `TrainEvent` as serde writes it) goes to [`EVENTS_LOG`] in the remote run dir.
//! * [`follow_training`] reads that log from a byte offset over SFTP. The offset only moves
//!   past complete lines, so after a reconnect the same offset continues with no event lost
//!   or repeated; offset 0 replays the whole run (a restarted GUI rebuilds its charts so).
//! * Checkpoints are copied back as their events arrive ([`mirror_checkpoint`]): weights
//!   first, the sidecar last, each to a temporary name and renamed, so the local copy is
//!   always a loadable run directory.
//! * Pause, resume, stop and cancel are words appended to [`CONTROL_FILE`], which the remote
//!   trainer polls ([`send_control`]).

use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bifsmn_kernels::atomic::{write_atomic, write_atomic_with};
use sha2::{Digest, Sha256};
use ssh2::Sftp;

use super::error::DeployError;
use super::job::Target;
use super::quote::{join, quote};
use super::remote::run_checked;
use super::session::{self, Connection, HostKeyPolicy};
use super::upload::{self, LocalArtifact, RemoteFile, RemoteLayout, parse_sha256sum};

/// The remote trainer's event log, inside the remote run dir.
pub const EVENTS_LOG: &str = "remote-events.jsonl";
/// Control words for the remote trainer (`pause`, `resume`, `stop`, `cancel`), one a line.
pub const CONTROL_FILE: &str = "remote-control";
/// The remote trainer's stdout and stderr.
pub const OUTPUT_LOG: &str = "remote-train.out";
/// Process id of the detached remote trainer.
pub const PID_FILE: &str = "remote-train.pid";

/// How often the event log is polled while nothing new arrives.
const POLL: Duration = Duration::from_millis(200);
/// How often, while the log is quiet, the follower checks that the trainer still runs.
const LIVENESS_EVERY: Duration = Duration::from_secs(2);
/// Attempts to copy a checkpoint whose files the trainer replaced while we were copying.
const MIRROR_ATTEMPTS: usize = 5;

/// A training run directory on the host (absolute, or relative to the login home).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteRun {
    pub dir: String,
}

impl RemoteRun {
    pub fn new(dir: impl Into<String>) -> Self {
        let dir: String = dir.into();
        let dir = dir.strip_prefix("~/").map(str::to_string).unwrap_or(dir);
        Self { dir }
    }

    /// `<dir>/<name>`.
    pub fn path(&self, name: &str) -> String {
        RemoteLayout::new(self.dir.clone()).path(name)
    }
}

fn problem(conn: &Connection, text: String) -> DeployError {
    DeployError::RemoteTraining {
        host: conn.spec.host.clone(),
        problem: text,
    }
}

/// Open an authenticated session to `target` (unknown host keys handled by `policy`).
pub fn connect_target(target: &Target, policy: HostKeyPolicy) -> Result<Connection, DeployError> {
    session::connect(&target.spec, &target.credentials, policy, &mut |_| {})
}

/// Make sure the host runs the same `bifsmn` as this machine: same OS and CPU architecture,
/// and `<workdir>/bifsmn` identical to `local` (uploaded atomically if not). Returns the
/// remote path of the binary and whether it was uploaded.
pub fn install_trainer(
    conn: &Connection,
    workdir: &str,
    local: &Path,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(String, bool), DeployError> {
    let uname = run_checked(conn, "uname -s -m", cancel)?;
    let mut words = uname.split_whitespace();
    let (os, machine) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if !os.eq_ignore_ascii_case(std::env::consts::OS) || machine != std::env::consts::ARCH {
        return Err(problem(
            conn,
            format!(
                "the host is {os} {machine}, this bifsmn is built for {} {}; install bifsmn there and train with a matching build",
                std::env::consts::OS,
                std::env::consts::ARCH
            ),
        ));
    }
    let layout = RemoteLayout::new(workdir);
    layout.prepare(conn, cancel)?;
    let artifact = LocalArtifact::hash(local)?;
    let remote = layout.path(RemoteFile::Trainer.name());
    if remote_sha256(conn, &remote, cancel)?.as_deref() == Some(artifact.sha256.as_str()) {
        return Ok((remote, false));
    }
    let sftp = open_sftp(conn)?;
    upload::upload(
        conn,
        &sftp,
        &layout,
        RemoteFile::Trainer,
        &artifact,
        cancel,
        progress,
    )?;
    Ok((remote, true))
}

/// SHA-256 of a remote file, `None` if it does not exist.
pub fn remote_sha256(
    conn: &Connection,
    path: &str,
    cancel: &AtomicBool,
) -> Result<Option<String>, DeployError> {
    let out = run_checked(
        conn,
        &format!("{{ sha256sum -- {} 2>/dev/null; true; }}", quote(path)),
        cancel,
    )?;
    Ok(parse_sha256sum(&out).into_iter().next().map(|(h, _)| h))
}

fn open_sftp(conn: &Connection) -> Result<Sftp, DeployError> {
    conn.session
        .sftp()
        .map_err(|e| DeployError::ssh(&conn.spec.host, "start SFTP", e))
}

/// Start `bin train <args>` detached in `run`, with its event log and control file there.
/// `dataset` (if given) must be a directory on the host. Refuses when a training is already
/// running in that run dir (attach to it instead).
pub fn start_training(
    conn: &Connection,
    bin: &str,
    run: &RemoteRun,
    args: &[String],
    dataset: Option<&str>,
    cancel: &AtomicBool,
) -> Result<(), DeployError> {
    if let Some(d) = dataset {
        let out = run_checked(
            conn,
            &format!("if [ -d {} ]; then echo yes; else echo no; fi", quote(d)),
            cancel,
        )?;
        if out.trim() != "yes" {
            return Err(problem(
                conn,
                format!("the dataset directory {d} does not exist on the host"),
            ));
        }
    }
    if is_running(conn, run, cancel)? {
        return Err(problem(
            conn,
            format!(
                "a training is already running in {} (attach to it, or stop it first)",
                run.dir
            ),
        ));
    }
    let mut words = vec![bin.to_string(), "train".to_string()];
    words.extend(args.iter().cloned());
    words.extend([
        "--events-log".to_string(),
        run.path(EVENTS_LOG),
        "--control-file".to_string(),
        run.path(CONTROL_FILE),
    ]);
    let (dir, events, control) = (
        quote(&run.dir),
        quote(&run.path(EVENTS_LOG)),
        quote(&run.path(CONTROL_FILE)),
    );
    let (out, pid) = (quote(&run.path(OUTPUT_LOG)), quote(&run.path(PID_FILE)));
    // A fresh log per start: the follower's offsets count from the start of this process.
    let command = format!(
        "mkdir -p -- {dir} && rm -f -- {events} && : > {control} && \
         {{ setsid nohup {} </dev/null >{out} 2>&1 & echo $! > {pid}; }}",
        join(&words)
    );
    run_checked(conn, &command, cancel)?;
    Ok(())
}

/// Whether the trainer recorded in `run`'s pid file is still alive.
pub fn is_running(
    conn: &Connection,
    run: &RemoteRun,
    cancel: &AtomicBool,
) -> Result<bool, DeployError> {
    let pid = quote(&run.path(PID_FILE));
    let out = run_checked(
        conn,
        &format!(
            "if [ -f {pid} ] && kill -0 \"$(cat {pid})\" 2>/dev/null; then echo running; else echo stopped; fi"
        ),
        cancel,
    )?;
    Ok(out.trim() == "running")
}

/// Append a control word (`pause`, `resume`, `stop`, `cancel`) for the remote trainer.
pub fn send_control(
    conn: &Connection,
    run: &RemoteRun,
    word: &str,
    cancel: &AtomicBool,
) -> Result<(), DeployError> {
    if !matches!(word, "pause" | "resume" | "stop" | "cancel") {
        return Err(problem(
            conn,
            format!("unknown control word {word:?} (pause, resume, stop or cancel)"),
        ));
    }
    run_checked(
        conn,
        &format!(
            "printf '%s\\n' {} >> {}",
            quote(word),
            quote(&run.path(CONTROL_FILE))
        ),
        cancel,
    )
    .map(|_| ())
}

/// What a follower's line handler wants next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follow {
    Continue,
    /// The run ended (the handler saw its last event); stop reading.
    Done,
}

/// Read `run`'s event log from `*offset`, handing each complete line to `on_line` (with the
/// connection, for copying checkpoints) and moving `*offset` past it once handled, until
/// `on_line` says [`Follow::Done`] or `cancel` is set. `each_poll` runs before every read
/// (the caller forwards control words there). Fails when the connection drops
/// (the offset then says where to continue; [`DeployError::RemoteTraining`] is never a
/// connection problem) or the trainer died without a final event.
pub fn follow_training(
    conn: &Connection,
    run: &RemoteRun,
    offset: &mut u64,
    cancel: &AtomicBool,
    on_line: &mut dyn FnMut(&Connection, &str) -> Result<Follow, DeployError>,
    each_poll: &mut dyn FnMut(&Connection) -> Result<(), DeployError>,
) -> Result<Follow, DeployError> {
    let sftp = open_sftp(conn)?;
    let log = run.path(EVENTS_LOG);
    let mut file: Option<ssh2::File> = None;
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut last_alive = Instant::now();
    let mut trainer_gone = false;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Ok(Follow::Continue);
        }
        // Every round, not only when caught up: a follower busy with a backlog (copying
        // checkpoints) must still pass a pause or stop on at once.
        each_poll(conn)?;
        let mut got = 0;
        if file.is_none() {
            file = match sftp.open(Path::new(&log)) {
                Ok(f) => Some(f),
                Err(e) if e.code() == ssh2::ErrorCode::SFTP(2) => None,
                Err(e) => return Err(DeployError::ssh(&conn.spec.host, "open the event log", e)),
            };
        }
        if let Some(f) = file.as_mut() {
            // Seeking before each read drops libssh2's read-ahead, which would otherwise
            // remember the end of file from the previous poll.
            let read_from = *offset + pending.len() as u64;
            f.seek(SeekFrom::Start(read_from))
                .and_then(|_| f.read(&mut buf))
                .map(|n| {
                    got = n;
                    pending.extend_from_slice(&buf[..n]);
                })
                .map_err(|e| DeployError::ssh(&conn.spec.host, format!("read {log}"), e))?;
        }
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(&pending[..end]).into_owned();
            let text = line.trim_end();
            // The offset moves only once the line is handled: a line whose handling failed
            // (say, the checkpoint copy lost the connection) is handled again after a reattach.
            let verdict = if text.is_empty() {
                Follow::Continue
            } else {
                on_line(conn, text)?
            };
            pending.drain(..=end);
            *offset += end as u64 + 1;
            if verdict == Follow::Done {
                return Ok(Follow::Done);
            }
        }
        if got > 0 {
            continue;
        }
        if trainer_gone {
            let tail = run_checked(
                conn,
                &format!(
                    "tail -c 2000 -- {} 2>/dev/null; true",
                    quote(&run.path(OUTPUT_LOG))
                ),
                cancel,
            )?;
            return Err(problem(
                conn,
                format!(
                    "the training in {} stopped without a final event; its output ends with:\n{}",
                    run.dir,
                    tail.trim_end()
                ),
            ));
        }
        if last_alive.elapsed() >= LIVENESS_EVERY {
            last_alive = Instant::now();
            // One more read after the trainer is seen gone picks up its last lines.
            trainer_gone = !is_running(conn, run, cancel)?;
            continue;
        }
        std::thread::sleep(POLL);
    }
}

/// A file copied back from the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopiedFile {
    pub name: String,
    pub sha256: String,
}

/// Copy the checkpoint whose sidecar is `sidecar_name` (`checkpoint.json`, `best.json`) from
/// `run` into `local_dir`: the files it names first, then the sidecar, each atomically.
/// Returns the weights file (name and SHA-256). Retries when the trainer replaced the
/// checkpoint meanwhile (its old files are deleted once the new sidecar is in place).
pub fn mirror_checkpoint(
    conn: &Connection,
    run: &RemoteRun,
    sidecar_name: &str,
    local_dir: &Path,
) -> Result<CopiedFile, DeployError> {
    let sftp = open_sftp(conn)?;
    std::fs::create_dir_all(local_dir).map_err(|e| DeployError::local("create", local_dir, e))?;
    let mut last_error = None;
    for _ in 0..MIRROR_ATTEMPTS {
        let sidecar = read_remote(&sftp, conn, &run.path(sidecar_name))?;
        let value: serde_json::Value = serde_json::from_slice(&sidecar).map_err(|e| {
            problem(
                conn,
                format!("{}: not a checkpoint sidecar: {e}", run.path(sidecar_name)),
            )
        })?;
        let names: Vec<String> = ["model_file", "optimizer_file"]
            .iter()
            .filter_map(|k| value.get(k).and_then(|v| v.as_str()).map(str::to_string))
            .collect();
        let Some(model) = names.first().cloned() else {
            return Err(problem(
                conn,
                format!("{}: names no model_file", run.path(sidecar_name)),
            ));
        };
        let mut model_sha = None;
        let mut copied_all = true;
        for name in &names {
            match copy_file(&sftp, conn, &run.path(name), &local_dir.join(name)) {
                Ok(sha) => {
                    if *name == model {
                        model_sha = Some(sha);
                    }
                }
                Err(e) => {
                    copied_all = false;
                    last_error = Some(e);
                    break;
                }
            }
        }
        if copied_all && let Some(sha256) = model_sha {
            let path = local_dir.join(sidecar_name);
            write_atomic(&path, &sidecar).map_err(|e| DeployError::local("write", &path, e))?;
            if sidecar_name == "checkpoint.json" {
                remove_stale(local_dir, &names);
            }
            return Ok(CopiedFile {
                name: model,
                sha256,
            });
        }
    }
    Err(last_error.unwrap_or_else(|| problem(conn, "could not copy the checkpoint".into())))
}

/// Numbered weight and optimizer files of older epochs, as the trainer itself removes them.
fn remove_stale(dir: &Path, keep: &[String]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let numbered = name.starts_with("model-e") || name.starts_with("optim-e");
        if numbered && !keep.contains(&name) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn read_remote(sftp: &Sftp, conn: &Connection, path: &str) -> Result<Vec<u8>, DeployError> {
    let mut f = sftp
        .open(Path::new(path))
        .map_err(|e| DeployError::ssh(&conn.spec.host, format!("open {path}"), e))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)
        .map_err(|e| DeployError::ssh(&conn.spec.host, format!("read {path}"), e))?;
    Ok(bytes)
}

/// Copy one remote file to `local` atomically; its SHA-256.
fn copy_file(
    sftp: &Sftp,
    conn: &Connection,
    remote: &str,
    local: &Path,
) -> Result<String, DeployError> {
    let mut src = sftp
        .open(Path::new(remote))
        .map_err(|e| DeployError::ssh(&conn.spec.host, format!("open {remote}"), e))?;
    let mut hash = Sha256::new();
    // A failed remote read is the link's fault, not the local file's: keep it apart.
    let mut read_failed = None;
    write_atomic_with(local, |f| {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    let kind = e.kind();
                    read_failed = Some(e);
                    return Err(kind.into());
                }
            };
            hash.update(&buf[..n]);
            f.write_all(&buf[..n])?;
        }
    })
    .map_err(|e| match read_failed.take() {
        Some(r) => DeployError::ssh(&conn.spec.host, format!("read {remote}"), r),
        None => DeployError::local("write", local, e),
    })?;
    Ok(hex::encode(hash.finalize()))
}

/// The final check: the weights named by the local `checkpoint.json` have the same SHA-256
/// as the same file in the remote run dir. Returns the shared checksum.
pub fn verify_final_checkpoint(
    conn: &Connection,
    run: &RemoteRun,
    local_dir: &Path,
    cancel: &AtomicBool,
) -> Result<CopiedFile, DeployError> {
    let sidecar = local_dir.join("checkpoint.json");
    let text = std::fs::read(&sidecar).map_err(|e| DeployError::local("read", &sidecar, e))?;
    let value: serde_json::Value = serde_json::from_slice(&text).map_err(|e| {
        DeployError::local(
            "parse",
            &sidecar,
            std::io::Error::new(ErrorKind::InvalidData, e),
        )
    })?;
    let name = value
        .get("model_file")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            DeployError::local(
                "read model_file from",
                &sidecar,
                std::io::Error::new(ErrorKind::InvalidData, "missing"),
            )
        })?
        .to_string();
    let local = LocalArtifact::hash(&local_dir.join(&name))?;
    let remote_path = run.path(&name);
    let remote = remote_sha256(conn, &remote_path, cancel)?
        .ok_or_else(|| problem(conn, format!("{remote_path} is gone from the host")))?;
    if remote != local.sha256 {
        return Err(DeployError::HashMismatch {
            host: conn.spec.host.clone(),
            file: remote_path,
            local: local.sha256,
            remote,
        });
    }
    Ok(CopiedFile {
        name,
        sha256: remote,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_paths() {
        assert_eq!(
            RemoteRun::new("~/runs/t").path(EVENTS_LOG),
            "runs/t/remote-events.jsonl"
        );
        assert_eq!(
            RemoteRun::new("/srv/r").path(PID_FILE),
            "/srv/r/remote-train.pid"
        );
    }

    #[test]
    fn stale_epoch_files_go_and_others_stay() {
        let dir = tempfile::tempdir().unwrap();
        for n in [
            "model-e0001.bpk",
            "optim-e0001.bin",
            "model-e0002.bpk",
            "best-model.bpk",
        ] {
            std::fs::write(dir.path().join(n), b"x").unwrap();
        }
        remove_stale(dir.path(), &["model-e0002.bpk".to_string()]);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["best-model.bpk", "model-e0002.bpk"]);
    }
}
