//! "Run on": training on a saved host (a board profile) over SSH. The form's settings become
//! the `bifsmn train` command line the host runs; the run's events come back through the
//! deploy crate's follower and feed the same charts as a local run; checkpoints are copied
//! into the workbench's runs folder.

use std::path::PathBuf;
use std::time::Duration;

use bifsmn_deploy::train_follow::{
    FollowHandle, FollowRequest, LinkEvent, StartRequest, spawn_follow,
};
use bifsmn_deploy::train_link::RemoteRun;
use bifsmn_deploy::{BoardStore, Credentials, HostKeyPolicy, SshConfig, Target};
use bifsmn_engine::train::{Role, TrainEvent};
use egui::{RichText, Ui};

use super::form::TrainForm;
use crate::paths;
use crate::widgets::Notice;

/// How long a lost connection is retried before the panel gives up following (the run goes
/// on on the host).
const REATTACH_FOR: Duration = Duration::from_secs(300);

/// Where the panel finds the saved hosts and the `bifsmn` binary it uploads: the user's
/// boards file, the binary next to the workbench and the runs folder, unless set (tests point them elsewhere).
#[derive(Clone, Debug, Default)]
pub struct HostFiles {
    pub boards: Option<PathBuf>,
    pub cli_binary: Option<PathBuf>,
    /// Where checkpoints are copied to (default: the workbench's runs folder).
    pub runs: Option<PathBuf>,
}

impl HostFiles {
    fn store(&self) -> Result<BoardStore, bifsmn_deploy::DeployError> {
        match &self.boards {
            Some(path) => BoardStore::load(path),
            None => BoardStore::load_default(),
        }
    }

    fn cli_binary(&self) -> Result<PathBuf, Notice> {
        match &self.cli_binary {
            Some(p) => Ok(p.clone()),
            None => cli_binary(),
        }
    }
}

/// Names of the saved hosts (board profiles); empty if there are none or the file is broken
/// (the Deploy panel reports that).
pub(crate) fn saved_hosts(files: &HostFiles) -> Vec<String> {
    files
        .store()
        .map(|s| s.boards().map(|b| b.name.clone()).collect())
        .unwrap_or_default()
}

/// The "Run on" row: this computer or a saved host, and the host's dataset folder.
pub(crate) fn run_on_ui(ui: &mut Ui, form: &mut TrainForm, hosts: &[String], locked: bool) {
    ui.add_enabled_ui(!locked, |ui| {
        ui.horizontal(|ui| {
            let l = ui.label("Run on");
            let shown = if form.run_on.is_empty() {
                "This computer".to_string()
            } else {
                form.run_on.clone()
            };
            egui::ComboBox::from_id_salt("form-run-on")
                .selected_text(shown)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut form.run_on, String::new(), "This computer");
                    for h in hosts {
                        ui.selectable_value(&mut form.run_on, h.clone(), h);
                    }
                })
                .response
                .labelled_by(l.id)
                .on_hover_text("Saved hosts are the boards of the Deploy panel");
        });
        if !form.run_on.is_empty() {
            ui.horizontal(|ui| {
                let l = ui.label("Dataset on the host");
                ui.add(
                    egui::TextEdit::singleline(&mut form.host_dataset)
                        .desired_width(220.0)
                        .hint_text("/data/speech_commands"),
                )
                .labelled_by(l.id);
            });
            ui.label(
                RichText::new(
                    "The run folder and the teacher are paths on the host; checkpoints are \
                     copied to the runs folder here.",
                )
                .small()
                .weak(),
            );
        }
    });
}

/// The arguments after `bifsmn train` for the form's settings, with the host's paths.
pub(crate) fn remote_args(form: &TrainForm, protocol: &str) -> Result<Vec<String>, Notice> {
    let dataset = form.host_dataset.trim();
    if dataset.is_empty() {
        return Err(Notice::error(
            "no dataset folder on the host",
            "Type the path of the dataset on the host under Run on.",
        ));
    }
    let run_dir = form.run_dir.trim();
    if run_dir.is_empty() {
        return Err(Notice::error(
            "no run folder",
            "Type the run folder on the host (or press New for a fresh name).",
        ));
    }
    let role = match form.role {
        Role::Teacher => "teacher",
        Role::Student => "student",
    };
    let mut a: Vec<String> = vec![
        role.into(),
        "--root".into(),
        dataset.into(),
        "--protocol".into(),
        protocol.into(),
        "--run-dir".into(),
        run_dir.into(),
        "--epochs".into(),
        form.epochs.to_string(),
        "--lr".into(),
        form.lr.to_string(),
        "--batch-size".into(),
        form.batch_size.to_string(),
        "--seed".into(),
        form.seed.to_string(),
    ];
    if !form.augment {
        a.push("--no-augment".into());
    }
    let steps = form.steps;
    for (on, flag) in [
        (steps.voice, "--no-voice"),
        (steps.room, "--no-room"),
        (steps.noise_snr, "--no-noise-snr"),
        (steps.channel, "--no-channel"),
        (steps.spec_augment, "--no-spec-augment"),
    ] {
        if !on {
            a.push(flag.into());
        }
    }
    if form.max_train_clips > 0 {
        a.extend(["--max-train-clips".into(), form.max_train_clips.to_string()]);
    }
    // The Device list shows this computer's devices, so only the backend goes to the host,
    // which then uses that backend's own choice of device.
    a.extend(["--backend".into(), form.backend.name().into()]);
    // The same heavy events a local run gives the Distillation, Binarizers and Activation
    // bits views.
    a.push("--internals".into());
    if form.resume {
        a.push("--resume".into());
    }
    if form.role == Role::Student {
        let teacher = form.teacher.trim();
        if !teacher.is_empty() {
            a.extend(["--teacher".into(), teacher.into()]);
        }
        a.extend([
            "--binarizer".into(),
            form.binarizer.cli_name().into(),
            "--distill".into(),
            form.distill.cli_name().into(),
            "--planes".into(),
            form.planes.to_string(),
            "--paths".into(),
            form.paths.clamp(1, 4).to_string(),
        ]);
        if !form.learn_alpha {
            a.push("--no-learn-alpha".into());
        }
        if !form.init_from_teacher {
            a.push("--no-init-from-teacher".into());
        }
    }
    Ok(a)
}

/// The `bifsmn` command-line binary installed next to the workbench (what the host runs).
fn cli_binary() -> Result<PathBuf, Notice> {
    let exe = std::env::current_exe().map_err(|e| {
        Notice::error(
            format!("cannot locate the workbench binary: {e}"),
            "Start the workbench from its installed location.",
        )
    })?;
    let bin = exe.with_file_name(format!("bifsmn{}", std::env::consts::EXE_SUFFIX));
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(Notice::error(
            format!("{} not found", bin.display()),
            "Training on a host uploads the bifsmn command-line tool, which is installed next \
             to the workbench; build or install it (cargo build -p bifsmn-cli).",
        ))
    }
}

/// A remote run being started: the follower, where checkpoints go and the run's name.
pub(crate) struct RemoteStart {
    pub handle: FollowHandle,
    pub local_dir: PathBuf,
    pub name: String,
}

/// Start the form's run on its host, or with `attach` follow the one already going in the
/// form's run folder there (after a restart: its events are replayed from the start).
pub(crate) fn start_remote(
    form: &TrainForm,
    protocol: &str,
    attach: bool,
    files: &HostFiles,
) -> Result<RemoteStart, Notice> {
    // The form first, then the host, then this machine's binary: the first problem the user
    // can fix is the one reported.
    let args = if attach {
        None
    } else {
        Some(remote_args(form, protocol)?)
    };
    if attach && form.run_dir.trim().is_empty() {
        return Err(Notice::error(
            "no run folder",
            "Type the run folder on the host that the run is training in.",
        ));
    }
    let deploy_notice = |e: bifsmn_deploy::DeployError| crate::panels::deploy::error_notice(&e);
    let store = files.store().map_err(deploy_notice)?;
    let ssh = SshConfig::load_default().map_err(deploy_notice)?;
    let profile = store.find(&form.run_on, &ssh).map_err(deploy_notice)?;
    let target = Target::new(profile, &ssh, Credentials::default()).map_err(deploy_notice)?;
    if let Some(need) = bifsmn_deploy::secret_need(&target).map_err(deploy_notice)? {
        return Err(Notice::error(
            format!(
                "{} needs {} for every connection",
                form.run_on,
                need.prompt()
            ),
            "A remote run re-attaches by itself, so it needs a login without a typed secret: \
             use ssh-agent or a key without a passphrase (or `bifsmn train ... --on HOST`).",
        ));
    }
    let start = match args {
        Some(args) => Some(StartRequest {
            local_binary: files.cli_binary()?,
            args,
            dataset: Some(form.host_dataset.trim().to_string()),
        }),
        None => None,
    };
    let run = RemoteRun::new(form.run_dir.trim());
    let base = run
        .dir
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("");
    let name = format!(
        "{}-{}",
        form.run_on,
        if base.is_empty() { "run" } else { base }
    );
    let local_dir = files
        .runs
        .clone()
        .unwrap_or_else(paths::runs_dir)
        .join(&name);
    let handle = spawn_follow(FollowRequest {
        target,
        host_keys: HostKeyPolicy::Ask,
        run,
        local_dir: local_dir.clone(),
        start,
        reattach_for: REATTACH_FOR,
    });
    Ok(RemoteStart {
        handle,
        local_dir,
        name,
    })
}

/// One report of the follower: a training event for the charts, or a line for the log; an
/// error ends following (the run may go on on the host).
pub(crate) fn link_event(
    e: LinkEvent,
    log: &mut Vec<String>,
) -> Result<Option<TrainEvent>, Notice> {
    match e {
        LinkEvent::Line(line) => serde_json::from_str(&line).map(Some).map_err(|err| {
            Notice::error(
                format!("the host sent an event this workbench cannot read ({err})"),
                "Install the same workbench version here and on the host.",
            )
        }),
        LinkEvent::Status(s) => {
            log.push(s);
            Ok(None)
        }
        LinkEvent::Started => {
            log.push("started on the host; it keeps going if this connection drops".into());
            Ok(None)
        }
        LinkEvent::Upload { sent, total } => {
            if sent == total {
                log.push(format!("uploaded bifsmn ({} MB)", total >> 20));
            }
            Ok(None)
        }
        LinkEvent::Copied(c) => {
            log.push(format!("copied {} here", c.name));
            Ok(None)
        }
        LinkEvent::Lost(e) => {
            log.push(format!("connection lost ({e}); re-attaching…"));
            Ok(None)
        }
        LinkEvent::Reattached { offset } => {
            log.push(format!(
                "re-attached; catching up from byte {offset} of the event log"
            ));
            Ok(None)
        }
        LinkEvent::Verified(c) => {
            log.push(format!(
                "final checkpoint {} is identical here and on the host (SHA-256 {})",
                c.name, c.sha256
            ));
            Ok(None)
        }
        LinkEvent::Failed(e) => Err(crate::panels::deploy::error_notice(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bifsmn_engine::model::BinarizerKind;
    use bifsmn_engine::train::DistillMode;

    #[test]
    fn the_form_becomes_the_hosts_command_line() {
        let mut f = TrainForm {
            run_on: "gpu".into(),
            run_dir: "/runs/t1".into(),
            ..TrainForm::default()
        };
        let e = remote_args(&f, "12").unwrap_err();
        assert!(e.message.contains("dataset"), "{}", e.message);
        f.host_dataset = "/data/sc".into();
        f.steps.room = false;
        f.max_train_clips = 64;
        let a = remote_args(&f, "v2-12").unwrap();
        assert_eq!(
            a[..7],
            [
                "teacher",
                "--root",
                "/data/sc",
                "--protocol",
                "v2-12",
                "--run-dir",
                "/runs/t1"
            ]
        );
        assert!(a.contains(&"--no-room".to_string()) && !a.contains(&"--no-voice".to_string()));
        assert!(a.windows(2).any(|w| w == ["--max-train-clips", "64"]));
        assert!(a.windows(2).any(|w| w == ["--backend", "flex"]));
        assert!(a.contains(&"--internals".to_string()));

        f.set_role(Role::Student);
        f.teacher = "/runs/t1".into();
        f.binarizer = BinarizerKind::Lpb;
        f.distill = DistillMode::Fid;
        f.init_from_teacher = false;
        let a = remote_args(&f, "12").unwrap();
        assert_eq!(a[0], "student");
        assert!(a.windows(2).any(|w| w == ["--teacher", "/runs/t1"]));
        assert!(a.windows(2).any(|w| w == ["--distill", "fid"]));
        assert!(a.contains(&"--no-init-from-teacher".to_string()));
        f.run_dir = " ".into();
        assert!(remote_args(&f, "12").is_err());
    }
}
