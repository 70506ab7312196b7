//! The training configuration form and its translation into the engine's [`TrainConfig`].

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bifsmn_engine::data::AugmentConfig;
use bifsmn_engine::model::BinarizerKind;
use bifsmn_engine::train::devices::backend_statuses;
use bifsmn_engine::train::{Backend, DeviceInfo, DistillMode, Role, TrainConfig, list_devices};
use egui::{RichText, Ui};

use crate::paths;
use crate::widgets::{Notice, PathField, Pick};

/// Loss weights of thin paths 0..4 (the CLI's `--paths`; `docs/METHOD.md` §4: 1, 0.5, 0.25).
pub(crate) const PATH_WEIGHTS: [f64; 4] = [1.0, 0.5, 0.25, 0.125];

/// The form's values (persisted between launches).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TrainForm {
    pub role: Role,
    pub epochs: usize,
    pub lr: f64,
    pub batch_size: usize,
    pub binarizer: BinarizerKind,
    pub distill: DistillMode,
    pub planes: usize,
    /// Thin paths trained each step (student; the teacher has one).
    pub paths: usize,
    pub learn_alpha: bool,
    pub init_from_teacher: bool,
    pub teacher: String,
    pub seed: u64,
    pub augment: bool,
    /// The augmentation steps beyond the paper's (each on/off).
    pub steps: AugmentSteps,
    pub run_dir: String,
    pub resume: bool,
    /// Limit of training clips per epoch (0 = all).
    pub max_train_clips: usize,
    /// The backend and which of its devices (`None`: the backend's own choice).
    pub backend: Backend,
    pub device_index: Option<usize>,
    /// Saved host (board profile) to train on over SSH; empty = this computer.
    pub run_on: String,
    /// The dataset folder on that host.
    pub host_dataset: String,
}

impl Default for TrainForm {
    fn default() -> Self {
        let mut f = Self {
            role: Role::Teacher,
            epochs: 0,
            lr: 0.0,
            batch_size: 0,
            binarizer: BinarizerKind::Lpb,
            distill: DistillMode::None,
            planes: 2,
            paths: 1,
            learn_alpha: true,
            init_from_teacher: false,
            teacher: String::new(),
            seed: 1,
            augment: true,
            steps: AugmentSteps::default(),
            run_dir: String::new(),
            resume: false,
            max_train_clips: 0,
            backend: Backend::Flex,
            device_index: None,
            run_on: String::new(),
            host_dataset: String::new(),
        };
        f.set_role(Role::Teacher);
        f
    }
}

/// The augmentation steps beyond the paper's, each switchable: what a model needs to hear
/// real rooms, microphones and voices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct AugmentSteps {
    pub voice: bool,
    pub room: bool,
    pub noise_snr: bool,
    pub channel: bool,
    pub spec_augment: bool,
}

impl Default for AugmentSteps {
    fn default() -> Self {
        Self::from_config(&AugmentConfig::robust())
    }
}

impl AugmentSteps {
    fn from_config(c: &AugmentConfig) -> Self {
        Self {
            voice: c.voice.enabled,
            room: c.room.enabled,
            noise_snr: c.noise_snr.enabled,
            channel: c.channel.enabled,
            spec_augment: c.spec_augment.enabled,
        }
    }

    /// The robust recipe's settings with these steps on or off.
    pub fn to_config(self) -> AugmentConfig {
        let mut c = AugmentConfig::robust();
        c.voice.enabled = self.voice;
        c.room.enabled = self.room;
        c.noise_snr.enabled = self.noise_snr;
        c.channel.enabled = self.channel;
        c.spec_augment.enabled = self.spec_augment;
        c
    }

    fn ui(&mut self, ui: &mut Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.checkbox(&mut self.room, "rooms")
                .on_hover_text("Reverberation, RT60 0.1-1.0 s");
            ui.checkbox(&mut self.channel, "microphones")
                .on_hover_text("EQ tilt, band limits (also 8 kHz telephone), soft clipping");
            ui.checkbox(&mut self.voice, "voices")
                .on_hover_text("Pitch and vocal-tract shift, duration kept");
            ui.checkbox(&mut self.noise_snr, "noise 0-20 dB SNR")
                .on_hover_text("Noise files and babble of non-keyword speech");
            ui.checkbox(&mut self.spec_augment, "SpecAugment")
                .on_hover_text("Time and frequency masks on the features");
        });
    }
}

/// Engine defaults of a role (the same as `bifsmn train teacher|student`).
fn role_defaults(role: Role) -> TrainConfig {
    match role {
        Role::Teacher => TrainConfig::teacher(PathBuf::new(), PathBuf::new()),
        Role::Student => TrainConfig::student(PathBuf::new(), PathBuf::new(), PathBuf::new()),
    }
}

impl TrainForm {
    /// Switch role and take that role's defaults for the role-specific settings.
    pub fn set_role(&mut self, role: Role) {
        let d = role_defaults(role);
        self.role = role;
        self.epochs = d.epochs;
        self.lr = d.lr;
        self.batch_size = d.batch_size;
        self.distill = d.distill;
        self.paths = d.path_weights.len();
        self.init_from_teacher = d.init_from_teacher;
        self.binarizer = d.binarizer;
        self.planes = d.planes;
        self.learn_alpha = d.learn_alpha;
    }

    /// Fill the form from a full config (e.g. `--train-config FILE`).
    pub fn from_config(c: &TrainConfig) -> Self {
        Self {
            role: c.role,
            epochs: c.epochs,
            lr: c.lr,
            batch_size: c.batch_size,
            binarizer: c.binarizer,
            distill: c.distill,
            planes: c.planes,
            paths: c.path_weights.len().clamp(1, 4),
            learn_alpha: c.learn_alpha,
            init_from_teacher: c.init_from_teacher,
            teacher: c
                .teacher
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            seed: c.seed,
            augment: c.augment,
            steps: AugmentSteps::from_config(&c.augmentation),
            run_dir: c.run_dir.display().to_string(),
            resume: false,
            max_train_clips: c.max_train_clips.unwrap_or(0),
            backend: c.backend,
            device_index: c.device_index,
            run_on: String::new(),
            host_dataset: String::new(),
        }
    }

    /// The engine config for training on `dataset` with `protocol`, with the heavy internals
    /// events on (the Train panel draws them). Errors say which field to fix.
    pub fn to_config(&self, dataset: &Path, protocol: &str) -> Result<TrainConfig, Notice> {
        let run_dir = PathBuf::from(self.run_dir.trim());
        if self.run_dir.trim().is_empty() {
            return Err(Notice::error(
                "no run folder",
                "Press New to make a fresh run folder, or type one.",
            ));
        }
        let has_checkpoint = run_dir.join("checkpoint.json").is_file();
        if has_checkpoint && !self.resume {
            return Err(Notice::error(
                format!("{} already holds a run", run_dir.display()),
                "Tick Resume to continue it, or press New for a fresh run folder.",
            ));
        }
        let mut c = role_defaults(self.role);
        c.dataset = dataset.to_path_buf();
        c.protocol = protocol.to_string();
        c.run_dir = run_dir;
        c.epochs = self.epochs;
        c.lr = self.lr;
        c.batch_size = self.batch_size;
        c.seed = self.seed;
        c.augment = self.augment;
        c.augmentation = self.steps.to_config();
        c.max_train_clips = (self.max_train_clips > 0).then_some(self.max_train_clips);
        c.internals = true;
        c.backend = self.backend;
        c.device_index = self.device_index;
        if self.role == Role::Student {
            c.binarizer = self.binarizer;
            c.distill = self.distill;
            c.planes = self.planes;
            c.learn_alpha = self.learn_alpha;
            c.init_from_teacher = self.init_from_teacher;
            c.path_weights = PATH_WEIGHTS[..self.paths.clamp(1, 4)].to_vec();
            let teacher = self.teacher.trim();
            c.teacher = (!teacher.is_empty()).then(|| PathBuf::from(teacher));
            if let Some(t) = &c.teacher
                && !t.exists()
            {
                return Err(Notice::error(
                    format!("teacher {} does not exist", t.display()),
                    "Choose the run folder of a trained teacher (train one with role Teacher first).",
                ));
            }
        }
        c.validate()
            .map_err(|e| Notice::error(e, "Fix the setting named above and start again."))?;
        Ok(c)
    }

    /// The form. `teachers` are known teacher runs to offer; `locked` greys everything out
    /// while a run is active.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        teacher_field: &mut PathField,
        teachers: &[PathBuf],
        locked: bool,
    ) {
        ui.add_enabled_ui(!locked, |ui| {
            egui::Grid::new("train-form")
                .num_columns(2)
                .spacing([8.0, 6.0])
                .show(ui, |ui| {
                    self.network_rows(ui);
                    if self.role == Role::Student {
                        self.student_rows(ui, teacher_field, teachers);
                    }
                    self.run_rows(ui);
                });
        });
        if self.role == Role::Student && !self.binarizer.exportable() {
            ui.label(
                RichText::new(format!(
                    "{} cannot run on the bit kernels: fine for comparison, not for deployment.",
                    self.binarizer.name()
                ))
                .weak(),
            );
        }
    }

    /// Rows for both roles: network, epochs, rate, batch and clips per epoch.
    fn network_rows(&mut self, ui: &mut Ui) {
        ui.label("Network");
        ui.horizontal(|ui| {
            let mut role = self.role;
            ui.selectable_value(&mut role, Role::Teacher, "FP32 teacher");
            ui.selectable_value(&mut role, Role::Student, "BiFSMNv2 student");
            if role != self.role {
                self.set_role(role);
            }
        });
        ui.end_row();

        let l = ui.label("Epochs");
        ui.add(egui::DragValue::new(&mut self.epochs).range(1..=500))
            .labelled_by(l.id);
        ui.end_row();

        let l = ui.label("Learning rate");
        ui.add(
            egui::DragValue::new(&mut self.lr)
                .range(1e-5..=1.0)
                .speed(0.001)
                .max_decimals(5),
        )
        .labelled_by(l.id)
        .on_hover_text("Base rate, cosine-annealed over the epochs (SGD with momentum)");
        ui.end_row();

        let l = ui.label("Batch size");
        ui.add(egui::DragValue::new(&mut self.batch_size).range(1..=1024))
            .labelled_by(l.id);
        ui.end_row();

        let l = ui.label("Clips per epoch");
        ui.horizontal(|ui| {
            ui.add(egui::DragValue::new(&mut self.max_train_clips).range(0..=200_000))
                .labelled_by(l.id)
                .on_hover_text(
                    "0 = the whole training split; a small number makes quick trial runs",
                );
            ui.weak(if self.max_train_clips == 0 { "all" } else { "" });
        });
        ui.end_row();
    }

    /// Rows only a student has: binarizer, distillation, planes, paths, LPB and its teacher.
    fn student_rows(&mut self, ui: &mut Ui, teacher_field: &mut PathField, teachers: &[PathBuf]) {
        ui.label("Binarizer");
        egui::ComboBox::from_id_salt("form-binarizer")
            .selected_text(self.binarizer.name())
            .show_ui(ui, |ui| {
                for k in BinarizerKind::ALL {
                    let text = if k.exportable() {
                        k.name().to_string()
                    } else {
                        format!("{} (not deployable)", k.name())
                    };
                    ui.selectable_value(&mut self.binarizer, k, text);
                }
            })
            .response
            .accessible_name("binarizer kind");
        ui.end_row();

        ui.label("Distillation");
        egui::ComboBox::from_id_salt("form-distill")
            .selected_text(distill_label(self.distill))
            .show_ui(ui, |ui| {
                for d in [
                    DistillMode::Fid,
                    DistillMode::Hed,
                    DistillMode::Plain,
                    DistillMode::None,
                ] {
                    ui.selectable_value(&mut self.distill, d, distill_label(d));
                }
            })
            .response
            .accessible_name("distillation");
        ui.end_row();

        ui.label("Activation planes");
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.planes, 2, "2 (dual scale)");
            ui.selectable_value(&mut self.planes, 1, "1");
        });
        ui.end_row();

        let l = ui.label("Thin paths trained");
        ui.add(egui::Slider::new(&mut self.paths, 1..=4))
            .labelled_by(l.id)
            .on_hover_text("Paths of 8, 4, 2 and 1 layers, loss weights 1, 0.5, 0.25, 0.125");
        ui.end_row();

        ui.label("LPB");
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.learn_alpha, "learn alpha");
            ui.checkbox(&mut self.init_from_teacher, "start from teacher weights");
        });
        ui.end_row();

        ui.label("Teacher run");
        ui.vertical(|ui| {
            teacher_field.text = self.teacher.clone();
            teacher_field.ui(ui, "Folder", "teacher run folder", 200.0);
            self.teacher = teacher_field.text.clone();
            if !teachers.is_empty() {
                egui::ComboBox::from_id_salt("form-teacher-pick")
                    .selected_text("recent teachers…")
                    .show_ui(ui, |ui| {
                        for t in teachers {
                            let s = t.display().to_string();
                            let name = t
                                .file_name()
                                .map_or(s.clone(), |n| n.to_string_lossy().into_owned());
                            if ui
                                .selectable_label(self.teacher == s, name)
                                .on_hover_text(&s)
                                .clicked()
                            {
                                self.teacher = s;
                            }
                        }
                    })
                    .response
                    .accessible_name("recent teachers");
            }
        });
        ui.end_row();
    }

    /// Seed, device, augmentation and the run folder.
    fn run_rows(&mut self, ui: &mut Ui) {
        self.device_row(ui);

        let l = ui.label("Seed");
        ui.add(egui::DragValue::new(&mut self.seed))
            .labelled_by(l.id);
        ui.end_row();

        ui.label("Augmentation");
        ui.vertical(|ui| {
            ui.checkbox(&mut self.augment, "noise, gain, speed, shift");
            ui.add_enabled_ui(self.augment, |ui| self.steps.ui(ui));
        });
        ui.end_row();

        let l = ui.label("Run folder");
        ui.vertical(|ui| {
            ui.horizontal(|ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut self.run_dir)
                        .desired_width(240.0)
                        .hint_text("folder for checkpoints"),
                )
                .labelled_by(l.id);
                if ui
                    .button("New")
                    .on_hover_text("A fresh folder under the workbench's runs folder")
                    .clicked()
                {
                    self.new_run_dir();
                }
            });
            ui.checkbox(&mut self.resume, "Resume from its last checkpoint");
        });
        ui.end_row();
    }

    /// The devices found (CPU backends, and GPUs when the build has a GPU backend), and the
    /// GPU backends this build lacks, greyed out with the feature that adds them.
    fn device_row(&mut self, ui: &mut Ui) {
        let devices = found_devices();
        let chosen = devices
            .iter()
            .find(|d| d.backend == self.backend && d.index == self.device_index);
        let text = chosen.map_or_else(
            || match self.device_index {
                Some(i) => format!("{} #{i} (not found)", self.backend.name()),
                None => self.backend.name().to_string(),
            },
            DeviceInfo::label,
        );
        ui.label("Device");
        egui::ComboBox::from_id_salt("form-device")
            .selected_text(text)
            .show_ui(ui, |ui| {
                for d in devices {
                    let on = d.backend == self.backend && d.index == self.device_index;
                    if ui.selectable_label(on, d.label()).clicked() {
                        self.backend = d.backend;
                        self.device_index = d.index;
                    }
                }
                for status in backend_statuses().iter().filter(|s| !s.compiled) {
                    ui.add_enabled(
                        false,
                        egui::Button::selectable(
                            false,
                            format!(
                                "{}: not in this build (--features {})",
                                status.backend.name(),
                                status.feature.unwrap_or_default()
                            ),
                        ),
                    );
                }
            })
            .response
            .accessible_name("training device");
        ui.end_row();
    }

    /// Point the run folder at a fresh name.
    pub fn new_run_dir(&mut self) {
        let role = match self.role {
            Role::Teacher => "teacher",
            Role::Student => "student",
        };
        self.run_dir = paths::new_run_dir(&paths::runs_dir(), role)
            .display()
            .to_string();
        self.resume = false;
    }
}

/// The devices training can use, found once per process: listing a GPU opens it, which is too
/// slow to repeat every frame.
fn found_devices() -> &'static [DeviceInfo] {
    static DEVICES: OnceLock<Vec<DeviceInfo>> = OnceLock::new();
    DEVICES.get_or_init(list_devices)
}

pub(crate) fn distill_label(d: DistillMode) -> &'static str {
    match d {
        DistillMode::Fid => "FID (BiFSMNv2, frequency independent)",
        DistillMode::Hed => "HED (BiFSMN, high-frequency enhanced)",
        DistillMode::Plain => "plain (no band split)",
        DistillMode::None => "none (labels only)",
    }
}

/// A form field for the teacher path (its Browse picks a folder).
pub(crate) fn teacher_field() -> PathField {
    PathField::new("", Pick::Folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn student_form_makes_a_valid_student_config() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = TrainForm::default();
        f.set_role(Role::Student);
        f.teacher = dir.path().display().to_string();
        f.run_dir = dir.path().join("run").display().to_string();
        f.paths = 2;
        let c = f.to_config(Path::new("/data"), "12").unwrap();
        assert_eq!(c.role, Role::Student);
        assert_eq!(c.path_weights, vec![1.0, 0.5]);
        assert!(c.internals);
        assert_eq!(c.distill, DistillMode::Fid);
    }

    #[test]
    fn existing_run_needs_resume_and_missing_teacher_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("checkpoint.json"), "{}").unwrap();
        let mut f = TrainForm {
            run_dir: dir.path().display().to_string(),
            ..TrainForm::default()
        };
        assert!(f.to_config(Path::new("/d"), "12").is_err());
        f.resume = true;
        assert!(f.to_config(Path::new("/d"), "12").is_ok());
        f.set_role(Role::Student);
        f.resume = false;
        f.run_dir = dir.path().join("new").display().to_string();
        f.teacher = "/nonexistent/teacher".into();
        let e = f.to_config(Path::new("/d"), "12").unwrap_err();
        assert!(e.message.contains("/nonexistent/teacher"));
    }
}
