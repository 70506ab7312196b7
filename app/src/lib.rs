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
//! reports and history). Each implements [`panels::Panel`] (`poll`, `jobs`, `busy`, `live`,
//! `ui`), which the workbench calls on all of them every frame; where one panel hands
//! something to another (the dataset, the Test panel's "Deploy it…") the workbench does it
//! by name in `sync_panels`. The model Data, Inspect, Test and Deploy work with is one
//! [`model_slot::ModelSlot`] the workbench owns.
//!
//! Only what `main.rs` and the tests in `app/tests` use is public: [`Workbench`],
//! [`Settings`], [`LaunchOptions`], [`PanelId`] and the names in [`test_support`].
//!
//! The UI thread owns view state only. Training, decoding, dataset scans, downloads, model
//! loading and file dialogs run on other threads ([`task`], the engine's trainer thread, the
//! [`playback`] thread) and report over channels that are drained once per frame.

mod bench_history;
mod clip_view;
pub mod launch;
mod model_slot;
mod models;
mod panels;
mod paths;
mod playback;
mod shortcuts;
mod smoothing;
mod task;
pub mod test_support;
mod widgets;

/// Colours of the app, for the window icon `main.rs` draws.
pub mod colormap {
    pub use crate::widgets::colormap::bit;
}

use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui::{RichText, Ui};

pub use launch::LaunchOptions;
use model_slot::ModelSlot;
use panels::Panel;
pub use panels::PanelId;
use panels::data::{DataPanel, DataSettings};
use panels::deploy::{DeployPanel, DeploySettings};
use panels::inspect::{InspectPanel, InspectSettings};
use panels::test::{TestPanel, TestSettings};
use panels::train::{TrainPanel, TrainSettings};
use shortcuts::Action;
use task::JobStatus;
use widgets::Notice;

/// Everything remembered between launches (eframe persistence).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    pub panel: PanelId,
    pub dark: bool,
    /// The model slot's file: a packed model (.bkw) or a run folder; empty = the demo student.
    pub model: String,
    pub data: DataSettings,
    pub train: TrainSettings,
    pub inspect: InspectSettings,
    pub test: TestSettings,
    pub deploy: DeploySettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            panel: PanelId::Data,
            dark: true,
            model: String::new(),
            data: DataSettings::default(),
            train: TrainSettings::default(),
            inspect: InspectSettings::default(),
            test: TestSettings::default(),
            deploy: DeploySettings::default(),
        }
    }
}

/// The whole workbench: the five panels, the model slot they share, and the frame around
/// them (navigation, status bar, shortcuts, theme).
pub struct Workbench {
    /// The panel shown.
    pub panel: PanelId,
    pub dark: bool,
    /// The model Data, Inspect, Test and Deploy work with.
    model: ModelSlot,
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
        if let Some(m) = &launch.model {
            s.model = m.display().to_string();
        }
        let mut wb = Self {
            panel: s.panel,
            dark: s.dark,
            model: ModelSlot::new(&s.model),
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
            model: self.model.path_text(),
            data: self.data.settings(),
            train: self.train.settings(),
            inspect: self.inspect.settings(),
            test: self.test.settings(),
            deploy: self.deploy.settings(),
        }
    }

    /// The panels, in navigation order.
    fn panels(&self) -> [&dyn Panel; 5] {
        [
            &self.data,
            &self.train,
            &self.inspect,
            &self.test,
            &self.deploy,
        ]
    }

    /// The panels in navigation order, with the model slot they share.
    fn panels_mut(&mut self) -> ([&mut dyn Panel; 5], &mut ModelSlot) {
        (
            [
                &mut self.data,
                &mut self.train,
                &mut self.inspect,
                &mut self.test,
                &mut self.deploy,
            ],
            &mut self.model,
        )
    }

    /// All running background jobs, training first (it is the longest and the one watched).
    fn jobs(&self) -> Vec<JobStatus> {
        let mut out = Vec::new();
        self.train.jobs(&mut out);
        out.extend(self.model.job());
        let others: [&dyn Panel; 4] = [&self.data, &self.inspect, &self.test, &self.deploy];
        for p in others {
            p.jobs(&mut out);
        }
        out
    }

    /// Whether loading work is still going on (screenshots wait for it; training does not
    /// count, it goes on for minutes).
    pub fn loading(&self) -> bool {
        self.data.dataset().is_none() && self.launch_notice.is_none()
            || self.model.is_loading()
            || self.panels().iter().any(|p| p.busy())
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
        self.model.poll(&ctx);
        let (panels, model) = self.panels_mut();
        for p in panels {
            p.poll(&ctx, model);
        }
        self.sync_panels(&ctx);
        self.shortcuts(&ctx);

        egui::Panel::top("nav").show(ui, |ui| self.nav_bar(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            if let Some(n) = &self.launch_notice
                && n.show(ui)
            {
                self.launch_notice = None;
            }
            let shown = PanelId::ALL.iter().position(|&id| id == self.panel);
            let (panels, model) = self.panels_mut();
            if let Some(p) = shown.and_then(|i| panels.into_iter().nth(i)) {
                p.ui(ui, model);
            }
        });
        // "Deploy it…" in the Test panel: show the Deploy panel with that model chosen.
        if let Some(model) = self.test.take_deploy_request() {
            self.deploy.choose_model(model);
            self.panel = PanelId::Deploy;
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
        if self.panels().iter().any(|p| p.live()) {
            ctx.request_repaint_after(Duration::from_millis(50));
        } else if self.model.is_loading() || self.panels().iter().any(|p| p.busy()) {
            ctx.request_repaint_after(Duration::from_millis(100));
        }
        self.last_ui_time = started.elapsed();
    }

    /// Hand what one panel produced to the others: the Data panel's dataset and selection,
    /// the Test panel's recordings, the loaded model's file.
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
        self.deploy.set_model(self.model.loaded_path());
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        let typing = ctx.egui_wants_keyboard_input();
        for action in shortcuts::pressed(ctx, typing) {
            match action {
                Action::ShowData => self.panel = PanelId::Data,
                Action::ShowTrain => self.panel = PanelId::Train,
                Action::ShowInspect => self.panel = PanelId::Inspect,
                Action::ShowTest => self.panel = PanelId::Test,
                Action::ShowDeploy => self.panel = PanelId::Deploy,
                Action::PlayStop => self.data.toggle_playback(),
                Action::PreviousClip if self.panel == PanelId::Data => {
                    self.data.select_relative(ctx, -1)
                }
                Action::NextClip if self.panel == PanelId::Data => {
                    self.data.select_relative(ctx, 1)
                }
                Action::DeleteClip if self.panel == PanelId::Data => self.data.trash_selected(ctx),
                Action::Undo if self.panel == PanelId::Data => self.data.undo_last(ctx),
                Action::OpenAudioFile => {
                    self.panel = PanelId::Data;
                    self.data.open_file_dialog(ctx);
                }
                Action::StartTraining => {
                    self.panel = PanelId::Train;
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
            for (i, p) in PanelId::ALL.into_iter().enumerate() {
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
