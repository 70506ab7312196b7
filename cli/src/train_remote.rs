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
use bifsmn_deploy::train_link::{self, Follow, RemoteRun};
use bifsmn_deploy::{
    BoardProfile, BoardStore, Connection, Credentials, DeployError, HostKeyPolicy, SshConfig,
    Target,
};
use bifsmn_engine::train::TrainEvent;

/// How long a lost connection is retried before giving up (the remote run goes on; attach
/// later with `bifsmn train attach`).
const REATTACH_FOR: Duration = Duration::from_secs(120);
const REATTACH_PAUSE: Duration = Duration::from_secs(2);

/// Where to train: options shared by `--on` runs and `attach`.
#[derive(Debug, Args, Clone)]
pub struct RemoteArgs {
    /// Train on this host instead of here: a board/host profile name from `bifsmn boards`,
    /// an ~/.ssh/config alias, or user@host[:port]. The dataset (--root), the run dir and
    /// --teacher are then paths on that host; `bifsmn` is uploaded to the profile's work dir
    /// if missing or different, and checkpoints are copied back to --local-dir.
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
    let mut target = Target::new(profile, &ssh, Credentials::default())?;
    if let Some(need) = bifsmn_deploy::secret_need(&target)? {
        let secret = super::deploy::prompt_secret(&format!("{} ({name}): ", need.prompt()))?;
        need.supply(&mut target.credentials, secret);
    }
    Ok(target)
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

fn connect(target: &Target, accept_new: bool) -> anyhow::Result<Connection> {
    let policy = if accept_new {
        HostKeyPolicy::AcceptNew
    } else {
        HostKeyPolicy::Ask
    };
    train_link::connect_target(target, policy).map_err(|e| {
        if e.unknown_host().is_some() {
            anyhow::anyhow!(
                "{e}\n(check the fingerprint, then pass --accept-new-host-key or run `bifsmn boards test`)"
            )
        } else {
            e.into()
        }
    })
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
    let target = resolve_host(host)?;
    let conn = connect(&target, remote.accept_new_host_key)?;
    let cancel = AtomicBool::new(false);
    let exe = std::env::current_exe().context("locating this bifsmn binary")?;
    let bar = super::output::progress(0, "uploading bifsmn", json);
    let (bin, uploaded) = train_link::install_trainer(
        &conn,
        &target.profile.remote_workdir(),
        &exe,
        &cancel,
        &mut |sent, total| {
            bar.set_length(total);
            bar.set_position(sent);
        },
    )?;
    bar.finish_and_clear();
    if uploaded && !json {
        eprintln!("{:>12} bifsmn to {host}:{bin}", "Uploaded");
    }
    let argv: Vec<String> = std::env::args().collect();
    let run = RemoteRun::new(run_dir);
    train_link::start_training(
        &conn,
        &bin,
        &run,
        &remote_train_args(&argv),
        dataset,
        &cancel,
    )?;
    if !json {
        eprintln!(
            "{:>12} on {host} in {}; Ctrl-C leaves it running (`bifsmn train attach --on {host} --run-dir {}`)",
            "Started", run.dir, run.dir
        );
    }
    follow(&target, remote, conn, &run, json)
}

/// `bifsmn train attach`: replay a remote run's events from its start and follow it.
pub fn attach(a: AttachArgs) -> anyhow::Result<ExitCode> {
    let host = a.remote.on.as_deref().context("--on HOST is needed")?;
    let target = resolve_host(host)?;
    let conn = connect(&target, a.remote.accept_new_host_key)?;
    follow(
        &target,
        &a.remote,
        conn,
        &RemoteRun::new(&a.run_dir),
        a.json,
    )
}

/// `bifsmn train control`: pause, resume, stop or cancel a remote run.
pub fn control(a: ControlArgs) -> anyhow::Result<ExitCode> {
    let host = a.remote.on.as_deref().context("--on HOST is needed")?;
    let target = resolve_host(host)?;
    let conn = connect(&target, a.remote.accept_new_host_key)?;
    let word = match a.word {
        ControlWord::Pause => "pause",
        ControlWord::Resume => "resume",
        ControlWord::Stop => "stop",
        ControlWord::Cancel => "cancel",
    };
    let run = RemoteRun::new(&a.run_dir);
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

/// Follow a run to its end, re-attaching after a lost connection, copying checkpoints back
/// and checking the final one.
fn follow(
    target: &Target,
    remote: &RemoteArgs,
    conn: Connection,
    run: &RemoteRun,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let local = local_dir(remote, run);
    let host = target.profile.name.clone();
    let mut view = EventView::new(format!("{host}:{}", run.dir), json);
    let cancel = AtomicBool::new(false);
    let mut offset = 0u64;
    let mut conn = Some(conn);
    let mut lost_since: Option<std::time::Instant> = None;
    let mut final_checked = None;
    loop {
        let c = match conn.take() {
            Some(c) => c,
            None => match connect(target, remote.accept_new_host_key) {
                Ok(c) => {
                    eprintln!(
                        "{:>12} to {host} at byte {offset} of the event log",
                        "Re-attached"
                    );
                    c
                }
                Err(e) => {
                    let since = *lost_since.get_or_insert_with(std::time::Instant::now);
                    if since.elapsed() > REATTACH_FOR {
                        return Err(e.context(format!(
                            "the connection to {host} stays lost; the run goes on there: attach later with `bifsmn train attach --on {host} --run-dir {}`",
                            run.dir
                        )));
                    }
                    std::thread::sleep(REATTACH_PAUSE);
                    continue;
                }
            },
        };
        let mut on_line = |c: &Connection, line: &str| -> Result<Follow, DeployError> {
            handle_line(c, run, &local, line, &mut view, &mut final_checked)
        };
        match train_link::follow_training(&c, run, &mut offset, &cancel, &mut on_line, &mut |_| {
            Ok(())
        }) {
            Ok(_) => break,
            Err(e @ (DeployError::RemoteTraining { .. } | DeployError::HashMismatch { .. })) => {
                return Err(e.into());
            }
            Err(e) => {
                eprintln!("{:>12} connection to {host}: {e}; re-attaching", "Lost");
                lost_since = Some(std::time::Instant::now());
            }
        }
    }
    let outcome = view.finish()?;
    if let Some(copied) = final_checked {
        let copied: train_link::CopiedFile = copied;
        if json {
            outln!(
                "{}",
                serde_json::json!({"local_dir": local, "model_file": copied.name, "sha256": copied.sha256})
            );
        } else {
            eprintln!(
                "{:>12} {} in {} (SHA-256 {} on both sides)",
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

/// One event line: copy its checkpoint, check the final one, then show it.
fn handle_line(
    conn: &Connection,
    run: &RemoteRun,
    local: &std::path::Path,
    line: &str,
    view: &mut EventView,
    final_checked: &mut Option<train_link::CopiedFile>,
) -> Result<Follow, DeployError> {
    let event: TrainEvent = match serde_json::from_str(line) {
        Ok(e) => e,
        Err(e) => {
            return Err(DeployError::RemoteTraining {
                host: conn.spec.host.clone(),
                problem: format!(
                    "{}: a line that is not a training event ({e}); is the host's bifsmn a different version?",
                    run.path(train_link::EVENTS_LOG)
                ),
            });
        }
    };
    let cancel = AtomicBool::new(false);
    let done = match &event {
        TrainEvent::Checkpoint { path, .. } => {
            let name = path.rsplit('/').next().unwrap_or(path);
            train_link::mirror_checkpoint(conn, run, name, local)?;
            false
        }
        TrainEvent::Finished { .. } => {
            *final_checked = Some(train_link::verify_final_checkpoint(
                conn, run, local, &cancel,
            )?);
            true
        }
        TrainEvent::Cancelled { .. } | TrainEvent::Error(_) => true,
        _ => false,
    };
    view.show(event).map_err(|e| DeployError::RemoteTraining {
        host: conn.spec.host.clone(),
        problem: e.to_string(),
    })?;
    Ok(if done { Follow::Done } else { Follow::Continue })
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
