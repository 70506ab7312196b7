//! Fetching the official Speech Commands archives: download (resumable), SHA-256 check and
//! extraction on a worker thread, with a progress bar and cancel.

use std::path::PathBuf;

use bifsmn_engine::data::{
    Archive, DownloadError, DownloadOptions, Protocol, Stage, fetch_archive,
};
use egui::Ui;

use crate::paths;
use crate::task::{JobStatus, Task, take_done};
use crate::widgets::{Notice, PathField, Pick};

/// The fetch section's state.
pub(super) struct Fetch {
    pub archive: Archive,
    pub dest: PathField,
    task: Option<Task<Result<PathBuf, DownloadError>>>,
    pub notice: Option<Notice>,
}

impl Default for Fetch {
    fn default() -> Self {
        Self {
            archive: Archive::V2,
            dest: PathField::new(paths::datasets_dir().display().to_string(), Pick::Folder),
            task: None,
            notice: None,
        }
    }
}

fn stage_index(s: Stage) -> u64 {
    match s {
        Stage::Download => 0,
        Stage::Verify => 1,
        Stage::Extract => 2,
    }
}

fn stage_name(i: u64) -> &'static str {
    match i {
        0 => "downloading",
        1 => "verifying SHA-256",
        _ => "extracting",
    }
}

/// The protocol that fits an archive.
pub(super) fn protocol_of(a: Archive) -> Protocol {
    match a {
        Archive::V1 => Protocol::V1_12,
        Archive::V2 => Protocol::V2_12,
    }
}

impl Fetch {
    pub(super) fn running(&self) -> bool {
        self.task.is_some()
    }

    pub(super) fn status(&self) -> Option<JobStatus> {
        self.task.as_ref().map(|t| JobStatus {
            label: format!("Speech Commands: {}", stage_name(t.progress().phase())),
            fraction: t.progress().fraction(),
        })
    }

    /// Start fetching into the destination field's folder.
    fn start(&mut self, ctx: &egui::Context) {
        let Some(dest) = self.dest.path() else {
            self.notice = Some(Notice::error(
                "no destination folder",
                "Type the folder the dataset should go into.",
            ));
            return;
        };
        self.notice = None;
        let spec = self.archive.spec(Archive::DEFAULT_BASE_URL);
        self.task = Some(Task::spawn(
            format!("fetch {}", self.archive.file_name()),
            ctx,
            move |progress| {
                fetch_archive(
                    &spec,
                    &dest,
                    &DownloadOptions::default(),
                    &mut |p| {
                        progress.set_phase(stage_index(p.stage));
                        progress.set(p.done, p.total);
                    },
                    progress.cancel_flag(),
                )
            },
        ));
    }

    /// The section; returns `(folder, protocol)` of a finished fetch to open.
    pub(super) fn ui(&mut self, ui: &mut Ui) -> Option<(PathBuf, Protocol)> {
        let mut opened = None;
        if let Some(result) = take_done(&mut self.task) {
            match result {
                Ok(Ok(dir)) => opened = Some((dir, protocol_of(self.archive))),
                Ok(Err(DownloadError::Cancelled)) => {
                    self.notice = Some(Notice::info(
                        "Fetch cancelled. The partial download is kept; fetch again to resume.",
                    ))
                }
                Ok(Err(e)) => {
                    self.notice = Some(Notice::error(
                        e.to_string(),
                        "Check the network connection and the free disk space (the v0.02 archive is 2.3 GB, 3.8 GB extracted), then fetch again: downloads resume where they stopped.",
                    ))
                }
                Err(e) => self.notice = Some(Notice::error(e, "")),
            }
        }
        ui.horizontal(|ui| {
            ui.label("Archive");
            ui.add_enabled_ui(!self.running(), |ui| {
                ui.selectable_value(&mut self.archive, Archive::V1, "v0.01 (30 words, 1.4 GB)");
                ui.selectable_value(&mut self.archive, Archive::V2, "v0.02 (35 words, 2.3 GB)");
            });
        });
        ui.add_enabled_ui(!self.running(), |ui| {
            self.dest.ui(ui, "Into", "folder for datasets", 320.0);
        });
        match &self.task {
            None => {
                if ui
                    .button("Fetch")
                    .on_hover_text("Download, verify and extract; resumes a partial download")
                    .clicked()
                {
                    self.start(ui.ctx());
                }
            }
            Some(t) => {
                let p = t.progress();
                let (fraction, text) = match p.fraction() {
                    Some(f) => (
                        f,
                        format!(
                            "{}: {:.0} of {:.0} MB",
                            stage_name(p.phase()),
                            p.done() as f64 / 1e6,
                            p.done() as f64 / 1e6 / f.max(1e-9) as f64
                        ),
                    ),
                    None => (
                        0.0,
                        format!("{}: {:.0} MB", stage_name(p.phase()), p.done() as f64 / 1e6),
                    ),
                };
                p.bar_with_cancel(ui, fraction, text);
            }
        }
        crate::widgets::notice::show_slot(ui, &mut self.notice);
        opened
    }
}
