//! The model slot: the one model the workbench has loaded, owned by the [`Workbench`] and
//! shared by the panels. Data classifies with it, Inspect shows its layers and bits, Test
//! runs detection, the confusion matrix and "Teach it my voice" with it, and Deploy pushes its
//! file by default. One field names the file and one load reads it, whichever panel asked.
//!
//! Panels read the slot through a [`SlotView`] refreshed every poll, so their drawing code
//! can hold the model without borrowing the workbench.
//!
//! [`Workbench`]: crate::Workbench

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::models::{self, InferenceModel};
use crate::task::{JobStatus, Task, take_done};
use crate::widgets::{Notice, PathField, Pick};

/// Model files the file dialog offers: packed models and the checkpoint files of a run.
pub(crate) const MODEL_EXTS: &[&str] = &["bkw", "json", "bpk"];

/// The path field, the loaded model, its generation, the load in progress and what went
/// wrong.
pub(crate) struct ModelSlot {
    /// The file or run folder to load (typed, browsed, or set by a panel).
    pub(crate) field: PathField,
    model: Option<Arc<InferenceModel>>,
    /// The file `model` was read from (the field may have been edited since).
    loaded: Option<PathBuf>,
    /// Counts completed loads, so panels know when to recompute what they derived.
    generation: u64,
    task: Option<Task<Result<InferenceModel, Notice>>>,
    /// The file the running `task` reads.
    loading: Option<PathBuf>,
    /// Why the last load failed.
    pub(crate) notice: Option<Notice>,
    /// Load the remembered model at the first poll.
    autoload: bool,
}

impl ModelSlot {
    /// A slot naming `path` (loaded at the first poll), or the shipped demo student when
    /// `path` is empty.
    pub(crate) fn new(path: &str) -> Self {
        let text = if path.trim().is_empty() {
            demo_model().map_or(String::new(), |p| p.display().to_string())
        } else {
            path.to_string()
        };
        Self {
            autoload: !text.trim().is_empty(),
            field: PathField::new(text, Pick::File(MODEL_EXTS)),
            model: None,
            loaded: None,
            generation: 0,
            task: None,
            loading: None,
            notice: None,
        }
    }

    /// The path text to remember.
    pub(crate) fn path_text(&self) -> String {
        self.field.text.clone()
    }

    /// Load the model named in the field (after setting it to `path`, if given). A load of
    /// the same file already under way is not started again.
    pub(crate) fn load(&mut self, ctx: &egui::Context, path: Option<&Path>) {
        if let Some(p) = path {
            self.field.text = p.display().to_string();
        }
        self.autoload = false;
        let Some(p) = self.field.path() else {
            return;
        };
        if self.task.is_some() && self.loading.as_ref() == Some(&p) {
            return;
        }
        self.notice = None;
        self.loading = Some(p.clone());
        self.task = Some(Task::spawn("load model", ctx, move |_| models::load(&p)));
    }

    /// Start the remembered load, and take a finished one.
    pub(crate) fn poll(&mut self, ctx: &egui::Context) {
        if self.autoload {
            self.load(ctx, None);
        }
        if let Some(r) = take_done(&mut self.task) {
            let file = self.loading.take();
            match r {
                Ok(Ok(m)) => {
                    self.generation += 1;
                    self.model = Some(Arc::new(m));
                    self.loaded = file;
                }
                Ok(Err(n)) => self.notice = Some(n),
                Err(e) => self.notice = Some(Notice::error(e, "")),
            }
        }
    }

    /// Whether a load is under way.
    pub(crate) fn is_loading(&self) -> bool {
        self.task.is_some()
    }

    /// The file of the loaded model (the Deploy panel pushes the same one by default).
    pub(crate) fn loaded_path(&self) -> Option<PathBuf> {
        self.loaded.clone()
    }

    /// The load, for the status bar.
    pub(crate) fn job(&self) -> Option<JobStatus> {
        self.task.as_ref().map(Task::status)
    }

    /// The model row (field, browse, Load): loads when Load is pressed or a file is chosen.
    pub(crate) fn row_ui(&mut self, ui: &mut egui::Ui) {
        if self.field.model_row(ui, self.is_loading()) {
            self.load(ui.ctx(), None);
        }
    }
}

/// A panel's copy of the slot's state, refreshed at every poll.
#[derive(Default)]
pub(crate) struct SlotView {
    pub(crate) model: Option<Arc<InferenceModel>>,
    /// The slot's generation `model` came from (0: none yet).
    pub(crate) generation: u64,
    pub(crate) loading: bool,
}

impl SlotView {
    /// Copy the slot's state; true when a newly loaded model arrived since the last call.
    pub(crate) fn sync(&mut self, slot: &ModelSlot) -> bool {
        self.loading = slot.is_loading();
        if self.generation == slot.generation {
            return false;
        }
        self.generation = slot.generation;
        self.model = slot.model.clone();
        true
    }
}

/// The demo student shipped with the workbench (`assets/models/demo-student.bkw` in a
/// checkout, `share/bifsmn-workbench/models/` next to an installed binary), if present: the
/// model the workbench starts with when none was chosen.
pub fn demo_model() -> Option<PathBuf> {
    const NAME: &str = "demo-student.bkw";
    let installed = std::env::current_exe().ok().and_then(|exe| {
        Some(
            exe.parent()?
                .parent()?
                .join("share/bifsmn-workbench/models")
                .join(NAME),
        )
    });
    let dev = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../assets/models")
        .join(NAME);
    installed
        .into_iter()
        .chain([dev])
        .find(|p| p.is_file())
        .map(|p| std::fs::canonicalize(&p).unwrap_or(p))
}
