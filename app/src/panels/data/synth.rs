//! "New dataset from keywords…": type keywords, choose engines and sizes, and a worker thread
//! synthesizes a Speech Commands-layout corpus (`bifsmn data synth`), with a progress bar and
//! cancel. A cancelled or failed run can be resumed by starting it again with the same
//! settings into the same folder.

use std::path::PathBuf;

use bifsmn_engine::data::Protocol;
use bifsmn_engine::data::synth::{EngineKind, SynthConfig, SynthError, synthesize};
use egui::Ui;

use crate::paths;
use crate::task::{JobStatus, Task, take_done};
use crate::widgets::{Notice, PathField, Pick};

/// The form's values, remembered between launches.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SynthSettings {
    /// Keywords as typed, comma-separated.
    pub keywords: String,
    pub espeak: bool,
    pub festival: bool,
    /// MBROLA's voices (Debian contrib/non-free: off until the user installs them).
    pub mbrola: bool,
    pub speakers: usize,
    pub negatives_per_speaker: usize,
    pub sentences: usize,
    pub seed: u64,
    /// Folder the dataset goes into.
    pub dest: String,
}

impl Default for SynthSettings {
    fn default() -> Self {
        let defaults = SynthConfig::default();
        Self {
            keywords: defaults.keywords.join(", "),
            espeak: true,
            festival: true,
            mbrola: false,
            speakers: 40,
            negatives_per_speaker: defaults.negatives_per_speaker,
            sentences: defaults.sentences_per_speaker,
            seed: defaults.seed,
            dest: paths::datasets_dir().join("keywords").display().to_string(),
        }
    }
}

/// The section's state: the form, and the running generation.
pub(crate) struct SynthForm {
    form: SynthSettings,
    dest: PathField,
    task: Option<Task<Result<PathBuf, SynthError>>>,
    notice: Option<Notice>,
}

impl SynthForm {
    pub(crate) fn new(settings: &SynthSettings) -> Self {
        Self {
            dest: PathField::new(settings.dest.clone(), Pick::Folder),
            form: settings.clone(),
            task: None,
            notice: None,
        }
    }

    /// The values to remember.
    pub(crate) fn settings(&self) -> SynthSettings {
        SynthSettings {
            dest: self.dest.text.clone(),
            ..self.form.clone()
        }
    }

    pub(crate) fn running(&self) -> bool {
        self.task.is_some()
    }

    pub(crate) fn status(&self) -> Option<JobStatus> {
        self.task.as_ref().map(|t| JobStatus {
            label: "Synthesizing a keyword dataset".into(),
            fraction: t.progress().fraction(),
        })
    }

    /// The settings the form describes.
    pub(crate) fn config(&self) -> SynthConfig {
        let f = &self.form;
        let engines = [
            (f.espeak, EngineKind::Espeak),
            (f.festival, EngineKind::Festival),
            (f.mbrola, EngineKind::Mbrola),
        ]
        .into_iter()
        .filter_map(|(on, e)| on.then_some(e))
        .collect();
        SynthConfig {
            keywords: f
                .keywords
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_string)
                .collect(),
            engines,
            speakers_per_engine: f.speakers,
            negatives_per_speaker: f.negatives_per_speaker,
            sentences_per_speaker: f.sentences,
            seed: f.seed,
            ..SynthConfig::default()
        }
    }

    fn start(&mut self, ctx: &egui::Context) {
        let Some(dest) = self.dest.path() else {
            self.notice = Some(Notice::error(
                "no destination folder",
                "Type the folder the new dataset should go into.",
            ));
            return;
        };
        self.notice = None;
        let config = self.config();
        self.task = Some(Task::spawn("synthesize keywords", ctx, move |progress| {
            synthesize(
                &config,
                &dest,
                &|p| progress.set(p.done as u64, Some(p.total as u64)),
                progress.cancel_flag(),
            )
            .map(|_| dest)
        }));
    }

    /// The section; returns the folder of a finished corpus to open (12 classes: unknown,
    /// silence and the keywords).
    pub(crate) fn ui(&mut self, ui: &mut Ui) -> Option<(PathBuf, Protocol)> {
        let opened = self.take_result();
        let idle = !self.running();
        ui.add_enabled_ui(idle, |ui| self.form(ui));
        match &self.task {
            None => {
                let f = &self.form;
                let ready = !f.keywords.trim().is_empty() && (f.espeak || f.festival || f.mbrola);
                if ui
                    .add_enabled(ready, egui::Button::new("Create dataset"))
                    .on_hover_text(
                        "Synthesize every keyword and negative word with each speaker; \
                         starting again with the same settings resumes an interrupted run",
                    )
                    .clicked()
                {
                    self.start(ui.ctx());
                }
            }
            Some(t) => {
                let p = t.progress();
                let fraction = p.fraction().unwrap_or(0.0);
                p.bar_with_cancel(
                    ui,
                    fraction,
                    format!("{:.0} % of the clips", 100.0 * fraction),
                );
            }
        }
        crate::widgets::notice::show_slot(ui, &mut self.notice);
        opened
    }

    fn form(&mut self, ui: &mut Ui) {
        let f = &mut self.form;
        ui.horizontal(|ui| {
            let l = ui.label("Keywords");
            ui.add(
                egui::TextEdit::singleline(&mut f.keywords)
                    .hint_text("lights on, music, pause")
                    .desired_width(320.0),
            )
            .labelled_by(l.id)
            .on_hover_text("Words or short phrases, comma-separated");
        });
        ui.horizontal(|ui| {
            ui.label("Voices");
            ui.checkbox(&mut f.espeak, "espeak-ng")
                .on_hover_text("Formant voices: 76 variants x 9 English accents");
            ui.checkbox(&mut f.festival, "Festival")
                .on_hover_text("kal, ked (diphone) and slt (HTS), bent in pitch, rate and tract");
            ui.checkbox(&mut f.mbrola, "MBROLA").on_hover_text(
                "us1, us2, us3, en1: diphones cut from recordings of people, through espeak-ng. \
                 Not installed by the bootstrap (Debian contrib/non-free: apt install mbrola-us1 \
                 mbrola-us2 mbrola-us3 mbrola-en1)",
            );
        });
        ui.horizontal(|ui| {
            ui.label("Speakers per engine");
            ui.add(egui::DragValue::new(&mut f.speakers).range(3..=2000));
            ui.label("negatives each");
            ui.add(egui::DragValue::new(&mut f.negatives_per_speaker).range(0..=200));
            ui.label("sentences each");
            ui.add(egui::DragValue::new(&mut f.sentences).range(0..=20));
            ui.label("seed");
            ui.add(egui::DragValue::new(&mut f.seed));
        });
        self.dest
            .ui(ui, "Into", "new folder for the dataset", 320.0);
    }

    fn take_result(&mut self) -> Option<(PathBuf, Protocol)> {
        match take_done(&mut self.task)? {
            Ok(Ok(dir)) => return Some((dir, Protocol::Twelve)),
            Ok(Err(SynthError::Cancelled)) => {
                self.notice = Some(Notice::info(
                    "Cancelled. What was made is kept; create again with the same settings to resume.",
                ))
            }
            Ok(Err(e)) => {
                let hint = match &e {
                    SynthError::MissingEngine { package, .. }
                    | SynthError::MissingVoice { package, .. } => {
                        format!("Install it (sudo apt install {package}) and create again.")
                    }
                    SynthError::SettingsDiffer { .. } => {
                        "Choose a new folder, or put the settings back to resume.".to_string()
                    }
                    _ => String::new(),
                };
                self.notice = Some(Notice::error(e.to_string(), hint));
            }
            Err(e) => self.notice = Some(Notice::error(e, "")),
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_a_config_and_is_remembered() {
        let settings = SynthSettings {
            keywords: " lights on,music , ,pause".into(),
            festival: false,
            speakers: 7,
            dest: "/tmp/k".into(),
            ..SynthSettings::default()
        };
        let mut form = SynthForm::new(&settings);
        let c = form.config();
        assert_eq!(c.keywords, vec!["lights on", "music", "pause"]);
        assert_eq!(c.engines, vec![EngineKind::Espeak]);
        assert_eq!(c.speakers_per_engine, 7);
        assert_eq!(form.settings(), settings);
        form.form.espeak = false;
        assert!(form.config().engines.is_empty());
        form.form.mbrola = true;
        assert_eq!(form.config().engines, vec![EngineKind::Mbrola]);
    }
}
