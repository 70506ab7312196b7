//! The Test panel: microphone (device, level, overruns), recording labelled clips into the
//! open dataset, live detection with score traces and an event list (from the microphone or
//! an audio file), the test-split confusion matrix whose cells list and play their clips, and
//! "Teach it my voice" ([`teach`]): takes of the user's voice and a fine-tune on them.
//!
//! Nothing here blocks the UI thread: the device is opened and read on the microphone thread
//! ([`mic`]), detection runs on the engine's `LiveDetector` thread ([`live`]), models, device
//! lists, decoding and the matrix ([`confusion`]) are [`Task`]s, playback is the [`Player`]
//! thread. `poll` drains all of them once per frame.

pub(crate) mod confusion;
pub(crate) mod live;
pub(crate) mod mic;
pub(crate) mod teach;
mod view_confusion;
mod view_live;
mod view_side;

use std::path::PathBuf;
use std::sync::Arc;

use bifsmn_engine::capture::record::RecordPlan;
use bifsmn_engine::capture::{
    CaptureError, CaptureInfo, InputDeviceInfo, LevelMeter, list_input_devices,
};
use bifsmn_engine::data::Dataset;
use bifsmn_engine::stream::MicSource;
use bifsmn_engine::stream::live::LiveDetector;
use egui::{RichText, Ui};

use crate::model_slot::{ModelSlot, SlotView};
use crate::models::InferenceModel;
use crate::panels::Panel;
use crate::playback::{Player, PlayerEvent};
use crate::task::{JobStatus, Task, take_done};
use crate::widgets::path_field::AUDIO_EXTS;
use crate::widgets::{Notice, PathField, Pick};
use confusion::Confusion;
use live::{FileStream, LiveRun, SourceKind};
use mic::{Mic, MicCmd, MicMsg, RecordPhase};

/// The sub-view in the main area.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TestView {
    #[default]
    Live,
    Confusion,
    /// "Teach it my voice" ([`teach`]).
    Teach,
}

/// Persisted state.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TestSettings {
    pub path: usize,
    /// Input device id or name; empty = the system default.
    pub device: String,
    pub view: TestView,
    pub source: SourceKind,
    /// Audio file streamed through the detector.
    pub file: String,
    /// Stream the file at the pace of real time (else as fast as possible).
    pub real_time: bool,
    pub threshold: f32,
    pub smoothing: usize,
    pub refractory_ms: f32,
    pub record_label: String,
    pub record_speaker: String,
    pub record_seconds: f32,
    pub record_trim: bool,
    pub record_count: usize,
    pub teach: teach::TeachSettings,
}

impl Default for TestSettings {
    fn default() -> Self {
        Self {
            path: 0,
            device: String::new(),
            view: TestView::Live,
            source: SourceKind::Microphone,
            file: String::new(),
            real_time: true,
            threshold: 0.7,
            smoothing: 3,
            refractory_ms: 1000.0,
            record_label: String::new(),
            record_speaker: String::new(),
            record_seconds: 1.5,
            record_trim: true,
            record_count: 5,
            teach: teach::TeachSettings::default(),
        }
    }
}

/// True classes, predicted classes and `counts[true][predicted]`.
pub(crate) type ConfusionCounts = (Vec<String>, Vec<String>, Vec<Vec<usize>>);

/// A dataset clip's index and samples, loaded for playback.
type LoadedClip = (usize, Vec<f32>);

/// A recording session in progress.
struct Recording {
    phase: Option<RecordPhase>,
    plan: Option<RecordPlan>,
    label: String,
}

/// The Test panel.
pub struct TestPanel {
    // Model.
    /// The workbench's model slot, as of the last poll.
    slot: SlotView,
    /// A model to load into the slot ("Use the new model"), at the end of this frame's `ui`.
    load_request: Option<PathBuf>,
    /// The model's classes and the dataset's differ.
    labels_notice: Option<Notice>,
    pub(crate) path: usize,
    // Dataset.
    dataset: Option<Arc<Dataset>>,
    dataset_gen: u64,
    dataset_changed: bool,
    /// Whether the open dataset is the bundled demo set (as the Data panel found when it
    /// opened it).
    is_demo: bool,
    pub(crate) view: TestView,
    // Microphone.
    device: String,
    devices: Option<Vec<InputDeviceInfo>>,
    devices_task: Option<Task<Result<Vec<InputDeviceInfo>, CaptureError>>>,
    devices_requested: bool,
    mic: Option<Mic>,
    mic_info: Option<CaptureInfo>,
    meter: Option<LevelMeter>,
    mic_notice: Option<Notice>,
    // Recording.
    rec_label: String,
    rec_speaker: String,
    rec_seconds: f32,
    rec_trim: bool,
    rec_count: usize,
    recording: Option<Recording>,
    /// What the sessions did, newest last: `(saved, text)`.
    record_log: Vec<(bool, String)>,
    record_notice: Option<Notice>,
    // Live detection.
    source: SourceKind,
    file_field: PathField,
    real_time: bool,
    threshold: f32,
    smoothing: usize,
    refractory_ms: f32,
    live: Option<LiveRun>,
    live_task: Option<Task<Result<LiveRun, Notice>>>,
    /// Detection waits for the microphone thread to hand over its capture.
    pending_detect: bool,
    live_notice: Option<Notice>,
    // Confusion matrix.
    confusion: Option<Confusion>,
    confusion_task: Option<Task<Result<Confusion, String>>>,
    confusion_requested: Option<confusion::Key>,
    confusion_notice: Option<Notice>,
    selected_cell: Option<(usize, usize)>,
    player: Player,
    clip_task: Option<Task<Result<LoadedClip, String>>>,
    player_notice: Option<Notice>,
    /// "Teach it my voice": takes, fine-tune, before and after.
    pub teach: teach::Teach,
}

impl TestPanel {
    pub fn new(s: &TestSettings) -> Self {
        Self {
            slot: SlotView::default(),
            load_request: None,
            labels_notice: None,
            path: s.path,
            dataset: None,
            dataset_gen: 0,
            dataset_changed: false,
            is_demo: false,
            view: s.view,
            device: s.device.clone(),
            devices: None,
            devices_task: None,
            devices_requested: false,
            mic: None,
            mic_info: None,
            meter: None,
            mic_notice: None,
            rec_label: s.record_label.clone(),
            rec_speaker: s.record_speaker.clone(),
            rec_seconds: s.record_seconds.clamp(0.5, 5.0),
            rec_trim: s.record_trim,
            rec_count: s.record_count.clamp(1, 100),
            recording: None,
            record_log: Vec::new(),
            record_notice: None,
            source: s.source,
            file_field: PathField::new(s.file.clone(), Pick::File(AUDIO_EXTS)),
            real_time: s.real_time,
            threshold: s.threshold.clamp(0.0, 1.0),
            smoothing: s.smoothing.clamp(1, 20),
            refractory_ms: s.refractory_ms.clamp(0.0, 5000.0),
            live: None,
            live_task: None,
            pending_detect: false,
            live_notice: None,
            confusion: None,
            confusion_task: None,
            confusion_requested: None,
            confusion_notice: None,
            selected_cell: None,
            player: Player::new(),
            clip_task: None,
            player_notice: None,
            teach: teach::Teach::new(&s.teach),
        }
    }

    pub(crate) fn settings(&self) -> TestSettings {
        TestSettings {
            path: self.path,
            device: self.device.clone(),
            view: self.view,
            source: self.source,
            file: self.file_field.text.clone(),
            real_time: self.real_time,
            threshold: self.threshold,
            smoothing: self.smoothing,
            refractory_ms: self.refractory_ms,
            record_label: self.rec_label.clone(),
            record_speaker: self.rec_speaker.clone(),
            record_seconds: self.rec_seconds,
            record_trim: self.rec_trim,
            record_count: self.rec_count,
            teach: self.teach.settings(),
        }
    }

    /// The dataset open in the Data panel (recordings go there; the confusion matrix uses its
    /// test split), and whether it is the bundled demo set.
    pub(crate) fn set_dataset(&mut self, dataset: Option<Arc<Dataset>>, is_demo: bool) {
        self.is_demo = is_demo;
        let same = match (&self.dataset, &dataset) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        if !same {
            self.dataset = dataset;
            self.dataset_gen += 1;
        }
    }

    /// Whether clips were recorded into the dataset since the last call (the Data panel
    /// should rescan it).
    pub(crate) fn take_dataset_changed(&mut self) -> bool {
        std::mem::take(&mut self.dataset_changed)
    }

    /// Load `path` into the workbench's model slot at the end of this frame.
    fn request_load(&mut self, path: PathBuf) {
        self.load_request = Some(path);
    }

    /// The model of the workbench's slot, as of the last poll.
    pub fn model(&self) -> Option<&Arc<InferenceModel>> {
        self.slot.model.as_ref()
    }

    /// Test clips in the confusion matrix (0 before it is computed).
    pub fn confusion_total(&self) -> usize {
        self.confusion.as_ref().map_or(0, Confusion::total)
    }

    /// The matrix as `(true classes, predicted classes, counts[true][predicted])`.
    pub fn confusion_counts(&self) -> Option<ConfusionCounts> {
        let m = self.confusion.as_ref()?;
        let counts = (0..m.rows.len())
            .map(|r| (0..m.cols.len()).map(|c| m.count(r, c)).collect())
            .collect();
        Some((m.rows.clone(), m.cols.clone(), counts))
    }

    /// Names of the clips listed for the selected cell.
    pub fn listed_clips(&self) -> Vec<String> {
        let (Some(m), Some(ds), Some((r, c))) =
            (&self.confusion, &self.dataset, self.selected_cell)
        else {
            return Vec::new();
        };
        m.cells[r][c]
            .iter()
            .filter_map(|o| ds.clips.get(o.clip).map(|clip| ds.relative_name(clip)))
            .collect()
    }

    /// Score points and events of the current live run.
    pub fn live_counts(&self) -> (u64, usize) {
        self.live
            .as_ref()
            .map_or((0, 0), |l| (l.total_points, l.events.len()))
    }

    /// Whether live detection is running.
    pub fn detecting(&self) -> bool {
        self.live.as_ref().is_some_and(LiveRun::is_running)
    }

    /// Whether live audio is running (the UI repaints steadily while it does).
    pub fn is_live(&self) -> bool {
        self.mic.is_some()
            || self.detecting()
            || self.recording.is_some()
            || self.pending_detect
            || self.player.is_playing_any()
    }

    /// Collect finished background work (see [`Panel::poll`]).
    fn poll_work(&mut self, ctx: &egui::Context, slot: &ModelSlot) {
        if self.slot.sync(slot)
            && let Some(m) = &self.slot.model
        {
            self.path = self.path.min(m.num_paths().saturating_sub(1));
            self.check_labels();
        }
        if let Some(r) = take_done(&mut self.devices_task) {
            match r {
                Ok(Ok(list)) => {
                    if self.mic.is_none() && self.mic_notice.is_none() {
                        self.mic_notice = device_problem(&list, self.device.trim());
                    }
                    self.devices = Some(list);
                }
                Ok(Err(e)) => {
                    self.devices = Some(Vec::new());
                    self.mic_notice = Some(no_device_notice(e.to_string()));
                }
                Err(e) => self.mic_notice = Some(Notice::error(e, "")),
            }
        }
        self.poll_mic(ctx);
        if let Some(r) = take_done(&mut self.live_task) {
            match r {
                Ok(Ok(run)) => {
                    run.set_threshold(self.threshold);
                    self.live = Some(run);
                }
                Ok(Err(n)) => self.live_notice = Some(n),
                Err(e) => self.live_notice = Some(Notice::error(e, "")),
            }
        }
        if let Some(run) = &mut self.live {
            run.poll();
            if let Some(e) = run.error.take() {
                self.live_notice = Some(if run.kind == SourceKind::Microphone {
                    Notice::error(
                        format!("Live detection stopped: {e}"),
                        "The microphone may have been unplugged. Reconnect it, press Refresh, pick it and start again; or choose Source › Audio file.",
                    )
                } else {
                    Notice::error(
                        format!("Live detection stopped: {e}"),
                        "Check the file and start again.",
                    )
                });
            }
        }
        if let Some(r) = take_done(&mut self.confusion_task) {
            match r.and_then(|x| x) {
                Ok(m) => {
                    self.confusion_notice = None;
                    if let Some(sel) = self.selected_cell
                        && (sel.0 >= m.rows.len() || sel.1 >= m.cols.len())
                    {
                        self.selected_cell = None;
                    }
                    self.confusion = Some(m);
                }
                Err(e) if e == confusion::CANCELLED => {
                    self.confusion_notice = Some(Notice::info(
                        "Cancelled. Press Recompute to classify the test split.",
                    ))
                }
                Err(e) => {
                    self.confusion_notice = Some(Notice::error(
                        format!("The confusion matrix could not be computed: {e}"),
                        "Check that the model was trained on 16 kHz, 1 s clips and that the dataset has a test split (testing_list.txt).",
                    ))
                }
            }
        }
        if let Some(r) = take_done(&mut self.clip_task) {
            match r.and_then(|x| x) {
                Ok((clip, samples)) => self.player.play(
                    clip as u64,
                    Arc::new(samples),
                    bifsmn_engine::audio::SAMPLE_RATE,
                ),
                Err(e) => {
                    self.player_notice = Some(Notice::error(
                        format!("Cannot load the clip: {e}"),
                        "The file may have been moved or deleted; rescan the dataset in the Data panel.",
                    ))
                }
            }
        }
        if let Some(PlayerEvent::Unavailable(why)) = self.player.poll() {
            self.player_notice = Some(Notice::warning(
                format!("Cannot play audio: {why}."),
                "Connect or enable an output device (check the system sound settings), then click the clip again.",
            ));
        }
        self.request_confusion(ctx);
        self.poll_teach(ctx);
    }

    /// Warn when the model's classes and the dataset's differ (the matrix and detection still
    /// work, but names will not line up).
    fn check_labels(&mut self) {
        let (Some(m), Some(ds)) = (&self.slot.model, &self.dataset) else {
            return;
        };
        let missing: Vec<&str> = ds
            .labels
            .iter()
            .filter(|l| !m.packed.labels.contains(l))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            self.labels_notice = Some(Notice::warning(
                format!(
                    "The model's classes ({}) do not include {} of the dataset.",
                    m.packed.labels.join(", "),
                    missing.join(", ")
                ),
                "Clips of those classes count as errors in the confusion matrix. Load a model trained on this dataset's protocol.",
            ));
        }
    }

    fn poll_mic(&mut self, ctx: &egui::Context) {
        let Some(mic) = &self.mic else {
            return;
        };
        let mut ended = false;
        for msg in mic.drain() {
            match msg {
                MicMsg::Opened { info, meter } => {
                    self.mic_notice = None;
                    self.mic_info = Some(info);
                    self.meter = Some(meter);
                }
                MicMsg::Planned(p) => {
                    if let Some(r) = &mut self.recording {
                        r.plan = Some(p);
                    }
                }
                MicMsg::Phase(p) => {
                    if let Some(r) = &mut self.recording {
                        r.phase = Some(p);
                    }
                }
                MicMsg::Saved(c) => {
                    // Takes of "Teach it my voice" go to their own folder, not the dataset.
                    if !self.teach.is_recording() {
                        self.dataset_changed = true;
                    }
                    let hint = if c.peak_dbfs >= -0.1 {
                        " · clipped: move back from the microphone"
                    } else if c.peak_dbfs < -40.0 {
                        " · very quiet: check the microphone"
                    } else {
                        ""
                    };
                    self.record_log.push((
                        true,
                        format!(
                            "saved {} ({} split, {:.2} s, peak {:.0} dBFS{}){hint}",
                            c.relative,
                            c.split.name(),
                            c.seconds,
                            c.peak_dbfs,
                            if c.truncated { ", cut to 1 s" } else { "" }
                        ),
                    ));
                }
                MicMsg::NotSaved(e) => self.record_log.push((false, format!("not saved: {e}"))),
                MicMsg::RecordDone { saved, failed } => {
                    self.recording = None;
                    if failed > 0 && saved == 0 {
                        self.record_notice = Some(Notice::warning(
                            "No clip was saved.",
                            "See the log below: speak louder or closer to the microphone, or turn off trimming.",
                        ));
                    }
                }
                MicMsg::Handover(capture) => {
                    ended = true;
                    if self.pending_detect {
                        self.pending_detect = false;
                        self.start_live_with(ctx, Some(*capture));
                    }
                }
                MicMsg::Failed(e) => {
                    ended = true;
                    let lost = matches!(
                        e,
                        CaptureError::StreamFailed { .. } | CaptureError::NoAudio { .. }
                    );
                    let n = if lost {
                        Notice::error(
                            format!("The microphone stopped: {e}"),
                            "It may have been unplugged. Reconnect it, press Refresh, pick it and press Start microphone again.",
                        )
                    } else {
                        no_device_notice(e.to_string())
                    };
                    if self.recording.take().is_some() {
                        self.record_notice = Some(Notice::error(
                            "Recording stopped: the microphone is not available.",
                            "See the Microphone section above for what to do.",
                        ));
                    }
                    if self.pending_detect {
                        self.pending_detect = false;
                        self.live_notice = Some(n.clone());
                    }
                    self.mic_notice = Some(n);
                }
            }
        }
        if ended {
            self.mic = None;
            self.mic_info = None;
            self.meter = None;
        }
    }

    /// Open the chosen input device on the microphone thread.
    fn start_mic(&mut self, ctx: &egui::Context) {
        if self.mic.is_some() {
            return;
        }
        self.mic_notice = None;
        let device = (!self.device.trim().is_empty()).then(|| self.device.trim().to_string());
        self.mic = Some(Mic::start(device, ctx));
    }

    fn stop_mic(&mut self) {
        self.mic = None;
        self.mic_info = None;
        self.meter = None;
        self.recording = None;
        self.pending_detect = false;
    }

    fn refresh_devices(&mut self, ctx: &egui::Context) {
        self.devices_requested = true;
        if self.mic.is_none() {
            self.mic_notice = None;
        }
        if self.devices_task.is_none() {
            self.devices_task = Some(Task::spawn("list input devices", ctx, |_| {
                list_input_devices()
            }));
        }
    }

    /// Start live detection from the chosen source.
    fn start_live(&mut self, ctx: &egui::Context) {
        self.live_notice = None;
        if let Some(run) = &mut self.live {
            run.stop();
        }
        if self.source == SourceKind::Microphone {
            // The microphone thread owns the device: take its capture over.
            self.start_mic(ctx);
            self.pending_detect = true;
            if let Some(m) = &self.mic {
                m.send(MicCmd::Handover);
            }
        } else {
            self.start_live_with(ctx, None);
        }
    }

    /// Spawn the detector on the microphone's `capture`, or on the audio file.
    fn start_live_with(
        &mut self,
        ctx: &egui::Context,
        capture: Option<bifsmn_engine::capture::Capture>,
    ) {
        let Some(model) = self.slot.model.clone() else {
            self.live_notice = Some(Notice::warning(
                "No model is loaded.",
                "Load a packed model (.bkw) or a run folder at the top of this panel first.",
            ));
            return;
        };
        let path = self.path;
        let config = live::detector_config(self.threshold, self.smoothing, self.refractory_ms);
        let file = self.file_field.path();
        let real_time = self.real_time;
        self.live_task = Some(Task::spawn("start detection", ctx, move |_| {
            let scorer = bifsmn_engine::stream::ModelScorer::new(model.engine.clone(), path)
                .map_err(|e| Notice::error(e.to_string(), "Pick another thin path or model."))?;
            let (source, kind, name): (Box<dyn bifsmn_engine::stream::SampleSource>, _, _) =
                match capture {
                    Some(c) => {
                        let name = c.info().device.clone();
                        (
                            Box::new(MicSource::from_capture(c)),
                            SourceKind::Microphone,
                            name,
                        )
                    }
                    None => {
                        let Some(file) = file else {
                            return Err(Notice::warning(
                                "No audio file is chosen.",
                                "Type or browse to a WAV, FLAC, Ogg or MP3 file next to Source.",
                            ));
                        };
                        let s = FileStream::open(&file, real_time).map_err(|e| {
                            Notice::error(
                                e.to_string(),
                                "Pick a WAV, FLAC, Ogg Vorbis or MP3 file (any rate, mono or stereo).",
                            )
                        })?;
                        let name = file.display().to_string();
                        (Box::new(s), SourceKind::AudioFile, name)
                    }
                };
            let live = LiveDetector::spawn(source, scorer, config)
                .map_err(|e| Notice::error(e.to_string(), "Check the detector settings."))?;
            Ok(LiveRun::new(live, kind, name))
        }));
    }

    fn stop_live(&mut self) {
        if let Some(run) = &mut self.live {
            run.stop();
        }
        self.pending_detect = false;
    }

    /// Start the matrix when its view is open and its inputs changed.
    fn request_confusion(&mut self, ctx: &egui::Context) {
        if self.view != TestView::Confusion || self.confusion_task.is_some() {
            return;
        }
        let (Some(model), Some(ds)) = (self.slot.model.clone(), self.dataset.clone()) else {
            return;
        };
        let key = confusion::Key {
            model: self.slot.generation,
            dataset: self.dataset_gen,
            path: self.path,
        };
        if self.confusion_requested == Some(key) {
            return;
        }
        self.confusion_requested = Some(key);
        self.confusion_task = Some(Task::spawn("confusion matrix", ctx, move |p| {
            confusion::compute(&model, &ds, key, p)
        }));
    }

    fn play_clip(&mut self, ctx: &egui::Context, clip: usize) {
        if self.player.is_playing(clip as u64) {
            self.player.stop();
            return;
        }
        let Some(ds) = self.dataset.clone() else {
            return;
        };
        self.player_notice = None;
        self.clip_task = Some(Task::spawn("load clip", ctx, move |_| {
            let c = ds.clips.get(clip).ok_or("the clip is gone")?;
            ds.load(c).map(|s| (clip, s)).map_err(|e| e.to_string())
        }));
    }

    /// Draw the panel (see [`Panel::ui`]).
    fn draw(&mut self, ui: &mut Ui, slot: &mut ModelSlot) {
        let ctx = ui.ctx().clone();
        self.poll_work(&ctx, slot);
        if !self.devices_requested {
            self.refresh_devices(&ctx);
        }
        self.model_bar(ui, slot);
        ui.separator();
        egui::Panel::left("test-left")
            .resizable(true)
            .default_size(390.0)
            .size_range(320.0..=560.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("test-side")
                    .auto_shrink([false, false])
                    .show(ui, |ui| {
                        self.mic_ui(ui, &ctx);
                        ui.add_space(8.0);
                        ui.separator();
                        self.record_ui(ui, &ctx);
                    });
            });
        egui::CentralPanel::default().show(ui, |ui| {
            ui.horizontal(|ui| {
                for (v, name) in [
                    (TestView::Live, "Live detection"),
                    (TestView::Confusion, "Confusion matrix"),
                    (TestView::Teach, "Teach it my voice"),
                ] {
                    if ui
                        .selectable_label(self.view == v, RichText::new(name).size(14.0))
                        .clicked()
                    {
                        self.view = v;
                    }
                }
            });
            ui.separator();
            match self.view {
                TestView::Live => self.live_ui(ui, &ctx),
                TestView::Confusion => {
                    self.request_confusion(&ctx);
                    self.confusion_ui(ui, &ctx)
                }
                TestView::Teach => self.teach_ui(ui, &ctx),
            }
        });
        if let Some(path) = self.load_request.take() {
            slot.load(&ctx, Some(&path));
        }
    }

    fn model_bar(&mut self, ui: &mut Ui, slot: &mut ModelSlot) {
        ui.horizontal_wrapped(|ui| {
            slot.row_ui(ui);
            if let Some(model) = self.slot.model.clone() {
                ui.separator();
                ui.label("Thin path");
                if model.path_combo(ui, "test-path", &mut self.path) && self.detecting() {
                    self.live_notice = Some(Notice::info(
                        "The thin path applies when detection starts again (Stop, then Start).",
                    ));
                }
            }
        });
        if let Some(model) = &self.slot.model {
            ui.label(RichText::new(model.describe()).weak());
        }
        notice_slot(ui, &mut slot.notice);
        notice_slot(ui, &mut self.labels_notice);
    }
}

impl Panel for TestPanel {
    fn poll(&mut self, ctx: &egui::Context, model: &ModelSlot) {
        self.poll_work(ctx, model);
    }

    fn jobs(&self, out: &mut Vec<JobStatus>) {
        out.extend(self.confusion_task.as_ref().map(Task::status));
        out.extend(self.live_task.as_ref().map(Task::status));
        self.teach.jobs(out);
        if let Some(r) = &self.recording {
            let label = match r.phase {
                Some(
                    RecordPhase::GetReady { clip, count, .. }
                    | RecordPhase::Speak { clip, count, .. },
                ) => {
                    format!("recording \"{}\" {clip}/{count}", r.label)
                }
                None => format!("recording \"{}\"", r.label),
            };
            out.push(JobStatus {
                label,
                fraction: None,
            });
        }
        if self.detecting() {
            out.push(JobStatus {
                label: "live detection".into(),
                fraction: None,
            });
        }
    }

    fn busy(&self) -> bool {
        self.confusion_task.is_some()
            || self.live_task.is_some()
            || self.devices_task.is_some()
            || self.clip_task.is_some()
            || self.teach.busy()
    }

    fn live(&self) -> bool {
        self.is_live()
    }

    fn ui(&mut self, ui: &mut Ui, model: &mut ModelSlot) {
        self.draw(ui, model);
    }
}

/// An optional notice, kept within the width available (so that a long message wraps
/// instead of widening the side panel), cleared when dismissed.
fn notice_slot(ui: &mut Ui, slot: &mut Option<Notice>) {
    if slot.is_none() {
        return;
    }
    let width = (ui.available_width() - 28.0).max(120.0);
    ui.scope(|ui| {
        ui.set_max_width(width);
        crate::widgets::notice::show_slot(ui, slot);
    });
}

/// What is wrong with the chosen device before it is opened, judged from the device list:
/// none at all, no usable default, or a remembered device that is not connected.
fn device_problem(list: &[InputDeviceInfo], chosen: &str) -> Option<Notice> {
    if list.is_empty() {
        return Some(no_device_notice("no audio input device was found.".into()));
    }
    if chosen.is_empty() {
        return match list.iter().find(|d| d.is_default) {
            None => Some(no_device_notice(
                "the system has no default input device.".into(),
            )),
            Some(d) => d.config_error.as_ref().map(|e| {
                no_device_notice(format!(
                    "the default input {} is not usable: {}",
                    d.label(),
                    e.trim_end_matches('.')
                ))
            }),
        };
    }
    let found = list
        .iter()
        .any(|d| d.id.eq_ignore_ascii_case(chosen) || d.name.eq_ignore_ascii_case(chosen));
    (!found).then(|| {
        Notice::warning(
            format!("The input device \"{chosen}\" is not connected."),
            "Plug it in and press Refresh, or pick another device.",
        )
    })
}

/// The notice for a microphone that cannot be opened: what happened and what to do next.
fn no_device_notice(message: String) -> Notice {
    Notice::error(
        format!("No usable microphone: {message}"),
        "Connect a microphone (or enable it in the system sound settings), press Refresh and pick it under Device. \
         Meanwhile live detection works on recordings: choose Source › Audio file in Live detection.",
    )
}
