//! "Teach it my voice": record or import a few takes of each keyword, fine-tune the loaded
//! student on them (the engine's [`finetune`]), and compare the old and the new model.
//!
//! Two modes ([`TeachMode`]): the loaded model's own keywords in the user's voice (the demo set
//! is replayed), or new keywords the user types ([`new_words`]: a synthetic corpus of them is
//! made and replayed, and the student gets a new classifier for them).
//!
//! The takes live in a folder of their own, `<takes>/<keyword>/<file>.wav` (Speech Commands
//! style, speaker [`ME`]), never in the open dataset. Recording goes through the panel's
//! microphone thread ([`super::mic`]); scans, imports, discards, loading a take for playback,
//! making the corpus and the fine-tune itself are [`Task`]s, so the UI thread only polls.
//!
//! Files: [`logic`] (the pure parts), [`new_words`] (typed words and their corpus), [`run`]
//! (the fine-tune on its worker), `view.rs` (the view).
//!
//! [`finetune`]: bifsmn_engine::train::finetune

pub(crate) mod logic;
pub(crate) mod new_words;
pub(crate) mod run;
mod view;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bifsmn_engine::train::finetune::{FinetuneReport, ME};

use super::live::SourceKind;
use super::mic::{MicCmd, RecordJob};
use super::{Recording, TestPanel};
use crate::models::InferenceModel;
use crate::paths;
use crate::task::{JobStatus, Task, take_done};
use crate::widgets::{Notice, PathField, Pick};

pub(crate) use logic::{
    ImportOutcome, MIN_TAKES, Takes, count, finetune_blocker, foreign_words, import_all,
    keywords_of, next_incomplete, scan_takes, summary,
};
use logic::{next_keyword, take_id};
use new_words::NewWords;
pub(crate) use new_words::{CorpusSizes, TeachMode};
pub(crate) use run::{FinetuneJob, FinetuneOverrides};

/// Length of one recorded take (trimmed to the spoken second when saved).
const TAKE_SECONDS: f32 = 2.0;

/// The flow's remembered values (part of [`super::TestSettings`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TeachSettings {
    /// Folder of the takes: `<takes>/<keyword>/<file>.wav`.
    pub takes: String,
    /// Takes to collect of each keyword.
    pub per_keyword: usize,
    /// The loaded model's keywords, or new ones typed below.
    pub mode: TeachMode,
    /// The new keywords as typed, comma-separated.
    pub words: String,
    /// Folder of the corpus of the new keywords (empty: `<takes>-corpus`).
    pub corpus: String,
}

impl Default for TeachSettings {
    fn default() -> Self {
        Self {
            takes: paths::datasets_dir().join("my-voice").display().to_string(),
            per_keyword: 5,
            mode: TeachMode::default(),
            words: String::new(),
            corpus: String::new(),
        }
    }
}

/// A scan of the takes folder: the folder, the generation it was asked for, the result.
type ScanResult = (PathBuf, u64, Result<Takes, String>);

/// A take decoded for playback: its player id and samples.
type LoadedTake = (u64, Vec<f32>);

/// The flow's state.
pub struct Teach {
    /// Which words are taught: the loaded model's or new ones.
    mode: TeachMode,
    /// The typed words and their corpus ([`TeachMode::NewKeywords`]).
    new_words: NewWords,
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
    /// The mode of the fine-tune that made `report` (it says which corpus was replayed).
    report_mode: TeachMode,
    /// Bring the new report into view once (it arrives below the fold).
    scroll_to_report: bool,
    /// "Deploy it…" was pressed: the Workbench hands this model to the Deploy panel.
    deploy_request: Option<PathBuf>,
    notice: Option<Notice>,
    finetune_notice: Option<Notice>,
}

impl Teach {
    pub(crate) fn new(s: &TeachSettings) -> Self {
        Self {
            mode: s.mode,
            new_words: NewWords::new(&s.words, &s.corpus, &s.takes),
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
            report_mode: s.mode,
            scroll_to_report: false,
            deploy_request: None,
            notice: None,
            finetune_notice: None,
        }
    }

    pub(crate) fn settings(&self) -> TeachSettings {
        TeachSettings {
            takes: self.takes_field.text.clone(),
            per_keyword: self.per_keyword,
            mode: self.mode,
            words: self.new_words.words.clone(),
            corpus: self.new_words.corpus_field.text.clone(),
        }
    }

    /// Which words the view teaches.
    pub fn mode(&self) -> TeachMode {
        self.mode
    }

    /// Make the next corpus of new keywords this big (tests make a tiny one).
    pub fn set_corpus_sizes(&mut self, sizes: CorpusSizes) {
        self.new_words.sizes = sizes;
    }

    /// The keywords of the corpus of new words, once it is made and read.
    pub fn corpus_keywords(&self) -> Vec<String> {
        self.new_words.keywords()
    }

    /// Whether "Make the corpus" is running.
    pub fn making_corpus(&self) -> bool {
        self.new_words.making()
    }

    /// The corpus's message, if making or reading it failed.
    pub fn corpus_notice(&self) -> Option<&Notice> {
        self.new_words.notice()
    }

    /// Run the next fine-tune with these settings (tests run a tiny one).
    pub fn set_finetune_overrides(&mut self, overrides: FinetuneOverrides) {
        self.overrides = overrides;
    }

    /// The takes folder, when one is typed.
    pub(crate) fn takes_root(&self) -> Option<PathBuf> {
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

    pub(crate) fn jobs(&self, out: &mut Vec<JobStatus>) {
        out.extend(self.import_task.as_ref().map(|t| JobStatus {
            label: "importing takes".into(),
            fraction: t.progress().fraction(),
        }));
        out.extend(self.new_words.job());
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
            || self.new_words.busy()
    }

    /// Take the model "Deploy it…" asked for.
    pub(crate) fn take_deploy_request(&mut self) -> Option<PathBuf> {
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
        self.report_mode = self.mode;
        let job = FinetuneJob {
            mode: self.mode,
            base: model.source.clone(),
            takes,
            corpus: self.new_words.corpus_root(),
            overrides: self.overrides.clone(),
        };
        self.finetune_task = Some(Task::spawn("fine-tune", ctx, move |p| {
            run::run_finetune(&job, p)
        }));
    }
}

impl TestPanel {
    /// Forwarded from [`TestPanel::poll`]: results of the flow's tasks and of its recording
    /// session.
    pub(super) fn poll_teach(&mut self, ctx: &egui::Context) {
        self.teach.poll_scan();
        let new_words = self.teach.mode == TeachMode::NewKeywords;
        self.teach.new_words.poll(ctx, new_words);
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

    /// The keywords to record: the loaded model's, or those of the corpus of new words.
    fn teach_keywords(&self) -> Vec<String> {
        match self.teach.mode {
            TeachMode::ModelKeywords => self
                .slot
                .model
                .as_ref()
                .map(|m| keywords_of(&m.packed.labels))
                .unwrap_or_default(),
            TeachMode::NewKeywords => self.teach.new_words.keywords(),
        }
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
    pub(crate) fn take_deploy_request(&mut self) -> Option<PathBuf> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_to_my_voice_and_five_takes() {
        let s: TeachSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(s.per_keyword, 5);
        assert!(s.takes.ends_with("my-voice"));
        assert_eq!(s.mode, TeachMode::ModelKeywords);
        assert!(s.words.is_empty() && s.corpus.is_empty());
        let t = Teach::new(&TeachSettings {
            takes: "/tmp/t".into(),
            per_keyword: 1,
            ..TeachSettings::default()
        });
        // At least the minimum a fine-tune needs.
        assert_eq!(t.settings().per_keyword, MIN_TAKES);
        assert_eq!(t.takes_root(), Some(PathBuf::from("/tmp/t")));
        // The corpus goes next to the takes folder until another one is chosen.
        assert_eq!(t.settings().corpus, "/tmp/t-corpus");
    }

    #[test]
    fn the_mode_the_words_and_the_corpus_are_remembered() {
        let s = TeachSettings {
            takes: "/tmp/t".into(),
            mode: TeachMode::NewKeywords,
            words: "lights on, pause".into(),
            corpus: "/tmp/words".into(),
            ..TeachSettings::default()
        };
        let t = Teach::new(&s);
        assert_eq!(t.mode(), TeachMode::NewKeywords);
        assert_eq!(t.settings(), s);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<TeachSettings>(&json).unwrap(), s);
        // Settings from before the modes existed keep today's behaviour.
        let old: TeachSettings =
            serde_json::from_str(r#"{"takes": "/tmp/t", "per_keyword": 4}"#).unwrap();
        assert_eq!(old.mode, TeachMode::ModelKeywords);
        assert_eq!(Teach::new(&old).settings().corpus, "/tmp/t-corpus");
    }
}
