//! The Train panel: configure and control a run (the engine trains on its own thread), watch
//! loss and accuracy live with smoothing and comparison to earlier runs, and look inside the
//! student while it learns: distillation bands and maps, binarizer shapes, activation bits.
//!
//! The UI thread only drains the trainer's event channel (bounded work per frame) and copies
//! the plain data into its views; it never waits for the trainer.

mod binarizers;
mod bits;
pub(crate) mod charts;
mod distill;
pub(crate) mod form;
pub(crate) mod remote;
pub(crate) mod runs;

use std::path::{Path, PathBuf};
use std::time::Instant;

use bifsmn_deploy::train_follow::{FollowHandle, LinkEvent};
use bifsmn_engine::train::{StepMetrics, TrainConfig, TrainEvent, Trainer};
use egui::{RichText, Ui};

pub(crate) use charts::ChartOptions;
pub(crate) use form::TrainForm;
use runs::{RunSeries, SavedRun, run_color};

use crate::model_slot::ModelSlot;
use crate::panels::Panel;
use crate::paths;
use crate::task::{JobStatus, Task, take_done};
use crate::widgets::notice::show_slot;
use crate::widgets::{Notice, PathField, Pick};

/// Events handled per frame at most; the rest wait for the next frame, so a burst after a
/// stall never makes one frame long.
const MAX_EVENTS_PER_FRAME: usize = 500;

/// The sub-views of the panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum View {
    Charts,
    Distillation,
    Binarizers,
    Bits,
}

impl View {
    pub const ALL: [View; 4] = [
        View::Charts,
        View::Distillation,
        View::Binarizers,
        View::Bits,
    ];

    pub fn name(self) -> &'static str {
        match self {
            View::Charts => "Loss & accuracy",
            View::Distillation => "Distillation",
            View::Binarizers => "Binarizers",
            View::Bits => "Activation bits",
        }
    }

    /// Command-line spelling (`--train-view`).
    pub fn parse(s: &str) -> Option<View> {
        match s {
            "charts" => Some(View::Charts),
            "distill" | "distillation" => Some(View::Distillation),
            "binarizers" => Some(View::Binarizers),
            "bits" => Some(View::Bits),
            _ => None,
        }
    }
}

/// Persisted state of the panel.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TrainSettings {
    pub form: TrainForm,
    pub charts: ChartOptions,
    pub view: View,
    /// Earlier runs shown for comparison.
    pub compare: Vec<PathBuf>,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self {
            form: TrainForm::default(),
            charts: ChartOptions::default(),
            view: View::Charts,
            compare: Vec::new(),
        }
    }
}

/// Where a live run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveState {
    Starting,
    Running,
    Paused,
    Stopping,
    Cancelling,
    Finished,
    Cancelled,
    Failed,
}

/// A control the panel sends to a local trainer or over the link to a remote one.
#[derive(Clone, Copy)]
enum Command {
    Pause,
    Resume,
    Stop,
    Cancel,
}

impl LiveRun {
    /// Send `c`; false when nothing is running to take it.
    fn command(&self, c: Command) -> bool {
        if let Some(t) = &self.trainer {
            match c {
                Command::Pause => t.pause(),
                Command::Resume => t.resume(),
                Command::Stop => t.stop(),
                Command::Cancel => t.cancel(),
            }
            return true;
        }
        if let Some(link) = &self.link {
            link.send_control(match c {
                Command::Pause => "pause",
                Command::Resume => "resume",
                Command::Stop => "stop",
                Command::Cancel => "cancel",
            });
            return true;
        }
        false
    }
}

impl LiveState {
    fn active(self) -> bool {
        matches!(
            self,
            Self::Starting | Self::Running | Self::Paused | Self::Stopping | Self::Cancelling
        )
    }
}

/// The run being trained (or just ended).
struct LiveRun {
    trainer: Option<Trainer>,
    /// A run on a saved host: its follower (instead of `trainer`).
    link: Option<FollowHandle>,
    state: LiveState,
    /// Index of its series in `runs`.
    series: usize,
    epochs: usize,
    train_clips: usize,
    last_step: Option<StepMetrics>,
    last_epoch_done: usize,
    started: Instant,
    outcome: Option<String>,
}

/// The Train panel.
pub struct TrainPanel {
    pub(crate) form: TrainForm,
    teacher_field: PathField,
    pub(crate) chart_opts: ChartOptions,
    pub(crate) view: View,
    charts: charts::Charts,
    runs: Vec<RunSeries>,
    live: Option<LiveRun>,
    notice: Option<Notice>,
    log: Vec<String>,
    distill: distill::DistillView,
    binarizers: binarizers::BinarizerView,
    bits: bits::BitsView,
    /// Dataset root and protocol name the next run trains on (from the Data panel).
    dataset: Option<(PathBuf, String)>,
    saved: Vec<SavedRun>,
    scan_task: Option<Task<Vec<SavedRun>>>,
    add_field: PathField,
    add_tasks: Vec<Task<Result<SavedRun, String>>>,
    colors_used: usize,
    /// Saved hosts offered under "Run on".
    hosts: Vec<String>,
    host_files: remote::HostFiles,
}

impl TrainPanel {
    pub(crate) fn new(settings: &TrainSettings, ctx: Option<&egui::Context>) -> Self {
        let mut p = Self {
            form: settings.form.clone(),
            teacher_field: form::teacher_field(),
            chart_opts: settings.charts.clone(),
            view: settings.view,
            charts: charts::Charts::default(),
            runs: Vec::new(),
            live: None,
            notice: None,
            log: Vec::new(),
            distill: Default::default(),
            binarizers: Default::default(),
            bits: Default::default(),
            dataset: None,
            saved: Vec::new(),
            scan_task: None,
            add_field: PathField::new("", Pick::Folder),
            add_tasks: Vec::new(),
            colors_used: 0,
            hosts: remote::saved_hosts(&remote::HostFiles::default()),
            host_files: remote::HostFiles::default(),
        };
        if let Some(ctx) = ctx {
            p.rescan(ctx);
            for dir in &settings.compare {
                p.add_run(ctx, dir.clone());
            }
        }
        p
    }

    pub(crate) fn settings(&self) -> TrainSettings {
        TrainSettings {
            form: self.form.clone(),
            charts: self.chart_opts.clone(),
            view: self.view,
            compare: self
                .runs
                .iter()
                .filter(|r| !r.live)
                .map(|r| r.dir.clone())
                .collect(),
        }
    }

    /// The dataset the next run uses.
    pub(crate) fn set_dataset(&mut self, root: &Path, protocol: &str) {
        self.dataset = Some((root.to_path_buf(), protocol.to_string()));
    }

    /// Take the saved hosts from `files.boards`, upload `files.cli_binary` and copy
    /// checkpoints under `files.runs` (tests).
    pub fn use_host_files(&mut self, files: remote::HostFiles) {
        self.hosts = remote::saved_hosts(&files);
        self.host_files = files;
    }

    /// Look for runs in the workbench's runs folder (for comparison and the teacher list).
    pub(crate) fn rescan(&mut self, ctx: &egui::Context) {
        self.hosts = remote::saved_hosts(&self.host_files);
        if self.scan_task.is_none() {
            self.scan_task = Some(Task::spawn("scan runs", ctx, |_| {
                runs::scan_runs(&paths::runs_dir())
            }));
        }
    }

    /// Load an earlier run's history for comparison.
    pub(crate) fn add_run(&mut self, ctx: &egui::Context, dir: PathBuf) {
        if self.runs.iter().any(|r| r.dir == dir) {
            return;
        }
        self.add_tasks
            .push(Task::spawn("load run", ctx, move |_| runs::read_run(&dir)));
    }

    pub fn is_active(&self) -> bool {
        self.live.as_ref().is_some_and(|l| l.state.active())
    }

    /// Chart points of the live run (tests and scripts wait on this).
    pub fn live_points(&self) -> usize {
        self.live
            .as_ref()
            .and_then(|l| self.runs.get(l.series))
            .map_or(0, RunSeries::points)
    }

    /// Epochs the live run has finished.
    pub fn live_epochs(&self) -> usize {
        self.live.as_ref().map_or(0, |l| l.last_epoch_done)
    }

    /// The live run's state.
    pub fn live_state(&self) -> Option<LiveState> {
        self.live.as_ref().map(|l| l.state)
    }

    /// Start training with the form's settings.
    pub(crate) fn start(&mut self, _ctx: &egui::Context) {
        if self.is_active() {
            return;
        }
        if !self.form.run_on.is_empty() {
            self.start_remote(false);
            return;
        }
        let Some((root, protocol)) = self.dataset.clone() else {
            self.notice = Some(Notice::error(
                "no dataset is open",
                "Open a dataset (or the demo set) in the Data panel first.",
            ));
            return;
        };
        if self.form.run_dir.trim().is_empty() {
            self.form.new_run_dir();
        }
        let config = match self.form.to_config(&root, &protocol) {
            Ok(c) => c,
            Err(n) => {
                self.notice = Some(n);
                return;
            }
        };
        self.start_with(config, self.form.resume);
    }

    /// Start a run from a full config (also used by `--train-config`).
    pub(crate) fn start_with(&mut self, config: TrainConfig, resume: bool) {
        let name = config.run_dir.file_name().map_or_else(
            || config.run_dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let role = format!("{:?}", config.role).to_lowercase();
        self.log.clear();
        self.log.push(format!(
            "starting {role} run in {}",
            config.run_dir.display()
        ));
        let (dir, epochs) = (config.run_dir.clone(), config.epochs);
        self.begin_live(name, dir, role, epochs);
        if let Some(l) = &mut self.live {
            l.trainer = Some(Trainer::spawn(config, resume));
        }
    }

    /// Start the form's run on the host chosen under "Run on" (or, with `attach`, follow the
    /// run already going in its run folder there).
    fn start_remote(&mut self, attach: bool) {
        if self.is_active() {
            return;
        }
        if self.form.run_dir.trim().is_empty() && !attach {
            self.form.new_run_dir();
        }
        let protocol = self
            .dataset
            .as_ref()
            .map_or_else(|| "12".to_string(), |(_, p)| p.clone());
        let started = match remote::start_remote(&self.form, &protocol, attach, &self.host_files) {
            Ok(s) => s,
            Err(n) => {
                self.notice = Some(n);
                return;
            }
        };
        let role = format!("{:?}", self.form.role).to_lowercase();
        self.log.clear();
        self.log.push(format!(
            "{} {role} run on {} in {}; checkpoints come to {}",
            if attach {
                "attaching to the"
            } else {
                "starting a"
            },
            self.form.run_on,
            self.form.run_dir.trim(),
            started.local_dir.display()
        ));
        let epochs = self.form.epochs;
        self.begin_live(started.name, started.local_dir, role, epochs);
        if let Some(l) = &mut self.live {
            l.link = Some(started.handle);
        }
    }

    /// A new live run in the charts (its trainer or follower is attached by the caller).
    fn begin_live(&mut self, name: String, dir: PathBuf, role: String, epochs: usize) {
        self.notice = None;
        self.distill.clear();
        self.binarizers.clear();
        self.bits.clear();
        for r in &mut self.runs {
            r.live = false;
        }
        // A resumed run replaces its own earlier entry.
        self.runs.retain(|r| r.dir != dir);
        let mut series = RunSeries::new(name, dir, role, run_color(self.colors_used));
        self.colors_used += 1;
        series.live = true;
        self.runs.push(series);
        self.live = Some(LiveRun {
            trainer: None,
            link: None,
            state: LiveState::Starting,
            series: self.runs.len() - 1,
            epochs,
            train_clips: 0,
            last_step: None,
            last_epoch_done: 0,
            started: Instant::now(),
            outcome: None,
        });
    }

    /// Ctrl+P: pause or resume.
    pub(crate) fn toggle_pause(&mut self) {
        let Some(l) = &mut self.live else {
            return;
        };
        match l.state {
            LiveState::Running | LiveState::Starting => {
                l.command(Command::Pause);
            }
            LiveState::Paused => {
                l.command(Command::Resume);
            }
            _ => {}
        }
    }

    fn stop(&mut self) {
        if let Some(l) = &mut self.live
            && l.command(Command::Stop)
        {
            l.state = LiveState::Stopping;
        }
    }

    fn cancel(&mut self) {
        if let Some(l) = &mut self.live
            && l.command(Command::Cancel)
        {
            l.state = LiveState::Cancelling;
        }
    }

    /// Drain the trainer's events and collect finished background jobs.
    fn poll_work(&mut self, ctx: &egui::Context) {
        if let Some(Ok(found)) = take_done(&mut self.scan_task) {
            self.saved = found;
        }
        let mut i = 0;
        while i < self.add_tasks.len() {
            match self.add_tasks[i].poll() {
                crate::task::Poll::Pending => i += 1,
                crate::task::Poll::Done(r) => {
                    self.add_tasks.remove(i);
                    match r {
                        Ok(saved) => {
                            if !self.runs.iter().any(|r| r.dir == saved.dir) {
                                let s = saved.to_series(run_color(self.colors_used));
                                self.colors_used += 1;
                                self.runs.push(s);
                            }
                        }
                        Err(e) => {
                            self.notice = Some(Notice::error(
                                e,
                                "Choose a run folder that has a checkpoint.json (a run that finished at least one epoch).",
                            ))
                        }
                    }
                }
                crate::task::Poll::Lost => {
                    self.add_tasks.remove(i);
                }
            }
        }
        self.drain_events(ctx);
    }

    fn drain_events(&mut self, ctx: &egui::Context) {
        let Some(live) = &mut self.live else {
            return;
        };
        let mut ended = false;
        let events: Vec<TrainEvent> = if let Some(trainer) = &live.trainer {
            trainer
                .events()
                .try_iter()
                .take(MAX_EVENTS_PER_FRAME)
                .collect()
        } else if let Some(link) = &live.link {
            let link_events: Vec<LinkEvent> = link
                .events()
                .try_iter()
                .take(MAX_EVENTS_PER_FRAME)
                .collect();
            let mut out = Vec::new();
            for e in link_events {
                match remote::link_event(e, &mut self.log) {
                    Ok(Some(ev)) => out.push(ev),
                    Ok(None) => {}
                    Err(n) => {
                        live.state = LiveState::Failed;
                        self.notice = Some(n);
                        ended = true;
                    }
                }
            }
            out
        } else {
            return;
        };
        for ev in events {
            let series = &mut self.runs[live.series];
            match ev {
                TrainEvent::Started {
                    epochs,
                    train_clips,
                    validation_clips,
                    paths,
                    resumed_from,
                    history,
                    ..
                } => {
                    live.state = LiveState::Running;
                    live.epochs = epochs;
                    live.train_clips = train_clips;
                    series.path_layers = paths;
                    for e in &history {
                        series.push_epoch(e);
                    }
                    live.last_epoch_done = history.last().map_or(0, |e| e.epoch);
                    self.log.push(match resumed_from {
                        Some(e) => format!("resumed after epoch {e}: {train_clips} training and {validation_clips} validation clips"),
                        None => format!("started: {train_clips} training and {validation_clips} validation clips"),
                    });
                }
                TrainEvent::Step(s) => {
                    series.push_step(&s);
                    live.last_step = Some(s);
                }
                TrainEvent::Epoch(e) => {
                    let acc = e.validation.first().map_or(0.0, |m| m.accuracy);
                    let phases = e
                        .phases
                        .shares()
                        .map(|s| format!(" (step time: {s})"))
                        .unwrap_or_default();
                    self.log.push(format!(
                        "epoch {}: validation accuracy {:.1} % (path 0), {:.0} s, {:.0} clips/s{phases}",
                        e.epoch,
                        100.0 * acc,
                        e.seconds,
                        e.clips_per_sec
                    ));
                    live.last_epoch_done = e.epoch;
                    series.push_epoch(&e);
                }
                TrainEvent::Distill(d) => self.distill.push(d),
                TrainEvent::Binarizers(b) => self.binarizers.push(b),
                TrainEvent::Bits(b) => self.bits.push(b),
                TrainEvent::Checkpoint { epoch, path, best } => self.log.push(format!(
                    "saved {}epoch {epoch}: {path}",
                    if best { "best model, " } else { "" }
                )),
                TrainEvent::Paused => live.state = LiveState::Paused,
                TrainEvent::Resumed => {
                    if live.state == LiveState::Paused {
                        live.state = LiveState::Running;
                    }
                }
                TrainEvent::Log(s) => self.log.push(s),
                TrainEvent::Finished {
                    epochs_done,
                    best_epoch,
                    best_validation,
                    checkpoint,
                } => {
                    live.state = LiveState::Finished;
                    let best = match (best_epoch, best_validation) {
                        (Some(e), Some(a)) => {
                            format!("; best validation accuracy {:.1} % at epoch {e}", 100.0 * a)
                        }
                        _ => String::new(),
                    };
                    live.outcome = Some(format!(
                        "Finished after {epochs_done} epochs{best}. Model: {checkpoint}"
                    ));
                    ended = true;
                }
                TrainEvent::Cancelled { epochs_done } => {
                    live.state = LiveState::Cancelled;
                    live.outcome = Some(format!(
                        "Cancelled; {epochs_done} complete epochs are saved (tick Resume to continue)."
                    ));
                    ended = true;
                }
                TrainEvent::Error(e) => {
                    live.state = LiveState::Failed;
                    self.notice = Some(Notice::error(e.clone(), train_error_hint(&e)));
                    ended = true;
                }
            }
        }
        // Join only a thread that has already ended: dropping a running Trainer would wait.
        if !live.state.active() && live.trainer.as_ref().is_some_and(Trainer::is_finished) {
            live.trainer = None;
        }
        if !live.state.active() && live.link.as_ref().is_some_and(FollowHandle::is_finished) {
            live.link = None;
        }
        if ended {
            let dir = self.runs[live.series].dir.clone();
            // The folder now holds this run; the next Start gets a fresh one (resume stays
            // possible by typing it back and ticking Resume).
            if self.form.run_dir.trim() == dir.display().to_string() {
                self.form.new_run_dir();
            }
            self.rescan(ctx);
        }
    }

    /// Draw the panel (see [`Panel::ui`]).
    fn draw(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        self.poll_work(&ctx);
        egui::Panel::left("train-left")
            .resizable(true)
            .default_size(380.0)
            .size_range(300.0..=560.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("train-left-scroll")
                    .show(ui, |ui| self.left(ui));
            });
        egui::CentralPanel::default().show(ui, |ui| self.views(ui));
    }

    fn left(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        ui.heading("Training run");
        match &self.dataset {
            Some((root, protocol)) => ui.label(
                RichText::new(format!("Dataset: {} (protocol {protocol})", root.display())).weak(),
            ),
            None => ui.label(RichText::new("Open a dataset in the Data panel first.").weak()),
        };
        let teachers: Vec<PathBuf> = self
            .saved
            .iter()
            .filter(|r| r.role == "teacher")
            .map(|r| r.dir.clone())
            .collect();
        let active = self.is_active();
        remote::run_on_ui(ui, &mut self.form, &self.hosts, active);
        self.form.ui(ui, &mut self.teacher_field, &teachers, active);
        ui.add_space(6.0);
        self.controls(ui, &ctx);
        show_slot(ui, &mut self.notice);
        ui.separator();
        self.runs_ui(ui, &ctx);
        ui.separator();
        egui::CollapsingHeader::new("Log")
            .id_salt("train-log")
            .default_open(true)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("train-log-scroll")
                    .max_height(160.0)
                    .stick_to_bottom(true)
                    .show(ui, |ui| {
                        for l in &self.log {
                            ui.label(RichText::new(l).small().monospace());
                        }
                    });
            });
    }

    fn controls(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        let state = self.live.as_ref().map(|l| l.state);
        let active = self.is_active();
        ui.horizontal_wrapped(|ui| {
            if ui
                .add_enabled(!active, egui::Button::new(RichText::new("Start").strong()))
                .on_hover_text("Start training (Ctrl+Enter)")
                .clicked()
            {
                self.start(ctx);
            }
            if !self.form.run_on.is_empty()
                && ui
                    .add_enabled(!active, egui::Button::new("Attach"))
                    .on_hover_text(
                        "Follow the run already going on the host in this run folder (after a \
                         restart); its charts are replayed from the start",
                    )
                    .clicked()
            {
                self.start_remote(true);
            }
            let paused = state == Some(LiveState::Paused);
            let can_pause = matches!(state, Some(LiveState::Running | LiveState::Paused));
            if ui
                .add_enabled(
                    can_pause,
                    egui::Button::new(if paused { "Resume" } else { "Pause" }),
                )
                .on_hover_text("Pause or resume between steps (Ctrl+P)")
                .clicked()
            {
                self.toggle_pause();
            }
            if ui
                .add_enabled(
                    matches!(
                        state,
                        Some(LiveState::Running | LiveState::Paused | LiveState::Starting)
                    ),
                    egui::Button::new("Stop"),
                )
                .on_hover_text("Finish the current epoch, validate and save, then end")
                .clicked()
            {
                self.stop();
            }
            if ui
                .add_enabled(
                    active && state != Some(LiveState::Cancelling),
                    egui::Button::new("Cancel"),
                )
                .on_hover_text("End now; the last saved checkpoint stays valid")
                .clicked()
            {
                self.cancel();
            }
        });
        let Some(l) = &self.live else {
            return;
        };
        let state_text = match l.state {
            LiveState::Starting => "starting (loading data and models)…",
            LiveState::Running => "running",
            LiveState::Paused => "paused",
            LiveState::Stopping => "stopping after this epoch…",
            LiveState::Cancelling => "cancelling…",
            LiveState::Finished => "finished",
            LiveState::Cancelled => "cancelled",
            LiveState::Failed => "failed",
        };
        ui.label(format!("State: {state_text}"));
        if let Some(s) = &l.last_step {
            let done = (s.epoch - 1) as f32 + s.step as f32 / s.steps_per_epoch.max(1) as f32;
            let frac = done / l.epochs.max(1) as f32;
            let elapsed = l.started.elapsed().as_secs_f32();
            let eta = if frac > 0.0 && l.state.active() {
                format!(
                    " · about {} left",
                    fmt_duration(elapsed * (1.0 - frac) / frac)
                )
            } else {
                String::new()
            };
            ui.add(
                egui::ProgressBar::new(frac)
                    .desired_width(300.0)
                    .text(format!(
                        "epoch {}/{} · step {}/{}",
                        s.epoch, l.epochs, s.step, s.steps_per_epoch
                    )),
            );
            let losses: Vec<String> = s
                .paths
                .iter()
                .map(|p| format!("{}L {:.3} / {:.1} %", p.layers, p.loss, 100.0 * p.accuracy))
                .collect();
            ui.label(RichText::new(format!("loss / acc: {}", losses.join(" · "))).small());
            ui.label(
                RichText::new(format!(
                    "lr {:.4} · {:.0} clips/s · {} training clips{eta}",
                    s.lr, s.clips_per_sec, l.train_clips
                ))
                .small()
                .weak(),
            );
        }
        if let Some(o) = &l.outcome {
            ui.label(RichText::new(o).strong());
        }
    }

    fn runs_ui(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        ui.label(RichText::new("Runs in the charts").strong());
        let mut remove = None;
        for (i, r) in self.runs.iter_mut().enumerate() {
            ui.horizontal(|ui| {
                charts::swatch(ui, r.color);
                ui.checkbox(&mut r.visible, "")
                    .accessible_name(format!("show {}", r.name))
                    .on_hover_text("Show in the charts");
                let best = r.best().map_or(String::new(), |(e, a)| {
                    format!(" · best {:.1} % @{e}", 100.0 * a)
                });
                let live = if r.live { " (live)" } else { "" };
                ui.label(format!("{}{live} · {}{best}", r.name, r.role))
                    .on_hover_text(r.dir.display().to_string());
                if !r.live
                    && ui
                        .small_button("×")
                        .on_hover_text("Remove from the charts")
                        .clicked()
                {
                    remove = Some(i);
                }
            });
        }
        if let Some(i) = remove {
            self.runs.remove(i);
            if let Some(l) = &mut self.live
                && l.series > i
            {
                l.series -= 1;
            }
        }
        ui.add_space(4.0);
        let ev = self.add_field.ui(ui, "Compare", "run folder", 180.0);
        if ev.chosen()
            && let Some(p) = self.add_field.path()
        {
            self.add_run(ctx, p);
        }
        let shown: Vec<PathBuf> = self.runs.iter().map(|r| r.dir.clone()).collect();
        let candidates: Vec<(PathBuf, String)> = self
            .saved
            .iter()
            .filter(|s| !shown.contains(&s.dir))
            .map(|s| {
                (
                    s.dir.clone(),
                    format!(
                        "{} · {} · {}/{} epochs",
                        s.name(),
                        s.role,
                        s.epochs_done,
                        s.epochs
                    ),
                )
            })
            .collect();
        if !candidates.is_empty() {
            egui::CollapsingHeader::new(format!("Earlier runs ({})", candidates.len()))
                .id_salt("earlier-runs")
                .show(ui, |ui| {
                    let mut add = None;
                    for (dir, text) in candidates {
                        ui.horizontal(|ui| {
                            if ui
                                .small_button("+")
                                .on_hover_text("Add to the charts")
                                .clicked()
                            {
                                add = Some(dir.clone());
                            }
                            ui.label(text).on_hover_text(dir.display().to_string());
                        });
                    }
                    if let Some(d) = add {
                        self.add_run(ctx, d);
                    }
                });
        }
        if ui.small_button("Rescan runs folder").clicked() {
            self.rescan(ctx);
        }
    }

    fn views(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            for v in View::ALL {
                ui.selectable_value(&mut self.view, v, v.name());
            }
        });
        ui.separator();
        match self.view {
            View::Charts => {
                ui.horizontal_wrapped(|ui| {
                    let l = ui.label("Smoothing");
                    ui.add(egui::Slider::new(&mut self.chart_opts.smoothing, 0.0..=0.99))
                        .labelled_by(l.id)
                        .on_hover_text("TensorBoard's exponential moving average; the raw curve stays faint behind");
                    ui.separator();
                    ui.label("Thin paths");
                    for (p, label) in ["8 layers", "4 layers", "2 layers", "1 layer"].iter().enumerate() {
                        ui.checkbox(&mut self.chart_opts.paths[p], *label);
                    }
                    ui.weak("(solid, dashed, dotted, short dashes)");
                });
                if self.runs.iter().all(|r| r.points() == 0) {
                    ui.add_space(20.0);
                    ui.label("Start a run, or add an earlier run on the left, to see its curves.");
                } else {
                    self.charts.ui(ui, &self.runs, &self.chart_opts);
                }
            }
            View::Distillation => {
                egui::ScrollArea::vertical()
                    .id_salt("distill-scroll")
                    .show(ui, |ui| self.distill.ui(ui));
            }
            View::Binarizers => {
                egui::ScrollArea::vertical()
                    .id_salt("binarizer-scroll")
                    .show(ui, |ui| self.binarizers.ui(ui));
            }
            View::Bits => self.bits.ui(ui),
        }
    }
}

fn fmt_duration(secs: f32) -> String {
    let s = secs.max(0.0) as u64;
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// What to do about a training error.
fn train_error_hint(e: &str) -> String {
    if e.contains("teacher") {
        "Check the teacher run folder: it must be a finished FP32 teacher trained on the same classes.".into()
    } else if e.contains("learning rate") || e.contains("loss became") {
        "Lower the learning rate and start a new run.".into()
    } else if e.contains("already has a checkpoint") || e.contains("different model") {
        "Press New for a fresh run folder, or tick Resume with the same settings.".into()
    } else if e.contains("dataset") {
        "Check the dataset in the Data panel (it must open there without errors).".into()
    } else {
        "Fix the problem named above and start again; completed epochs are saved and can be resumed.".into()
    }
}

impl Panel for TrainPanel {
    fn poll(&mut self, ctx: &egui::Context, _model: &ModelSlot) {
        self.poll_work(ctx);
    }

    /// Background jobs for the status bar.
    fn jobs(&self, out: &mut Vec<JobStatus>) {
        if let Some(l) = &self.live
            && l.state.active()
        {
            let (label, fraction) = match &l.last_step {
                Some(s) => (
                    format!(
                        "training {} · epoch {}/{}{}",
                        self.runs.get(l.series).map_or("", |r| r.name.as_str()),
                        s.epoch,
                        l.epochs,
                        match l.state {
                            LiveState::Paused => " · paused",
                            LiveState::Stopping => " · stopping after this epoch",
                            _ => "",
                        }
                    ),
                    Some(
                        ((s.epoch - 1) as f32 + s.step as f32 / s.steps_per_epoch.max(1) as f32)
                            / l.epochs.max(1) as f32,
                    ),
                ),
                None => ("training: starting".to_string(), None),
            };
            out.push(JobStatus { label, fraction });
        }
        out.extend(self.scan_task.as_ref().map(Task::status));
        out.extend(self.add_tasks.iter().map(Task::status));
    }

    fn live(&self) -> bool {
        self.is_active()
    }

    fn ui(&mut self, ui: &mut Ui, _model: &mut ModelSlot) {
        self.draw(ui);
    }
}
