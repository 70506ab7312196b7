//! The Inspect panel (Netron-like): a model's layers with type, shape, bits, parameters,
//! packed bytes, MACs and the board's measured microseconds, and the binary activations every
//! layer produces for a chosen clip on a chosen thin path, computed by the same bit kernels
//! that run on the board.

use std::path::PathBuf;
use std::sync::Arc;

use bifsmn_engine::data::Dataset;
use egui::{RichText, Ui};

use crate::bench_history::{self, BoardTiming};
use crate::model_slot::{ModelSlot, SlotView};
use crate::models::{self, InferenceModel};
use crate::panels::Panel;
use crate::paths;
use crate::task::{JobStatus, Task, take_done};
use crate::widgets::layer_bits::{self, LayerBitsView};
use crate::widgets::notice::show_slot;
use crate::widgets::path_field::AUDIO_EXTS;
use crate::widgets::{Notice, PathField, Pick};

/// Persisted state.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct InspectSettings {
    pub path: usize,
    pub file: String,
    pub use_file: bool,
}

/// What the analysis was computed for.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Key {
    model: u64,
    clip: String,
    path: usize,
}

/// Result of analysing one clip, before textures are made.
struct Analysis {
    key: Key,
    top: Vec<(String, f32)>,
    bits: Vec<bifsmn_kernels::infer::LayerBits>,
}

/// Analysis with textures.
struct AnalysisView {
    key: Key,
    top: Vec<(String, f32)>,
    cards: Vec<LayerBitsView>,
}

/// The Inspect panel.
pub struct InspectPanel {
    /// The workbench's model slot, as of the last poll.
    slot: SlotView,
    pub(crate) path: usize,
    pub(crate) use_file: bool,
    file_field: PathField,
    dataset: Option<Arc<Dataset>>,
    dataset_clip: Option<usize>,
    analysis_task: Option<Task<Result<Analysis, String>>>,
    analysis: Option<AnalysisView>,
    analysis_notice: Option<Notice>,
    /// Key of the last analysis started, so it is not restarted every frame.
    requested: Option<Key>,
    timing: Option<BoardTiming>,
    timing_task: Option<Task<Option<BoardTiming>>>,
    timing_key: Option<(u64, usize)>,
}

impl InspectPanel {
    pub(crate) fn new(s: &InspectSettings) -> Self {
        Self {
            slot: SlotView::default(),
            path: s.path,
            use_file: s.use_file,
            file_field: PathField::new(s.file.clone(), Pick::File(AUDIO_EXTS)),
            dataset: None,
            dataset_clip: None,
            analysis_task: None,
            analysis: None,
            analysis_notice: None,
            requested: None,
            timing: None,
            timing_task: None,
            timing_key: None,
        }
    }

    pub(crate) fn settings(&self) -> InspectSettings {
        InspectSettings {
            path: self.path,
            file: self.file_field.text.clone(),
            use_file: self.use_file,
        }
    }

    /// The dataset and the clip selected in the Data panel.
    pub(crate) fn set_clip(&mut self, dataset: Option<Arc<Dataset>>, clip: Option<usize>) {
        self.dataset = dataset;
        self.dataset_clip = clip;
    }

    /// Binary layers with bits shown (tests).
    pub fn bit_layers(&self) -> usize {
        self.analysis.as_ref().map_or(0, |a| a.cards.len())
    }

    /// The clip to analyse: its display name and how to load it.
    fn clip_choice(&self) -> Option<(String, ClipRef)> {
        if self.use_file {
            let p = self.file_field.path()?;
            Some((p.display().to_string(), ClipRef::File(p)))
        } else {
            let ds = self.dataset.clone()?;
            let i = self.dataset_clip?;
            let c = ds.clips.get(i)?;
            Some((ds.relative_name(c), ClipRef::Dataset(ds, i)))
        }
    }

    /// Collect finished background work (see [`Panel::poll`]).
    fn poll_work(&mut self, ctx: &egui::Context, slot: &ModelSlot) {
        if self.slot.sync(slot) {
            if let Some(m) = &self.slot.model {
                self.path = self.path.min(m.num_paths().saturating_sub(1));
            }
            self.analysis = None;
            self.requested = None;
        }
        if let Some(r) = take_done(&mut self.analysis_task) {
            match r.and_then(|x| x) {
                Ok(a) => {
                    let tag = format!("inspect-{}-{}", a.key.model, a.key.path);
                    let cards = a
                        .bits
                        .iter()
                        .map(|b| LayerBitsView::from_kernels(ctx, b, &tag))
                        .collect();
                    self.analysis = Some(AnalysisView {
                        key: a.key,
                        top: a.top,
                        cards,
                    });
                    self.analysis_notice = None;
                }
                Err(e) => {
                    self.analysis = None;
                    self.analysis_notice = Some(Notice::error(
                        e,
                        "Pick another clip or file; the file may be unreadable.",
                    ));
                }
            }
        }
        if let Some(Ok(t)) = take_done(&mut self.timing_task) {
            self.timing = t;
        }
        self.request_work(ctx);
    }

    /// Start the analysis or the timing lookup when their inputs changed.
    fn request_work(&mut self, ctx: &egui::Context) {
        let Some(model) = self.slot.model.clone() else {
            return;
        };
        let tk = (self.slot.generation, self.path);
        if self.timing_key != Some(tk) && self.timing_task.is_none() {
            self.timing_key = Some(tk);
            let (hash, path) = (model.hash.clone(), self.path);
            self.timing_task = Some(Task::spawn("read bench history", ctx, move |_| {
                bench_history::read_latest(&paths::bench_history(), &hash, path)
            }));
        }
        let Some((name, clip)) = self.clip_choice() else {
            return;
        };
        let key = Key {
            model: self.slot.generation,
            clip: name,
            path: self.path,
        };
        if self.requested.as_ref() == Some(&key) || self.analysis_task.is_some() {
            return;
        }
        self.requested = Some(key.clone());
        self.analysis_task = Some(Task::spawn("inspect clip", ctx, move |_| {
            let samples = clip.load()?;
            let a = models::analyse(&model, &samples, key.path).map_err(|e| e.to_string())?;
            Ok(Analysis {
                top: models::top_classes(&model.packed.labels, &a.classification, 3),
                bits: a.bits,
                key,
            })
        }));
    }

    /// Draw the panel (see [`Panel::ui`]).
    fn draw(&mut self, ui: &mut Ui, slot: &mut ModelSlot) {
        let ctx = ui.ctx().clone();
        self.poll_work(&ctx, slot);
        ui.horizontal_wrapped(|ui| slot.row_ui(ui));
        show_slot(ui, &mut slot.notice);
        let Some(model) = self.slot.model.clone() else {
            ui.add_space(12.0);
            ui.label(
                "Load a packed model (.bkw, e.g. from `bifsmn export`) or a training run folder \
                 (converted to the packed format in memory) to see its layers and bits.",
            );
            return;
        };
        ui.label(RichText::new(model.describe()).weak());
        ui.label(
            RichText::new(format!("{} · {}", model.source.display(), model.hash))
                .weak()
                .small(),
        );
        ui.horizontal_wrapped(|ui| {
            ui.label("Thin path");
            model.path_combo(ui, "inspect-path", &mut self.path);
            ui.separator();
            ui.label("Clip");
            ui.selectable_value(&mut self.use_file, false, "selected in Data");
            ui.selectable_value(&mut self.use_file, true, "audio file");
        });
        if self.use_file {
            let ev = self
                .file_field
                .ui(ui, "File", "WAV, FLAC, Ogg or MP3", 340.0);
            if ev.chosen() {
                self.requested = None;
            }
        } else {
            match self.clip_choice() {
                Some((name, _)) => ui.label(format!(
                    "Clip: {name} (select another in the Data panel, Ctrl+1)"
                )),
                None => {
                    ui.label("Select a clip in the Data panel (Ctrl+1), or choose an audio file.")
                }
            };
        }
        show_slot(ui, &mut self.analysis_notice);
        if let Some(a) = &self.analysis {
            let text: Vec<String> = a
                .top
                .iter()
                .map(|(n, p)| format!("{n} {:.1} %", 100.0 * p))
                .collect();
            ui.label(format!(
                "Prediction on {}: {}",
                a.key.clip,
                text.join(" · ")
            ));
        }
        if self.analysis_task.is_some() {
            ui.spinner();
        }
        ui.separator();
        // The table and the bit maps share the height, each scrolling on its own, so both are
        // in view at once.
        let table_height = (ui.available_height() * 0.42).max(160.0);
        ui.label(RichText::new("Layers").strong());
        egui::ScrollArea::both()
            .id_salt("inspect-table")
            .max_height(table_height)
            .auto_shrink([false, true])
            .show(ui, |ui| self.layer_table(ui, &model));
        ui.separator();
        ui.horizontal(|ui| {
            ui.label(
                RichText::new("Binary activations at the input of each binary layer").strong(),
            );
            if model.is_binary() && self.analysis.is_some() {
                layer_bits::legend(ui);
            }
        });
        egui::ScrollArea::vertical()
            .id_salt("inspect-bits")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                if !model.is_binary() {
                    ui.label("This is a full-precision model: it has no binary activations.");
                } else if let Some(a) = &self.analysis {
                    ui.weak(
                        "Agreement with the teacher's signs is shown live in Train > Activation bits.",
                    );
                    layer_bits::cards(ui, &a.cards);
                }
            });
    }

    fn layer_table(&self, ui: &mut Ui, model: &InferenceModel) {
        let plus: std::collections::HashMap<&str, f32> = self
            .analysis
            .as_ref()
            .map(|a| {
                a.cards
                    .iter()
                    .map(|c| (c.name.as_str(), c.plus_fraction))
                    .collect()
            })
            .unwrap_or_default();
        let timing = self.timing.as_ref();
        egui::Grid::new("inspect-layer-table")
            .striped(true)
            .num_columns(10)
            .spacing([14.0, 4.0])
            .show(ui, |ui| {
                let board = timing.map_or("board µs".to_string(), |t| {
                    "board µs".to_string() + if t.threads > 1 { " (mt)" } else { "" }
                });
                for h in [
                    "layer",
                    "type",
                    "shape",
                    "weight bits",
                    "planes",
                    "params",
                    "packed bytes",
                    "MACs",
                    "+1 (clip)",
                ] {
                    ui.label(RichText::new(h).strong());
                }
                let r = ui.label(RichText::new(board).strong());
                if let Some(t) = timing {
                    r.on_hover_text(format!(
                        "latest bench of this model on {} ({}, {} thread(s))",
                        t.board, t.isa, t.threads
                    ));
                } else {
                    r.on_hover_text(
                        "No board benchmark of this model yet (Deploy writes bench-history.jsonl).",
                    );
                }
                ui.end_row();
                for l in model
                    .summary
                    .layers
                    .iter()
                    .filter(|l| l.paths.contains(&self.path))
                {
                    let name = l.layer.to_string();
                    ui.label(RichText::new(&name).monospace());
                    ui.label(&l.op);
                    ui.label(
                        l.shape
                            .iter()
                            .map(|d| d.to_string())
                            .collect::<Vec<_>>()
                            .join("×"),
                    );
                    ui.label(l.weight_bits.to_string());
                    ui.label(if l.planes == 0 {
                        "—".to_string()
                    } else {
                        l.planes.to_string()
                    });
                    ui.label(l.params.to_string());
                    ui.label(l.packed_bytes.to_string());
                    ui.label(l.macs.to_string());
                    ui.label(
                        plus.get(name.as_str())
                            .map_or("—".to_string(), |f| format!("{:.1} %", 100.0 * f)),
                    );
                    ui.label(
                        timing
                            .and_then(|t| t.layer_us.get(&name))
                            .map_or("—".to_string(), |us| format!("{us:.2}")),
                    );
                    ui.end_row();
                }
                if let Some(p) = model.summary.paths.get(self.path) {
                    ui.label(RichText::new("path total").strong());
                    ui.label("");
                    ui.label("");
                    ui.label("");
                    ui.label("");
                    ui.label(RichText::new(p.params.to_string()).strong());
                    ui.label(RichText::new(p.packed_bytes.to_string()).strong());
                    ui.label(
                        RichText::new(format!("{} ({} binary)", p.macs, p.binary_macs)).strong(),
                    );
                    ui.label("");
                    ui.label(
                        RichText::new(
                            timing
                                .and_then(|t| t.end_to_end_us)
                                .map_or("—".to_string(), |us| format!("{us:.1}")),
                        )
                        .strong(),
                    );
                    ui.end_row();
                }
            });
    }
}

impl Panel for InspectPanel {
    fn poll(&mut self, ctx: &egui::Context, model: &ModelSlot) {
        self.poll_work(ctx, model);
    }

    fn jobs(&self, out: &mut Vec<JobStatus>) {
        out.extend(self.analysis_task.as_ref().map(Task::status));
    }

    fn busy(&self) -> bool {
        self.analysis_task.is_some() || self.timing_task.is_some()
    }

    fn ui(&mut self, ui: &mut Ui, model: &mut ModelSlot) {
        self.draw(ui, model);
    }
}

/// A clip to load on the worker.
enum ClipRef {
    Dataset(Arc<Dataset>, usize),
    File(PathBuf),
}

impl ClipRef {
    fn load(&self) -> Result<Vec<f32>, String> {
        match self {
            ClipRef::Dataset(ds, i) => ds.load(&ds.clips[*i]).map_err(|e| e.to_string()),
            ClipRef::File(p) => bifsmn_engine::audio::load_clip(p).map_err(|e| e.to_string()),
        }
    }
}
