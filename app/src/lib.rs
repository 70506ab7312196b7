//! # bifsmn-app: the BiFSMN Workbench GUI
//!
//! [`Workbench`] is the whole user interface, drawn into any [`egui::Ui`]; `main.rs` only
//! wraps it in an eframe window, and the tests drive it headlessly with egui_kittest.
//!
//! Panels (one module each in [`panels`]): **Data** (datasets, clips, playback, relabel and
//! delete, any audio file, classification), **Train** (form, live charts with smoothing and
//! run comparison, distillation, binarizer and activation-bit views) and **Inspect** (per
//! layer table and binary activations of a packed model), **Test** (microphone, recording,
//! live detection, confusion matrix) and **Deploy** (boards, push and bench over SSH,
//! reports and history).
//!
//! The UI thread owns view state only. Training, decoding, dataset scans, downloads, model
//! loading and file dialogs run on other threads ([`task`], the engine's trainer thread, the
//! [`playback`] thread) and report over channels that are drained once per frame.

pub mod bench_history;
pub mod clip_view;
pub mod launch;
pub mod models;
pub mod panels;
pub mod paths;
pub mod playback;
pub mod shortcuts;
pub mod smoothing;
pub mod task;
pub mod widgets;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui::{RichText, Ui};

pub use launch::LaunchOptions;
use panels::data::{DataPanel, DataSettings};
use panels::deploy::{DeployPanel, DeploySettings};
use panels::inspect::{InspectPanel, InspectSettings};
use panels::test::{TestPanel, TestSettings};
use panels::train::{TrainPanel, TrainSettings};
use shortcuts::Action;
use task::JobStatus;
use widgets::Notice;

/// The panels, in navigation order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Panel {
    #[default]
    Data,
    Train,
    Inspect,
    Test,
    Deploy,
}

impl Panel {
    pub const ALL: [Panel; 5] = [
        Panel::Data,
        Panel::Train,
        Panel::Inspect,
        Panel::Test,
        Panel::Deploy,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Panel::Data => "Data",
            Panel::Train => "Train",
            Panel::Inspect => "Inspect",
            Panel::Test => "Test",
            Panel::Deploy => "Deploy",
        }
    }

    pub fn parse(s: &str) -> Option<Panel> {
        Panel::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
    }
}

/// Everything remembered between launches (eframe persistence).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    pub panel: Panel,
    pub dark: bool,
    pub data: DataSettings,
    pub train: TrainSettings,
    pub inspect: InspectSettings,
    pub test: TestSettings,
    pub deploy: DeploySettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            panel: Panel::Data,
            dark: true,
            data: DataSettings::default(),
            train: TrainSettings::default(),
            inspect: InspectSettings::default(),
            test: TestSettings::default(),
            deploy: DeploySettings::default(),
        }
    }
}

/// The whole workbench.
pub struct Workbench {
    pub panel: Panel,
    pub dark: bool,
    pub data: DataPanel,
    pub train: TrainPanel,
    pub inspect: InspectPanel,
    pub test: TestPanel,
    pub deploy: DeployPanel,
    help_open: bool,
    /// A problem with the launch options, shown once.
    launch_notice: Option<Notice>,
    /// Start training once the dataset is open (`--start-training` without a config).
    start_when_ready: bool,
    /// `--start-finetune`: start Teach it my voice's fine-tune once it can start.
    finetune_when_ready: bool,
    theme_applied: Option<bool>,
    /// Time spent in the last frame's `ui` (shown in the status bar).
    last_ui_time: Duration,
}

impl Workbench {
    /// Build the UI from remembered settings and launch options. Starts the initial dataset
    /// scan (and whatever the options ask for) in the background.
    pub fn new(ctx: &egui::Context, stored: Option<Settings>, launch: &LaunchOptions) -> Self {
        let mut s = stored.unwrap_or_default();
        if let Some(d) = &launch.dataset {
            s.data.root = Some(d.clone());
        }
        if let Some(p) = launch.panel {
            s.panel = p;
        }
        if let Some(v) = launch.train_view {
            s.train.view = v;
        }
        if let Some(v) = launch.test_view {
            s.test.view = v;
        }
        if let Some(t) = &launch.takes {
            s.test.teach.takes = t.display().to_string();
        }
        if let Some(d) = launch.dark {
            s.dark = d;
        }
        let mut wb = Self {
            panel: s.panel,
            dark: s.dark,
            data: DataPanel::new(&s.data),
            train: TrainPanel::new(&s.train, Some(ctx)),
            inspect: InspectPanel::new(&s.inspect),
            test: TestPanel::new(&s.test),
            deploy: DeployPanel::new(&s.deploy),
            help_open: false,
            launch_notice: None,
            start_when_ready: false,
            finetune_when_ready: launch.start_finetune,
            theme_applied: None,
            last_ui_time: Duration::ZERO,
        };
        wb.data.open_dataset(ctx);
        for run in &launch.demo_train_runs {
            wb.train.add_run(ctx, run.clone());
        }
        if let Some(m) = &launch.model {
            wb.test.load_model(ctx, Some(m.clone()));
            wb.inspect.load_model(ctx, Some(m.clone()));
        } else if !s.inspect.model.trim().is_empty() {
            wb.inspect.load_model(ctx, None);
        }
        if let Some(file) = &launch.train_config {
            match read_train_config(file) {
                Ok(config) => {
                    wb.train.form = panels::train::TrainForm::from_config(&config);
                    if launch.start_training {
                        wb.train.start_with(config, false);
                    }
                }
                Err(e) => {
                    wb.launch_notice = Some(Notice::error(
                        e,
                        "Pass a TrainConfig JSON (a run's run.json is one).",
                    ))
                }
            }
        } else if launch.start_training {
            wb.start_when_ready = true;
        }
        wb
    }

    /// What to remember.
    pub fn settings(&self) -> Settings {
        Settings {
            panel: self.panel,
            dark: self.dark,
            data: self.data.settings(),
            train: self.train.settings(),
            inspect: self.inspect.settings(),
            test: self.test.settings(),
            deploy: self.deploy.settings(),
        }
    }

    /// All running background jobs.
    pub fn jobs(&self) -> Vec<JobStatus> {
        let mut out = Vec::new();
        self.train.jobs(&mut out);
        self.data.jobs(&mut out);
        self.inspect.jobs(&mut out);
        self.test.jobs(&mut out);
        self.deploy.jobs(&mut out);
        out
    }

    /// Whether loading work is still going on (screenshots wait for it; training does not
    /// count, it goes on for minutes).
    pub fn loading(&self) -> bool {
        self.data.dataset().is_none() && self.launch_notice.is_none()
            || self.data.busy() && !self.data.player.is_playing_any()
            || self.inspect.busy()
            || self.test.busy()
            || self.deploy.busy()
            // `--start-finetune` asked for a fine-tune that has not started yet.
            || self.finetune_when_ready
    }

    /// Draw the whole UI (and handle shortcuts and background results).
    pub fn ui(&mut self, ui: &mut Ui) {
        let started = Instant::now();
        let ctx = ui.ctx().clone();
        if self.theme_applied != Some(self.dark) {
            ctx.set_theme(if self.dark {
                egui::ThemePreference::Dark
            } else {
                egui::ThemePreference::Light
            });
            self.theme_applied = Some(self.dark);
        }
        // Keep every panel's background work flowing whichever panel is visible.
        self.data.poll(&ctx);
        self.train.poll(&ctx);
        self.sync_panels(&ctx);
        self.inspect.poll(&ctx);
        self.test.poll(&ctx);
        self.deploy.poll(&ctx);
        self.shortcuts(&ctx);

        egui::Panel::top("nav").show(ui, |ui| self.nav_bar(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            if let Some(n) = &self.launch_notice
                && n.show(ui)
            {
                self.launch_notice = None;
            }
            match self.panel {
                Panel::Data => self.data.ui(ui),
                Panel::Train => self.train.ui(ui),
                Panel::Inspect => self.inspect.ui(ui),
                Panel::Test => self.test.ui(ui),
                Panel::Deploy => self.deploy.ui(ui),
            }
        });
        // "Deploy it…" in the Test panel: show the Deploy panel with that model chosen.
        if let Some(model) = self.test.take_deploy_request() {
            self.deploy.choose_model(model);
            self.panel = Panel::Deploy;
        }
        if self.help_open {
            egui::Window::new("Keyboard shortcuts")
                .open(&mut self.help_open)
                .collapsible(false)
                .resizable(false)
                .show(&ctx, shortcuts::help_ui);
        }
        // Frames while work runs: charts and progress move without input. The trainer's
        // events come a few times a second; 20 frames per second show them promptly.
        if self.train.is_active() || self.data.player.is_playing_any() || self.test.is_live() {
            ctx.request_repaint_after(Duration::from_millis(50));
        } else if self.data.busy() || self.inspect.busy() || self.test.busy() || self.deploy.busy()
        {
            ctx.request_repaint_after(Duration::from_millis(100));
        }
        self.last_ui_time = started.elapsed();
    }

    /// Hand the Data panel's dataset and selection to the other panels.
    fn sync_panels(&mut self, ctx: &egui::Context) {
        if let Some(ds) = self.data.dataset() {
            self.train.set_dataset(&ds.root, ds.protocol.name());
            if self.start_when_ready {
                self.start_when_ready = false;
                self.train.start(ctx);
            }
        }
        if self.finetune_when_ready && self.test.start_finetune_if_ready(ctx) {
            self.finetune_when_ready = false;
        }
        self.inspect
            .set_clip(self.data.dataset().cloned(), self.data.selected_clip());
        self.test
            .set_dataset(self.data.dataset().cloned(), self.data.is_demo());
        if self.test.take_dataset_changed() {
            self.data.rescan(ctx);
        }
        self.deploy.set_model(self.inspect.model_path());
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        let typing = ctx.egui_wants_keyboard_input();
        for action in shortcuts::pressed(ctx, typing) {
            match action {
                Action::ShowData => self.panel = Panel::Data,
                Action::ShowTrain => self.panel = Panel::Train,
                Action::ShowInspect => self.panel = Panel::Inspect,
                Action::ShowTest => self.panel = Panel::Test,
                Action::ShowDeploy => self.panel = Panel::Deploy,
                Action::PlayStop => self.data.toggle_playback(),
                Action::PreviousClip if self.panel == Panel::Data => {
                    self.data.select_relative(ctx, -1)
                }
                Action::NextClip if self.panel == Panel::Data => self.data.select_relative(ctx, 1),
                Action::DeleteClip if self.panel == Panel::Data => self.data.trash_selected(ctx),
                Action::Undo if self.panel == Panel::Data => self.data.undo_last(ctx),
                Action::OpenAudioFile => {
                    self.panel = Panel::Data;
                    self.data.open_file_dialog(ctx);
                }
                Action::StartTraining => {
                    self.panel = Panel::Train;
                    self.train.start(ctx);
                }
                Action::PauseTraining => self.train.toggle_pause(),
                Action::ToggleTheme => self.dark = !self.dark,
                Action::Help => self.help_open = !self.help_open,
                _ => {}
            }
        }
    }

    fn nav_bar(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            ui.label(RichText::new("BiFSMN Workbench").strong().size(16.0));
            ui.add_space(16.0);
            for (i, p) in Panel::ALL.into_iter().enumerate() {
                let r = ui
                    .selectable_label(self.panel == p, RichText::new(p.name()).size(15.0))
                    .on_hover_text(format!("Ctrl+{}", i + 1));
                if r.clicked() {
                    self.panel = p;
                }
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui
                    .button("?")
                    .on_hover_text("Keyboard shortcuts (F1)")
                    .clicked()
                {
                    self.help_open = !self.help_open;
                }
                let theme = if self.dark {
                    "Light theme"
                } else {
                    "Dark theme"
                };
                if ui
                    .button(theme)
                    .on_hover_text("Switch the theme (Ctrl+T)")
                    .clicked()
                {
                    self.dark = !self.dark;
                }
            });
        });
    }

    fn status_bar(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            let jobs = self.jobs();
            if jobs.is_empty() {
                ui.weak("Ready");
            }
            for j in &jobs {
                match j.fraction {
                    Some(f) => {
                        ui.add(
                            egui::ProgressBar::new(f)
                                .desired_width(110.0)
                                .text(format!("{:.0} %", 100.0 * f)),
                        );
                    }
                    None => {
                        ui.spinner();
                    }
                }
                ui.label(&j.label);
                ui.separator();
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.weak(format!(
                    "UI {:.1} ms/frame",
                    self.last_ui_time.as_secs_f64() * 1e3
                ))
                .on_hover_text("Time spent building the last frame (rendering not included)");
            });
        });
    }
}

fn read_train_config(path: &PathBuf) -> Result<bifsmn_engine::train::TrainConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not a TrainConfig: {e}", path.display()))
}
