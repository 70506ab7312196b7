//! The Data panel: choose or fetch a dataset, see its counts, browse, listen to, relabel and
//! delete clips, open any audio file, and classify what is shown with a loaded model.

mod clips;
mod fetch;
pub(crate) mod ops;
pub(crate) mod synth;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bifsmn_engine::audio::AudioError;
use bifsmn_engine::data::{DataError, Dataset, Protocol, Split, demo_root};
use egui::{RichText, Ui};

use crate::clip_view::{self, ClipView, LoadedAudio};
use crate::model_slot::{ModelSlot, SlotView};
use crate::models;
use crate::panels::Panel;
use crate::playback::{Player, PlayerEvent};
use crate::task::{JobStatus, Task, take_done};
use crate::widgets::notice::show_slot;
use crate::widgets::path_field::AUDIO_EXTS;
use crate::widgets::{Notice, PathField, Pick};

/// Which clip the detail area shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// The selected dataset clip.
    Dataset,
    /// An audio file opened from disk.
    File,
}

/// What the panel remembers between launches.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DataSettings {
    /// `None` = the embedded demo set.
    pub root: Option<PathBuf>,
    pub protocol: String,
    pub audio_file: String,
    /// The "New dataset from keywords" form.
    pub synth: synth::SynthSettings,
}

impl Default for DataSettings {
    fn default() -> Self {
        Self {
            root: None,
            protocol: Protocol::Twelve.name().into(),
            audio_file: String::new(),
            synth: synth::SynthSettings::default(),
        }
    }
}

/// A classification of the clip with view id `view`.
struct Verdict {
    view: u64,
    path: usize,
    top: Vec<(String, f32)>,
}

/// The open dataset and how it was chosen.
struct OpenDataset {
    root_field: PathField,
    protocol: Protocol,
    /// The open dataset; `generation` counts re-opens so cached rows know when to refresh.
    dataset: Option<Arc<Dataset>>,
    generation: u64,
    task: Option<Task<Result<(Dataset, bool), DataError>>>,
    /// Whether the open dataset is the bundled demo set (read-only when installed; edits and
    /// recordings belong in a copy).
    is_demo: bool,
    /// Copying the demo set into the user's data folder; the copy's path when done.
    copy_task: Option<Task<Result<PathBuf, String>>>,
    /// Clip path to select once the dataset (re)opens.
    reselect: Option<PathBuf>,
    notice: Option<Notice>,
}

/// The clip list and the selected dataset clip, decoded for the detail area.
#[derive(Default)]
struct ClipBrowser {
    list: clips::ClipList,
    selected: Option<usize>,
    view: Option<ClipView>,
    task: Option<Task<Result<LoadedAudio, String>>>,
    notice: Option<Notice>,
}

/// Relabel and delete, with their undo stack.
#[derive(Default)]
struct Edits {
    relabel_word: String,
    undo: Vec<ops::Undo>,
    notice: Option<Notice>,
}

/// An audio file opened from disk.
struct AudioFile {
    field: PathField,
    view: Option<ClipView>,
    task: Option<Task<Result<LoadedAudio, AudioError>>>,
    notice: Option<Notice>,
}

/// Classification of what the detail area shows, with the workbench's model.
#[derive(Default)]
struct Classifier {
    /// The workbench's model slot, as of the last poll.
    slot: SlotView,
    /// The thin path to classify with.
    path_index: usize,
    verdict: Option<Verdict>,
    task: Option<Task<Result<Verdict, String>>>,
    notice: Option<Notice>,
}

/// The Data panel.
pub struct DataPanel {
    open: OpenDataset,
    clips: ClipBrowser,
    edits: Edits,
    file: AudioFile,
    classify: Classifier,
    /// Which clip the detail area shows.
    source: Source,
    fetch: fetch::Fetch,
    synth: synth::SynthForm,
    pub player: Player,
    player_notice: Option<Notice>,
    next_view_id: u64,
}

impl DataPanel {
    pub(crate) fn new(settings: &DataSettings) -> Self {
        let root_text = settings
            .root
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        Self {
            open: OpenDataset {
                root_field: PathField::new(root_text, Pick::Folder),
                protocol: settings.protocol.parse().unwrap_or(Protocol::Twelve),
                dataset: None,
                generation: 0,
                task: None,
                is_demo: false,
                copy_task: None,
                reselect: None,
                notice: None,
            },
            clips: ClipBrowser::default(),
            edits: Edits::default(),
            file: AudioFile {
                field: PathField::new(settings.audio_file.clone(), Pick::File(AUDIO_EXTS)),
                view: None,
                task: None,
                notice: None,
            },
            classify: Classifier::default(),
            source: Source::Dataset,
            fetch: fetch::Fetch::default(),
            synth: synth::SynthForm::new(&settings.synth),
            player: Player::new(),
            player_notice: None,
            next_view_id: 1,
        }
    }

    /// Settings to persist.
    pub(crate) fn settings(&self) -> DataSettings {
        DataSettings {
            root: self.open.root_field.path(),
            protocol: self.open.protocol.name().into(),
            audio_file: self.file.field.text.clone(),
            synth: self.synth.settings(),
        }
    }

    /// The open dataset, if any.
    pub fn dataset(&self) -> Option<&Arc<Dataset>> {
        self.open.dataset.as_ref()
    }

    /// Whether the open dataset is the bundled demo set.
    pub(crate) fn is_demo(&self) -> bool {
        self.open.is_demo
    }

    /// The selected dataset clip (index into `dataset.clips`).
    pub(crate) fn selected_clip(&self) -> Option<usize> {
        self.clips.selected
    }

    /// Open the dataset in the folder field, or the demo set when the field is empty.
    pub(crate) fn open_dataset(&mut self, ctx: &egui::Context) {
        let root = match self.open.root_field.path() {
            Some(p) => p,
            None => match demo_root() {
                Some(p) => p,
                None => {
                    self.open.notice = Some(Notice::error(
                        "the embedded demo dataset was not found",
                        "Reinstall the workbench, set BIFSMN_DEMO_DIR, or choose a dataset folder above.",
                    ));
                    return;
                }
            },
        };
        let protocol = self.open.protocol;
        self.open.notice = None;
        self.open.task = Some(Task::spawn("open dataset", ctx, move |_| {
            open_checked(&root, protocol)
        }));
    }

    /// Copy the demo set at `root` to `<data dir>/datasets/demo` (or `demo-2`, … when taken);
    /// the copy opens when it is complete.
    fn copy_demo(&mut self, ctx: &egui::Context, root: PathBuf) {
        self.open.copy_task = Some(Task::spawn("copy the demo set", ctx, move |_| {
            let base = bifsmn_deploy::dirs::data_dir()
                .ok_or("no user data folder (set BIFSMN_DATA_DIR)")?
                .join("datasets");
            let target = (1..1000)
                .map(|n| match n {
                    1 => base.join("demo"),
                    n => base.join(format!("demo-{n}")),
                })
                .find(|p| !p.exists())
                .ok_or_else(|| format!("{} holds too many demo copies", base.display()))?;
            bifsmn_engine::fsutil::copy_dir_atomic(&root, &target)
                .map_err(|e| format!("copying the demo set: {e}"))?;
            Ok(target)
        }));
    }

    /// Use the demo set.
    pub(crate) fn open_demo(&mut self, ctx: &egui::Context) {
        self.open.root_field.text.clear();
        self.open.protocol = Protocol::Twelve;
        self.open_dataset(ctx);
    }

    /// Whether loading work runs (playback does not count: see [`Panel::live`]).
    pub fn busy(&self) -> bool {
        self.open.task.is_some()
            || self.open.copy_task.is_some()
            || self.clips.task.is_some()
            || self.file.task.is_some()
            || self.classify.task.is_some()
            || self.fetch.running()
            || self.synth.running()
    }

    fn current_view(&self) -> Option<&ClipView> {
        match self.source {
            Source::Dataset => self.clips.view.as_ref(),
            Source::File => self.file.view.as_ref(),
        }
    }

    /// Space: play or stop what the detail area shows.
    pub(crate) fn toggle_playback(&mut self) {
        if let Some(v) = self.current_view() {
            v.toggle(&self.player);
        }
    }

    /// Up/Down: move the selection within the filtered list.
    pub(crate) fn select_relative(&mut self, ctx: &egui::Context, delta: i64) {
        let rows = self.clips.list.rows();
        if rows.is_empty() {
            return;
        }
        let pos = self
            .clips
            .selected
            .and_then(|s| rows.iter().position(|&r| r == s))
            .map_or(0, |p| {
                (p as i64 + delta).clamp(0, rows.len() as i64 - 1) as usize
            });
        let clip = rows[pos];
        self.select(ctx, clip);
    }

    /// Select dataset clip `index` and load it.
    pub fn select(&mut self, ctx: &egui::Context, index: usize) {
        let Some(ds) = self.open.dataset.clone() else {
            return;
        };
        if index >= ds.clips.len() {
            return;
        }
        self.clips.selected = Some(index);
        self.source = Source::Dataset;
        self.clips.notice = None;
        self.clips.task = Some(Task::spawn("decode clip", ctx, move |_| {
            clip_view::load_clip(&ds, &ds.clips[index]).map_err(|e| e.to_string())
        }));
    }

    /// Ctrl+O: open the audio file dialog.
    pub(crate) fn open_file_dialog(&mut self, ctx: &egui::Context) {
        self.file.field.open_dialog(ctx);
    }

    /// Decode the audio file in the file field.
    pub(crate) fn open_file(&mut self, ctx: &egui::Context) {
        let Some(path) = self.file.field.path() else {
            return;
        };
        self.source = Source::File;
        self.file.notice = None;
        self.file.task = Some(Task::spawn("decode file", ctx, move |_| {
            clip_view::load_file(&path)
        }));
    }

    /// Delete key: move the selected clip to the trash.
    pub(crate) fn trash_selected(&mut self, ctx: &egui::Context) {
        let Some((root, path)) = self.selected_file() else {
            return;
        };
        self.apply_edit(ctx, ops::trash(&root, &path), None);
    }

    /// Ctrl+Z: undo the last relabel or delete.
    pub(crate) fn undo_last(&mut self, ctx: &egui::Context) {
        let Some(u) = self.edits.undo.pop() else {
            return;
        };
        match ops::undo(&u) {
            Ok(()) => {
                self.edits.notice = Some(Notice::info(format!("Undone: {}", u.description)));
                self.reopen(ctx, Some(u.from.clone()));
            }
            Err(e) => {
                self.edits.notice = Some(Notice::error(
                    format!("{}: {e}", u.description),
                    format!(
                        "The clip is still at {}; move it back by hand if needed.",
                        u.to.display()
                    ),
                ));
            }
        }
    }

    fn selected_file(&self) -> Option<(PathBuf, PathBuf)> {
        let ds = self.open.dataset.as_ref()?;
        let clip = ds.clips.get(self.clips.selected?)?;
        Some((ds.root.clone(), clip.path()?.to_path_buf()))
    }

    fn apply_edit(
        &mut self,
        ctx: &egui::Context,
        result: std::io::Result<ops::Undo>,
        reselect_moved: Option<()>,
    ) {
        match result {
            Ok(u) => {
                self.edits.notice = Some(Notice::info(format!(
                    "Done: {} (Ctrl+Z to undo)",
                    u.description
                )));
                // After a relabel keep the clip selected at its new place; after a delete move on
                // to the next row.
                let reselect = if reselect_moved.is_some() {
                    Some(u.to.clone())
                } else {
                    self.neighbour_path()
                };
                self.edits.undo.push(u);
                self.reopen(ctx, reselect);
            }
            Err(e) => {
                self.edits.notice = Some(Notice::error(
                    e.to_string(),
                    "Nothing was changed. Check the folder's permissions and free space.",
                ))
            }
        }
    }

    /// The path of the row after the selected one (or before it at the end).
    fn neighbour_path(&self) -> Option<PathBuf> {
        let ds = self.open.dataset.as_ref()?;
        let rows = self.clips.list.rows();
        let pos = rows.iter().position(|&r| Some(r) == self.clips.selected)?;
        let next = rows
            .get(pos + 1)
            .or_else(|| pos.checked_sub(1).and_then(|p| rows.get(p)))?;
        ds.clips[*next].path().map(Path::to_path_buf)
    }

    /// Re-read the open dataset (clips were added elsewhere, e.g. recorded in the Test panel),
    /// keeping the selected clip.
    pub(crate) fn rescan(&mut self, ctx: &egui::Context) {
        let keep = self.clips.selected.and_then(|i| {
            let ds = self.open.dataset.as_ref()?;
            ds.clips.get(i)?.path().map(Path::to_path_buf)
        });
        self.reopen(ctx, keep);
    }

    /// Re-open the dataset after an edit and select `reselect` when it is back.
    fn reopen(&mut self, ctx: &egui::Context, reselect: Option<PathBuf>) {
        let Some(ds) = &self.open.dataset else {
            return;
        };
        let (root, protocol) = (ds.root.clone(), ds.protocol);
        self.open.reselect = reselect;
        self.open.task = Some(Task::spawn("rescan dataset", ctx, move |_| {
            open_checked(&root, protocol)
        }));
    }

    /// Collect finished background work (see [`Panel::poll`]).
    fn poll_work(&mut self, ctx: &egui::Context, model: &ModelSlot) {
        if let Some(r) = take_done(&mut self.open.task) {
            match r {
                Ok(Ok((ds, is_demo))) => {
                    self.open.is_demo = is_demo;
                    let first = self.open.dataset.is_none();
                    let ds = Arc::new(ds);
                    self.open.dataset = Some(ds.clone());
                    self.open.generation += 1;
                    self.clips.list.refresh(&ds, self.open.generation);
                    let wanted = self.open.reselect.take();
                    let index = wanted
                        .as_ref()
                        .and_then(|w| ds.clips.iter().position(|c| c.path() == Some(w.as_path())));
                    match index {
                        Some(i) => self.select(ctx, i),
                        None if first || wanted.is_some() => {
                            if let Some(&i) = self.clips.list.rows().first() {
                                self.select(ctx, i);
                            }
                        }
                        None => {
                            self.clips.selected = None;
                            self.clips.view = None;
                        }
                    }
                }
                Ok(Err(e)) => {
                    self.open.notice = Some(Notice::error(e.to_string(), dataset_hint(&e)));
                }
                Err(e) => self.open.notice = Some(Notice::error(e, "")),
            }
        }
        if let Some(r) = take_done(&mut self.open.copy_task) {
            match r.and_then(|x| x) {
                Ok(copy) => {
                    self.open.root_field.text = copy.display().to_string();
                    self.open.protocol = Protocol::Twelve;
                    self.open_dataset(ctx);
                    self.open.notice = Some(Notice::info(format!(
                        "Copied the demo set to {}: edits and recordings go there.",
                        copy.display()
                    )));
                }
                Err(e) => {
                    self.open.notice = Some(Notice::error(
                        e,
                        "Choose another folder for your dataset, or free some space.",
                    ))
                }
            }
        }
        if let Some(r) = take_done(&mut self.clips.task) {
            match r.and_then(|x| x) {
                Ok(audio) => {
                    let id = self.view_id();
                    self.clips.view = Some(ClipView::new(ctx, audio, id));
                    self.classify_current(ctx);
                }
                Err(e) => {
                    self.clips.view = None;
                    self.clips.notice = Some(Notice::error(
                        e,
                        "The file may be damaged; `bifsmn data check` lists every bad file. Delete it here (it goes to .trash) or replace it.",
                    ));
                }
            }
        }
        if let Some(r) = take_done(&mut self.file.task) {
            match r {
                Ok(Ok(audio)) => {
                    let id = self.view_id();
                    self.file.view = Some(ClipView::new(ctx, audio, id));
                    self.classify_current(ctx);
                }
                Ok(Err(e)) => {
                    self.file.view = None;
                    self.file.notice = Some(Notice::error(
                        e.to_string(),
                        "Pick a WAV, FLAC, Ogg Vorbis or MP3 file. If it plays elsewhere, convert it to WAV (e.g. with ffmpeg or sox) and open that.",
                    ));
                }
                Err(e) => self.file.notice = Some(Notice::error(e, "")),
            }
        }
        if self.classify.slot.sync(model) {
            self.classify.path_index = 0;
            self.classify_current(ctx);
        }
        if let Some(r) = take_done(&mut self.classify.task) {
            match r.and_then(|x| x) {
                Ok(v) => self.classify.verdict = Some(v),
                Err(e) => {
                    self.classify.notice = Some(Notice::error(
                        format!("classification failed: {e}"),
                        "Check that the model was trained on 16 kHz, 1 s clips.",
                    ))
                }
            }
        }
        if let Some(PlayerEvent::Unavailable(why)) = self.player.poll() {
            self.player_notice = Some(Notice::warning(
                format!("Cannot play audio: {why}."),
                "Connect or enable an output device (check the system sound settings), then press Play again.",
            ));
        }
    }

    fn view_id(&mut self) -> u64 {
        self.next_view_id += 1;
        self.next_view_id
    }

    /// Classify what the detail area shows, if a model is loaded.
    fn classify_current(&mut self, ctx: &egui::Context) {
        let (Some(model), Some(view)) = (self.classify.slot.model.clone(), self.current_view())
        else {
            return;
        };
        let samples = view.audio.samples.clone();
        let view_id = view.id;
        let path = self
            .classify
            .path_index
            .min(model.num_paths().saturating_sub(1));
        self.classify.task = Some(Task::spawn("classify", ctx, move |_| {
            let a = models::analyse(&model, &samples, path).map_err(|e| e.to_string())?;
            Ok(Verdict {
                view: view_id,
                path,
                top: models::top_classes(&model.packed.labels, &a.classification, 3),
            })
        }));
    }

    /// Draw the panel (see [`Panel::ui`]).
    fn draw(&mut self, ui: &mut Ui, slot: &mut ModelSlot) {
        let ctx = ui.ctx().clone();
        self.poll_work(&ctx, slot);
        self.dataset_bar(ui);
        ui.separator();
        egui::Panel::left("data-left")
            .resizable(true)
            .default_size(470.0)
            .size_range(320.0..=760.0)
            .show(ui, |ui| self.left_column(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("data-detail")
                .show(ui, |ui| self.detail(ui, slot));
        });
    }

    fn dataset_bar(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        ui.horizontal_wrapped(|ui| {
            let ev = self
                .open
                .root_field
                .ui(ui, "Dataset", "empty = the embedded demo set", 340.0);
            egui::ComboBox::from_label("protocol")
                .selected_text(self.open.protocol.name())
                .show_ui(ui, |ui| {
                    for p in Protocol::ALL {
                        ui.selectable_value(&mut self.open.protocol, p, protocol_label(p));
                    }
                });
            let open = ui
                .add_enabled(self.open.task.is_none(), egui::Button::new("Open"))
                .on_hover_text("Scan the folder with the chosen protocol");
            if open.clicked() || ev.chosen() {
                self.open_dataset(&ctx);
            }
            if ui
                .button("Demo set")
                .on_hover_text("The small synthetic dataset that ships with the workbench")
                .clicked()
            {
                self.open_demo(&ctx);
            }
            if self.open.task.is_some() {
                ui.spinner();
            }
        });
        if let Some(ds) = self.open.dataset.clone() {
            let counts = ds.counts();
            ui.label(
                RichText::new(format!(
                    "{} · protocol {} · {} classes · {} train / {} validation / {} test clips · splits from {}",
                    ds.root.display(),
                    ds.protocol.name(),
                    ds.labels.len(),
                    counts.total(Split::Train),
                    counts.total(Split::Validation),
                    counts.total(Split::Test),
                    match ds.split_source {
                        bifsmn_engine::data::speech_commands::SplitSource::Lists => "the list files",
                        bifsmn_engine::data::speech_commands::SplitSource::SpeakerHash => "speaker hashes",
                    }
                ))
                .weak(),
            );
            if self.open.is_demo {
                ui.horizontal_wrapped(|ui| {
                    ui.label(
                        RichText::new(
                            "This is the bundled demo set (read-only once installed). Relabel, \
                             delete and recordings need a copy of your own:",
                        )
                        .small(),
                    );
                    if ui
                        .add_enabled(
                            self.open.copy_task.is_none(),
                            egui::Button::new("Make an editable copy"),
                        )
                        .on_hover_text("Copy it into the workbench's data folder and open the copy")
                        .clicked()
                    {
                        self.copy_demo(&ctx, ds.root.clone());
                    }
                    if self.open.copy_task.is_some() {
                        ui.spinner();
                    }
                });
            }
        }
        show_slot(ui, &mut self.open.notice);
        egui::CollapsingHeader::new("Fetch Speech Commands")
            .id_salt("fetch-sc")
            .default_open(false)
            .show(ui, |ui| {
                if let Some((dir, protocol)) = self.fetch.ui(ui) {
                    self.open.root_field.text = dir.display().to_string();
                    self.open.protocol = protocol;
                    self.open_dataset(&ctx);
                }
            });
        egui::CollapsingHeader::new("New dataset from keywords…")
            .id_salt("synth-keywords")
            .default_open(false)
            .show(ui, |ui| {
                if let Some((dir, protocol)) = self.synth.ui(ui) {
                    self.open.root_field.text = dir.display().to_string();
                    self.open.protocol = protocol;
                    self.open_dataset(&ctx);
                }
            });
    }

    fn left_column(&mut self, ui: &mut Ui) {
        // Claim the panel's whole width: a resizable panel otherwise shrinks to its content,
        // and the list's columns are sized from the width they are given.
        ui.set_min_width(ui.available_width());
        let Some(ds) = self.open.dataset.clone() else {
            ui.add_space(20.0);
            if self.open.task.is_some() {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Scanning the dataset…");
                });
            } else {
                ui.label("No dataset open. Choose a folder above or use the demo set.");
            }
            return;
        };
        egui::CollapsingHeader::new(RichText::new("Clips per class and split").strong())
            .id_salt("counts")
            .default_open(true)
            .show(ui, |ui| self.counts_table(ui, &ds));
        ui.add_space(4.0);
        self.clips.list.filters_ui(ui, &ds);
        self.clips.list.refresh(&ds, self.open.generation);
        ui.label(
            RichText::new(format!(
                "{} of {} clips",
                self.clips.list.rows().len(),
                ds.clips.len()
            ))
            .weak(),
        );
        if let Some(i) = self.clips.list.list_ui(ui, &ds, self.clips.selected) {
            let ctx = ui.ctx().clone();
            self.select(&ctx, i);
        }
    }

    fn counts_table(&mut self, ui: &mut Ui, ds: &Dataset) {
        let counts = ds.counts();
        egui::ScrollArea::vertical()
            .id_salt("counts-scroll")
            .max_height(260.0)
            .show(ui, |ui| {
                egui::Grid::new("counts-grid")
                    .striped(true)
                    .num_columns(5)
                    .min_col_width(48.0)
                    .show(ui, |ui| {
                        for h in ["class", "train", "validation", "test", "total"] {
                            ui.label(RichText::new(h).strong());
                        }
                        ui.end_row();
                        for (k, name) in ds.labels.iter().enumerate() {
                            let selected = self.clips.list.class == Some(k);
                            if ui
                                .selectable_label(selected, name)
                                .on_hover_text("Show only this class in the list")
                                .clicked()
                            {
                                self.clips.list.class = if selected { None } else { Some(k) };
                            }
                            let mut total = 0;
                            for s in Split::ALL {
                                let n = counts.get(k, s);
                                total += n;
                                ui.label(n.to_string());
                            }
                            ui.label(RichText::new(total.to_string()).strong());
                            ui.end_row();
                        }
                        ui.label(RichText::new("all").strong());
                        let mut all = 0;
                        for s in Split::ALL {
                            all += counts.total(s);
                            ui.label(RichText::new(counts.total(s).to_string()).strong());
                        }
                        ui.label(RichText::new(all.to_string()).strong());
                        ui.end_row();
                    });
            });
    }

    fn detail(&mut self, ui: &mut Ui, slot: &mut ModelSlot) {
        let ctx = ui.ctx().clone();
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.source, Source::Dataset, "Dataset clip");
            ui.selectable_value(&mut self.source, Source::File, "Audio file");
        });
        ui.add_space(4.0);
        if self.source == Source::File {
            let ev = self
                .file
                .field
                .ui(ui, "File", "any WAV, FLAC, Ogg or MP3 file", 360.0);
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(
                        self.file.field.path().is_some(),
                        egui::Button::new("Open file"),
                    )
                    .on_hover_text("Decode and show the file (Ctrl+O opens the file chooser)")
                    .clicked()
                    || ev.chosen()
                {
                    self.open_file(&ctx);
                }
                if self.file.task.is_some() {
                    ui.spinner();
                }
            });
            show_slot(ui, &mut self.file.notice);
        } else {
            show_slot(ui, &mut self.clips.notice);
            if self.clips.task.is_some() && self.clips.view.is_none() {
                ui.spinner();
            }
        }
        show_slot(ui, &mut self.player_notice);
        // The view is taken out while drawing so the classification UI can borrow the panel.
        let view = match self.source {
            Source::Dataset => self.clips.view.take(),
            Source::File => self.file.view.take(),
        };
        let mut reclassify = false;
        if let Some(view) = &view {
            ui.horizontal(|ui| {
                view.play_button(ui, &self.player);
                ui.heading(&view.audio.name);
            });
            if !view.audio.info.is_empty() {
                ui.label(RichText::new(&view.audio.info).weak());
            }
            if self.source == Source::Dataset
                && let (Some(ds), Some(i)) = (&self.open.dataset, self.clips.selected)
                && let Some(c) = ds.clips.get(i)
            {
                ui.label(format!(
                    "class {} · split {} · speaker {}",
                    ds.labels[c.label],
                    c.split.name(),
                    if c.speaker.is_empty() {
                        "—"
                    } else {
                        &c.speaker
                    }
                ));
            }
            view.show_waveform(ui, &self.player, 150.0);
            ui.add_space(6.0);
            ui.horizontal_top(|ui| {
                ui.vertical(|ui| {
                    ui.label(RichText::new("Log-mel features (what the model sees)").strong());
                    view.show_logmel(ui, 224.0);
                });
                ui.add_space(16.0);
                ui.vertical(|ui| reclassify = self.classify_ui(ui, slot, Some(view.id)));
            });
        } else if self.source == Source::File && self.file.task.is_none() {
            ui.label("Open a file to see its waveform and features.");
        }
        match self.source {
            Source::Dataset => self.clips.view = self.clips.view.take().or(view),
            Source::File => self.file.view = self.file.view.take().or(view),
        }
        if reclassify {
            self.classify_current(&ctx);
        }
        if self.source == Source::Dataset {
            ui.add_space(8.0);
            self.edit_ui(ui);
        }
    }

    /// The model picker and the prediction for the view `current`; true when the thin path
    /// changed (the caller classifies again).
    fn classify_ui(&mut self, ui: &mut Ui, slot: &mut ModelSlot, current: Option<u64>) -> bool {
        let ctx = ui.ctx().clone();
        let mut changed = false;
        ui.label(RichText::new("Classify with a model").strong());
        let ev = slot
            .field
            .ui(ui, "Model", ".bkw or training run folder", 220.0);
        ui.horizontal(|ui| {
            if ui
                .add_enabled(slot.field.path().is_some(), egui::Button::new("Load"))
                .clicked()
                || ev.chosen()
            {
                slot.load(&ctx, None);
            }
            if slot.is_loading() || self.classify.task.is_some() {
                ui.spinner();
            }
        });
        show_slot(ui, &mut slot.notice);
        show_slot(ui, &mut self.classify.notice);
        let Some(model) = self.classify.slot.model.clone() else {
            return false;
        };
        ui.label(RichText::new(model.describe()).weak().small());
        if model.num_paths() > 1 {
            changed = model.path_combo(ui, "data-model-path", &mut self.classify.path_index);
        }
        if let Some(v) = &self.classify.verdict
            && Some(v.view) == current
        {
            ui.label(format!("Prediction ({}):", model.path_label(v.path)));
            for (i, (name, p)) in v.top.iter().enumerate() {
                ui.horizontal(|ui| {
                    let text = if i == 0 {
                        RichText::new(name).strong()
                    } else {
                        RichText::new(name)
                    };
                    ui.add_sized([80.0, 16.0], egui::Label::new(text));
                    ui.add(
                        egui::ProgressBar::new(*p)
                            .desired_width(140.0)
                            .text(format!("{:.1} %", p * 100.0)),
                    );
                });
            }
        }
        changed
    }

    fn edit_ui(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        let Some(ds) = self.open.dataset.clone() else {
            return;
        };
        let Some(clip) = self.clips.selected.and_then(|i| ds.clips.get(i)) else {
            return;
        };
        ui.label(RichText::new("Edit").strong());
        if clip.path().is_none() {
            ui.weak("Silence clips are generated, not files: nothing to edit.");
            return;
        }
        if clip.is_excerpt() {
            ui.weak(
                "This is a 1 s window of a long recording of non-keyword speech \
                 (_long_speech_): edit the recording itself, not its windows.",
            );
            return;
        }
        let mut words: Vec<String> = ds
            .clips
            .iter()
            .filter(|c| c.path().is_some())
            .map(|c| c.word.clone())
            // The dataset's own keywords (the ten commands, or a keywords.txt of its own).
            .chain(
                ds.labels
                    .iter()
                    .filter(|l| *l != "unknown" && *l != "silence")
                    .cloned(),
            )
            .collect();
        words.sort();
        words.dedup();
        if self.edits.relabel_word.is_empty() || !words.contains(&self.edits.relabel_word) {
            self.edits.relabel_word = words
                .iter()
                .find(|w| **w != clip.word)
                .cloned()
                .unwrap_or_default();
        }
        let busy = self.open.task.is_some();
        ui.horizontal_wrapped(|ui| {
            ui.label("Move to word folder");
            egui::ComboBox::from_id_salt("relabel-word")
                .selected_text(&self.edits.relabel_word)
                .show_ui(ui, |ui| {
                    for w in &words {
                        ui.selectable_value(&mut self.edits.relabel_word, w.clone(), w);
                    }
                })
                .response
                .accessible_name("target word folder");
            let can = !busy && self.edits.relabel_word != clip.word;
            if ui
                .add_enabled(can, egui::Button::new("Relabel"))
                .on_hover_text("Move the file to that folder; the split lists follow")
                .clicked()
                && let Some((root, path)) = self.selected_file()
            {
                let word = self.edits.relabel_word.clone();
                self.apply_edit(&ctx, ops::relabel(&root, &path, &word), Some(()));
            }
            ui.separator();
            if ui
                .add_enabled(!busy, egui::Button::new("Delete"))
                .on_hover_text(
                    "Move the file to .trash in the dataset folder (Del); undo with Ctrl+Z",
                )
                .clicked()
            {
                self.trash_selected(&ctx);
            }
            let undo_text = self
                .edits
                .undo
                .last()
                .map(|u| format!("Undo: {}", u.description));
            if ui
                .add_enabled(undo_text.is_some() && !busy, egui::Button::new("Undo"))
                .on_hover_text(undo_text.unwrap_or_else(|| "Nothing to undo".into()))
                .clicked()
            {
                self.undo_last(&ctx);
            }
        });
        show_slot(ui, &mut self.edits.notice);
    }
}

impl Panel for DataPanel {
    fn poll(&mut self, ctx: &egui::Context, model: &ModelSlot) {
        self.poll_work(ctx, model);
    }

    fn jobs(&self, out: &mut Vec<JobStatus>) {
        out.extend(self.open.task.as_ref().map(Task::status));
        out.extend(self.open.copy_task.as_ref().map(Task::status));
        out.extend(self.clips.task.as_ref().map(Task::status));
        out.extend(self.file.task.as_ref().map(Task::status));
        out.extend(self.classify.task.as_ref().map(Task::status));
        out.extend(self.fetch.status());
        out.extend(self.synth.status());
    }

    fn busy(&self) -> bool {
        DataPanel::busy(self)
    }

    fn live(&self) -> bool {
        self.player.is_playing_any()
    }

    fn ui(&mut self, ui: &mut Ui, model: &mut ModelSlot) {
        self.draw(ui, model);
    }
}

fn protocol_label(p: Protocol) -> &'static str {
    match p {
        Protocol::V1_12 => "v1-12 (Speech Commands v0.01, 12 classes)",
        Protocol::V2_12 => "v2-12 (Speech Commands v0.02, 12 classes)",
        Protocol::V2_35 => "v2-35 (Speech Commands v0.02, 35 words)",
        Protocol::Twelve => "12 (10 commands + unknown + silence, any folder)",
    }
}

/// What to do about a dataset that does not open.
fn dataset_hint(e: &DataError) -> String {
    match e {
        DataError::RootMissing(_) | DataError::NotADirectory(_) => {
            "Choose an existing folder in the Speech Commands layout (<word>/<speaker>_nohash_<n>.wav), or press Demo set.".into()
        }
        DataError::UnexpectedWords { .. } => {
            "Pick the protocol that matches the folder (the message suggests one).".into()
        }
        DataError::NoClips(_) => {
            "The folder has no <word>/*_nohash_*.wav or .flac files. Fetch Speech Commands below or choose another folder.".into()
        }
        _ => "Fix the problem named above (or run `bifsmn data check` on the folder), then press Open again.".into(),
    }
}

/// Open a dataset and tell whether it is the bundled demo set (both on a worker thread: the
/// comparison resolves paths on disk).
fn open_checked(root: &Path, protocol: Protocol) -> Result<(Dataset, bool), DataError> {
    let ds = Dataset::open(root, protocol)?;
    let is_demo = demo_root()
        .and_then(|d| std::fs::canonicalize(d).ok())
        .is_some_and(|d| std::fs::canonicalize(root).is_ok_and(|r| r == d));
    Ok((ds, is_demo))
}
