//! `bifsmn train teacher|student ... --on HOST`, `bifsmn train attach` and `bifsmn train
//! control`: training on another machine through a board profile (or `user@host[:port]`),
//! with the events shown here as for a local run and the checkpoints copied back.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

use super::session::EventView;
use bifsmn_deploy::train_follow::{FollowRequest, LinkEvent, StartRequest, spawn_follow};
use bifsmn_deploy::train_link::{self, RemoteRun};
use bifsmn_deploy::{
    BoardProfile, BoardStore, DeployError, HostKeyPolicy, SshConfig, Target, quote,
};
use bifsmn_engine::train::TrainEvent;

/// How long a lost connection is retried before giving up (the remote run goes on; attach
/// later with `bifsmn train attach`).
const REATTACH_FOR: Duration = Duration::from_secs(120);

/// Where to train: options shared by `--on` runs and `attach`.
#[derive(Debug, Args, Clone)]
pub struct RemoteArgs {
    /// Train on this host instead of here: a board/host profile name from `bifsmn boards`,
    /// an ~/.ssh/config alias, or user@host[:port] (logging in with ssh-agent). The dataset
    /// (--root), the run dir and --teacher are then paths on that host; `bifsmn` is uploaded
    /// to the profile's work dir if missing or different, and checkpoints are copied back to
    /// --local-dir.
    #[arg(long, value_name = "HOST")]
    pub on: Option<String>,
    /// With --on: where the checkpoints are copied to [default: the run dir's name in the
    /// current directory].
    #[arg(long, value_name = "DIR", requires = "on")]
    pub local_dir: Option<PathBuf>,
    /// With --on: trust the host's key if known_hosts does not have it yet.
    #[arg(long, requires = "on")]
    pub accept_new_host_key: bool,
}

/// `bifsmn train attach` options.
#[derive(Debug, Args)]
pub struct AttachArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// The run directory on the host.
    #[arg(long, value_name = "DIR")]
    pub run_dir: String,
    /// Print the events as JSON lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ControlWord {
    Pause,
    Resume,
    /// End after saving the current epoch.
    Stop,
    /// End now; the last checkpoint stays.
    Cancel,
}

/// `bifsmn train control` options.
#[derive(Debug, Args)]
pub struct ControlArgs {
    #[command(flatten)]
    pub remote: RemoteArgs,
    /// The run directory on the host.
    #[arg(long, value_name = "DIR")]
    pub run_dir: String,
    #[arg(value_enum)]
    pub word: ControlWord,
}

/// A profile name, an ssh alias, or `user@host[:port]` (key from the ssh agent).
pub fn resolve_host(name: &str) -> anyhow::Result<Target> {
    let store = BoardStore::load_default()?;
    let ssh = SshConfig::load_default()?;
    let profile = match store.find(name, &ssh) {
        Ok(p) => p,
        Err(DeployError::UnknownBoard { .. }) => address_profile(name)?,
        Err(e) => return Err(e.into()),
    };
    super::deploy::target_with_secret(profile, name, &ssh)
}

/// A profile for `user@host[:port]` or `host[:port]`.
fn address_profile(address: &str) -> anyhow::Result<BoardProfile> {
    let (user, rest) = match address.split_once('@') {
        Some((u, r)) => (Some(u.to_string()), r),
        None => (None, address),
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (
            h,
            Some(
                p.parse::<u16>()
                    .with_context(|| format!("{address}: {p:?} is not a port number"))?,
            ),
        ),
        None => (rest, None),
    };
    if host.is_empty() || user.as_deref() == Some("") {
        bail!("{address:?} is not a saved host, an ssh alias, or user@host[:port]");
    }
    let mut p = BoardProfile::new("host", host);
    p.user = user;
    p.port = port;
    Ok(p)
}

fn policy(remote: &RemoteArgs) -> HostKeyPolicy {
    if remote.accept_new_host_key {
        HostKeyPolicy::AcceptNew
    } else {
        HostKeyPolicy::Ask
    }
}

/// A deploy error with what to do about it, for the terminal.
fn explain(e: DeployError, host: &str, run: &RemoteRun) -> anyhow::Error {
    let hint = match &e {
        e if e.unknown_host().is_some() => {
            "check the fingerprint, then pass --accept-new-host-key or run `bifsmn boards test`"
                .to_string()
        }
        DeployError::RemoteTraining { .. } | DeployError::HashMismatch { .. } => String::new(),
        _ => format!(
            "a run that started goes on there: follow it with `bifsmn train attach --on {host} --run-dir {}`",
            quote(&run.dir)
        ),
    };
    if hint.is_empty() {
        e.into()
    } else {
        anyhow::anyhow!("{e}\n({hint})")
    }
}

/// The arguments after `train` that the remote trainer gets: everything given here except
/// the options that only mean something on this side.
pub fn remote_train_args(argv: &[String]) -> Vec<String> {
    let start = argv.iter().position(|a| a == "train").map_or(0, |i| i + 1);
    let mut out = Vec::new();
    let mut words = argv[start..].iter();
    while let Some(w) = words.next() {
        match w.as_str() {
            "--on" | "--local-dir" => {
                words.next();
            }
            "--accept-new-host-key" => {}
            w if w.starts_with("--on=") || w.starts_with("--local-dir=") => {}
            _ => out.push(w.clone()),
        }
    }
    out
}

/// Start a training on `host` with this command line's options and follow it.
pub fn run_on(
    remote: &RemoteArgs,
    run_dir: &str,
    dataset: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let host = remote.on.as_deref().context("--on HOST is needed")?;
    let argv: Vec<String> = std::env::args().collect();
    let start = StartRequest {
        local_binary: std::env::current_exe().context("locating this bifsmn binary")?,
        args: remote_train_args(&argv),
        dataset: dataset.map(str::to_string),
    };
    follow(host, remote, RemoteRun::new(run_dir), Some(start), json)
}

/// `bifsmn train attach`: replay a remote run's events from its start and follow it.
pub fn attach(a: AttachArgs) -> anyhow::Result<ExitCode> {
    let host = a.remote.on.as_deref().context("--on HOST is needed")?;
    follow(host, &a.remote, RemoteRun::new(&a.run_dir), None, a.json)
}

/// `bifsmn train control`: pause, resume, stop or cancel a remote run.
pub fn control(a: ControlArgs) -> anyhow::Result<ExitCode> {
    let host = a.remote.on.as_deref().context("--on HOST is needed")?;
    let target = resolve_host(host)?;
    let run = RemoteRun::new(&a.run_dir);
    let conn = train_link::connect_target(&target, policy(&a.remote))
        .map_err(|e| explain(e, host, &run))?;
    let word = match a.word {
        ControlWord::Pause => "pause",
        ControlWord::Resume => "resume",
        ControlWord::Stop => "stop",
        ControlWord::Cancel => "cancel",
    };
    let cancel = AtomicBool::new(false);
    if !train_link::is_running(&conn, &run, &cancel)? {
        bail!("{host}: no training is running in {}", run.dir);
    }
    train_link::send_control(&conn, &run, word, &cancel)?;
    Ok(ExitCode::SUCCESS)
}

fn local_dir(remote: &RemoteArgs, run: &RemoteRun) -> PathBuf {
    remote.local_dir.clone().unwrap_or_else(|| {
        let name = run
            .dir
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("");
        PathBuf::from(if name.is_empty() { "remote-run" } else { name })
    })
}

/// Follow a run to its end (starting it first with `start`), showing its events as a local
/// run's, with checkpoints copied to the local dir and the final one checked.
fn follow(
    host: &str,
    remote: &RemoteArgs,
    run: RemoteRun,
    start: Option<StartRequest>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let local = local_dir(remote, &run);
    let handle = spawn_follow(FollowRequest {
        target: resolve_host(host)?,
        host_keys: policy(remote),
        run: run.clone(),
        local_dir: local.clone(),
        start,
        reattach_for: REATTACH_FOR,
    });
    let mut view = EventView::new(format!("{host}:{}", run.dir), json);
    let mut upload_bar = None;
    let mut verified = None;
    for event in handle.events().iter() {
        match event {
            LinkEvent::Status(s) if !json => eprintln!("{:>12} {s}", "Remote"),
            LinkEvent::Started if !json => eprintln!(
                "{:>12} on {host} in {}; Ctrl-C only stops following (`bifsmn train attach --on {host} --run-dir {}` picks it up again)",
                "Started",
                run.dir,
                quote(&run.dir)
            ),
            LinkEvent::Started => {}
            LinkEvent::Status(_) | LinkEvent::Copied(_) => {}
            LinkEvent::Upload { sent, total } => {
                let bar = upload_bar.get_or_insert_with(|| {
                    super::output::progress(total, "uploading bifsmn", json)
                });
                bar.set_position(sent);
            }
            LinkEvent::Line(line) => {
                let event: TrainEvent = serde_json::from_str(&line).with_context(|| {
                    format!("{host}: an event line this bifsmn cannot read: {line}")
                })?;
                view.show(event)?;
            }
            LinkEvent::Lost(e) => {
                eprintln!("{:>12} connection to {host} ({e}); re-attaching", "Lost")
            }
            LinkEvent::Reattached { offset } => {
                eprintln!("{:>12} at byte {offset} of the event log", "Re-attached")
            }
            LinkEvent::Verified(c) => verified = Some(c),
            LinkEvent::Failed(e) => return Err(explain(e, host, &run)),
        }
    }
    if let Some(bar) = upload_bar {
        bar.finish_and_clear();
    }
    let outcome = view.finish()?;
    if let Some(copied) = verified {
        if json {
            outln!(
                "{}",
                serde_json::json!({"local_dir": local, "model_file": copied.name, "sha256": copied.sha256})
            );
        } else {
            eprintln!(
                "{:>12} {} to {} (SHA-256 {} on both sides)",
                "Copied",
                copied.name,
                local.display(),
                copied.sha256
            );
        }
    }
    Ok(if outcome.finished {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_only_options_stay_here() {
        let argv: Vec<String> = [
            "bifsmn",
            "train",
            "teacher",
            "--on",
            "gpu",
            "--root",
            "/data/sc",
            "--run-dir",
            "/runs/t",
            "--local-dir",
            "here",
            "--accept-new-host-key",
            "--on=x",
            "--epochs",
            "3",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            remote_train_args(&argv),
            [
                "teacher",
                "--root",
                "/data/sc",
                "--run-dir",
                "/runs/t",
                "--epochs",
                "3"
            ]
        );
    }

    #[test]
    fn the_follower_reads_checkpoints_and_ends_from_the_event_shape() {
        let v = serde_json::to_value(TrainEvent::Checkpoint {
            epoch: 2,
            path: "/r/checkpoint.json".into(),
            best: false,
        })
        .unwrap();
        assert_eq!(v["Checkpoint"]["path"], "/r/checkpoint.json");
        let v = serde_json::to_value(TrainEvent::Cancelled { epochs_done: 1 }).unwrap();
        assert!(v.get("Cancelled").is_some());
        let v = serde_json::to_value(TrainEvent::Error("x".into())).unwrap();
        assert_eq!(v["Error"], "x");
        let v = serde_json::to_value(TrainEvent::Finished {
            epochs_done: 1,
            best_epoch: None,
            best_validation: None,
            checkpoint: String::new(),
        })
        .unwrap();
        assert!(v.get("Finished").is_some());
    }

    #[test]
    fn addresses() {
        let p = address_profile("me@10.0.0.5:2222").unwrap();
        assert_eq!(
            (p.user.as_deref(), p.host.as_str(), p.port),
            (Some("me"), "10.0.0.5", Some(2222))
        );
        let p = address_profile("gpu-box").unwrap();
        assert_eq!((p.user, p.port), (None, None));
        let e = address_profile("me@box:http").unwrap_err().to_string();
        assert!(e.contains("me@box:http") && e.contains("port"), "{e}");
        assert!(address_profile("@box").is_err());
    }
}
