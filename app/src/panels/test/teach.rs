//! "Teach it my voice": record or import a few takes of each keyword, fine-tune the loaded
//! student on them (the engine's [`finetune`]), and compare the old and the new model.
//!
//! The takes live in a folder of their own, `<takes>/<keyword>/<file>.wav` (Speech Commands
//! style, speaker [`ME`]), never in the open dataset. Recording goes through the panel's
//! microphone thread ([`super::mic`]); scans, imports, discards, loading a take for playback
//! and the fine-tune itself are [`Task`]s, so the UI thread only polls.

use std::collections::{BTreeMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bifsmn_engine::capture::record::{RecordError, SaveOptions, save_clip};
use bifsmn_engine::train::finetune::{self, FinetuneConfig, FinetuneReport, ME, Prepared};
use bifsmn_engine::train::{TrainEvent, Trainer};
use crossbeam_channel::RecvTimeoutError;
use egui::{RichText, Ui};

use super::live::SourceKind;
use super::mic::{MicCmd, RecordJob};
use super::view_side::{level_meter, recording_status};
use super::{Recording, TestPanel, notice_slot};
use crate::models::InferenceModel;
use crate::paths;
use crate::task::{JobStatus, Progress, Task, take_done};
use crate::widgets::{Notice, PathField, Pick};

/// Takes a keyword needs before fine-tuning: the last one is held back for the comparison.
pub const MIN_TAKES: usize = 2;
/// Length of one recorded take (trimmed to the spoken second when saved).
const TAKE_SECONDS: f32 = 2.0;
/// Audio files the fine-tune reads as takes.
const TAKE_EXTS: [&str; 4] = ["wav", "flac", "ogg", "mp3"];
/// Phases of the fine-tune task ([`Progress::phase`]).
const PHASE_PREPARE: u64 = 0;
const PHASE_TRAIN: u64 = 1;
const PHASE_COMPARE: u64 = 2;
/// Resolution of the fine-tune's progress fraction.
const PROGRESS_UNITS: u64 = 1000;
/// Player ids of takes carry this bit, so they never meet the confusion view's clip indices.
const TAKE_ID_BIT: u64 = 1 << 63;

/// The flow's remembered values (part of [`super::TestSettings`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TeachSettings {
    /// Folder of the takes: `<takes>/<keyword>/<file>.wav`.
    pub takes: String,
    /// Takes to collect of each keyword.
    pub per_keyword: usize,
}

impl Default for TeachSettings {
    fn default() -> Self {
        Self {
            takes: paths::datasets_dir().join("my-voice").display().to_string(),
            per_keyword: 5,
        }
    }
}

/// Settings of the fine-tune that differ from the engine's defaults (tests run a tiny one).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FinetuneOverrides {
    pub epochs: Option<usize>,
    pub replay_clips: Option<usize>,
    /// Parent of the new run folder instead of the workbench's runs folder.
    pub runs_dir: Option<PathBuf>,
}

impl FinetuneOverrides {
    fn apply(&self, config: &mut FinetuneConfig) {
        if let Some(e) = self.epochs {
            config.epochs = e.max(1);
        }
        if let Some(n) = self.replay_clips {
            config.replay_clips = n;
        }
    }
}

/// The audio takes of every word folder of the takes folder, sorted by file name.
pub type Takes = BTreeMap<String, Vec<PathBuf>>;

/// Read the takes folder. Folders starting with `.` or `_` (the trash, background noise) are
/// not words; a folder that does not exist yet holds no takes.
pub fn scan_takes(root: &Path) -> std::io::Result<Takes> {
    let mut takes = Takes::new();
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(takes),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let word = entry.file_name().to_string_lossy().into_owned();
        if word.starts_with(['.', '_']) || !entry.path().is_dir() {
            continue;
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(entry.path())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_take(p))
            .collect();
        if !files.is_empty() {
            files.sort();
            takes.insert(word, files);
        }
    }
    Ok(takes)
}

fn is_take(path: &Path) -> bool {
    path.is_file()
        && path.extension().is_some_and(|e| {
            let e = e.to_string_lossy().to_lowercase();
            TAKE_EXTS.contains(&e.as_str())
        })
}

/// The words a user can teach: the model's classes except `unknown` and `silence`.
pub fn keywords_of(labels: &[String]) -> Vec<String> {
    labels
        .iter()
        .filter(|l| *l != "unknown" && *l != "silence")
        .cloned()
        .collect()
}

/// Number of takes of `keyword`.
pub fn count(takes: &Takes, keyword: &str) -> usize {
    takes.get(keyword).map_or(0, Vec::len)
}

/// Why Fine-tune cannot start yet (`None`: it can): every keyword needs [`MIN_TAKES`].
pub fn finetune_blocker(keywords: &[String], takes: &Takes) -> Option<String> {
    if keywords.is_empty() {
        return Some("Load a keyword model first.".into());
    }
    let short: Vec<&str> = keywords
        .iter()
        .filter(|k| count(takes, k) < MIN_TAKES)
        .map(String::as_str)
        .collect();
    (!short.is_empty()).then(|| {
        format!(
            "Every keyword needs at least {MIN_TAKES} takes (the last one is held back to \
             compare before and after); still short: {}.",
            short.join(", ")
        )
    })
}

/// The first keyword after `current` (going round) with fewer than `per_keyword` takes.
pub fn next_incomplete(
    keywords: &[String],
    current: &str,
    takes: &Takes,
    per_keyword: usize,
) -> Option<String> {
    let start = keywords
        .iter()
        .position(|k| k == current)
        .map_or(0, |i| i + 1);
    (0..keywords.len())
        .map(|i| &keywords[(start + i) % keywords.len()])
        .find(|k| count(takes, k) < per_keyword)
        .cloned()
}

/// The keyword after `current`, going round.
fn next_keyword(keywords: &[String], current: &str) -> Option<String> {
    let i = keywords.iter().position(|k| k == current)?;
    keywords.get((i + 1) % keywords.len()).cloned()
}

/// How far a training run is, from its events.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainProgress {
    pub epochs: usize,
    pub epochs_done: usize,
    /// Step within the running epoch (1-based; 0 before its first step).
    pub step: usize,
    pub steps_per_epoch: usize,
}

impl TrainProgress {
    pub fn new(epochs: usize) -> Self {
        Self {
            epochs,
            ..Self::default()
        }
    }

    pub fn apply(&mut self, event: &TrainEvent) {
        match event {
            TrainEvent::Started {
                epochs,
                resumed_from,
                ..
            } => {
                self.epochs = *epochs;
                self.epochs_done = resumed_from.unwrap_or(0);
                self.step = 0;
            }
            TrainEvent::Step(s) => {
                self.epochs_done = s.epoch.saturating_sub(1);
                self.step = s.step;
                self.steps_per_epoch = s.steps_per_epoch;
            }
            TrainEvent::Epoch(m) => {
                self.epochs_done = m.epoch;
                self.step = 0;
            }
            TrainEvent::Finished { .. } => {
                self.epochs_done = self.epochs;
                self.step = 0;
            }
            _ => {}
        }
    }

    /// Epochs done plus the running epoch's share of its steps, over all epochs.
    pub fn fraction(&self) -> f32 {
        if self.epochs == 0 {
            return 0.0;
        }
        let within = if self.steps_per_epoch > 0 {
            self.step as f32 / self.steps_per_epoch as f32
        } else {
            0.0
        };
        ((self.epochs_done as f32 + within) / self.epochs as f32).clamp(0.0, 1.0)
    }
}

/// What importing a batch of files did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImportOutcome {
    pub keyword: String,
    pub saved: usize,
    /// Files (names) in which no speech was found.
    pub no_speech: Vec<String>,
    /// Files that could not be read or saved, with the reason.
    pub failed: Vec<String>,
    pub cancelled: bool,
}

impl ImportOutcome {
    /// The notice to show, naming the files that were not imported.
    pub fn notice(&self) -> Option<Notice> {
        let mut what = Vec::new();
        let mut hints = Vec::new();
        if !self.no_speech.is_empty() {
            what.push(format!(
                "No speech found in {}: not imported.",
                self.no_speech.join(", ")
            ));
            hints.push(format!(
                "Pick recordings in which “{}” is clearly spoken (not silence or noise), or \
                 record the takes with the microphone.",
                self.keyword
            ));
        }
        if !self.failed.is_empty() {
            what.push(format!("Not imported: {}.", self.failed.join("; ")));
            hints.push(
                "Pick WAV, FLAC, Ogg Vorbis or MP3 files that play elsewhere, and check that \
                 the takes folder is writable."
                    .into(),
            );
        }
        if what.is_empty() {
            return self
                .cancelled
                .then(|| Notice::info(format!("Import cancelled after {} takes.", self.saved)));
        }
        Some(Notice::error(what.join(" "), hints.join(" ")))
    }
}

/// Why one file was not imported.
enum ImportProblem {
    NoSpeech,
    Failed(String),
}

/// Decode `file` and save it as the next take of `keyword` (trimmed to the spoken second).
fn import_one(root: &Path, keyword: &str, file: &Path) -> Result<(), ImportProblem> {
    let samples = bifsmn_engine::audio::load_mono_16k(file)
        .map_err(|e| ImportProblem::Failed(e.to_string()))?;
    let opts = SaveOptions {
        trim: true,
        ..SaveOptions::new(root, keyword, ME)
    };
    match save_clip(&opts, &samples) {
        Ok(_) => Ok(()),
        Err(RecordError::NoSpeech { .. }) => Err(ImportProblem::NoSpeech),
        Err(e) => Err(ImportProblem::Failed(e.to_string())),
    }
}

/// Import `files` as takes of `keyword` into `root` (worker thread).
pub fn import_all(
    root: &Path,
    keyword: &str,
    files: &[PathBuf],
    progress: &Progress,
) -> ImportOutcome {
    let mut out = ImportOutcome {
        keyword: keyword.to_string(),
        ..ImportOutcome::default()
    };
    for (i, file) in files.iter().enumerate() {
        if progress.is_cancelled() {
            out.cancelled = true;
            break;
        }
        progress.set(i as u64, Some(files.len() as u64));
        let name = file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into(),
        );
        match import_one(root, keyword, file) {
            Ok(()) => out.saved += 1,
            Err(ImportProblem::NoSpeech) => out.no_speech.push(name),
            Err(ImportProblem::Failed(e)) => out.failed.push(format!("{name} ({e})")),
        }
    }
    out
}

/// What was gained and what it cost, in one or two sentences.
pub fn summary(r: &FinetuneReport) -> String {
    let takes: u32 = r.per_keyword.iter().map(|k| k.takes).sum();
    let before: u32 = r.per_keyword.iter().map(|k| k.before).sum();
    let after: u32 = r.per_keyword.iter().map(|k| k.after).sum();
    let gained = match after.cmp(&before) {
        std::cmp::Ordering::Greater => format!(
            "It now recognises {after} of your {takes} held-back takes (the old model {before})."
        ),
        std::cmp::Ordering::Equal => {
            format!("It recognises {after} of your {takes} held-back takes, as before.")
        }
        std::cmp::Ordering::Less => format!(
            "It recognises fewer of your held-back takes: {after} of {takes} (the old model \
             {before}); record more takes and fine-tune again."
        ),
    };
    let pct = |v: &f32| 100.0 * v;
    let after_8 = r.base_test.after.first().map_or(0.0, pct);
    // Empty when the base model knows other classes: there is no "before" on this corpus.
    let Some(b) = r.base_test.before.first().map(pct) else {
        return format!(
            "{gained} The new model scores {after_8:.1}% on the corpus test split (8 layers)."
        );
    };
    let a = after_8;
    let base = if a - b < -0.05 {
        format!(
            "It cost {:.1} points of accuracy on the base corpus (8 layers: {b:.1}% to {a:.1}%)",
            b - a
        )
    } else if a - b > 0.05 {
        format!("The base corpus gained too (8 layers: {b:.1}% to {a:.1}%)")
    } else {
        format!("No loss on the base corpus (8 layers: {b:.1}% to {a:.1}%)")
    };
    let (fa0, fa1) = r.stream.fa_per_hour;
    format!("{gained} {base}; false accepts went from {fa0:.1} to {fa1:.1} per hour.")
}

/// Accuracies per thin path, e.g. `91.2% / 88.0% / 70.5%` (`—` when there are none).
fn per_path(values: &[f32]) -> String {
    if values.is_empty() {
        return "—".into();
    }
    values
        .iter()
        .map(|v| format!("{:.1}%", 100.0 * v))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// A stable player id for a take.
fn take_id(path: &Path) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut h);
    h.finish() | TAKE_ID_BIT
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    )
}

/// The hint for an error of [`finetune::prepare`], from its text (the engine's errors are
/// untyped).
fn prepare_hint(error: &str) -> &'static str {
    if error.contains("holds only the packed") {
        "Load the student's run folder in the model row above, or keep the .bkw next to the \
         run folder it was exported from, then press Fine-tune again."
    } else if error.contains("FP32 teacher") {
        "Load a binary student (.bkw or run folder) in the model row above."
    } else if error.contains("is not a keyword") {
        "Move that folder out of the takes folder: only the model's own keywords can be taught."
    } else if error.contains("replay corpus") {
        "Fine-tuning replays the bundled demo set, so it works for models of its 12 classes; \
         for others use `bifsmn train finetune --replay <dataset>`."
    } else if error.contains("teacher") {
        "The base model's teacher could not be used; fine-tune from the command line with \
         `bifsmn train finetune --teacher <run>`."
    } else {
        "Check the takes folder and the loaded model, then press Fine-tune again."
    }
}

fn cancelled_notice(run_dir: &Path) -> Notice {
    Notice::info(format!(
        "Fine-tune cancelled. Your takes are kept; the unfinished run is in {} (delete it if \
         you like).",
        run_dir.display()
    ))
}

/// Prepare, train and compare (worker thread): the whole fine-tune.
fn run_finetune(
    base: PathBuf,
    takes: PathBuf,
    overrides: &FinetuneOverrides,
    progress: &Progress,
) -> Result<FinetuneReport, Notice> {
    progress.set_phase(PHASE_PREPARE);
    let replay = bifsmn_engine::data::demo_root().ok_or_else(|| {
        Notice::error(
            "The bundled demo set was not found; fine-tuning replays it so that the model keeps \
             hearing other voices.",
            "Reinstall the workbench, or set BIFSMN_DEMO_DIR to the demo set's folder.",
        )
    })?;
    let runs = overrides.runs_dir.clone().unwrap_or_else(paths::runs_dir);
    let mut config =
        FinetuneConfig::new(base, takes, replay, paths::new_run_dir(&runs, "finetune"));
    overrides.apply(&mut config);
    let prepared = finetune::prepare(&config).map_err(|e| {
        let text = format!("{e:#}");
        Notice::error(
            format!("Cannot start the fine-tune: {text}"),
            prepare_hint(&text),
        )
    })?;
    if progress.is_cancelled() {
        return Err(cancelled_notice(&config.run_dir));
    }
    progress.set_phase(PHASE_TRAIN);
    let started = Instant::now();
    train(&prepared, progress)?;
    if progress.is_cancelled() {
        return Err(cancelled_notice(&config.run_dir));
    }
    progress.set_phase(PHASE_COMPARE);
    finetune::finish(&prepared, started.elapsed().as_secs_f64()).map_err(|e| {
        Notice::error(
            format!("The fine-tuned model could not be exported or compared: {e:#}"),
            format!(
                "The trained run is kept in {}; check the free disk space and press Fine-tune \
                 again.",
                config.run_dir.display()
            ),
        )
    })
}

/// Run the prepared training to its end, mirroring its progress and honouring Cancel.
fn train(prepared: &Prepared, progress: &Progress) -> Result<(), Notice> {
    let run_dir = &prepared.config.run_dir;
    let trainer = Trainer::spawn(prepared.train.clone(), false);
    let mut tracker = TrainProgress::new(prepared.train.epochs);
    let mut outcome = None;
    let mut cancel_sent = false;
    loop {
        match trainer.events().recv_timeout(Duration::from_millis(100)) {
            Ok(event) => {
                tracker.apply(&event);
                match event {
                    TrainEvent::Finished { .. } => outcome = Some(Ok(())),
                    TrainEvent::Cancelled { .. } => outcome = Some(Err(cancelled_notice(run_dir))),
                    TrainEvent::Error(e) => {
                        outcome = Some(Err(Notice::error(
                            format!("Fine-tuning failed: {e}"),
                            "Record a few more takes or re-record unclear ones, then press \
                             Fine-tune again; `bifsmn train finetune` in a terminal shows the \
                             same run step by step.",
                        )))
                    }
                    _ => {}
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            // The trainer thread has ended (its event senders are gone).
            Err(RecvTimeoutError::Disconnected) => break,
        }
        progress.set(
            (tracker.fraction() * PROGRESS_UNITS as f32) as u64,
            Some(PROGRESS_UNITS),
        );
        if progress.is_cancelled() && !cancel_sent {
            trainer.cancel();
            cancel_sent = true;
        }
    }
    trainer.join();
    outcome.unwrap_or_else(|| {
        Err(Notice::error(
            "The training thread ended without reporting how it went.",
            "Press Fine-tune again; if it happens again, run `bifsmn train finetune` in a \
             terminal to see the error.",
        ))
    })
}

/// A scan of the takes folder: the folder, the generation it was asked for, the result.
type ScanResult = (PathBuf, u64, Result<Takes, String>);

/// A take decoded for playback: its player id and samples.
type LoadedTake = (u64, Vec<f32>);

/// The flow's state.
pub struct Teach {
    takes_field: PathField,
    per_keyword: usize,
    selected: Option<String>,
    takes: Takes,
    /// Bumped whenever the takes may have changed; a scan runs when it or the folder differs
    /// from what `takes` was read for.
    scan_gen: u64,
    scanned: Option<(PathBuf, u64)>,
    scan_task: Option<Task<ScanResult>>,
    /// A session of this flow runs on the panel's microphone thread.
    recording: bool,
    /// Lines of the panel's record log already seen (each new one is a saved or failed take).
    log_seen: usize,
    /// Select the next keyword that needs takes once the scan after a session is in.
    advance_after_scan: bool,
    dialog: Option<Task<(String, Option<Vec<PathBuf>>)>>,
    import_queue: VecDeque<(String, Vec<PathBuf>)>,
    import_task: Option<Task<ImportOutcome>>,
    discard_task: Option<Task<Result<(), Notice>>>,
    play_task: Option<Task<Result<LoadedTake, Notice>>>,
    finetune_task: Option<Task<Result<FinetuneReport, Notice>>>,
    /// Settings for the next fine-tune that differ from the engine's defaults.
    pub overrides: FinetuneOverrides,
    report: Option<FinetuneReport>,
    /// Bring the new report into view once (it arrives below the fold).
    scroll_to_report: bool,
    /// "Deploy it…" was pressed: the Workbench hands this model to the Deploy panel.
    deploy_request: Option<PathBuf>,
    notice: Option<Notice>,
    finetune_notice: Option<Notice>,
}

impl Teach {
    pub fn new(s: &TeachSettings) -> Self {
        Self {
            takes_field: PathField::new(s.takes.clone(), Pick::Folder),
            per_keyword: s.per_keyword.clamp(MIN_TAKES, 50),
            selected: None,
            takes: Takes::new(),
            scan_gen: 0,
            scanned: None,
            scan_task: None,
            recording: false,
            log_seen: 0,
            advance_after_scan: false,
            dialog: None,
            import_queue: VecDeque::new(),
            import_task: None,
            discard_task: None,
            play_task: None,
            finetune_task: None,
            overrides: FinetuneOverrides::default(),
            report: None,
            scroll_to_report: false,
            deploy_request: None,
            notice: None,
            finetune_notice: None,
        }
    }

    pub fn settings(&self) -> TeachSettings {
        TeachSettings {
            takes: self.takes_field.text.clone(),
            per_keyword: self.per_keyword,
        }
    }

    /// Run the next fine-tune with these settings (tests run a tiny one).
    pub fn set_finetune_overrides(&mut self, overrides: FinetuneOverrides) {
        self.overrides = overrides;
    }

    /// The takes folder, when one is typed.
    pub fn takes_root(&self) -> Option<PathBuf> {
        self.takes_field.path()
    }

    /// Takes of `keyword` as last scanned.
    pub fn take_count(&self, keyword: &str) -> usize {
        count(&self.takes, keyword)
    }

    /// The last fine-tune's comparison.
    pub fn report(&self) -> Option<&FinetuneReport> {
        self.report.as_ref()
    }

    /// The fine-tune's message, if it failed or was cancelled.
    pub fn finetune_notice(&self) -> Option<&Notice> {
        self.finetune_notice.as_ref()
    }

    /// Whether this flow's recording session is running on the microphone thread (its clips
    /// go to the takes folder, not the dataset).
    pub(super) fn is_recording(&self) -> bool {
        self.recording
    }

    /// Import audio `files` as takes of `keyword` (what "Import takes…" does after its dialog).
    /// Imports run one batch at a time, after any recording session of this flow.
    pub fn import_files(&mut self, ctx: &egui::Context, keyword: &str, files: Vec<PathBuf>) {
        if files.is_empty() {
            return;
        }
        self.notice = None;
        self.import_queue.push_back((keyword.to_string(), files));
        ctx.request_repaint();
    }

    fn importing(&self) -> bool {
        self.import_task.is_some() || !self.import_queue.is_empty()
    }

    /// Whether takes are being written or removed (recording, importing, discarding).
    fn editing(&self) -> bool {
        self.recording || self.importing() || self.discard_task.is_some()
    }

    fn rescan(&mut self) {
        self.scan_gen += 1;
    }

    pub fn jobs(&self, out: &mut Vec<JobStatus>) {
        out.extend(self.import_task.as_ref().map(|t| JobStatus {
            label: "importing takes".into(),
            fraction: t.progress().fraction(),
        }));
        out.extend(self.finetune_task.as_ref().map(|t| JobStatus {
            label: "fine-tuning on your takes".into(),
            fraction: t.progress().fraction(),
        }));
    }

    pub fn busy(&self) -> bool {
        self.scan_task.is_some()
            || self.importing()
            || self.discard_task.is_some()
            || self.play_task.is_some()
            || self.dialog.is_some()
            || self.finetune_task.is_some()
    }

    /// Take the model "Deploy it…" asked for.
    pub fn take_deploy_request(&mut self) -> Option<PathBuf> {
        self.deploy_request.take()
    }

    /// Start a scan when the folder or the generation changed since the last one.
    fn request_scan(&mut self, ctx: &egui::Context) {
        if self.scan_task.is_some() {
            return;
        }
        let Some(root) = self.takes_root() else {
            self.takes.clear();
            return;
        };
        let key = (root.clone(), self.scan_gen);
        if self.scanned.as_ref() == Some(&key) {
            return;
        }
        let generation = self.scan_gen;
        self.scan_task = Some(Task::spawn("scan takes", ctx, move |_| {
            let result = scan_takes(&root).map_err(|e| e.to_string());
            (root, generation, result)
        }));
    }

    fn poll_scan(&mut self) {
        match take_done(&mut self.scan_task) {
            Some(Ok((root, generation, Ok(takes)))) => {
                self.takes = takes;
                self.scanned = Some((root, generation));
            }
            Some(Ok((root, generation, Err(e)))) => {
                self.takes.clear();
                self.notice = Some(Notice::error(
                    format!("Cannot read the takes folder {}: {e}", root.display()),
                    "Choose a folder you can read and write (Browse…).",
                ));
                self.scanned = Some((root, generation));
            }
            Some(Err(e)) => self.notice = Some(Notice::error(e, "")),
            None => {}
        }
    }

    /// Start the next queued import when nothing else writes takes.
    fn start_queued_import(&mut self, ctx: &egui::Context) {
        if self.import_task.is_some() || self.recording || self.finetune_task.is_some() {
            return;
        }
        let Some((keyword, files)) = self.import_queue.pop_front() else {
            return;
        };
        let Some(root) = self.takes_root() else {
            self.import_queue.clear();
            self.notice = Some(Notice::error(
                "No takes folder is chosen.",
                "Type or browse to a folder for your takes, then import again.",
            ));
            return;
        };
        self.import_task = Some(Task::spawn("import takes", ctx, move |p| {
            import_all(&root, &keyword, &files, p)
        }));
    }

    fn poll_files(&mut self, ctx: &egui::Context) {
        if let Some(r) = take_done(&mut self.dialog) {
            match r {
                Ok((keyword, Some(files))) => self.import_files(ctx, &keyword, files),
                Ok((_, None)) => {}
                Err(e) => self.notice = Some(Notice::error(e, "")),
            }
        }
        if let Some(r) = take_done(&mut self.import_task) {
            self.rescan();
            match r {
                Ok(outcome) => {
                    if let Some(n) = outcome.notice() {
                        self.notice = Some(n);
                    }
                }
                Err(e) => self.notice = Some(Notice::error(e, "")),
            }
        }
        if let Some(r) = take_done(&mut self.discard_task) {
            self.rescan();
            match r {
                Ok(Ok(())) => {}
                Ok(Err(n)) => self.notice = Some(n),
                Err(e) => self.notice = Some(Notice::error(e, "")),
            }
        }
        self.start_queued_import(ctx);
    }

    fn poll_finetune(&mut self) {
        match take_done(&mut self.finetune_task) {
            Some(Ok(Ok(report))) => {
                self.report = Some(report);
                self.scroll_to_report = true;
            }
            Some(Ok(Err(n))) => self.finetune_notice = Some(n),
            Some(Err(e)) => self.finetune_notice = Some(Notice::error(e, "")),
            None => {}
        }
    }

    /// Open the file dialog for takes of `keyword` (on a worker: the UI keeps drawing).
    fn open_import_dialog(&mut self, ctx: &egui::Context, keyword: String) {
        if self.dialog.is_some() {
            return;
        }
        let start = self.takes_root().filter(|p| p.is_dir());
        self.dialog = Some(Task::spawn("file dialog", ctx, move |_| {
            let mut d = rfd::FileDialog::new()
                .set_title(format!("Takes of “{keyword}”"))
                .add_filter("audio", super::AUDIO_EXTS);
            if let Some(dir) = start {
                d = d.set_directory(dir);
            }
            let files = d.pick_files();
            (keyword, files)
        }));
    }

    fn start_finetune(&mut self, ctx: &egui::Context, model: &InferenceModel) {
        self.finetune_notice = None;
        let Some(takes) = self.takes_root() else {
            self.finetune_notice = Some(Notice::error(
                "No takes folder is chosen.",
                "Type or browse to the folder with your takes.",
            ));
            return;
        };
        self.report = None;
        let base = model.source.clone();
        let overrides = self.overrides.clone();
        self.finetune_task = Some(Task::spawn("fine-tune", ctx, move |p| {
            run_finetune(base, takes, &overrides, p)
        }));
    }
}

impl TestPanel {
    /// Forwarded from [`TestPanel::poll`]: results of the flow's tasks and of its recording
    /// session.
    pub(super) fn poll_teach(&mut self, ctx: &egui::Context) {
        self.teach.poll_scan();
        if self.teach.recording {
            if self.record_log.len() != self.teach.log_seen {
                // A take was saved (or refused): count again.
                self.teach.log_seen = self.record_log.len();
                self.teach.rescan();
            }
            if self.recording.is_none() {
                self.teach.recording = false;
                self.teach.rescan();
                self.teach.advance_after_scan = true;
                if self.mic.is_none() && self.mic_notice.is_some() {
                    self.teach.notice = Some(Notice::error(
                        "Recording stopped: no usable microphone.",
                        "See the Microphone section on the left; or record the takes with \
                         another program and add them with Import takes….",
                    ));
                }
            }
        }
        self.teach.poll_files(ctx);
        if let Some(r) = take_done(&mut self.teach.play_task) {
            match r {
                Ok(Ok((id, samples))) => {
                    self.player
                        .play(id, Arc::new(samples), bifsmn_engine::audio::SAMPLE_RATE)
                }
                Ok(Err(n)) => self.player_notice = Some(n),
                Err(e) => self.player_notice = Some(Notice::error(e, "")),
            }
        }
        self.teach.poll_finetune();
        let scan_was_pending = self.teach.scan_task.is_some();
        self.teach.request_scan(ctx);
        if self.teach.advance_after_scan && !scan_was_pending && self.teach.scan_task.is_none() {
            self.teach.advance_after_scan = false;
            self.advance_keyword();
        }
    }

    /// The keywords of the loaded model.
    fn teach_keywords(&self) -> Vec<String> {
        self.model
            .as_ref()
            .map(|m| keywords_of(&m.packed.labels))
            .unwrap_or_default()
    }

    /// After a session: on to the next keyword that needs takes, if this one has enough.
    fn advance_keyword(&mut self) {
        let keywords = self.teach_keywords();
        let t = &mut self.teach;
        let Some(current) = t.selected.clone() else {
            return;
        };
        if count(&t.takes, &current) >= t.per_keyword
            && let Some(next) = next_incomplete(&keywords, &current, &t.takes, t.per_keyword)
        {
            t.selected = Some(next);
        }
    }

    /// The "Deploy it…" request for the Workbench (it switches to the Deploy panel).
    pub fn take_deploy_request(&mut self) -> Option<PathBuf> {
        self.teach.take_deploy_request()
    }

    fn mic_used_by_detection(&self) -> bool {
        self.pending_detect
            || self
                .live
                .as_ref()
                .is_some_and(|r| r.is_running() && r.kind == SourceKind::Microphone)
    }

    fn start_teach_recording(
        &mut self,
        ctx: &egui::Context,
        root: PathBuf,
        keyword: String,
        count: usize,
    ) {
        self.teach.notice = None;
        self.start_mic(ctx);
        let job = RecordJob {
            root,
            label: keyword.clone(),
            speaker: ME.into(),
            seconds: TAKE_SECONDS,
            trim: true,
            count,
            pause: Duration::from_secs(1),
        };
        self.recording = Some(Recording {
            phase: None,
            plan: None,
            label: keyword,
        });
        self.teach.recording = true;
        self.teach.log_seen = self.record_log.len();
        if let Some(m) = &self.mic {
            m.send(MicCmd::Record(job));
        }
    }

    fn play_take(&mut self, ctx: &egui::Context, path: PathBuf) {
        let id = take_id(&path);
        if self.player.is_playing(id) {
            self.player.stop();
            return;
        }
        self.player_notice = None;
        self.teach.play_task = Some(Task::spawn("load take", ctx, move |_| {
            bifsmn_engine::audio::load_mono_16k(&path)
                .map(|s| (id, s))
                .map_err(|e| {
                    Notice::error(
                        format!("Cannot play the take: {e}"),
                        "It may have been moved or deleted; the list shows what the folder holds \
                         after the next change.",
                    )
                })
        }));
    }

    fn discard_take(&mut self, ctx: &egui::Context, path: PathBuf) {
        let Some(root) = self.teach.takes_root() else {
            return;
        };
        if self.player.is_playing(take_id(&path)) {
            self.player.stop();
        }
        self.teach.discard_task = Some(Task::spawn("discard take", ctx, move |_| {
            crate::panels::data::ops::trash(&root, &path)
                .map(|_| ())
                .map_err(|e| {
                    Notice::error(
                        format!("Cannot discard {}: {e}", path.display()),
                        "Check that the takes folder is writable, or delete the file yourself.",
                    )
                })
        }));
    }

    /// The "Teach it my voice" view.
    pub(super) fn teach_ui(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        egui::ScrollArea::vertical()
            .id_salt("teach")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                ui.label(
                    "Record or import a few takes of each keyword in your own voice, then \
                     fine-tune the loaded model on them. The last take of each keyword is held \
                     back to show the difference before and after; the loaded model itself is \
                     not changed.",
                );
                ui.add_space(4.0);
                ui.add_enabled_ui(!self.teach.editing(), |ui| {
                    self.teach
                        .takes_field
                        .ui(ui, "Takes folder", "folder for your takes", 360.0);
                    ui.horizontal(|ui| {
                        let l = ui.label("Takes per keyword");
                        ui.add(
                            egui::DragValue::new(&mut self.teach.per_keyword)
                                .range(MIN_TAKES..=50),
                        )
                        .labelled_by(l.id);
                    });
                });
                notice_slot(ui, &mut self.teach.notice);
                let keywords = self.teach_keywords();
                if self.model.is_none() {
                    ui.label("Load a keyword model in the row above first: its keywords are what you teach.");
                    return;
                }
                if keywords.is_empty() {
                    ui.label("This model has no keywords besides unknown and silence.");
                    return;
                }
                self.teach_keyword_list(ui, &keywords);
                ui.separator();
                self.teach_selected_ui(ui, ctx, &keywords);
                ui.separator();
                self.teach_finetune_ui(ui, ctx, &keywords);
                if self.teach.report.is_some() {
                    ui.separator();
                    self.teach_report_ui(ui, ctx);
                }
            });
    }

    /// One button per keyword with its number of takes.
    fn teach_keyword_list(&mut self, ui: &mut Ui, keywords: &[String]) {
        let t = &mut self.teach;
        let valid = t.selected.as_ref().is_some_and(|s| keywords.contains(s));
        if !valid {
            t.selected = next_incomplete(keywords, "", &t.takes, t.per_keyword)
                .or_else(|| keywords.first().cloned());
        }
        ui.horizontal_wrapped(|ui| {
            ui.label("Keywords");
            // A running session records the keyword it started with: keep the view on it.
            ui.add_enabled_ui(!t.recording, |ui| {
                for k in keywords {
                    let n = count(&t.takes, k);
                    let done = if n >= t.per_keyword { " · done" } else { "" };
                    let text = format!("{k} · {n}/{}{done}", t.per_keyword);
                    let selected = t.selected.as_deref() == Some(k.as_str());
                    if ui
                        .selectable_label(selected, text)
                        .on_hover_text(format!("Record or import takes of “{k}”"))
                        .clicked()
                    {
                        t.selected = Some(k.clone());
                    }
                }
            });
        });
    }

    /// The selected keyword: record, import, next, and its takes with play and discard.
    fn teach_selected_ui(&mut self, ui: &mut Ui, ctx: &egui::Context, keywords: &[String]) {
        let Some(keyword) = self.teach.selected.clone() else {
            return;
        };
        let n = self.teach.take_count(&keyword);
        let wanted = self.teach.per_keyword;
        ui.label(
            RichText::new(format!("“{keyword}”: {n} of {wanted} takes"))
                .strong()
                .size(15.0),
        );
        self.teach_record_row(ui, ctx, &keyword, wanted.saturating_sub(n), keywords);
        if let Some(r) = &self.recording
            && self.teach.recording
        {
            recording_status(ui, r);
            level_meter(ui, self.meter.as_ref().map(|m| m.level()), 330.0);
        } else if self.recording.is_some() {
            ui.weak(
                "The microphone is recording clips for the dataset (left); wait for it to finish.",
            );
        } else if self.mic_used_by_detection() {
            ui.weak("Stop live detection to record (it is using the microphone).");
        }
        if let Some(t) = &self.teach.import_task {
            let p = t.progress();
            let fraction = p.fraction().unwrap_or(0.0);
            p.bar_with_cancel(ui, fraction, "importing takes…".into());
        }
        notice_slot(ui, &mut self.player_notice);
        self.teach_take_rows(ui, ctx, &keyword);
    }

    fn teach_record_row(
        &mut self,
        ui: &mut Ui,
        ctx: &egui::Context,
        keyword: &str,
        missing: usize,
        keywords: &[String],
    ) {
        let root = self.teach.takes_root();
        let fine_tuning = self.teach.finetune_task.is_some();
        ui.horizontal_wrapped(|ui| {
            if self.teach.recording {
                if ui.button("Stop recording").clicked()
                    && let Some(m) = &self.mic
                {
                    m.send(MicCmd::CancelRecording);
                }
            } else {
                let can = root.is_some()
                    && self.recording.is_none()
                    && !self.mic_used_by_detection()
                    && !self.teach.importing()
                    && !fine_tuning;
                let count = missing.max(1);
                let text = if missing == 0 {
                    "Record one more take".to_string()
                } else {
                    format!("Record {count} take{}", if count == 1 { "" } else { "s" })
                };
                if ui
                    .add_enabled(can, egui::Button::new(text))
                    .on_hover_text(
                        "Say the word when asked: 2 s per take, trimmed to the spoken second",
                    )
                    .clicked()
                    && let Some(root) = root.clone()
                {
                    self.start_teach_recording(ctx, root, keyword.to_string(), count);
                }
            }
            let can_import = root.is_some() && !self.teach.recording && !fine_tuning;
            if ui
                .add_enabled(
                    can_import && self.teach.dialog.is_none(),
                    egui::Button::new("Import takes…"),
                )
                .on_hover_text(
                    "Add recordings made elsewhere (WAV, FLAC, Ogg, MP3): no microphone needed",
                )
                .clicked()
            {
                self.teach.open_import_dialog(ctx, keyword.to_string());
            }
            if ui
                .add_enabled(!self.teach.recording, egui::Button::new("Next keyword"))
                .clicked()
            {
                self.teach.selected = next_keyword(keywords, keyword);
            }
        });
    }

    fn teach_take_rows(&mut self, ui: &mut Ui, ctx: &egui::Context, keyword: &str) {
        let files = self.teach.takes.get(keyword).cloned().unwrap_or_default();
        if files.is_empty() {
            ui.weak("No takes yet.");
            return;
        }
        let (mut play, mut discard) = (None, None);
        let can_discard = !self.teach.editing() && self.teach.finetune_task.is_none();
        egui::Grid::new("teach-takes")
            .num_columns(3)
            .spacing([10.0, 4.0])
            .show(ui, |ui| {
                for f in &files {
                    ui.label(file_name(f));
                    let playing = self.player.is_playing(take_id(f));
                    if ui
                        .button(if playing { "Stop" } else { "Play" })
                        .on_hover_text(if playing { "Stop" } else { "Play this take" })
                        .clicked()
                    {
                        play = Some(f.clone());
                    }
                    if ui
                        .add_enabled(can_discard, egui::Button::new("Discard"))
                        .on_hover_text("Move it to the .trash folder inside the takes folder")
                        .clicked()
                    {
                        discard = Some(f.clone());
                    }
                    ui.end_row();
                }
            });
        if let Some(p) = play {
            self.play_take(ctx, p);
        }
        if let Some(p) = discard {
            self.discard_take(ctx, p);
        }
    }

    /// The Fine-tune button, or the running fine-tune's progress.
    fn teach_finetune_ui(&mut self, ui: &mut Ui, ctx: &egui::Context, keywords: &[String]) {
        ui.label(RichText::new("Fine-tune on your takes").strong().size(15.0));
        match &self.teach.finetune_task {
            None => {
                let blocker = finetune_blocker(keywords, &self.teach.takes);
                let ready = blocker.is_none()
                    && !self.teach.editing()
                    && self.model.is_some()
                    && self.model_task.is_none();
                let clicked = ui
                    .add_enabled(ready, egui::Button::new("Fine-tune"))
                    .on_hover_text(
                        "Train a copy of the loaded model on your takes and a replay sample of \
                         the demo set (a few minutes), then compare it with the loaded one",
                    )
                    .clicked();
                if clicked && let Some(model) = self.model.clone() {
                    self.teach.start_finetune(ctx, &model);
                }
                if let Some(b) = blocker {
                    ui.weak(b);
                }
            }
            Some(t) => {
                let p = t.progress();
                match p.phase() {
                    PHASE_PREPARE => {
                        p.bar_with_cancel(ui, 0.0, "preparing the takes and the replay set…".into())
                    }
                    PHASE_TRAIN => {
                        let f = p.fraction().unwrap_or(0.0);
                        p.bar_with_cancel(ui, f, format!("training: {:.0} %", 100.0 * f));
                    }
                    _ => {
                        ui.horizontal(|ui| {
                            ui.spinner();
                            ui.label("comparing before and after (your takes, the test split, a 10-minute stream)…");
                        });
                    }
                }
            }
        }
        notice_slot(ui, &mut self.teach.finetune_notice);
    }

    /// The before/after table, the summary and what to do with the new model.
    fn teach_report_ui(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        let Some(r) = self.teach.report.clone() else {
            return;
        };
        let heading = ui.label(RichText::new("Before and after").strong().size(15.0));
        if std::mem::take(&mut self.teach.scroll_to_report) {
            heading.scroll_to_me(Some(egui::Align::Min));
        }
        ui.label(summary(&r));
        egui::Grid::new("teach-before-after")
            .num_columns(3)
            .striped(true)
            .spacing([16.0, 4.0])
            .show(ui, |ui| {
                ui.label(RichText::new("Held-back takes recognised").strong());
                ui.label(RichText::new("Before").strong());
                ui.label(RichText::new("After").strong());
                ui.end_row();
                for k in &r.per_keyword {
                    ui.label(&k.keyword);
                    ui.label(format!("{} of {}", k.before, k.takes));
                    ui.label(format!("{} of {}", k.after, k.takes));
                    ui.end_row();
                }
                let rows = [
                    (
                        "Held-back accuracy per thin path",
                        per_path(&r.held_back.before),
                        per_path(&r.held_back.after),
                    ),
                    (
                        "Base corpus test split per thin path",
                        per_path(&r.base_test.before),
                        per_path(&r.base_test.after),
                    ),
                    (
                        "False accepts per hour (stream)",
                        format!("{:.1}", r.stream.fa_per_hour.0),
                        format!("{:.1}", r.stream.fa_per_hour.1),
                    ),
                    (
                        "False-reject rate (stream)",
                        format!("{:.1}%", 100.0 * r.stream.frr.0),
                        format!("{:.1}%", 100.0 * r.stream.frr.1),
                    ),
                ];
                for (what, before, after) in rows {
                    ui.label(what);
                    ui.label(before);
                    ui.label(after);
                    ui.end_row();
                }
            });
        ui.weak(format!(
            "Thin paths: 8 layers first. Stream: {:.0} min of the demo set's test words at \
             threshold {}. {} takes trained with {} replay clips in {:.0} s. New model: {}",
            r.stream.minutes,
            r.stream.threshold,
            r.train_takes,
            r.replay_clips,
            r.seconds_training,
            r.model.display()
        ));
        ui.horizontal(|ui| {
            if ui
                .button("Use the new model")
                .on_hover_text("Load it in this panel, as if chosen in the model row")
                .clicked()
            {
                self.load_model(ctx, Some(r.model.clone()));
            }
            if ui
                .button("Deploy it…")
                .on_hover_text("Open the Deploy panel with this model selected")
                .clicked()
            {
                self.teach.deploy_request = Some(r.model.clone());
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bifsmn_engine::train::events::{EpochMetrics, StepMetrics};
    use bifsmn_engine::train::finetune::{BeforeAfter, KeywordResult, StreamBeforeAfter};

    fn words(ws: &[&str]) -> Vec<String> {
        ws.iter().map(|w| w.to_string()).collect()
    }

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }

    fn takes_of(counts: &[(&str, usize)]) -> Takes {
        counts
            .iter()
            .map(|(k, n)| {
                let files = (0..*n).map(|i| PathBuf::from(format!("{k}/{i}.wav")));
                (k.to_string(), files.collect())
            })
            .collect()
    }

    #[test]
    fn the_takes_folder_is_scanned_per_keyword_without_trash_or_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in [
            "yes/b.wav",
            "yes/a.WAV",
            "yes/notes.txt",
            "no/c.flac",
            ".trash/yes/d.wav",
            "_background_noise_/n.wav",
            "testing_list.txt",
        ] {
            touch(&root.join(f));
        }
        std::fs::create_dir_all(root.join("up")).unwrap();
        let takes = scan_takes(root).unwrap();
        assert_eq!(takes.keys().collect::<Vec<_>>(), ["no", "yes"]);
        assert_eq!(
            takes["yes"],
            [root.join("yes/a.WAV"), root.join("yes/b.wav")]
        );
        assert_eq!(count(&takes, "no"), 1);
        assert_eq!(count(&takes, "up"), 0);
        assert!(scan_takes(&root.join("missing")).unwrap().is_empty());
    }

    #[test]
    fn keywords_leave_out_unknown_and_silence() {
        let labels = words(&["unknown", "silence", "yes", "no"]);
        assert_eq!(keywords_of(&labels), words(&["yes", "no"]));
    }

    #[test]
    fn fine_tune_waits_for_two_takes_of_every_keyword() {
        let keywords = words(&["yes", "no", "up"]);
        assert!(finetune_blocker(&[], &Takes::new()).is_some());
        let b = finetune_blocker(&keywords, &takes_of(&[("yes", 3), ("no", 1)])).unwrap();
        assert!(b.ends_with("still short: no, up."), "{b}");
        let ready = takes_of(&[("yes", 2), ("no", 2), ("up", 5)]);
        assert_eq!(finetune_blocker(&keywords, &ready), None);
    }

    #[test]
    fn the_next_keyword_is_the_next_one_that_needs_takes() {
        let keywords = words(&["yes", "no", "up"]);
        let takes = takes_of(&[("yes", 5), ("no", 5), ("up", 2)]);
        assert_eq!(
            next_incomplete(&keywords, "yes", &takes, 5).as_deref(),
            Some("up")
        );
        // Round the end of the list; none left when all are done.
        let takes = takes_of(&[("yes", 1), ("no", 5), ("up", 5)]);
        assert_eq!(
            next_incomplete(&keywords, "up", &takes, 5).as_deref(),
            Some("yes")
        );
        assert_eq!(next_incomplete(&keywords, "up", &takes, 1), None);
        assert_eq!(next_keyword(&keywords, "up").as_deref(), Some("yes"));
    }

    fn step(epoch: usize, step: usize, steps: usize) -> TrainEvent {
        TrainEvent::Step(StepMetrics {
            epoch,
            step,
            steps_per_epoch: steps,
            global_step: 0,
            paths: Vec::new(),
            lr: 0.0,
            clips_per_sec: 0.0,
        })
    }

    fn epoch(epoch: usize) -> TrainEvent {
        TrainEvent::Epoch(EpochMetrics {
            epoch,
            train: Vec::new(),
            validation: Vec::new(),
            lr: 0.0,
            seconds: 0.0,
            clips_per_sec: 0.0,
        })
    }

    #[test]
    fn progress_counts_epochs_and_steps() {
        let mut p = TrainProgress::new(2);
        assert_eq!(p.fraction(), 0.0);
        p.apply(&step(1, 5, 10));
        assert_eq!(p.fraction(), 0.25);
        p.apply(&epoch(1));
        assert_eq!(p.fraction(), 0.5);
        p.apply(&step(2, 10, 10));
        assert_eq!(p.fraction(), 1.0);
        p.apply(&TrainEvent::Log("x".into()));
        assert_eq!(p.fraction(), 1.0);
        let mut q = TrainProgress::new(4);
        q.apply(&TrainEvent::Finished {
            epochs_done: 4,
            best_epoch: Some(4),
            best_validation: None,
            checkpoint: String::new(),
        });
        assert_eq!(q.fraction(), 1.0);
        assert_eq!(TrainProgress::new(0).fraction(), 0.0);
    }

    #[test]
    fn an_import_without_speech_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let silent = dir.path().join("quiet.wav");
        bifsmn_engine::audio::write_wav_mono_16k(&silent, &vec![0.0; 16_000]).unwrap();
        // A tone burst in faint noise: speech as far as the detector can tell.
        let mut s = 7u32;
        let burst: Vec<f32> = (0..32_000)
            .map(|i| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = ((s >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.002;
                let tone = if (12_000..18_000).contains(&i) {
                    0.4 * (i as f32 * 0.3).sin()
                } else {
                    0.0
                };
                noise + tone
            })
            .collect();
        let spoken = dir.path().join("spoken.wav");
        bifsmn_engine::audio::write_wav_mono_16k(&spoken, &burst).unwrap();
        let missing = dir.path().join("missing.wav");
        let root = dir.path().join("takes");
        let files = [silent, spoken, missing];
        let out = import_all(&root, "yes", &files, &Progress::default());
        assert_eq!(out.saved, 1);
        assert_eq!(out.no_speech, ["quiet.wav"]);
        assert_eq!(out.failed.len(), 1);
        assert_eq!(count(&scan_takes(&root).unwrap(), "yes"), 1);
        let n = out.notice().unwrap();
        assert!(n.message.contains("quiet.wav") && n.message.contains("missing.wav"));
        assert!(!n.hint.is_empty());
        let clean = ImportOutcome {
            saved: 2,
            ..ImportOutcome::default()
        };
        assert_eq!(clean.notice(), None);
    }

    fn report(before: u32, after: u32, base: (f32, f32)) -> FinetuneReport {
        FinetuneReport {
            run_dir: PathBuf::from("/r"),
            model: PathBuf::from("/r/model.bkw"),
            base: PathBuf::from("/b"),
            train_takes: 4,
            replay_clips: 32,
            per_keyword: vec![KeywordResult {
                keyword: "yes".into(),
                takes: 2,
                before,
                after,
            }],
            held_back: BeforeAfter {
                before: vec![0.5],
                after: vec![1.0],
            },
            base_test: BeforeAfter {
                before: vec![base.0],
                after: vec![base.1],
            },
            stream: StreamBeforeAfter {
                minutes: 10.0,
                threshold: 0.7,
                fa_per_hour: (1.0, 2.5),
                frr: (0.1, 0.05),
            },
            seconds_training: 3.0,
        }
    }

    #[test]
    fn the_summary_says_what_was_gained_and_what_it_cost() {
        let s = summary(&report(0, 2, (0.9, 0.88)));
        assert!(
            s.starts_with("It now recognises 2 of your 2 held-back takes"),
            "{s}"
        );
        assert!(s.contains("It cost 2.0 points"), "{s}");
        assert!(s.contains("from 1.0 to 2.5 per hour"), "{s}");
        let s = summary(&report(1, 1, (0.9, 0.9)));
        assert!(s.contains("as before") && s.contains("No loss"), "{s}");
        assert!(summary(&report(1, 1, (0.8, 0.9))).contains("gained too"));
        assert!(summary(&report(2, 1, (0.9, 0.9))).contains("fewer"));
        assert_eq!(per_path(&[0.5, 0.25]), "50.0% / 25.0%");
        assert_eq!(per_path(&[]), "—");
        let mut other_words = report(0, 2, (0.0, 0.8));
        other_words.base_test.before.clear();
        let s = summary(&other_words);
        assert!(
            s.ends_with("scores 80.0% on the corpus test split (8 layers)."),
            "{s}"
        );
    }

    #[test]
    fn settings_default_to_my_voice_and_five_takes() {
        let s: TeachSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(s.per_keyword, 5);
        assert!(s.takes.ends_with("my-voice"));
        let t = Teach::new(&TeachSettings {
            takes: "/tmp/t".into(),
            per_keyword: 1,
        });
        // At least the minimum a fine-tune needs.
        assert_eq!(t.settings().per_keyword, MIN_TAKES);
        assert_eq!(t.takes_root(), Some(PathBuf::from("/tmp/t")));
    }

    #[test]
    fn take_ids_are_stable_and_apart_from_clip_indices() {
        let a = take_id(Path::new("/t/yes/a.wav"));
        assert_eq!(a, take_id(Path::new("/t/yes/a.wav")));
        assert_ne!(a, take_id(Path::new("/t/yes/b.wav")));
        assert!(a & TAKE_ID_BIT != 0);
    }

    #[test]
    fn prepare_errors_get_a_hint_that_says_what_to_do() {
        assert!(prepare_hint("x.bkw holds only the packed 1-bit weights").contains("run folder"));
        assert!(prepare_hint("`cat` is not a keyword of the model").contains("Move"));
        assert!(prepare_hint("something else").contains("press Fine-tune again"));
    }
}
