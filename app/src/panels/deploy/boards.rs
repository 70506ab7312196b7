//! The board list, the profile form, "Test connection", and the dialogs that connecting may
//! need: an unknown host key (accept or reject) and passwords or key passphrases (asked for
//! each connection, never stored).

use std::collections::BTreeMap;
use std::path::PathBuf;

use bifsmn_deploy::{
    self as deploy, Auth, BenchOptions, BoardCheck, BoardProfile, CheckHandle, Credentials,
    DeployError, EventKind, HostKeyPolicy, KeyMismatch, Secret, SecretNeed, SshConfig, Target,
    UnknownHost,
};
use egui::{RichText, Ui};

use super::{DeployPanel, error_notice};
use crate::task::{Task, take_done};
use crate::widgets::notice::show_slot;
use crate::widgets::{Notice, PathField, Pick};

/// State of the board list beyond the store itself.
#[derive(Default)]
pub struct BoardsView {
    pub form: Option<BoardForm>,
    /// Problems with the board file.
    pub notice: Option<Notice>,
    /// The last connection test per board.
    pub checks: BTreeMap<String, CheckState>,
    /// A board whose Remove button was pressed once (asks for confirmation).
    remove_confirm: Option<String>,
    pub host_key: Option<HostKeyPrompt>,
    accept_task: Option<Task<(HostKeyPrompt, Result<(), DeployError>)>>,
    pub secrets: Option<SecretPrompt>,
}

impl BoardsView {
    pub fn busy(&self) -> bool {
        self.accept_task.is_some() || self.checks.values().any(CheckState::running)
    }
}

/// A connection test.
pub enum CheckState {
    Running { handle: CheckHandle, stage: String },
    Ok(Box<BoardCheck>),
    Failed(Notice),
    Mismatch(Box<KeyMismatch>),
}

impl CheckState {
    pub fn running(&self) -> bool {
        matches!(self, CheckState::Running { .. })
    }
}

/// The settings of one push, the same for every board.
#[derive(Clone, Debug)]
pub(crate) struct DeployParams {
    pub model: PathBuf,
    pub paths: Vec<u32>,
    pub options: BenchOptions,
}

/// What a connection is for.
#[derive(Clone, Debug)]
pub enum Purpose {
    Check,
    Deploy(DeployParams),
}

/// Targets resolved off the UI thread (ssh config, key files), and the secrets still needed.
pub struct ConnectPlan {
    pub purpose: Purpose,
    pub targets: Vec<Target>,
    pub needs: Vec<SecretNeed>,
    pub problems: Vec<(String, DeployError)>,
}

/// Resolve `profiles` through `~/.ssh/config` and find which need a password or passphrase.
/// Blocking (reads files): run it on a worker.
pub fn plan(profiles: Vec<BoardProfile>, purpose: Purpose) -> ConnectPlan {
    let mut out = ConnectPlan {
        purpose,
        targets: vec![],
        needs: vec![],
        problems: vec![],
    };
    let ssh = match SshConfig::load_default() {
        Ok(s) => s,
        Err(e) => {
            for p in profiles {
                out.problems.push((p.name.clone(), e.clone()));
            }
            return out;
        }
    };
    for p in profiles {
        let name = p.name.clone();
        let planned = Target::new(p, &ssh, Credentials::default())
            .and_then(|t| deploy::secret_need(&t).map(|need| (t, need)));
        match planned {
            Ok((t, need)) => {
                out.needs.extend(need);
                out.targets.push(t);
            }
            Err(e) => out.problems.push((name, e)),
        }
    }
    out
}

/// The unknown-host-key dialog.
#[derive(Clone, Debug)]
pub struct HostKeyPrompt {
    pub board: String,
    pub unknown: UnknownHost,
    /// What to do once accepted.
    pub then: Purpose,
}

/// The password / passphrase dialog.
pub struct SecretPrompt {
    pub plan: ConnectPlan,
    pub inputs: Vec<String>,
}

/// How a board logs in, as the form offers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthChoice {
    Agent,
    Key,
    Password,
}

/// The add/edit form.
pub struct BoardForm {
    /// The name of the board being edited (`None` when adding).
    pub editing: Option<String>,
    pub name: String,
    pub host: String,
    pub port: String,
    pub user: String,
    pub auth: AuthChoice,
    pub key: PathField,
    pub workdir: String,
    pub exec_prefix: String,
    pub runner_arch: String,
    pub known_hosts: PathField,
    pub connect_timeout: u64,
    pub command_timeout: u64,
    pub error: Option<Notice>,
}

impl BoardForm {
    pub fn new() -> Self {
        Self::from_profile(None, &BoardProfile::new("", ""))
    }

    pub fn from_profile(editing: Option<String>, p: &BoardProfile) -> Self {
        let (auth, key) = match &p.auth {
            Auth::Agent => (AuthChoice::Agent, String::new()),
            Auth::Key { path } => (AuthChoice::Key, path.display().to_string()),
            Auth::Password => (AuthChoice::Password, String::new()),
        };
        Self {
            editing,
            name: p.name.clone(),
            host: p.host.clone(),
            port: p.port.map(|p| p.to_string()).unwrap_or_default(),
            user: p.user.clone().unwrap_or_default(),
            auth,
            key: PathField::new(key, Pick::File(&[])),
            workdir: p.workdir.clone(),
            exec_prefix: p.exec_prefix.clone().unwrap_or_default(),
            runner_arch: p.runner_arch.clone().unwrap_or_default(),
            known_hosts: PathField::new(
                p.known_hosts
                    .as_ref()
                    .map(|k| k.display().to_string())
                    .unwrap_or_default(),
                Pick::File(&[]),
            ),
            connect_timeout: p.connect_timeout_secs,
            command_timeout: p.command_timeout_secs,
            error: None,
        }
    }

    /// The profile the form describes, validated.
    pub fn to_profile(&self) -> Result<BoardProfile, Notice> {
        let bad = |m: String| Notice::error(m, "Correct the field and save again.");
        let mut p = BoardProfile::new(self.name.trim(), self.host.trim());
        p.port = match self.port.trim() {
            "" => None,
            s => Some(
                s.parse::<u16>()
                    .map_err(|_| bad(format!("port {s:?} is not a number from 1 to 65535")))?,
            ),
        };
        p.user = Some(self.user.trim().to_string()).filter(|u| !u.is_empty());
        p.auth = match self.auth {
            AuthChoice::Agent => Auth::Agent,
            AuthChoice::Password => Auth::Password,
            AuthChoice::Key => match self.key.path() {
                Some(path) => Auth::Key {
                    path: deploy::dirs::expand_tilde(&path.display().to_string()),
                },
                None => return Err(bad("choose the private key file to log in with".into())),
            },
        };
        let w = self.workdir.trim();
        p.workdir = if w.is_empty() {
            deploy::DEFAULT_WORKDIR.into()
        } else {
            w.into()
        };
        p.exec_prefix = Some(self.exec_prefix.trim().to_string()).filter(|s| !s.is_empty());
        p.runner_arch = Some(self.runner_arch.trim().to_string()).filter(|s| !s.is_empty());
        p.known_hosts = self
            .known_hosts
            .path()
            .map(|k| deploy::dirs::expand_tilde(&k.display().to_string()));
        p.connect_timeout_secs = self.connect_timeout;
        p.command_timeout_secs = self.command_timeout;
        p.validate().map_err(|e| bad(e.to_string()))?;
        Ok(p)
    }
}

impl Default for BoardForm {
    fn default() -> Self {
        Self::new()
    }
}

/// A label and a one-line text field, labelled for screen readers and tests.
fn text_row(ui: &mut Ui, label: &str, text: &mut String, hint: &str, tip: &str) {
    let l = ui.label(label);
    ui.add(
        egui::TextEdit::singleline(text)
            .hint_text(hint)
            .desired_width(220.0),
    )
    .labelled_by(l.id)
    .on_hover_text(tip);
    ui.end_row();
}

fn describe(p: &BoardProfile) -> String {
    let user = p
        .user
        .as_deref()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let port = p.port.map(|p| format!(":{p}")).unwrap_or_default();
    let mut s = format!("{user}{}{port} · {}", p.host, p.auth.describe());
    if let Some(x) = &p.exec_prefix {
        s.push_str(&format!(" · via {x}"));
    }
    s
}

impl DeployPanel {
    pub(super) fn boards_ui(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        ui.horizontal(|ui| {
            ui.heading("Boards");
            if self.store_task.is_some() || self.save_task.is_some() {
                ui.spinner();
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui
                    .add_enabled(
                        self.boards.form.is_none() && self.store.is_some(),
                        egui::Button::new("Add board…"),
                    )
                    .on_hover_text("A board reachable over SSH (ARMv8 Linux, or any x86_64 box)")
                    .clicked()
                {
                    self.boards.form = Some(BoardForm::new());
                }
            });
        });
        show_slot(ui, &mut self.boards.notice);
        if let Some(path) = &self.files.boards {
            ui.label(
                RichText::new(format!(
                    "Saved in {} (no secrets). Tick the boards to push to.",
                    path.display()
                ))
                .weak()
                .small(),
            );
        }
        let profiles: Vec<BoardProfile> = self
            .store
            .as_ref()
            .map(|s| s.boards().cloned().collect())
            .unwrap_or_default();
        if profiles.is_empty() && self.store.is_some() && self.boards.form.is_none() {
            ui.add_space(4.0);
            ui.label(
                "No boards yet. Add one: a name, its address and how to log in \
                 (ssh-agent, a key file, or a password asked for when connecting).",
            );
        }
        let deploying = self.deploy.is_some();
        for p in &profiles {
            let mut ticked = self.selected.contains(&p.name);
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(!deploying, egui::Checkbox::new(&mut ticked, &p.name))
                    .on_hover_text("Push to this board")
                    .changed()
                {
                    if ticked {
                        self.selected.insert(p.name.clone());
                    } else {
                        self.selected.remove(&p.name);
                    }
                }
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    let confirming = self.boards.remove_confirm.as_deref() == Some(&p.name);
                    let remove = if confirming {
                        egui::Button::new(
                            RichText::new("Really remove?").color(ui.visuals().warn_fg_color),
                        )
                    } else {
                        egui::Button::new("Remove")
                    };
                    if ui
                        .add_enabled(!deploying, remove)
                        .on_hover_text("Forget this profile (the board itself is not touched)")
                        .clicked()
                    {
                        if confirming {
                            self.remove_board(&ctx, &p.name);
                        } else {
                            self.boards.remove_confirm = Some(p.name.clone());
                        }
                    }
                    if ui
                        .add_enabled(self.boards.form.is_none(), egui::Button::new("Edit"))
                        .clicked()
                    {
                        self.boards.form = Some(BoardForm::from_profile(Some(p.name.clone()), p));
                    }
                    let testing = self
                        .boards
                        .checks
                        .get(&p.name)
                        .is_some_and(CheckState::running);
                    let can_test = !testing && self.plan_task.is_none();
                    let test = ui
                        .add_enabled(can_test, egui::Button::new("Test"))
                        .on_hover_text(
                            "Connect, check the host key, and ask the board for its CPU and runner",
                        );
                    // Screen readers (and tests) tell the boards' buttons apart.
                    test.widget_info(|| {
                        egui::WidgetInfo::labeled(
                            egui::Role::Button,
                            can_test,
                            format!("Test {}", p.name),
                        )
                    });
                    if test.clicked() {
                        self.start_plan(&ctx, vec![p.clone()], Purpose::Check);
                    }
                });
            });
            ui.indent(("board-detail", &p.name), |ui| {
                ui.label(RichText::new(describe(p)).weak().small());
                self.check_ui(ui, &p.name);
            });
        }
        if self.boards.form.is_some() {
            ui.add_space(6.0);
            self.form_ui(ui, &ctx);
        }
    }

    fn check_ui(&mut self, ui: &mut Ui, name: &str) {
        let mut clear = false;
        match self.boards.checks.get(name) {
            None => {}
            Some(CheckState::Running { stage, .. }) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!("testing: {stage}…"));
                });
            }
            Some(CheckState::Ok(c)) => {
                let cpu = c.facts.cpu_model.as_deref().unwrap_or("CPU model unknown");
                let emu = if c.facts.emulated { " (emulated)" } else { "" };
                ui.label(
                    RichText::new(format!(
                        "Connected as {}@{}:{} · {}{emu} · {cpu}",
                        c.user, c.host, c.port, c.facts.uname_machine
                    ))
                    .color(ui.visuals().hyperlink_color),
                );
                let runner = match (&c.runner_info, &c.runner_problem) {
                    (Some(info), _) => format!(
                        "runner on the board: {} ({})",
                        info.get("runner_version")
                            .or_else(|| info.get("version"))
                            .and_then(|v| v.as_str())
                            .unwrap_or("version ?"),
                        info.get("isa").and_then(|v| v.as_str()).unwrap_or("isa ?")
                    ),
                    (None, Some(p)) => format!("no usable runner yet ({p}); Push installs it"),
                    (None, None) => "no runner on the board yet; Push installs it".into(),
                };
                ui.label(RichText::new(runner).small());
                ui.label(
                    RichText::new(format!(
                        "host key {} {}{}",
                        c.host_key_type,
                        c.host_key_fingerprint,
                        if c.host_key_newly_accepted {
                            " (just accepted)"
                        } else {
                            ""
                        }
                    ))
                    .small()
                    .weak(),
                );
            }
            Some(CheckState::Failed(n)) => clear = n.show(ui),
            Some(CheckState::Mismatch(m)) => clear = mismatch_ui(ui, m),
        }
        if clear {
            self.boards.checks.remove(name);
        }
    }

    fn form_ui(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        let Some(form) = self.boards.form.as_mut() else {
            return;
        };
        let mut save = false;
        let mut cancel = false;
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.label(
                RichText::new(match &form.editing {
                    Some(n) => format!("Edit board {n}"),
                    None => "New board".into(),
                })
                .strong(),
            );
            egui::Grid::new("deploy-board-form")
                .num_columns(2)
                .spacing([8.0, 4.0])
                .show(ui, |ui| {
                    text_row(ui, "Board name", &mut form.name, "e.g. pi3", "Letters, digits, '-', '_' and '.'");
                    text_row(
                        ui,
                        "Host",
                        &mut form.host,
                        "address, name or ~/.ssh/config alias",
                        "An alias from ~/.ssh/config brings its HostName, Port, User and IdentityFile",
                    );
                    text_row(ui, "Port", &mut form.port, "22", "Empty: from ~/.ssh/config, else 22");
                    text_row(ui, "User", &mut form.user, "login user", "Empty: from ~/.ssh/config, else your user name");
                    ui.label("Log in with");
                    ui.horizontal(|ui| {
                        ui.radio_value(&mut form.auth, AuthChoice::Agent, "ssh-agent");
                        ui.radio_value(&mut form.auth, AuthChoice::Key, "key file");
                        ui.radio_value(&mut form.auth, AuthChoice::Password, "password");
                    });
                    ui.end_row();
                    text_row(
                        ui,
                        "Remote dir",
                        &mut form.workdir,
                        deploy::DEFAULT_WORKDIR,
                        "Where runner and model go on the board (relative to the login home)",
                    );
                    text_row(
                        ui,
                        "Exec prefix",
                        &mut form.exec_prefix,
                        "empty for real boards",
                        "Put in front of the runner, e.g. qemu-aarch64 -cpu cortex-a53 (emulated test boards only)",
                    );
                });
            match form.auth {
                AuthChoice::Key => {
                    form.key.ui(ui, "Key file", "~/.ssh/id_ed25519", 200.0);
                    ui.label(
                        RichText::new("A passphrase, if the key has one, is asked for when connecting.")
                            .weak()
                            .small(),
                    );
                }
                AuthChoice::Password => {
                    ui.label(
                        RichText::new("The password is asked for at each connection and never saved.")
                            .weak()
                            .small(),
                    );
                }
                AuthChoice::Agent => {
                    ui.label(
                        RichText::new("Uses the keys of the running ssh-agent ($SSH_AUTH_SOCK).")
                            .weak()
                            .small(),
                    );
                }
            }
            egui::CollapsingHeader::new("Advanced")
                .id_salt("deploy-board-advanced")
                .show(ui, |ui| {
                    form.known_hosts
                        .ui(ui, "known_hosts", "~/.ssh/known_hosts", 200.0);
                    ui.horizontal(|ui| {
                        ui.label("Runner arch");
                        egui::ComboBox::from_id_salt("deploy-runner-arch")
                            .selected_text(if form.runner_arch.is_empty() {
                                "from uname -m"
                            } else {
                                form.runner_arch.as_str()
                            })
                            .show_ui(ui, |ui| {
                                ui.selectable_value(&mut form.runner_arch, String::new(), "from uname -m");
                                ui.selectable_value(&mut form.runner_arch, "aarch64".into(), "aarch64");
                                ui.selectable_value(&mut form.runner_arch, "x86_64".into(), "x86_64");
                            })
                            .response
                            .accessible_name("runner arch");
                    });
                    ui.horizontal(|ui| {
                        ui.label("Connect timeout");
                        ui.add(egui::DragValue::new(&mut form.connect_timeout).range(1..=600).suffix(" s"));
                        ui.label("Command timeout");
                        ui.add(egui::DragValue::new(&mut form.command_timeout).range(1..=86_400).suffix(" s"));
                    });
                });
            show_slot(ui, &mut form.error);
            ui.horizontal(|ui| {
                if ui.button(RichText::new("Save board").strong()).clicked() {
                    save = true;
                }
                if ui.button("Cancel").clicked() {
                    cancel = true;
                }
            });
        });
        if cancel {
            self.boards.form = None;
        } else if save {
            self.save_form(ctx);
        }
    }

    fn save_form(&mut self, ctx: &egui::Context) {
        let Some(form) = self.boards.form.as_mut() else {
            return;
        };
        let profile = match form.to_profile() {
            Ok(p) => p,
            Err(n) => {
                form.error = Some(n);
                return;
            }
        };
        let Some(store) = self.store.as_mut() else {
            return;
        };
        let editing = form.editing.clone();
        if editing.as_deref() != Some(profile.name.as_str()) && store.get(&profile.name).is_some() {
            form.error = Some(Notice::error(
                format!("a board named {:?} exists already", profile.name),
                "Choose another name, or edit that board instead.",
            ));
            return;
        }
        if let Some(old) = &editing
            && *old != profile.name
        {
            store.remove(old);
            if self.selected.remove(old) {
                self.selected.insert(profile.name.clone());
            }
            self.boards.checks.remove(old);
        }
        let name = profile.name.clone();
        if let Err(e) = store.insert(profile) {
            form.error = Some(error_notice(&e));
            return;
        }
        if editing.is_none() {
            self.selected.insert(name.clone());
        }
        self.boards.checks.remove(&name);
        self.boards.form = None;
        self.save_store(ctx);
    }

    fn remove_board(&mut self, ctx: &egui::Context, name: &str) {
        self.boards.remove_confirm = None;
        if let Some(store) = self.store.as_mut() {
            store.remove(name);
        }
        self.selected.remove(name);
        self.boards.checks.remove(name);
        self.save_store(ctx);
    }

    /// Resolve the boards on a worker, then ask for secrets or connect.
    pub(super) fn start_plan(
        &mut self,
        ctx: &egui::Context,
        profiles: Vec<BoardProfile>,
        purpose: Purpose,
    ) {
        if let Purpose::Check = purpose {
            for p in &profiles {
                self.boards.checks.remove(&p.name);
            }
        }
        self.plan_task = Some(Task::spawn("resolve boards", ctx, move |_| {
            plan(profiles, purpose)
        }));
    }

    pub(super) fn poll_plan(&mut self, ctx: &egui::Context) {
        let Some(r) = take_done(&mut self.plan_task) else {
            return;
        };
        let plan = match r {
            Ok(p) => p,
            Err(e) => {
                self.push.notice = Some(Notice::error(e, ""));
                return;
            }
        };
        for (board, e) in &plan.problems {
            match plan.purpose {
                Purpose::Check => {
                    self.boards
                        .checks
                        .insert(board.clone(), CheckState::Failed(error_notice(e)));
                }
                Purpose::Deploy(_) => {
                    let mut n = error_notice(e);
                    n.message = format!("{board}: {}", n.message);
                    self.push.notice = Some(n);
                }
            }
        }
        if plan.targets.is_empty() {
            return;
        }
        if plan.needs.is_empty() {
            self.launch(ctx, plan);
        } else {
            let inputs = vec![String::new(); plan.needs.len()];
            self.boards.secrets = Some(SecretPrompt { plan, inputs });
        }
    }

    /// Connect: checks, or the deploy.
    fn launch(&mut self, ctx: &egui::Context, plan: ConnectPlan) {
        match plan.purpose {
            Purpose::Check => {
                for t in plan.targets {
                    let name = t.profile.name.clone();
                    let handle = deploy::spawn_check(t, HostKeyPolicy::Ask);
                    self.boards.checks.insert(
                        name,
                        CheckState::Running {
                            handle,
                            stage: "connecting".into(),
                        },
                    );
                }
            }
            Purpose::Deploy(params) => self.start_deploy(ctx, plan.targets, params),
        }
        ctx.request_repaint();
    }

    pub(super) fn poll_checks(&mut self, ctx: &egui::Context) {
        if let Some(r) = take_done(&mut self.boards.accept_task) {
            match r {
                Ok((prompt, Ok(()))) => match prompt.then {
                    Purpose::Check => {
                        if let Some(p) = self.profile(&prompt.board) {
                            self.start_plan(ctx, vec![p], Purpose::Check);
                        }
                    }
                    Purpose::Deploy(params) => {
                        if self.deploy.is_none()
                            && let Some(p) = self.profile(&prompt.board)
                        {
                            self.start_plan(ctx, vec![p], Purpose::Deploy(params));
                        }
                    }
                },
                Ok((prompt, Err(e))) => {
                    self.boards
                        .checks
                        .insert(prompt.board, CheckState::Failed(error_notice(&e)));
                }
                Err(e) => self.boards.notice = Some(Notice::error(e, "")),
            }
        }
        let names: Vec<String> = self.boards.checks.keys().cloned().collect();
        for name in names {
            let Some(CheckState::Running { handle, stage }) = self.boards.checks.get_mut(&name)
            else {
                continue;
            };
            while let Ok(ev) = handle.events().try_recv() {
                if let EventKind::Stage(s) = ev.kind {
                    *stage = s.to_string();
                }
            }
            if !handle.is_finished() {
                continue;
            }
            let Some(CheckState::Running { handle, .. }) = self.boards.checks.remove(&name) else {
                continue;
            };
            let state = match handle.wait() {
                Ok(c) => CheckState::Ok(Box::new(c)),
                Err(DeployError::UnknownHostKey(u)) => {
                    self.boards.host_key = Some(HostKeyPrompt {
                        board: name.clone(),
                        unknown: *u,
                        then: Purpose::Check,
                    });
                    CheckState::Failed(Notice::warning(
                        "not connected: the board's host key is not known yet",
                        "Compare the fingerprint in the dialog with the board's, then accept it.",
                    ))
                }
                Err(DeployError::HostKeyMismatch(m)) => CheckState::Mismatch(m),
                Err(e) => CheckState::Failed(error_notice(&e)),
            };
            self.boards.checks.insert(name, state);
            ctx.request_repaint();
        }
    }

    pub(super) fn profile(&self, name: &str) -> Option<BoardProfile> {
        self.store.as_ref().and_then(|s| s.get(name).cloned())
    }

    /// Open the host-key dialog for a board that failed on an unknown key.
    pub(super) fn ask_host_key(&mut self, board: &str, unknown: UnknownHost, then: Purpose) {
        if self.boards.host_key.is_none() {
            self.boards.host_key = Some(HostKeyPrompt {
                board: board.to_string(),
                unknown,
                then,
            });
        }
    }

    /// The modal dialogs (host key, secrets).
    pub(super) fn dialogs(&mut self, ctx: &egui::Context) {
        if let Some(prompt) = self.boards.host_key.clone() {
            let mut decision = None;
            egui::Modal::new(egui::Id::unique("deploy-host-key")).show(ctx, |ui| {
                ui.set_max_width(560.0);
                host_key_dialog(ui, &prompt, &mut decision);
            });
            match decision {
                Some(true) => {
                    self.boards.host_key = None;
                    self.boards.checks.insert(
                        prompt.board.clone(),
                        CheckState::Failed(Notice::info("host key accepted; connecting again…")),
                    );
                    self.boards.accept_task =
                        Some(Task::spawn("record host key", ctx, move |_| {
                            let r = deploy::accept_host_key(&prompt.unknown);
                            (prompt, r)
                        }));
                }
                Some(false) => {
                    self.boards.host_key = None;
                    self.boards.checks.insert(
                        prompt.board.clone(),
                        CheckState::Failed(Notice::warning(
                            format!(
                                "host key of {}:{} rejected: not connected",
                                prompt.unknown.host, prompt.unknown.port
                            ),
                            "Check with whoever set up the board which key it has; press Test to \
                             see the dialog again.",
                        )),
                    );
                }
                None => {}
            }
        }
        let mut submit = None;
        if let Some(sp) = self.boards.secrets.as_mut() {
            egui::Modal::new(egui::Id::unique("deploy-secrets")).show(ctx, |ui| {
                ui.set_max_width(480.0);
                ui.heading("Log in");
                ui.label(
                    "Used for this connection only: never saved, and wiped from memory afterwards.",
                );
                ui.add_space(4.0);
                let mut enter = false;
                egui::Grid::new("deploy-secret-grid")
                    .num_columns(2)
                    .show(ui, |ui| {
                        for (i, need) in sp.plan.needs.iter().enumerate() {
                            let l = ui.label(format!("{} ({})", need.prompt(), need.board));
                            let r = ui
                                .add(
                                    egui::TextEdit::singleline(&mut sp.inputs[i])
                                        .password(true)
                                        .desired_width(200.0),
                                )
                                .labelled_by(l.id);
                            if i == 0 && !r.has_focus() && sp.inputs[0].is_empty() {
                                r.request_focus();
                            }
                            if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                                enter = true;
                            }
                            ui.end_row();
                        }
                    });
                ui.horizontal(|ui| {
                    if ui.button(RichText::new("Connect").strong()).clicked() || enter {
                        submit = Some(true);
                    }
                    if ui.button("Cancel").clicked() {
                        submit = Some(false);
                    }
                });
            });
        }
        match submit {
            Some(true) => {
                if let Some(mut sp) = self.boards.secrets.take() {
                    for (need, input) in sp.plan.needs.iter().zip(sp.inputs.iter_mut()) {
                        let secret = Secret::new(std::mem::take(input));
                        if let Some(t) = sp
                            .plan
                            .targets
                            .iter_mut()
                            .find(|t| t.profile.name == need.board)
                        {
                            need.supply(&mut t.credentials, secret);
                        }
                    }
                    self.launch(ctx, sp.plan);
                }
            }
            Some(false) => {
                if let Some(mut sp) = self.boards.secrets.take() {
                    for s in sp.inputs.iter_mut() {
                        // Overwrite what was typed before the string is dropped.
                        drop(Secret::new(std::mem::take(s)));
                    }
                }
            }
            None => {}
        }
    }
}

fn host_key_dialog(ui: &mut Ui, prompt: &HostKeyPrompt, decision: &mut Option<bool>) {
    let u = &prompt.unknown;
    ui.heading("Unknown host key");
    ui.label(format!(
        "Board {} ({}:{}) presented a host key that is not in {}.",
        prompt.board,
        u.host,
        u.port,
        u.known_hosts.display()
    ));
    ui.add_space(4.0);
    egui::Grid::new("deploy-host-key-grid")
        .num_columns(2)
        .show(ui, |ui| {
            ui.label("Key type");
            ui.label(RichText::new(&u.key_type).monospace());
            ui.end_row();
            ui.label("Fingerprint");
            ui.add(
                egui::Label::new(RichText::new(&u.fingerprint).monospace().strong())
                    .selectable(true),
            );
            ui.end_row();
        });
    if !u.other_known_types.is_empty() {
        Notice::warning(
            format!(
                "known_hosts already has a {} key for this host; the server now shows a {} key.",
                u.other_known_types.join(", "),
                u.key_type
            ),
            "Make sure the board was changed on purpose before accepting.",
        )
        .show(ui);
    }
    ui.add_space(4.0);
    ui.label(
        RichText::new(
            "Compare it with the board's own fingerprint (on the board: ssh-keygen -lf \
             /etc/ssh/ssh_host_ed25519_key.pub). Accepting adds the key to known_hosts; later \
             connections are refused if the key changes.",
        )
        .small(),
    );
    ui.add_space(6.0);
    ui.horizontal(|ui| {
        if ui
            .button(RichText::new("Accept and connect").strong())
            .clicked()
        {
            *decision = Some(true);
        }
        if ui.button("Reject").clicked() {
            *decision = Some(false);
        }
    });
}

/// A refused host key: both fingerprints and what to do. Returns true when dismissed.
fn mismatch_ui(ui: &mut Ui, m: &KeyMismatch) -> bool {
    let n = Notice::error(
        format!(
            "HOST KEY MISMATCH for {}:{}: refusing to connect",
            m.host, m.port
        ),
        format!(
            "The board was reinstalled, or someone is intercepting the connection. Only if the \
             change is expected: remove line {} from {} and press Test to review the new key.",
            m.line,
            m.known_hosts.display()
        ),
    );
    let dismissed = n.show(ui);
    egui::Grid::new(("deploy-mismatch", &m.host, m.port))
        .num_columns(2)
        .show(ui, |ui| {
            ui.label("Expected (known_hosts)");
            ui.add(egui::Label::new(RichText::new(&m.expected).monospace()).selectable(true));
            ui.end_row();
            ui.label(format!("Presented ({})", m.key_type));
            ui.add(egui::Label::new(RichText::new(&m.presented).monospace()).selectable(true));
            ui.end_row();
        });
    dismissed
}
