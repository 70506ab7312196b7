//! "New keywords": words the user types instead of the loaded model's keywords.
//!
//! "Make the corpus" synthesizes a small corpus of the words (the engine's `data synth`, as
//! the Data panel's "New dataset from keywords…") into a folder next to the takes folder. Its
//! `keywords.txt` is what the user records, and the fine-tune replays it: the engine then
//! starts from the loaded network with a new classifier for these words.

use std::path::{Path, PathBuf};

use bifsmn_engine::data::synth::{
    EngineKind, KEYWORDS_FILE, Keyword, SETTINGS_FILE, SynthConfig, SynthError, SynthReport,
    synthesize,
};
use egui::{RichText, Ui};

use crate::panels::test::notice_slot;
use crate::task::{JobStatus, Task, take_done};
use crate::widgets::{Notice, PathField, Pick};

/// Which words the view teaches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TeachMode {
    /// The loaded model's own keywords in the user's voice (the demo set is replayed).
    #[default]
    ModelKeywords,
    /// Words the user types: a corpus of them is made and replayed, and the student gets a
    /// new classifier for them.
    NewKeywords,
}

impl TeachMode {
    pub const ALL: [TeachMode; 2] = [TeachMode::ModelKeywords, TeachMode::NewKeywords];

    /// The label of the mode's choice at the top of the view.
    pub fn label(self) -> &'static str {
        match self {
            TeachMode::ModelKeywords => "Keywords of the loaded model",
            TeachMode::NewKeywords => "New keywords",
        }
    }

    /// What the mode does, for its hover text.
    pub fn hover(self) -> &'static str {
        match self {
            TeachMode::ModelKeywords => {
                "Teach the loaded model's own keywords your voice (the demo set is replayed)"
            }
            TeachMode::NewKeywords => {
                "Type words of your own: a synthetic corpus of them is made, and the loaded \
                 model's network learns them with a new classifier"
            }
        }
    }
}

/// How big a corpus "Make the corpus" makes. The default was measured to take about a minute
/// on 2 busy cores for three words; tests make a tiny one.
#[derive(Clone, Debug, PartialEq)]
pub struct CorpusSizes {
    pub engines: Vec<EngineKind>,
    pub speakers_per_engine: usize,
    /// Takes of every keyword per speaker.
    pub takes: usize,
    pub negatives_per_speaker: usize,
    pub sentences_per_speaker: usize,
    /// Fractions of the speakers in the validation and test splits.
    pub validation_fraction: f64,
    pub test_fraction: f64,
    pub seed: u64,
}

impl Default for CorpusSizes {
    fn default() -> Self {
        let engine = SynthConfig::default();
        Self {
            engines: vec![EngineKind::Espeak, EngineKind::Festival],
            speakers_per_engine: 60,
            takes: 2,
            negatives_per_speaker: 20,
            sentences_per_speaker: 2,
            validation_fraction: engine.validation_fraction,
            test_fraction: engine.test_fraction,
            seed: engine.seed,
        }
    }
}

/// The words as typed, comma-separated, empty pieces left out (as the Data panel's form).
pub(crate) fn split_words(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The typed words as keywords, or a notice naming the ones that cannot be keywords.
pub(crate) fn check_words(words: &[String]) -> Result<Vec<Keyword>, Notice> {
    if words.is_empty() {
        return Err(Notice::error(
            "No new keywords are typed.",
            "Type the words to teach, comma-separated, e.g. lights on, music, pause.",
        ));
    }
    let (mut keywords, mut unusable) = (Vec::new(), Vec::new());
    for w in words {
        match Keyword::parse(w) {
            Ok(k) => keywords.push(k),
            Err(_) => unusable.push(format!("“{w}”")),
        }
    }
    if !unusable.is_empty() {
        return Err(Notice::error(
            format!("Not usable as keywords: {}.", unusable.join(", ")),
            "Use letters (apostrophes and hyphens allowed), up to four words per keyword, and \
             commas between keywords.",
        ));
    }
    for (i, k) in keywords.iter().enumerate() {
        if ["unknown", "silence"].contains(&k.folder.as_str()) {
            return Err(Notice::error(
                format!("“{}” is the name of a class every model has.", k.text),
                "Choose another word.",
            ));
        }
        if keywords[..i].iter().any(|o| o.folder == k.folder) {
            return Err(Notice::error(
                format!("“{}” is typed twice.", k.text),
                "Type every keyword once.",
            ));
        }
    }
    Ok(keywords)
}

/// The settings of the corpus of `words`.
pub(crate) fn corpus_config(words: Vec<String>, sizes: &CorpusSizes) -> SynthConfig {
    SynthConfig {
        keywords: words,
        engines: sizes.engines.clone(),
        speakers_per_engine: sizes.speakers_per_engine,
        takes: sizes.takes,
        negatives_per_speaker: sizes.negatives_per_speaker,
        sentences_per_speaker: sizes.sentences_per_speaker,
        validation_fraction: sizes.validation_fraction,
        test_fraction: sizes.test_fraction,
        seed: sizes.seed,
        ..SynthConfig::default()
    }
}

/// The corpus folder next to the takes folder: `<takes>-corpus`.
pub(crate) fn default_corpus_folder(takes: &str) -> String {
    let takes = takes.trim().trim_end_matches(['/', '\\']);
    if takes.is_empty() {
        return String::new();
    }
    format!("{takes}-corpus")
}

/// What a corpus folder holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) enum CorpusState {
    /// Nothing yet (or not read yet).
    #[default]
    Missing,
    /// A corpus was started there but not finished: making it again resumes it.
    Unfinished { words: Vec<String> },
    /// A finished corpus (or any dataset with a `keywords.txt`): its keyword folders.
    Ready { keywords: Vec<String> },
    /// Other files: not a place for a corpus.
    NotACorpus,
}

/// Read what `root` holds: `keywords.txt` (keyword folders, one a line, `#` comments) of a
/// finished corpus, else `synth.json` of a started one (worker thread).
pub(crate) fn read_corpus(root: &Path) -> Result<CorpusState, String> {
    let listed = root.join(KEYWORDS_FILE);
    match std::fs::read_to_string(&listed) {
        Ok(text) => {
            let keywords: Vec<String> = text
                .lines()
                .map(|l| l.split('#').next().unwrap_or_default().trim())
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect();
            if keywords.is_empty() {
                return Err(format!("{} lists no keyword", listed.display()));
            }
            return Ok(CorpusState::Ready { keywords });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", listed.display())),
    }
    match std::fs::read(root.join(SETTINGS_FILE)) {
        Ok(bytes) => {
            let words = serde_json::from_slice::<SynthConfig>(&bytes)
                .map(|c| c.keywords)
                .unwrap_or_default();
            return Ok(CorpusState::Unfinished { words });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", root.join(SETTINGS_FILE).display())),
    }
    match std::fs::read_dir(root) {
        Ok(mut entries) => Ok(if entries.next().is_some() {
            CorpusState::NotACorpus
        } else {
            CorpusState::Missing
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CorpusState::Missing),
        Err(e) => Err(format!("{}: {e}", root.display())),
    }
}

/// Whether the corpus's keywords are other than the typed ones (`None` while the typed words
/// are not usable).
pub(crate) fn corpus_differs(typed: &str, corpus: &[String]) -> Option<bool> {
    let keywords = check_words(&split_words(typed)).ok()?;
    let folders: Vec<&str> = keywords.iter().map(|k| k.folder.as_str()).collect();
    Some(folders != corpus)
}

/// The notice for a corpus that could not be made, with what to do.
pub(crate) fn synth_notice(e: &SynthError) -> Notice {
    let hint = match e {
        SynthError::Cancelled => {
            return Notice::info(
                "Corpus cancelled. What was made is kept: press Make the corpus again with the \
                 same words to resume.",
            );
        }
        SynthError::MissingEngine { package, .. } | SynthError::MissingVoice { package, .. } => {
            format!("Install it (sudo apt install {package}) and press Make the corpus again.")
        }
        SynthError::Wordlist { .. } | SynthError::TooFewWords { .. } => {
            "The other words of the corpus come from Debian's word list: install it (sudo apt \
             install wamerican) and press Make the corpus again."
                .into()
        }
        SynthError::BadKeyword(_) => "Use letters (apostrophes and hyphens allowed), up to \
                                      four words per keyword."
            .into(),
        SynthError::SettingsDiffer { .. } => {
            "The corpus folder holds a corpus of other words: choose another corpus folder for \
             these words, or type the words back to resume that corpus."
                .into()
        }
        SynthError::BadSetting { .. } => {
            "Choose a new or empty corpus folder, then press Make the corpus again.".into()
        }
        SynthError::Render { .. } => {
            "A synthetic voice failed on a word: check the words' spelling and press Make the \
             corpus again (what was made is kept)."
                .into()
        }
        SynthError::Io { .. } => {
            "Check that the corpus folder is writable and the disk has space, then press Make \
             the corpus again (what was made is kept)."
                .into()
        }
    };
    Notice::error(format!("The corpus could not be made: {e}"), hint)
}

/// A read of the corpus folder: the folder, the generation asked for, what it holds.
type CorpusScan = (PathBuf, u64, Result<CorpusState, String>);

/// The state of "New keywords": the typed words, the corpus folder and the corpus job.
pub(super) struct NewWords {
    pub(super) words: String,
    pub(super) corpus_field: PathField,
    corpus: CorpusState,
    /// Bumped when the corpus may have changed; a read runs when it or the folder differs
    /// from what `corpus` was read for.
    scan_gen: u64,
    scanned: Option<(PathBuf, u64)>,
    scan_task: Option<Task<CorpusScan>>,
    make_task: Option<Task<Result<SynthReport, SynthError>>>,
    /// Sizes of the next corpus (tests make a tiny one).
    pub(super) sizes: CorpusSizes,
    /// What the last "Make the corpus" made, in a sentence.
    made: Option<String>,
    notice: Option<Notice>,
    /// The mode is shown (the corpus folder is read only then).
    active: bool,
}

impl NewWords {
    /// The remembered words and corpus folder (empty: next to the takes folder).
    pub(super) fn new(words: &str, corpus: &str, takes: &str) -> Self {
        let corpus = if corpus.trim().is_empty() {
            default_corpus_folder(takes)
        } else {
            corpus.to_string()
        };
        Self {
            words: words.to_string(),
            corpus_field: PathField::new(corpus, Pick::Folder),
            corpus: CorpusState::Missing,
            scan_gen: 0,
            scanned: None,
            scan_task: None,
            make_task: None,
            sizes: CorpusSizes::default(),
            made: None,
            notice: None,
            active: false,
        }
    }

    /// Keep the corpus next to the takes folder when the takes folder changes from `before`,
    /// unless another corpus folder was chosen.
    pub(super) fn follow_takes(&mut self, before: &str, takes: &str) {
        if before != takes && self.corpus_field.text == default_corpus_folder(before) {
            self.corpus_field.text = default_corpus_folder(takes);
        }
    }

    pub(super) fn corpus_root(&self) -> Option<PathBuf> {
        self.corpus_field.path()
    }

    /// The corpus's keywords (folder names) when it is finished, else none.
    pub(super) fn keywords(&self) -> Vec<String> {
        match &self.corpus {
            CorpusState::Ready { keywords } => keywords.clone(),
            _ => Vec::new(),
        }
    }

    pub(super) fn notice(&self) -> Option<&Notice> {
        self.notice.as_ref()
    }

    pub(super) fn making(&self) -> bool {
        self.make_task.is_some()
    }

    pub(super) fn busy(&self) -> bool {
        self.scan_task.is_some() || self.making()
    }

    pub(super) fn job(&self) -> Option<JobStatus> {
        self.make_task.as_ref().map(|t| JobStatus {
            label: "making a corpus of your words".into(),
            fraction: t.progress().fraction(),
        })
    }

    /// Take the results of the corpus read and of "Make the corpus"; read the corpus folder
    /// again when it changed (only while the mode is shown: `active`).
    pub(super) fn poll(&mut self, ctx: &egui::Context, active: bool) {
        // Shown again: the folder may have changed meanwhile (the Data panel makes corpora too).
        if active && !self.active {
            self.scan_gen += 1;
        }
        self.active = active;
        match take_done(&mut self.scan_task) {
            Some(Ok((root, generation, result))) => {
                self.corpus = result.unwrap_or_else(|e| {
                    self.notice = Some(Notice::error(
                        format!("Cannot read the corpus folder: {e}"),
                        "Choose a corpus folder you can read and write (Browse…).",
                    ));
                    CorpusState::Missing
                });
                self.scanned = Some((root, generation));
            }
            Some(Err(e)) => self.notice = Some(Notice::error(e, "")),
            None => {}
        }
        if let Some(r) = take_done(&mut self.make_task) {
            self.scan_gen += 1;
            match r {
                Ok(Ok(report)) => {
                    self.made = Some(format!(
                        "Corpus made: {} clips in {:.0} s ({} were already there).",
                        report.rendered + report.reused,
                        report.seconds,
                        report.reused
                    ))
                }
                Ok(Err(e)) => self.notice = Some(synth_notice(&e)),
                Err(e) => self.notice = Some(Notice::error(e, "")),
            }
        }
        if active {
            self.request_scan(ctx);
        }
    }

    fn request_scan(&mut self, ctx: &egui::Context) {
        if self.scan_task.is_some() || self.making() {
            return;
        }
        let Some(root) = self.corpus_root() else {
            self.corpus = CorpusState::Missing;
            return;
        };
        let key = (root.clone(), self.scan_gen);
        if self.scanned.as_ref() == Some(&key) {
            return;
        }
        let generation = self.scan_gen;
        self.scan_task = Some(Task::spawn("read corpus", ctx, move |_| {
            let result = read_corpus(&root);
            (root, generation, result)
        }));
    }

    /// Check the words and synthesize their corpus on a worker.
    fn start_make(&mut self, ctx: &egui::Context) {
        self.notice = None;
        self.made = None;
        let keywords = match check_words(&split_words(&self.words)) {
            Ok(k) => k,
            Err(n) => {
                self.notice = Some(n);
                return;
            }
        };
        // As spoken (lower case, single spaces): "Lights  On" resumes the corpus of "lights on".
        let words = keywords.into_iter().map(|k| k.text).collect();
        let Some(root) = self.corpus_root() else {
            self.notice = Some(Notice::error(
                "No corpus folder is chosen.",
                "Type or browse to a new folder for the corpus of your words.",
            ));
            return;
        };
        let config = corpus_config(words, &self.sizes);
        self.make_task = Some(Task::spawn("make corpus", ctx, move |progress| {
            synthesize(
                &config,
                &root,
                &|p| progress.set(p.done as u64, Some(p.total as u64)),
                progress.cancel_flag(),
            )
        }));
    }

    /// The words field, the corpus folder, "Make the corpus" (or its progress) and what the
    /// corpus folder holds. `enabled`: no takes are being written and no fine-tune runs.
    pub(super) fn ui(&mut self, ui: &mut Ui, enabled: bool) {
        ui.add_enabled_ui(enabled && !self.making(), |ui| {
            ui.horizontal(|ui| {
                let l = ui.label("Words");
                ui.add(
                    egui::TextEdit::singleline(&mut self.words)
                        .hint_text("lights on, music, pause")
                        .desired_width(320.0),
                )
                .labelled_by(l.id)
                .on_hover_text("Words or short phrases (up to four words), comma-separated");
            });
            self.corpus_field.ui(
                ui,
                "Corpus folder",
                "new folder for the corpus of your words",
                360.0,
            );
        });
        match &self.make_task {
            None => {
                let ready = enabled && !self.words.trim().is_empty();
                if ui
                    .add_enabled(ready, egui::Button::new("Make the corpus"))
                    .on_hover_text(self.sizes_text())
                    .clicked()
                {
                    self.start_make(ui.ctx());
                }
                ui.weak(
                    "Takes about a minute on 2 cores. Cancelled or interrupted, it resumes \
                     where it stopped when made again with the same words.",
                );
            }
            Some(t) => {
                let p = t.progress();
                let fraction = p.fraction().unwrap_or(0.0);
                p.bar_with_cancel(
                    ui,
                    fraction,
                    format!("making the corpus: {:.0} % of the clips", 100.0 * fraction),
                );
            }
        }
        notice_slot(ui, &mut self.notice);
        self.corpus_status_ui(ui);
    }

    /// What "Make the corpus" makes, in a sentence.
    fn sizes_text(&self) -> String {
        let s = &self.sizes;
        let voices: Vec<String> = s
            .engines
            .iter()
            .map(|e| match e {
                EngineKind::Espeak => format!("{} espeak-ng", s.speakers_per_engine),
                EngineKind::Festival => format!("{} Festival", s.speakers_per_engine),
                EngineKind::Mbrola => format!("{} MBROLA", s.speakers_per_engine),
            })
            .collect();
        format!(
            "Synthesize every word {} times with each of {} voices, plus {} other words and \
             {} sentences per voice as negatives, into the corpus folder",
            s.takes,
            voices.join(" and "),
            s.negatives_per_speaker,
            s.sentences_per_speaker
        )
    }

    /// One line on what the corpus folder holds.
    fn corpus_status_ui(&self, ui: &mut Ui) {
        if self.making() {
            return;
        }
        if let Some(m) = &self.made {
            ui.label(m);
        }
        let warn = ui.visuals().warn_fg_color;
        match &self.corpus {
            CorpusState::Missing => {
                ui.weak("No corpus yet: type your words and press Make the corpus.");
            }
            CorpusState::Unfinished { words } => {
                let text = format!(
                    "The corpus of {} is not finished: press Make the corpus with the same \
                     words to resume it.",
                    words.join(", ")
                );
                ui.label(RichText::new(text).color(warn));
            }
            CorpusState::NotACorpus => {
                ui.label(
                    RichText::new(
                        "The corpus folder holds other files: choose a new or empty folder.",
                    )
                    .color(warn),
                );
            }
            CorpusState::Ready { keywords } => {
                ui.label(format!("Corpus of {}.", keywords.join(", ")));
                if corpus_differs(&self.words, keywords) == Some(true) {
                    ui.label(
                        RichText::new(
                            "The words typed are not the corpus's: to teach them, choose another \
                             corpus folder and press Make the corpus.",
                        )
                        .color(warn),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(ws: &[&str]) -> Vec<String> {
        ws.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn typed_words_become_keyword_folders_or_a_notice_naming_the_bad_ones() {
        let words = split_words(" lights on,pause , ,Music");
        assert_eq!(words, strings(&["lights on", "pause", "Music"]));
        let folders: Vec<String> = check_words(&words)
            .unwrap()
            .into_iter()
            .map(|k| k.folder)
            .collect();
        assert_eq!(folders, strings(&["lights_on", "pause", "music"]));

        let n = check_words(&strings(&["lights on", "r2d2", "a b c d e"])).unwrap_err();
        assert!(
            n.message.contains("“r2d2”") && n.message.contains("“a b c d e”"),
            "{}",
            n.message
        );
        assert!(!n.message.contains("lights on") && !n.hint.is_empty());
        assert!(
            check_words(&[])
                .unwrap_err()
                .hint
                .contains("comma-separated")
        );
        let twice = check_words(&strings(&["lights on", "Lights_On"])).unwrap_err();
        assert!(twice.message.contains("twice"), "{}", twice.message);
        let reserved = check_words(&strings(&["silence"])).unwrap_err();
        assert!(reserved.message.contains("silence"));
    }

    #[test]
    fn the_corpus_config_takes_the_words_and_the_sizes() {
        let sizes = CorpusSizes::default();
        assert_eq!(sizes.engines, [EngineKind::Espeak, EngineKind::Festival]);
        assert_eq!(sizes.speakers_per_engine, 60);
        let c = corpus_config(strings(&["lights on", "pause"]), &sizes);
        assert_eq!(c.keywords, strings(&["lights on", "pause"]));
        assert_eq!(c.speakers_per_engine, 60);
        assert_eq!((c.takes, c.negatives_per_speaker), (2, 20));
        assert_eq!(c.sentences_per_speaker, 2);
        assert_eq!(c.wordlist, SynthConfig::default().wordlist);
        let tiny = CorpusSizes {
            engines: vec![EngineKind::Espeak],
            speakers_per_engine: 4,
            ..CorpusSizes::default()
        };
        let c = corpus_config(strings(&["pause"]), &tiny);
        assert_eq!((c.engines.len(), c.speakers_per_engine), (1, 4));
    }

    #[test]
    fn the_corpus_goes_next_to_the_takes_folder() {
        assert_eq!(default_corpus_folder("/d/my-voice/"), "/d/my-voice-corpus");
        assert_eq!(default_corpus_folder(" "), "");
        let n = NewWords::new("pause", "", "/d/t");
        assert_eq!(n.corpus_root(), Some(PathBuf::from("/d/t-corpus")));
        let mut n = NewWords::new("pause", "", "/d/t");
        n.follow_takes("/d/t", "/d/u");
        assert_eq!(n.corpus_root(), Some(PathBuf::from("/d/u-corpus")));
        let mut n = NewWords::new("pause", "/e/c", "/d/t");
        n.follow_takes("/d/t", "/d/u");
        assert_eq!(n.corpus_root(), Some(PathBuf::from("/e/c")));
        assert!(
            n.keywords().is_empty(),
            "no keywords before the corpus is read"
        );
    }

    #[test]
    fn a_corpus_folder_is_read_for_its_keywords() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("c");
        assert_eq!(read_corpus(&root).unwrap(), CorpusState::Missing);
        std::fs::create_dir_all(&root).unwrap();
        assert_eq!(read_corpus(&root).unwrap(), CorpusState::Missing);
        // Started: the settings are written first.
        let config = corpus_config(strings(&["lights on", "pause"]), &CorpusSizes::default());
        std::fs::write(
            root.join(SETTINGS_FILE),
            serde_json::to_vec(&config).unwrap(),
        )
        .unwrap();
        assert_eq!(
            read_corpus(&root).unwrap(),
            CorpusState::Unfinished {
                words: strings(&["lights on", "pause"])
            }
        );
        // Finished: keywords.txt is written last.
        std::fs::write(root.join(KEYWORDS_FILE), "# mine\nlights_on\n\npause\n").unwrap();
        let state = read_corpus(&root).unwrap();
        assert_eq!(
            state,
            CorpusState::Ready {
                keywords: strings(&["lights_on", "pause"])
            }
        );
        assert_eq!(
            corpus_differs("lights on, pause", &strings(&["lights_on", "pause"])),
            Some(false)
        );
        assert_eq!(
            corpus_differs("music", &strings(&["lights_on", "pause"])),
            Some(true)
        );
        assert_eq!(corpus_differs("r2d2", &strings(&["pause"])), None);
        std::fs::write(root.join(KEYWORDS_FILE), "# none\n").unwrap();
        assert!(read_corpus(&root).unwrap_err().contains("lists no keyword"));
        let other = dir.path().join("other");
        std::fs::create_dir_all(other.join("x")).unwrap();
        assert_eq!(read_corpus(&other).unwrap(), CorpusState::NotACorpus);
    }

    #[test]
    fn corpus_errors_say_what_to_do() {
        let n = synth_notice(&SynthError::MissingEngine {
            engine: EngineKind::Festival,
            program: "text2wave".into(),
            package: "festival".into(),
        });
        assert!(n.hint.contains("apt install festival"), "{}", n.hint);
        let n = synth_notice(&SynthError::SettingsDiffer {
            path: PathBuf::from("/c/synth.json"),
            field: "keywords".into(),
            existing: "[\"pause\"]".into(),
            requested: "[\"music\"]".into(),
        });
        assert!(n.hint.contains("another corpus folder"), "{}", n.hint);
        let n = synth_notice(&SynthError::Cancelled);
        assert!(n.message.contains("resume"));
    }

    #[test]
    fn the_modes_have_their_labels() {
        assert_eq!(TeachMode::default(), TeachMode::ModelKeywords);
        let labels: Vec<&str> = TeachMode::ALL.iter().map(|m| m.label()).collect();
        assert_eq!(labels, ["Keywords of the loaded model", "New keywords"]);
        let m: TeachMode = serde_json::from_str("\"NewKeywords\"").unwrap();
        assert_eq!(m, TeachMode::NewKeywords);
    }
}
