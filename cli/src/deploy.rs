//! `bifsmn boards ...` (board profiles) and `bifsmn deploy` (upload, run, collect timings).

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::Serialize;

use super::output::print_json;
use bifsmn_deploy::{
    self as deploy, Action, Auth, BenchOptions, BoardProfile, BoardStore, Credentials, DeployError,
    DeployRequest, DeploySummary, EventKind, HostKeyPolicy, OutputStream, RunnerLocator, Secret,
    SshConfig, Target,
};

/// Board profile commands.
#[derive(Debug, Subcommand)]
pub enum BoardsCommand {
    /// Add (or replace) a board profile.
    ///
    /// Secrets are never stored: a key's passphrase or the password is asked for when
    /// connecting. Without --key/--password the ssh-agent is used (or, for a host alias from
    /// ~/.ssh/config, its IdentityFile).
    Add(AddArgs),
    /// List saved boards and the host aliases of ~/.ssh/config.
    List(ListArgs),
    /// Connect to a board, check its host key, print its architecture and CPU and what the
    /// runner already on it reports.
    Test(TestArgs),
    /// Remove a board profile.
    Remove(RemoveArgs),
}

/// `boards add` options.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Name for the board (letters, digits, '-', '_', '.').
    pub name: String,
    /// Host name, address, or an alias from ~/.ssh/config.
    #[arg(long)]
    pub host: String,
    /// SSH port (default: from ~/.ssh/config, else 22).
    #[arg(long)]
    pub port: Option<u16>,
    /// Login user (default: from ~/.ssh/config, else $USER).
    #[arg(long)]
    pub user: Option<String>,
    /// Authenticate with this private key file (its passphrase is asked for when needed).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["agent", "password"])]
    pub key: Option<PathBuf>,
    /// Authenticate with the ssh-agent (the default).
    #[arg(long, conflicts_with = "password")]
    pub agent: bool,
    /// Authenticate with a password (asked for at every connection, never stored).
    #[arg(long)]
    pub password: bool,
    /// Remote work dir for runner and model (relative to the login home).
    #[arg(long, value_name = "DIR", default_value = deploy::DEFAULT_WORKDIR)]
    pub workdir: String,
    /// Put this in front of every runner invocation, e.g. "qemu-aarch64 -cpu cortex-a53".
    /// Only for emulated test boards; leave it out for real boards.
    #[arg(long, value_name = "STR")]
    pub exec_prefix: Option<String>,
    /// Upload this runner architecture (aarch64, x86_64) instead of the board's `uname -m`.
    #[arg(long, value_name = "ARCH")]
    pub runner_arch: Option<String>,
    /// known_hosts file to check the host key against (default ~/.ssh/known_hosts).
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Seconds allowed for TCP connect, SSH handshake and authentication.
    #[arg(long, value_name = "SECS", default_value_t = deploy::DEFAULT_CONNECT_TIMEOUT_SECS)]
    pub connect_timeout: u64,
    /// Seconds allowed for each remote command, including a whole benchmark.
    #[arg(long, value_name = "SECS", default_value_t = deploy::DEFAULT_COMMAND_TIMEOUT_SECS)]
    pub command_timeout: u64,
}

/// `boards list` options.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `boards test` options.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Board name (or ~/.ssh/config host alias).
    pub name: String,
    /// Add the board's host key to known_hosts if it is not there yet (without asking).
    #[arg(long)]
    pub accept_new_host_key: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `boards remove` options.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Board name.
    pub name: String,
}

/// `deploy` options.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Board to deploy to (repeat for several; profile names or ~/.ssh/config aliases).
    #[arg(long = "board", value_name = "NAME", required_unless_present = "all")]
    pub boards: Vec<String>,
    /// Deploy to every saved board.
    #[arg(long, conflicts_with = "boards")]
    pub all: bool,
    /// Packed model (.bkw) to upload.
    #[arg(long, value_name = "M.bkw")]
    pub model: PathBuf,
    /// Timed benchmark runs.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub bench: u32,
    /// Untimed warm-up runs before timing.
    #[arg(long, value_name = "W", default_value_t = 10)]
    pub warmup: u32,
    /// Threads for the runner's large matrix products.
    #[arg(long, value_name = "T", default_value_t = 1)]
    pub threads: u32,
    /// Thin path to run (repeat or comma-separate for several; default 0).
    #[arg(long = "path", value_name = "P", value_delimiter = ',')]
    pub paths: Vec<u32>,
    /// Classify this WAV clip on the board instead of benchmarking.
    #[arg(long, value_name = "CLIP.wav", conflicts_with = "upload_only")]
    pub classify: Option<PathBuf>,
    /// Only upload runner and model, run nothing.
    #[arg(long)]
    pub upload_only: bool,
    /// Add unknown host keys to known_hosts without asking.
    #[arg(long)]
    pub accept_new_host_key: bool,
    /// Do not append the reports to the bench history.
    #[arg(long)]
    pub no_history: bool,
    /// Look for runners in DIR/<arch>/bifsmn-runner first.
    #[arg(long, value_name = "DIR")]
    pub runner_dir: Option<PathBuf>,
    /// Print the parsed reports as JSON (no progress bars).
    #[arg(long)]
    pub json: bool,
}

/// Run a `boards` subcommand.
pub fn run_boards(cmd: BoardsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BoardsCommand::Add(a) => add(a),
        BoardsCommand::List(a) => list(a),
        BoardsCommand::Test(a) => test(a),
        BoardsCommand::Remove(a) => remove(a),
    }
}

fn add(a: AddArgs) -> anyhow::Result<ExitCode> {
    let mut store = BoardStore::load_default()?;
    let auth = match (a.key, a.password) {
        (Some(path), _) => Auth::Key {
            path: std::path::absolute(&path).unwrap_or(path),
        },
        (None, true) => Auth::Password,
        (None, false) => Auth::Agent,
    };
    let mut b = BoardProfile::new(&a.name, &a.host);
    b.port = a.port;
    b.user = a.user;
    b.auth = auth;
    b.workdir = a.workdir;
    b.exec_prefix = a.exec_prefix.filter(|s| !s.trim().is_empty());
    b.runner_arch = a.runner_arch;
    b.known_hosts = a.known_hosts;
    b.connect_timeout_secs = a.connect_timeout;
    b.command_timeout_secs = a.command_timeout;
    let replaced = store.insert(b)?.is_some();
    store.save()?;
    eprintln!(
        "{} board {} in {}",
        if replaced { "updated" } else { "added" },
        a.name,
        store.path.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct ListJson<'a> {
    file: &'a Path,
    boards: Vec<ListedBoard<'a>>,
    ssh_config_aliases: Vec<String>,
}

#[derive(Serialize)]
struct ListedBoard<'a> {
    name: &'a str,
    #[serde(flatten)]
    profile: &'a BoardProfile,
}

fn list(a: ListArgs) -> anyhow::Result<ExitCode> {
    let store = BoardStore::load_default()?;
    let ssh = SshConfig::load_default()?;
    let aliases: Vec<String> = ssh
        .aliases()
        .into_iter()
        .filter(|h| store.get(h).is_none())
        .collect();
    if a.json {
        print_json(&ListJson {
            file: &store.path,
            boards: store
                .boards()
                .map(|b| ListedBoard {
                    name: &b.name,
                    profile: b,
                })
                .collect(),
            ssh_config_aliases: aliases,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    if store.boards().count() == 0 {
        outln!(
            "no boards saved yet ({}); add one with `bifsmn boards add`",
            store.path.display()
        );
    } else {
        let rows: Vec<[String; 5]> = store
            .boards()
            .map(|b| {
                let target = format!(
                    "{}{}{}",
                    b.user
                        .as_deref()
                        .map(|u| format!("{u}@"))
                        .unwrap_or_default(),
                    b.host,
                    b.port.map(|p| format!(":{p}")).unwrap_or_default()
                );
                [
                    b.name.clone(),
                    target,
                    b.auth.describe(),
                    b.workdir.clone(),
                    b.exec_prefix.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        let header =
            ["board", "user@host:port", "auth", "work dir", "exec prefix"].map(String::from);
        print_table(&header, &rows);
    }
    if !aliases.is_empty() {
        outln!(
            "hosts from ~/.ssh/config, usable by name: {}",
            aliases.join(", ")
        );
    }
    for w in &ssh.warnings {
        eprintln!("note: ~/.ssh/config {w}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Print rows as left-aligned columns sized to their content.
fn print_table<const N: usize>(header: &[String; N], rows: &[[String; N]]) {
    let mut widths = header.clone().map(|h| h.chars().count());
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    for r in std::iter::once(header).chain(rows) {
        let cells: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        outln!("{}", cells.join("  ").trim_end());
    }
}

fn remove(a: RemoveArgs) -> anyhow::Result<ExitCode> {
    let mut store = BoardStore::load_default()?;
    if store.remove(&a.name).is_none() {
        bail!(
            "no saved board named {:?} (see `bifsmn boards list`)",
            a.name
        );
    }
    store.save()?;
    eprintln!("removed board {} from {}", a.name, store.path.display());
    Ok(ExitCode::SUCCESS)
}

/// Read a line from the terminal without echo (`stty -echo`), for passphrases and passwords.
fn prompt_secret(prompt: &str) -> anyhow::Result<Secret> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .context("a passphrase or password is needed, but there is no terminal to ask on")?;
    // A terminal that cannot be shared with `stty` only means the echo stays on.
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(tty.try_clone()?)
            .status()
    };
    let mut out = tty.try_clone()?;
    write!(out, "{prompt}")?;
    out.flush()?;
    let echo_off = stty("-echo").map(|s| s.success()).unwrap_or(false);
    let mut line = String::new();
    let read = std::io::BufReader::new(tty.try_clone()?).read_line(&mut line);
    if echo_off {
        let _ = stty("echo");
    }
    writeln!(out)?;
    read?;
    let secret = Secret::new(line.trim_end_matches(['\n', '\r']));
    // Overwrite the buffer we read into (the Secret wipes its own copy on drop).
    // SAFETY: zero bytes are valid UTF-8.
    unsafe { line.as_bytes_mut() }.fill(0);
    Ok(secret)
}

fn yes_no(question: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut s = String::new();
    std::io::stdin().lock().read_line(&mut s).is_ok() && matches!(s.trim(), "y" | "Y" | "yes")
}

/// Resolve a board name and ask for the secret its auth method needs.
fn target_for(name: &str, store: &BoardStore, ssh: &SshConfig) -> anyhow::Result<Target> {
    target_with_secret(store.find(name, ssh)?, name, ssh)
}

/// The target for `profile` (called `name` in the prompt), with the secret its auth method
/// needs asked for on the terminal.
pub(crate) fn target_with_secret(
    profile: BoardProfile,
    name: &str,
    ssh: &SshConfig,
) -> anyhow::Result<Target> {
    let mut target = Target::new(profile, ssh, Credentials::default())?;
    if let Some(need) = deploy::secret_need(&target)? {
        let secret = prompt_secret(&format!("{} ({name}): ", need.prompt()))?;
        need.supply(&mut target.credentials, secret);
    }
    Ok(target)
}

/// If `e` is an unknown host key, show it and ask whether to trust it; records it on "yes".
fn offer_host_key(e: &DeployError) -> anyhow::Result<bool> {
    let Some(u) = e.unknown_host() else {
        return Ok(false);
    };
    eprintln!(
        "The authenticity of host {} can't be established.\n{} key fingerprint is {}.",
        deploy::known_hosts_name(&u.host, u.port),
        u.key_type,
        u.fingerprint
    );
    if !u.other_known_types.is_empty() {
        eprintln!(
            "note: {} already has keys of another type in {} ({}); make sure the board really changed.",
            u.host,
            u.known_hosts.display(),
            u.other_known_types.join(", ")
        );
    }
    if !yes_no("Add it to known_hosts and continue?") {
        return Ok(false);
    }
    deploy::accept_host_key(u)?;
    eprintln!("added {} to {}", u.fingerprint, u.known_hosts.display());
    Ok(true)
}

fn test(a: TestArgs) -> anyhow::Result<ExitCode> {
    let store = BoardStore::load_default()?;
    let ssh = SshConfig::load_default()?;
    let target = target_for(&a.name, &store, &ssh)?;
    let policy = if a.accept_new_host_key {
        HostKeyPolicy::AcceptNew
    } else {
        HostKeyPolicy::Ask
    };
    let mut result = deploy::spawn_check(target.clone(), policy).wait();
    if let Err(e) = &result
        && offer_host_key(e)?
    {
        result = deploy::spawn_check(target, policy).wait();
    }
    let check = result?;
    if a.json {
        print_json(&check)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "board:     {} ({}@{}:{})",
        check.board,
        check.user,
        check.host,
        check.port
    );
    outln!(
        "host key:  {} {}{}",
        check.host_key_type,
        check.host_key_fingerprint,
        if check.host_key_newly_accepted {
            " (just added to known_hosts)"
        } else {
            ""
        }
    );
    outln!("uname -m:  {}", check.facts.uname_machine);
    outln!(
        "cpu:       {}",
        check.facts.cpu_model.as_deref().unwrap_or("unknown")
    );
    outln!(
        "runner:    {}{}",
        check.facts.runner_arch,
        if check.facts.emulated {
            " (emulated through the execution prefix)"
        } else {
            ""
        }
    );
    match (&check.runner_info, &check.runner_problem) {
        (Some(info), _) => {
            let b = &info["board"];
            outln!(
                "installed: bifsmn-runner {} on {} (kernels: {}, cpus: {})",
                info["runner_version"].as_str().unwrap_or("?"),
                b["arch"].as_str().unwrap_or("?"),
                b["isa"].as_str().unwrap_or("?"),
                b["logical_cpus"]
            );
        }
        (None, Some(p)) => outln!("installed: {p}"),
        (None, None) => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// One board's line in `deploy --json`.
#[derive(Serialize)]
struct DeployJson<'a> {
    board: &'a str,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a deploy::BoardSuccess>,
}

/// Run `bifsmn deploy`.
pub fn run_deploy(a: DeployArgs) -> anyhow::Result<ExitCode> {
    let store = BoardStore::load_default()?;
    let ssh = SshConfig::load_default()?;
    let names: Vec<String> = if a.all {
        store.boards().map(|b| b.name.clone()).collect()
    } else {
        a.boards.clone()
    };
    if names.is_empty() {
        bail!(
            "no boards saved yet ({}); add one with `bifsmn boards add`",
            store.path.display()
        );
    }
    let targets = names
        .iter()
        .map(|n| target_for(n, &store, &ssh))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut runners = RunnerLocator::standard();
    if let Some(d) = &a.runner_dir {
        runners.dirs.insert(0, d.clone());
    }
    let action = match (&a.classify, a.upload_only) {
        (Some(clip), _) => Action::Classify { clip: clip.clone() },
        (None, true) => Action::UploadOnly,
        (None, false) => Action::Bench(BenchOptions {
            runs: a.bench,
            warmup: a.warmup,
            threads: a.threads,
        }),
    };
    let request = DeployRequest {
        model: a.model.clone(),
        action,
        paths: if a.paths.is_empty() {
            vec![0]
        } else {
            a.paths.clone()
        },
        runners,
        history: if a.no_history {
            None
        } else {
            deploy::dirs::history_file()
        },
        host_keys: if a.accept_new_host_key {
            HostKeyPolicy::AcceptNew
        } else {
            HostKeyPolicy::Ask
        },
    };

    let mut summary = drive(targets.clone(), request.clone(), a.json);
    // A single interactive board with an unknown host key: ask, then try once more.
    if targets.len() == 1
        && !a.json
        && let Some(Err(e)) = summary.boards.first().map(|b| &b.result)
        && offer_host_key(e)?
    {
        summary = drive(targets, request, a.json);
    }

    if a.json {
        let rows: Vec<DeployJson> = summary
            .boards
            .iter()
            .map(|b| DeployJson {
                board: &b.board,
                ok: b.result.is_ok(),
                error: b.result.as_ref().err().map(|e| e.to_string()),
                result: b.result.as_deref().ok(),
            })
            .collect();
        print_json(&rows)?;
    } else {
        print_summary(&summary);
    }
    Ok(if summary.all_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Run the deploy with one progress bar per board (hidden when `quiet`).
fn drive(targets: Vec<Target>, request: DeployRequest, quiet: bool) -> DeploySummary {
    let multi = MultiProgress::new();
    if quiet {
        multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let width = targets
        .iter()
        .map(|t| t.profile.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let style = ProgressStyle::with_template(&format!(
        "{{prefix:>{width}.cyan.bold}} [{{bar:24}}] {{bytes:>9}}/{{total_bytes:<9}} {{wide_msg}}"
    ))
    .expect("static template")
    .progress_chars("=> ");
    let mut bars: HashMap<String, ProgressBar> = HashMap::new();
    for t in &targets {
        let bar = multi.add(ProgressBar::new(0));
        bar.set_style(style.clone());
        bar.set_prefix(t.profile.name.clone());
        bar.set_message("waiting");
        bar.enable_steady_tick(Duration::from_millis(250));
        bars.insert(t.profile.name.clone(), bar);
    }
    let handle = deploy::spawn_deploy(targets, request);
    for ev in handle.events().iter() {
        let Some(bar) = bars.get(&ev.board) else {
            continue;
        };
        match ev.kind {
            EventKind::Stage(s) => bar.set_message(s.to_string()),
            EventKind::HostKeyAccepted {
                fingerprint,
                known_hosts,
                ..
            } => {
                let _ = multi.println(format!(
                    "{}: added host key {fingerprint} to {}",
                    ev.board,
                    known_hosts.display()
                ));
            }
            EventKind::Board(f) => bar.set_message(format!(
                "{} ({}), runner {}",
                f.uname_machine,
                f.cpu_model.as_deref().unwrap_or("unknown CPU"),
                f.runner_arch
            )),
            EventKind::UploadProgress { file, sent, total } => {
                bar.set_length(total);
                bar.set_position(sent);
                bar.set_message(format!("uploading {file}"));
            }
            EventKind::UploadSkipped { file } => bar.set_message(format!("{file} already there")),
            EventKind::Output {
                stream: OutputStream::Stderr,
                line,
            } => bar.set_message(format!("runner: {line}")),
            EventKind::Output { .. } => {}
            EventKind::Report(r) => match r.p50_us() {
                Some(p) => bar.set_message(format!("path {}: p50 {p:.1} us", r.path())),
                None => bar.set_message(format!("path {}: report", r.path())),
            },
            EventKind::Warning(w) => {
                let _ = multi.println(format!("{}: warning: {w}", ev.board));
            }
            EventKind::Finished(Ok(_)) => bar.finish_with_message("done"),
            EventKind::Finished(Err(e)) => bar.abandon_with_message(format!("FAILED: {e}")),
        }
    }
    handle.wait()
}

fn print_summary(summary: &DeploySummary) {
    let rows: Vec<[String; 5]> = summary
        .boards
        .iter()
        .map(|b| match &b.result {
            Ok(s) => {
                let per_path: Vec<String> = s
                    .reports
                    .iter()
                    .map(|r| match r {
                        deploy::RunnerReport::Bench(b) => {
                            format!("path {}: {:.1} us", b.path.index, b.end_to_end_us.p50)
                        }
                        deploy::RunnerReport::Classify(c) => {
                            format!("path {}: {}", c.path, c.label)
                        }
                    })
                    .collect();
                let sent: Vec<String> = s.uploaded.iter().map(|f| f.to_string()).collect();
                [
                    b.board.clone(),
                    "ok".into(),
                    format!(
                        "{}{}",
                        s.facts.runner_arch,
                        if s.facts.emulated { " (emulated)" } else { "" }
                    ),
                    if per_path.is_empty() {
                        "-".into()
                    } else {
                        per_path.join(", ")
                    },
                    if sent.is_empty() {
                        "nothing to upload".into()
                    } else {
                        format!("uploaded {}", sent.join(", "))
                    },
                ]
            }
            Err(e) => [
                b.board.clone(),
                "FAILED".into(),
                "-".into(),
                "-".into(),
                e.to_string(),
            ],
        })
        .collect();
    outln!();
    let header = [
        "board",
        "status",
        "arch",
        "end-to-end p50 per path",
        "notes",
    ]
    .map(String::from);
    print_table(&header, &rows);
    let unknown: Vec<&str> = summary
        .failures()
        .filter(|(_, e)| e.unknown_host().is_some())
        .map(|(b, _)| b)
        .collect();
    if !unknown.is_empty() {
        outln!(
            "hint: check and accept the host keys with `bifsmn boards test NAME` ({}), or pass --accept-new-host-key",
            unknown.join(", ")
        );
    }
}
