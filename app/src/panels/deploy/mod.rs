//! The Deploy panel: boards, push and bench over SSH, reports and history.
//!
//! * Left: the saved board profiles (add, edit, remove, test the connection) and the push form
//!   (model, thin paths, runs; one or many boards).
//! * Right: one progress row per board while a deploy runs, then the views: the selected
//!   report (latency per layer and per thin path), the bench history, and accuracy against
//!   measured latency over the thin paths.
//!
//! All SSH work runs on the engine's deploy threads ([`deploy::spawn_deploy`],
//! [`deploy::spawn_check`]); profile files, the history, `~/.ssh/config`, key files and the
//! model are read and written by [`Task`]s. The UI thread only drains channels in
//! [`DeployPanel::poll`].
//!
//! One file per sub-view: [`boards`] (list, form, connection test, host-key and password
//! dialogs), [`push`] (push form and progress), [`report`] (tables and charts),
//! [`history`] (the bench history list), [`accuracy`] (per-path accuracy from a run sidecar).

pub(crate) mod accuracy;
pub(crate) mod boards;
pub(crate) mod history;
pub(crate) mod push;
pub(crate) mod report;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use bifsmn_deploy::{self as deploy, BoardStore, DeployError, HistoryEntry};
use egui::{RichText, Ui};

use crate::model_slot::ModelSlot;
use crate::panels::Panel;
use crate::paths;
use crate::task::{JobStatus, Task, take_done};
use crate::widgets::notice::show_slot;
use crate::widgets::{Notice, PathField, Pick};

use accuracy::AccuracyState;
use boards::{BoardsView, ConnectPlan};
use push::{PushState, RunningDeploy};

/// Which view fills the right-hand side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DeployView {
    #[default]
    Report,
    History,
    Accuracy,
}

impl DeployView {
    pub const ALL: [DeployView; 3] = [
        DeployView::Report,
        DeployView::History,
        DeployView::Accuracy,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DeployView::Report => "Report",
            DeployView::History => "History",
            DeployView::Accuracy => "Accuracy vs latency",
        }
    }
}

/// Persisted state.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DeploySettings {
    /// Boards ticked for the next push.
    pub selected_boards: Vec<String>,
    /// Model to push; empty = the model loaded in Inspect.
    pub model: String,
    /// Thin paths to bench.
    pub paths: Vec<u32>,
    pub runs: u32,
    pub warmup: u32,
    pub threads: u32,
    pub view: DeployView,
}

impl Default for DeploySettings {
    fn default() -> Self {
        Self {
            selected_boards: Vec::new(),
            model: String::new(),
            paths: vec![0],
            runs: 100,
            warmup: 10,
            threads: 1,
            view: DeployView::Report,
        }
    }
}

/// Where the panel keeps its files: the engine's defaults, or others (tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployFiles {
    /// `boards.toml`; `None` when no config dir can be determined.
    pub boards: Option<PathBuf>,
    /// `bench-history.jsonl`.
    pub history: PathBuf,
}

impl DeployFiles {
    /// `$BIFSMN_CONFIG_DIR/boards.toml` (or the user's config dir) and the workbench's bench
    /// history, as the CLI uses them.
    pub fn standard() -> Self {
        Self {
            boards: deploy::dirs::boards_file(),
            history: paths::bench_history(),
        }
    }
}

/// The history file's entries and the number of unreadable lines.
type HistoryRead = Result<(Vec<HistoryEntry>, usize), DeployError>;

/// A history entry's identity, stable across reloads of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryKey {
    pub board: String,
    pub model_hash: String,
    pub path: u32,
    pub unix_ms: u64,
}

impl EntryKey {
    pub fn of(e: &HistoryEntry) -> Self {
        Self {
            board: e.board.clone(),
            model_hash: e.model_hash.clone(),
            path: e.path,
            unix_ms: e.unix_ms,
        }
    }
}

/// The Deploy panel.
pub struct DeployPanel {
    files: DeployFiles,
    // Boards.
    store: Option<BoardStore>,
    store_task: Option<Task<Result<BoardStore, DeployError>>>,
    save_task: Option<Task<Result<(), DeployError>>>,
    pub(crate) boards: BoardsView,
    selected: BTreeSet<String>,
    // Push and bench.
    pub(crate) push: PushState,
    model_field: PathField,
    loaded_model: Option<PathBuf>,
    /// Whether the model field follows the model loaded in Inspect.
    follow_loaded: bool,
    deploy: Option<RunningDeploy>,
    /// Targets being resolved (ssh config, key files) before a check or deploy starts.
    plan_task: Option<Task<ConnectPlan>>,
    // Reports and history.
    pub view: DeployView,
    entries: Vec<HistoryEntry>,
    /// Reports of this session not found in the history file (its write failed).
    session_entries: Vec<HistoryEntry>,
    history_task: Option<Task<HistoryRead>>,
    history_notice: Option<Notice>,
    history_skipped: usize,
    history_was_read: bool,
    selection: Option<EntryKey>,
    history_board_filter: Option<String>,
    history_model_filter: Option<String>,
    accuracy: HashMap<String, AccuracyState>,
    accuracy_task: Option<Task<(String, AccuracyState)>>,
}

impl DeployPanel {
    pub(crate) fn new(s: &DeploySettings) -> Self {
        Self::with_files(s, DeployFiles::standard())
    }

    /// A panel that keeps boards and history in the given files (tests, other setups).
    pub fn with_files(s: &DeploySettings, files: DeployFiles) -> Self {
        let follow = s.model.trim().is_empty();
        let mut paths: BTreeSet<u32> = s.paths.iter().copied().collect();
        if paths.is_empty() {
            paths.insert(0);
        }
        Self {
            files,
            store: None,
            store_task: None,
            save_task: None,
            boards: BoardsView::default(),
            selected: s.selected_boards.iter().cloned().collect(),
            push: PushState {
                paths,
                runs: s.runs.max(1),
                warmup: s.warmup,
                threads: s.threads.max(1),
                ..PushState::default()
            },
            model_field: PathField::new(s.model.clone(), Pick::File(push::MODEL_EXTS)),
            loaded_model: None,
            follow_loaded: follow,
            deploy: None,
            plan_task: None,
            view: s.view,
            entries: Vec::new(),
            session_entries: Vec::new(),
            history_task: None,
            history_notice: None,
            history_skipped: 0,
            history_was_read: false,
            selection: None,
            history_board_filter: None,
            history_model_filter: None,
            accuracy: HashMap::new(),
            accuracy_task: None,
        }
    }

    /// Switch to other files (tests): boards and history are read again.
    pub fn use_files(&mut self, files: DeployFiles) {
        self.files = files;
        self.store = None;
        self.store_task = None;
        self.boards.notice = None;
        self.entries.clear();
        self.history_task = None;
        self.history_was_read = false;
        self.selection = None;
    }

    pub(crate) fn settings(&self) -> DeploySettings {
        DeploySettings {
            selected_boards: self.selected.iter().cloned().collect(),
            model: if self.follow_loaded {
                String::new()
            } else {
                self.model_field.text.clone()
            },
            paths: self.push.paths.iter().copied().collect(),
            runs: self.push.runs,
            warmup: self.push.warmup,
            threads: self.push.threads,
            view: self.view,
        }
    }

    /// The model loaded in the Inspect panel (the default model to push).
    pub(crate) fn set_model(&mut self, model: Option<PathBuf>) {
        if model == self.loaded_model {
            return;
        }
        self.loaded_model = model;
        if self.follow_loaded
            && let Some(m) = &self.loaded_model
        {
            self.model_field.text = m.display().to_string();
        }
    }

    /// Push `model` next (the Test panel's "Deploy it…"): the field stops following Inspect.
    pub(crate) fn choose_model(&mut self, model: PathBuf) {
        self.model_field.text = model.display().to_string();
        self.follow_loaded = false;
    }

    /// The saved boards (empty until loaded).
    pub fn board_names(&self) -> Vec<String> {
        self.store
            .as_ref()
            .map(|s| s.boards().map(|b| b.name.clone()).collect())
            .unwrap_or_default()
    }

    /// Whether a deploy is running.
    pub fn is_deploying(&self) -> bool {
        self.deploy.is_some()
    }

    /// Bench reports known (history file and this session).
    pub(crate) fn report_count(&self) -> usize {
        self.entries.len() + self.session_entries.len()
    }

    fn poll_work(&mut self, ctx: &egui::Context) {
        self.load_if_needed(ctx);
        if let Some(r) = take_done(&mut self.store_task) {
            match r {
                Ok(Ok(store)) => {
                    self.selected.retain(|n| store.get(n).is_some());
                    self.store = Some(store);
                }
                Ok(Err(e)) => {
                    self.boards.notice = Some(Notice::error(
                        e.to_string(),
                        "Fix or move the file (it is plain TOML; `bifsmn boards list` reads the same \
                         file), then reopen the panel.",
                    ));
                    // An empty store keeps the panel usable; saving would overwrite the bad
                    // file, so it stays unsaved until the file is fixed.
                    self.store = None;
                }
                Err(e) => self.boards.notice = Some(Notice::error(e, "")),
            }
        }
        if let Some(r) = take_done(&mut self.save_task) {
            match r.and_then(|r| r.map_err(|e| e.to_string())) {
                Ok(()) => {}
                Err(e) => {
                    self.boards.notice = Some(Notice::error(
                        format!("the board list was not saved: {e}"),
                        "Check that the config directory is writable (or set BIFSMN_CONFIG_DIR).",
                    ))
                }
            }
        }
        if let Some(r) = take_done(&mut self.history_task) {
            match r {
                Ok(Ok((entries, skipped))) => {
                    self.history_skipped = skipped;
                    self.history_notice = None;
                    self.set_history(entries);
                }
                Ok(Err(e)) => {
                    self.history_notice = Some(Notice::error(
                        e.to_string(),
                        "The reports of this session are still shown; check the data directory \
                         (BIFSMN_DATA_DIR).",
                    ))
                }
                Err(e) => self.history_notice = Some(Notice::error(e, "")),
            }
        }
        if let Some(Ok((key, state))) = take_done(&mut self.accuracy_task) {
            self.accuracy.insert(key, state);
        }
        self.poll_plan(ctx);
        self.poll_checks(ctx);
        self.poll_deploy(ctx);
        self.poll_push(ctx);
    }

    fn load_if_needed(&mut self, ctx: &egui::Context) {
        if self.store.is_none() && self.store_task.is_none() && self.boards.notice.is_none() {
            match self.files.boards.clone() {
                Some(path) => {
                    self.store_task = Some(Task::spawn("read boards", ctx, move |_| {
                        BoardStore::load(&path)
                    }))
                }
                None => {
                    self.boards.notice = Some(Notice::error(
                        "cannot determine the user's config directory for boards.toml",
                        "Set BIFSMN_CONFIG_DIR to a writable folder and restart the workbench.",
                    ))
                }
            }
        }
        if self.history_task.is_none() && !self.history_was_read && self.history_notice.is_none() {
            self.reload_history(ctx);
        }
    }

    fn reload_history(&mut self, ctx: &egui::Context) {
        let path = self.files.history.clone();
        self.history_task = Some(Task::spawn("read bench history", ctx, move |_| {
            deploy::history::read(&path)
        }));
    }

    /// Take the file's entries; keep this session's reports the file does not have.
    fn set_history(&mut self, mut entries: Vec<HistoryEntry>) {
        self.history_was_read = true;
        entries.sort_by_key(|e| e.unix_ms);
        self.session_entries
            .retain(|s| !entries.iter().any(|e| same_report(e, s)));
        self.entries = entries;
        // Keep the selection when it is still there (the session copy may have become the
        // file's copy, with a slightly different time stamp).
        if let Some(sel) = &self.selection
            && self.entry(sel).is_none()
        {
            self.selection = self
                .all_entries()
                .filter(|e| {
                    e.board == sel.board && e.model_hash == sel.model_hash && e.path == sel.path
                })
                .max_by_key(|e| e.unix_ms)
                .map(EntryKey::of);
        }
        if self.selection.is_none() {
            self.selection = self
                .all_entries()
                .filter(|e| e.kind == "bench")
                .max_by_key(|e| e.unix_ms)
                .map(EntryKey::of);
        }
    }

    /// History file entries and this session's unsaved ones.
    pub(crate) fn all_entries(&self) -> impl Iterator<Item = &HistoryEntry> {
        self.entries.iter().chain(self.session_entries.iter())
    }

    pub(crate) fn entry(&self, key: &EntryKey) -> Option<&HistoryEntry> {
        self.all_entries().find(|e| EntryKey::of(e) == *key)
    }

    /// The latest bench report per thin path for a board and model, by path.
    pub(crate) fn latest_per_path(&self, board: &str, model_hash: &str) -> Vec<&HistoryEntry> {
        let mut by_path: std::collections::BTreeMap<u32, &HistoryEntry> = Default::default();
        for e in self
            .all_entries()
            .filter(|e| e.board == board && e.model_hash == model_hash && e.kind == "bench")
        {
            let slot = by_path.entry(e.path).or_insert(e);
            if e.unix_ms >= slot.unix_ms {
                *slot = e;
            }
        }
        by_path.into_values().collect()
    }

    /// Select a report and show it.
    pub(crate) fn select_report(&mut self, key: EntryKey) {
        self.selection = Some(key);
        self.view = DeployView::Report;
    }

    /// Save the board store on a worker.
    fn save_store(&mut self, ctx: &egui::Context) {
        if let Some(store) = self.store.clone() {
            self.save_task = Some(Task::spawn("save boards", ctx, move |_| store.save()));
        }
    }

    /// Draw the panel (see [`Panel::ui`]).
    fn draw(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        self.poll_work(&ctx);
        egui::Panel::left("deploy-left")
            .resizable(true)
            .default_size(430.0)
            .size_range(340.0..=640.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("deploy-left-scroll")
                    .auto_shrink([false, false])
                    .show(ui, |ui| {
                        self.boards_ui(ui);
                        ui.add_space(6.0);
                        ui.separator();
                        self.push_ui(ui);
                    });
            });
        egui::CentralPanel::default().show(ui, |ui| {
            self.progress_ui(ui);
            ui.horizontal(|ui| {
                for v in DeployView::ALL {
                    if ui
                        .selectable_label(self.view == v, RichText::new(v.name()).strong())
                        .clicked()
                    {
                        self.view = v;
                    }
                }
                if self.history_task.is_some() {
                    ui.spinner();
                }
            });
            ui.separator();
            show_slot(ui, &mut self.history_notice);
            egui::ScrollArea::vertical()
                .id_salt("deploy-view-scroll")
                .auto_shrink([false, false])
                .show(ui, |ui| match self.view {
                    DeployView::Report => self.report_ui(ui),
                    DeployView::History => self.history_ui(ui),
                    DeployView::Accuracy => self.accuracy_ui(ui),
                });
        });
        self.dialogs(&ctx);
    }
}

/// Whether two history entries are the same measurement (a session copy and the file's).
fn same_report(a: &HistoryEntry, b: &HistoryEntry) -> bool {
    a.board == b.board
        && a.model_hash == b.model_hash
        && a.path == b.path
        && a.kind == b.kind
        && a.unix_ms.abs_diff(b.unix_ms) < 60_000
        && match (a.p50_us, b.p50_us) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-6 * x.abs().max(1.0),
            (None, None) => true,
            _ => false,
        }
}

/// An engine error as a notice with what to do next.
pub(crate) fn error_notice(e: &DeployError) -> Notice {
    use DeployError as E;
    let hint = match e {
        E::Config { .. } => "Fix the file (plain TOML) or remove the broken board.",
        E::UnknownBoard { .. } => "Add the board in the list on the left.",
        E::InvalidProfile { .. } => "Edit the board and correct the field named above.",
        E::SshConfig { .. } => "Fix that line of your SSH config (~/.ssh/config).",
        E::Resolve { .. } => "Check the host name (or use the board's IP address).",
        E::Connect { .. } => {
            "Check that the board is powered, on the network and that host and port are right; \
             then press Test."
        }
        E::Handshake { .. } => {
            "Something answered, but not an SSH server: check the port, and that sshd runs on the board."
        }
        E::UnknownHostKey(_) => "Compare the fingerprint with the board's own, then accept it.",
        E::HostKeyMismatch(_) => {
            "Do not connect unless you know the board was reinstalled. If it was, remove the old \
             line from known_hosts (named above) and press Test to see the new key."
        }
        E::HostKeyRevoked { .. } => {
            "This key is marked revoked; talk to whoever manages the board."
        }
        E::KnownHosts { .. } => "Fix or move that known_hosts file.",
        E::Auth { .. } => {
            "Check the user name and the authentication: a key file's public half must be in the \
             board's ~/.ssh/authorized_keys; a password is asked for at each connection."
        }
        E::Ssh { .. } => "Press Test to check the connection, then try again.",
        E::RemoteCommand { .. } => "See the remote error above; the board may lack a shell tool.",
        E::RemoteTraining { .. } => {
            "Check the path named above on the host; a run that is already going can be attached to."
        }
        E::UnsupportedArch { .. } => {
            "Runners exist for aarch64 and x86_64; set the runner architecture in the board's \
             advanced settings if the board runs them through an emulator."
        }
        E::RunnerMissing { .. } => {
            "Build the runner with the command named above, then push again."
        }
        E::LocalFile { .. } => "Check the path and that the file is readable.",
        E::LocalModel { .. } => {
            "Pick a packed model (.bkw): export one from a training run (Export button, or \
             `bifsmn export`)."
        }
        E::Upload { .. } | E::HashMismatch { .. } => {
            "The previous files on the board still work; push again (check free space on the board)."
        }
        E::RunnerFailed { .. } | E::RunnerKilled { .. } | E::MalformedReport { .. } => {
            "See the runner output of this board; an older runner on the board is replaced by \
             pushing again."
        }
        E::Timeout { .. } => {
            "Use fewer runs, or raise the board's command timeout (Edit > Advanced)."
        }
        E::Cancelled { .. } => "",
        E::History { .. } => "The report is shown but not kept; check the data directory.",
    };
    match e {
        E::Cancelled { .. } => Notice::info(e.to_string()),
        _ => Notice::error(e.to_string(), hint),
    }
}

impl Panel for DeployPanel {
    fn poll(&mut self, ctx: &egui::Context, _model: &ModelSlot) {
        self.poll_work(ctx);
    }

    fn jobs(&self, out: &mut Vec<JobStatus>) {
        if let Some(d) = &self.deploy {
            out.push(d.status());
        }
        for (name, c) in self.boards.checks.iter() {
            if c.running() {
                out.push(JobStatus {
                    label: format!("testing {name}"),
                    fraction: None,
                });
            }
        }
        out.extend(self.push.export_task.as_ref().map(Task::status));
    }

    fn busy(&self) -> bool {
        self.store_task.is_some()
            || self.save_task.is_some()
            || self.deploy.is_some()
            || self.plan_task.is_some()
            || self.history_task.is_some()
            || self.accuracy_task.is_some()
            || self.push.busy()
            || self.boards.busy()
    }

    fn ui(&mut self, ui: &mut Ui, _model: &mut ModelSlot) {
        self.draw(ui);
    }
}
