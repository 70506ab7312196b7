//! A path text field with a "Browse…" button.
//!
//! The native dialog (rfd, xdg-desktop-portal on Linux) runs on a worker thread so the UI
//! keeps drawing while it is open. Without a portal the dialog returns nothing at once, so the
//! text field is always there as the way to type or paste a path.

use std::path::PathBuf;

use egui::Ui;

use crate::task::{Task, take_done};

/// Audio file extensions the file dialogs offer (the decoder probes content anyway).
pub(crate) const AUDIO_EXTS: &[&str] = &["wav", "flac", "ogg", "mp3", "WAV", "FLAC", "OGG", "MP3"];

/// What the dialog picks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// A file, optionally restricted to extensions (without dots).
    File(&'static [&'static str]),
    /// A folder.
    Folder,
}

/// The field's state.
pub struct PathField {
    pub text: String,
    pick: Pick,
    dialog: Option<Task<Option<PathBuf>>>,
    /// The dialog came back empty: likely no file chooser on this desktop.
    dialog_empty: bool,
}

/// What happened this frame.
#[derive(Default, Clone, Copy, Debug)]
pub struct PathFieldEvent {
    /// A path arrived from the dialog.
    pub picked: bool,
    /// Enter was pressed in the text field.
    pub submitted: bool,
}

impl PathFieldEvent {
    /// The user chose a path one way or the other.
    pub fn chosen(self) -> bool {
        self.picked || self.submitted
    }
}

impl PathField {
    pub fn new(text: impl Into<String>, pick: Pick) -> Self {
        Self {
            text: text.into(),
            pick,
            dialog: None,
            dialog_empty: false,
        }
    }

    /// The path typed or picked (trimmed; `None` when empty).
    pub fn path(&self) -> Option<PathBuf> {
        let t = self.text.trim();
        (!t.is_empty()).then(|| PathBuf::from(t))
    }

    /// Open the native dialog (e.g. from a keyboard shortcut).
    pub fn open_dialog(&mut self, ctx: &egui::Context) {
        if self.dialog.is_some() {
            return;
        }
        let pick = self.pick;
        let start = self.path().and_then(|p| {
            if p.is_dir() {
                Some(p)
            } else {
                p.parent().map(|d| d.to_path_buf())
            }
        });
        self.dialog_empty = false;
        self.dialog = Some(Task::spawn("file dialog", ctx, move |_| {
            let mut d = rfd::FileDialog::new();
            if let Some(dir) = start.filter(|d| d.is_dir()) {
                d = d.set_directory(dir);
            }
            match pick {
                Pick::File(exts) => {
                    if !exts.is_empty() {
                        d = d.add_filter("supported", exts);
                    }
                    d.pick_file()
                }
                Pick::Folder => d.pick_folder(),
            }
        }));
    }

    /// Label, text field (`hint` when empty) and Browse button on one line.
    pub fn ui(&mut self, ui: &mut Ui, label: &str, hint: &str, width: f32) -> PathFieldEvent {
        let mut event = PathFieldEvent::default();
        if let Some(result) = take_done(&mut self.dialog) {
            match result.ok().flatten() {
                Some(p) => {
                    self.text = p.display().to_string();
                    event.picked = true;
                }
                None => self.dialog_empty = true,
            }
        }
        ui.horizontal(|ui| {
            let l = ui.label(label);
            let r = ui
                .add(
                    egui::TextEdit::singleline(&mut self.text)
                        .hint_text(hint)
                        .desired_width(width),
                )
                .labelled_by(l.id);
            if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                event.submitted = true;
            }
            let browse = ui.add_enabled(self.dialog.is_none(), egui::Button::new("Browse…"));
            if browse.clicked() {
                self.open_dialog(ui.ctx());
            }
            if self.dialog.is_some() {
                ui.spinner();
            }
        });
        if self.dialog_empty {
            ui.weak("No path chosen. If no file chooser appeared, type or paste the path above.");
        }
        event
    }

    /// The model row shared by the panels that run a model: "Model", the field, Browse…, a
    /// Load button (disabled while `loading`) and a spinner while it loads. True when the user
    /// asked to load (the button, Enter in the field or a path from the dialog).
    pub fn model_row(&mut self, ui: &mut Ui, loading: bool) -> bool {
        let ev = self.ui(ui, "Model", ".bkw file or training run folder", 340.0);
        let load = ui
            .add_enabled(self.path().is_some() && !loading, egui::Button::new("Load"))
            .clicked();
        if loading {
            ui.spinner();
        }
        (load || ev.chosen()) && !loading
    }
}
