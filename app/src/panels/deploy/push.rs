//! Push and bench: the form (model, thin paths, runs, boards) and one progress row per board
//! while the engine's deploy threads work, fed by their [`DeployEvent`]s.

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Instant;

use bifsmn_deploy::{
    self as deploy, Action, BenchOptions, BoardFacts, BoardSuccess, DeployError, DeployEvent,
    DeployHandle, DeployRequest, EventKind, HistoryEntry, HostKeyPolicy, OutputStream, RemoteFile,
    RunnerLocator, RunnerReport, Stage, Target,
};
use bifsmn_kernels::format::{PackedModel, model_hash};
use egui::{RichText, Ui};

use super::boards::{DeployParams, Purpose};
use super::{DeployPanel, DeployView, EntryKey, error_notice};
use crate::task::{JobStatus, Task, take_done};
use crate::widgets::Notice;
use crate::widgets::notice::show_slot;

pub(crate) const MODEL_EXTS: &[&str] = &["bkw"];
/// Runner output lines kept per board.
const OUTPUT_LINES: usize = 400;

/// What the push form holds besides the model field.
#[derive(Default)]
pub(crate) struct PushState {
    pub paths: BTreeSet<u32>,
    pub runs: u32,
    pub warmup: u32,
    pub threads: u32,
    pub notice: Option<Notice>,
    pub model_info: Option<ModelInfo>,
    pub(super) model_info_for: Option<String>,
    pub(super) model_info_task: Option<Task<ModelInfo>>,
    pub export_task: Option<Task<Result<PathBuf, String>>>,
    /// Progress rows of the running or last deploy.
    pub rows: Vec<BoardRow>,
    pub summary: Option<Notice>,
}

impl PushState {
    pub(crate) fn busy(&self) -> bool {
        self.model_info_task.is_some() || self.export_task.is_some()
    }
}

/// What the model field points at.
#[derive(Clone, Debug)]
pub(crate) enum ModelInfo {
    Packed {
        hash: String,
        bytes: u64,
        classes: usize,
        /// D-FSMN layers of each thin path.
        paths: Vec<Vec<usize>>,
    },
    /// A training run folder (or its sidecar): it must be exported first.
    Run {
        dir: PathBuf,
    },
    Invalid(String),
}

fn read_model_info(path: &Path) -> ModelInfo {
    if path.is_dir() || path.extension().is_some_and(|e| e == "json" || e == "bpk") {
        let dir = if path.is_dir() {
            path.to_path_buf()
        } else {
            path.parent().unwrap_or(Path::new(".")).to_path_buf()
        };
        return if dir.join("best.json").is_file() || dir.join("checkpoint.json").is_file() {
            ModelInfo::Run { dir }
        } else {
            ModelInfo::Invalid(format!(
                "{} is a folder without a training checkpoint",
                path.display()
            ))
        };
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return ModelInfo::Invalid(format!("{}: {e}", path.display())),
    };
    match PackedModel::from_bytes(&bytes) {
        Ok(m) => ModelInfo::Packed {
            hash: model_hash(&bytes),
            bytes: bytes.len() as u64,
            classes: m.labels.len(),
            paths: m.paths.clone(),
        },
        Err(e) => ModelInfo::Invalid(format!("{}: {e}", path.display())),
    }
}

/// One board's progress.
pub(crate) struct BoardRow {
    pub board: String,
    pub host: String,
    pub stage: String,
    pub fraction: f32,
    pub facts: Option<BoardFacts>,
    pub output: VecDeque<String>,
    pub warnings: Vec<String>,
    pub reports: usize,
    pub result: Option<Result<Box<BoardSuccess>, DeployError>>,
    paths: Vec<u32>,
}

impl BoardRow {
    fn new(t: &Target, paths: &[u32]) -> Self {
        Self {
            board: t.profile.name.clone(),
            host: t.spec.host.clone(),
            stage: "waiting".into(),
            fraction: 0.0,
            facts: None,
            output: VecDeque::new(),
            warnings: vec![],
            reports: 0,
            result: None,
            paths: paths.to_vec(),
        }
    }

    /// Where in the run a path's bench starts (0..1 of the whole board).
    fn path_start(&self, path: u32) -> f32 {
        let n = self.paths.len().max(1) as f32;
        let i = self.paths.iter().position(|&p| p == path).unwrap_or(0) as f32;
        0.45 + 0.55 * i / n
    }

    fn apply(&mut self, kind: &EventKind) {
        match kind {
            EventKind::Stage(s) => {
                self.stage = s.to_string();
                self.fraction = self.fraction.max(match s {
                    Stage::Connecting => 0.02,
                    Stage::Probing => 0.06,
                    Stage::Preparing => 0.10,
                    Stage::Uploading { file } => upload_range(*file).0,
                    Stage::Running { path } => self.path_start(*path),
                });
            }
            EventKind::HostKeyAccepted { fingerprint, .. } => {
                self.output
                    .push_back(format!("host key accepted: {fingerprint}"));
            }
            EventKind::Board(f) => self.facts = Some(f.clone()),
            EventKind::UploadProgress { file, sent, total } => {
                let (a, b) = upload_range(*file);
                let f = if *total == 0 {
                    1.0
                } else {
                    *sent as f32 / *total as f32
                };
                self.stage = format!(
                    "uploading {file}: {:.1} of {:.1} MB",
                    *sent as f64 / 1e6,
                    *total as f64 / 1e6
                );
                self.fraction = self.fraction.max(a + (b - a) * f);
            }
            EventKind::UploadSkipped { file } => {
                self.output.push_back(format!(
                    "{file} is already on the board (same SHA-256): not sent"
                ));
                self.fraction = self.fraction.max(upload_range(*file).1);
            }
            EventKind::Output { stream, line } => {
                let tag = match stream {
                    OutputStream::Stdout => "",
                    OutputStream::Stderr => "· ",
                };
                self.output.push_back(format!("{tag}{line}"));
            }
            EventKind::Report(r) => {
                self.reports += 1;
                let n = self.paths.len().max(1) as f32;
                let i = self.paths.iter().position(|&p| p == r.path()).unwrap_or(0) as f32;
                self.fraction = self.fraction.max(0.45 + 0.55 * (i + 1.0) / n);
                if let Some(p50) = r.p50_us() {
                    self.stage = format!("path {}: p50 {p50:.1} µs", r.path());
                }
            }
            EventKind::Warning(w) => self.warnings.push(w.clone()),
            EventKind::Finished(r) => {
                self.fraction = 1.0;
                self.stage = match r {
                    Ok(_) => "done".into(),
                    Err(DeployError::Cancelled { .. }) => "cancelled".into(),
                    Err(_) => "failed".into(),
                };
                self.result = Some(r.clone());
            }
        }
        while self.output.len() > OUTPUT_LINES {
            self.output.pop_front();
        }
    }
}

fn upload_range(file: RemoteFile) -> (f32, f32) {
    match file {
        // A deploy never uploads the trainer (remote training does); it would rank as the runner.
        RemoteFile::Runner | RemoteFile::Trainer => (0.10, 0.30),
        RemoteFile::Model => (0.30, 0.42),
        RemoteFile::Clip => (0.42, 0.45),
    }
}

/// A deploy in flight.
pub(crate) struct RunningDeploy {
    handle: DeployHandle,
    params: DeployParams,
    started: Instant,
    cancelled: bool,
    boards: usize,
    /// Mean fraction of the rows (kept here for the status bar).
    fraction: f32,
}

impl RunningDeploy {
    pub(crate) fn status(&self) -> JobStatus {
        JobStatus {
            label: format!(
                "push & bench on {} board{}",
                self.boards,
                if self.boards == 1 { "" } else { "s" }
            ),
            fraction: Some(self.fraction),
        }
    }
}

impl DeployPanel {
    /// Start the engine's deploy (targets resolved, secrets attached).
    pub(super) fn start_deploy(
        &mut self,
        ctx: &egui::Context,
        targets: Vec<Target>,
        params: DeployParams,
    ) {
        if self.deploy.is_some() {
            return;
        }
        let request = DeployRequest {
            model: params.model.clone(),
            action: Action::Bench(params.options),
            paths: params.paths.clone(),
            runners: RunnerLocator::standard(),
            history: Some(self.files.history.clone()),
            host_keys: HostKeyPolicy::Ask,
        };
        // Rows of a retried board replace its old row; other boards' rows stay.
        let names: Vec<String> = targets.iter().map(|t| t.profile.name.clone()).collect();
        if self.push.rows.iter().any(|r| r.result.is_none()) || names.len() > 1 {
            self.push.rows.clear();
        }
        self.push.rows.retain(|r| !names.contains(&r.board));
        for t in &targets {
            self.push.rows.push(BoardRow::new(t, &params.paths));
        }
        self.push.summary = None;
        self.push.notice = None;
        let boards = targets.len();
        self.deploy = Some(RunningDeploy {
            handle: deploy::spawn_deploy(targets, request),
            params,
            started: Instant::now(),
            cancelled: false,
            boards,
            fraction: 0.0,
        });
        ctx.request_repaint();
    }

    pub(super) fn poll_deploy(&mut self, ctx: &egui::Context) {
        let Some(d) = self.deploy.as_mut() else {
            return;
        };
        let events: Vec<DeployEvent> = d.handle.events().try_iter().collect();
        let mut new_entries = vec![];
        for ev in &events {
            if let Some(row) = self.push.rows.iter_mut().find(|r| r.board == ev.board) {
                row.apply(&ev.kind);
                if let EventKind::Report(r) = &ev.kind
                    && matches!(**r, RunnerReport::Bench(_))
                {
                    let (arch, cpu) = row
                        .facts
                        .as_ref()
                        .map(|f| (f.uname_machine.clone(), f.cpu_model.clone()))
                        .unwrap_or_default();
                    new_entries.push(HistoryEntry::now(
                        &row.board,
                        &row.host,
                        &arch,
                        cpu,
                        &d.params.model,
                        r.model_hash(),
                        (**r).clone(),
                    ));
                }
            }
        }
        if !self.push.rows.is_empty() {
            d.fraction = self.push.rows.iter().map(|r| r.fraction).sum::<f32>()
                / self.push.rows.len() as f32;
        }
        if !events.is_empty() {
            ctx.request_repaint();
        }
        // Show the first report as soon as it arrives.
        let first_of_run = self.session_entries.is_empty() && !new_entries.is_empty();
        for e in new_entries {
            if first_of_run || self.selection.is_none() {
                self.selection = Some(EntryKey::of(&e));
                self.view = DeployView::Report;
            }
            self.session_entries.push(e);
        }
        if !d.handle.is_finished() || !d.handle.events().is_empty() {
            return;
        }
        let Some(d) = self.deploy.take() else { return };
        let params = d.params.clone();
        let secs = d.started.elapsed().as_secs_f32();
        let summary = d.handle.wait();
        let ok = summary.boards.iter().filter(|b| b.result.is_ok()).count();
        let total = summary.boards.len();
        self.push.summary = Some(if ok == total {
            Notice::info(format!(
                "{ok} of {total} board{} done in {secs:.0} s. Reports are on the right; every \
                 report is kept in the bench history.",
                if total == 1 { "" } else { "s" }
            ))
        } else if d.cancelled {
            Notice::warning(
                format!("cancelled after {secs:.0} s: {ok} of {total} boards finished"),
                "The files already on the boards still work; push again to finish.",
            )
        } else {
            Notice::warning(
                format!("{ok} of {total} boards done; {} failed", total - ok),
                "Each failed board says why in its row above.",
            )
        });
        for b in &summary.boards {
            if let Err(DeployError::UnknownHostKey(u)) = &b.result {
                let mut p = params.clone();
                p.paths = params.paths.clone();
                self.ask_host_key(&b.board, (**u).clone(), Purpose::Deploy(p));
            }
        }
        // The reports went to the history file: read it back (the session copies go once the
        // file has them).
        self.reload_history(ctx);
        ctx.request_repaint();
    }

    pub(super) fn poll_push(&mut self, ctx: &egui::Context) {
        if let Some(Ok(info)) = take_done(&mut self.push.model_info_task) {
            if let ModelInfo::Packed { paths, .. } = &info {
                let n = paths.len() as u32;
                self.push.paths.retain(|&p| p < n);
                if self.push.paths.is_empty() {
                    self.push.paths.insert(0);
                }
            }
            self.push.model_info = Some(info);
        }
        if let Some(r) = take_done(&mut self.push.export_task) {
            match r.and_then(|x| x) {
                Ok(out) => {
                    self.model_field.text = out.display().to_string();
                    self.follow_loaded = false;
                    self.push.notice = Some(Notice::info(format!(
                        "exported to {} (next to the run's checkpoint, so its accuracy shows in \
                         the charts)",
                        out.display()
                    )));
                }
                Err(e) => {
                    self.push.notice = Some(Notice::error(
                        e,
                        "Only runs with an exportable binarizer can be packed; pick a .bkw file instead.",
                    ))
                }
            }
        }
        // Look at the model whenever the field names another file.
        let text = self.model_field.text.trim().to_string();
        if self.push.model_info_for.as_deref() != Some(text.as_str())
            && self.push.model_info_task.is_none()
        {
            self.push.model_info_for = Some(text.clone());
            if text.is_empty() {
                self.push.model_info = None;
            } else {
                let p = PathBuf::from(text);
                self.push.model_info_task =
                    Some(Task::spawn("read model", ctx, move |_| read_model_info(&p)));
            }
        }
    }

    pub(super) fn push_ui(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        ui.heading("Push & bench");
        let before = self.model_field.text.clone();
        self.model_field
            .ui(ui, "Model", "packed model (.bkw)", 230.0);
        if self.model_field.text != before {
            self.follow_loaded = self.model_field.text.trim().is_empty();
        }
        if self.follow_loaded {
            ui.label(
                RichText::new(match &self.loaded_model {
                    Some(_) => "The workbench's loaded model (type another path to change it).",
                    None => "Load a model in Inspect (Ctrl+3), or type or browse a .bkw here.",
                })
                .weak()
                .small(),
            );
        }
        let export = self.model_info_ui(ui);
        if let Some(dir) = export {
            let out = dir.join("model.bkw");
            self.push.export_task = Some(Task::spawn("export model", &ctx, move |_| {
                bifsmn_engine::export::export_run(
                    &dir,
                    &out,
                    bifsmn_kernels::format::Storage::COMPACT,
                )
                .map(|_| out)
                .map_err(|e| format!("{e:#}"))
            }));
        }
        ui.horizontal(|ui| {
            ui.label("Runs");
            ui.add(egui::DragValue::new(&mut self.push.runs).range(1..=100_000))
                .on_hover_text("Timed runs per thin path");
            ui.label("Warm-up");
            ui.add(egui::DragValue::new(&mut self.push.warmup).range(0..=10_000))
                .on_hover_text("Untimed runs first");
            ui.label("Threads");
            ui.add(egui::DragValue::new(&mut self.push.threads).range(1..=64))
                .on_hover_text("Threads for the large matrix products");
        });
        self.push_button_ui(ui, &ctx);
        show_slot(ui, &mut self.push.notice);
    }

    /// What the chosen model file is: a packed model's hash, size and thin paths to tick, a
    /// run to export (returns its folder when "Export to .bkw" is clicked), or why it is
    /// neither.
    fn model_info_ui(&mut self, ui: &mut Ui) -> Option<PathBuf> {
        let mut export = None;
        match &self.push.model_info {
            Some(ModelInfo::Packed {
                hash,
                bytes,
                classes,
                paths,
            }) => {
                ui.label(
                    RichText::new(format!(
                        "{hash} · {:.1} kB · {classes} classes · {} thin path{}",
                        *bytes as f64 / 1e3,
                        paths.len(),
                        if paths.len() == 1 { "" } else { "s" }
                    ))
                    .weak()
                    .small(),
                );
                ui.horizontal_wrapped(|ui| {
                    ui.label("Thin paths");
                    for (i, layers) in paths.iter().enumerate() {
                        let i = i as u32;
                        let mut on = self.push.paths.contains(&i);
                        let label = format!("path {i}");
                        if ui
                            .checkbox(&mut on, label)
                            .on_hover_text(format!(
                                "D-FSMN {}",
                                crate::models::layers_label(layers)
                            ))
                            .changed()
                        {
                            if on {
                                self.push.paths.insert(i);
                            } else {
                                self.push.paths.remove(&i);
                            }
                        }
                    }
                });
            }
            Some(ModelInfo::Run { dir }) => {
                Notice::warning(
                    format!(
                        "{} is a training run; boards run packed models",
                        dir.display()
                    ),
                    "Export it to a .bkw first (saved in the run folder).",
                )
                .show(ui);
                if ui
                    .add_enabled(
                        self.push.export_task.is_none(),
                        egui::Button::new("Export to .bkw"),
                    )
                    .clicked()
                {
                    export = Some(dir.clone());
                }
                if self.push.export_task.is_some() {
                    ui.spinner();
                }
            }
            Some(ModelInfo::Invalid(e)) => {
                Notice::error(
                    e.clone(),
                    "Pick a packed model (.bkw); `bifsmn export` makes one from a training run.",
                )
                .show(ui);
            }
            None => {}
        }
        export
    }

    /// The "Push & bench" button, enabled once a packed model, a board and a path are chosen.
    fn push_button_ui(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        let boards: Vec<String> = self.selected.iter().cloned().collect();
        let ready = matches!(self.push.model_info, Some(ModelInfo::Packed { .. }))
            && !boards.is_empty()
            && !self.push.paths.is_empty()
            && self.deploy.is_none()
            && self.plan_task.is_none();
        ui.horizontal(|ui| {
            let label = match boards.len() {
                0 => "Push & bench".to_string(),
                1 => format!("Push & bench on {}", boards[0]),
                n => format!("Push & bench on {n} boards"),
            };
            let why = if boards.is_empty() {
                "Tick at least one board above."
            } else if !matches!(self.push.model_info, Some(ModelInfo::Packed { .. })) {
                "Choose a packed model (.bkw) first."
            } else if self.push.paths.is_empty() {
                "Tick at least one thin path."
            } else {
                "Upload runner and model (only what changed), bench each thin path, bring the reports back"
            };
            let r = ui
                .add_enabled(ready, egui::Button::new(RichText::new(label).strong()))
                .on_hover_text(why)
                .on_disabled_hover_text(why);
            if r.clicked() {
                self.push_clicked(ctx);
            }
            if self.plan_task.is_some() {
                ui.spinner();
            }
        });
        if !ready && self.deploy.is_none() && boards.is_empty() && self.store.is_some() {
            ui.label(
                RichText::new("Tick at least one board above.")
                    .weak()
                    .small(),
            );
        }
    }

    fn push_clicked(&mut self, ctx: &egui::Context) {
        let Some(model) = self.model_field.path() else {
            return;
        };
        let profiles: Vec<_> = self
            .selected
            .iter()
            .filter_map(|n| self.profile(n))
            .collect();
        let params = DeployParams {
            model,
            paths: self.push.paths.iter().copied().collect(),
            options: BenchOptions {
                runs: self.push.runs.max(1),
                warmup: self.push.warmup,
                threads: self.push.threads.max(1),
            },
        };
        self.start_plan(ctx, profiles, Purpose::Deploy(params));
    }

    /// The progress rows (top of the right side), while a deploy runs and after it.
    pub(super) fn progress_ui(&mut self, ui: &mut Ui) {
        if self.push.rows.is_empty() {
            return;
        }
        let running = self.deploy.is_some();
        ui.horizontal(|ui| {
            ui.label(RichText::new("Push & bench").strong());
            if let Some(d) = &self.deploy {
                ui.label(
                    RichText::new(format!(
                        "{} · paths {} · {} runs after {} warm-up · {:.0} s",
                        d.params
                            .model
                            .file_name()
                            .map(|f| f.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        d.params
                            .paths
                            .iter()
                            .map(|p| p.to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                        d.params.options.runs,
                        d.params.options.warmup,
                        d.started.elapsed().as_secs_f32()
                    ))
                    .weak(),
                );
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if running {
                    let cancelled = self.deploy.as_ref().is_some_and(|d| d.cancelled);
                    if ui
                        .add_enabled(!cancelled, egui::Button::new("Cancel"))
                        .on_hover_text(
                            "Stop every board at its next step; files already on a board keep working",
                        )
                        .clicked()
                        && let Some(d) = self.deploy.as_mut()
                    {
                        d.handle.cancel();
                        d.cancelled = true;
                    }
                } else if ui.button("Clear").clicked() {
                    self.push.rows.clear();
                    self.push.summary = None;
                }
            });
        });
        if self.push.rows.is_empty() {
            return;
        }
        for row in &self.push.rows {
            board_row_ui(ui, row);
        }
        show_slot(ui, &mut self.push.summary);
        ui.separator();
    }
}

fn board_row_ui(ui: &mut Ui, row: &BoardRow) {
    ui.horizontal(|ui| {
        ui.add_sized(
            [110.0, 18.0],
            egui::Label::new(RichText::new(&row.board).strong()).truncate(),
        );
        let failed = matches!(row.result, Some(Err(_)));
        let mut bar = egui::ProgressBar::new(row.fraction)
            .desired_width(260.0)
            .text(&row.stage);
        if failed {
            bar = bar.fill(ui.visuals().error_fg_color.gamma_multiply(0.6));
        } else if row.result.is_none() {
            bar = bar.animate(true);
        }
        ui.add(bar);
        if let Some(f) = &row.facts {
            ui.label(
                RichText::new(format!(
                    "{} · {}{}",
                    f.uname_machine,
                    f.cpu_model.as_deref().unwrap_or("CPU ?"),
                    if f.emulated { " (emulated)" } else { "" }
                ))
                .weak()
                .small(),
            );
        }
    });
    if let Some(Ok(s)) = &row.result {
        let p50: Vec<String> = s
            .p50_by_path()
            .iter()
            .map(|(p, us)| format!("path {p}: {us:.1} µs"))
            .collect();
        let sent = if s.uploaded.is_empty() {
            "nothing sent (up to date)".to_string()
        } else {
            format!(
                "sent {}",
                s.uploaded
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        ui.label(RichText::new(format!("Done: {sent} · p50 {}", p50.join(" · "))).small());
    }
    if let Some(Err(e)) = &row.result {
        let mut n = error_notice(e);
        n.message = format!("{}: {}", row.board, n.message);
        n.show(ui);
    }
    for w in &row.warnings {
        Notice::warning(w.clone(), "").show(ui);
    }
    if !row.output.is_empty() {
        egui::CollapsingHeader::new(
            RichText::new(format!("Runner output ({} lines)", row.output.len())).small(),
        )
        .id_salt(("deploy-output", &row.board))
        .show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt(("deploy-output-scroll", &row.board))
                .max_height(140.0)
                .stick_to_bottom(true)
                .show(ui, |ui| {
                    for l in &row.output {
                        ui.label(RichText::new(l).monospace().small());
                    }
                });
        });
    }
}
