//! The pure parts of "Teach it my voice": the takes folder, which keyword needs takes, the
//! training progress, importing files as takes, and the before/after summary.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use bifsmn_engine::capture::record::{RecordError, SaveOptions, save_clip};
use bifsmn_engine::train::TrainEvent;
use bifsmn_engine::train::finetune::{FinetuneReport, ME};

use crate::task::Progress;
use crate::widgets::Notice;

/// Takes a keyword needs before fine-tuning: the last one is held back for the comparison.
pub(crate) const MIN_TAKES: usize = 2;
/// Audio files the fine-tune reads as takes.
const TAKE_EXTS: [&str; 4] = ["wav", "flac", "ogg", "mp3"];
/// Player ids of takes carry this bit, so they never meet the confusion view's clip indices.
const TAKE_ID_BIT: u64 = 1 << 63;

/// The audio takes of every word folder of the takes folder, sorted by file name.
pub(crate) type Takes = BTreeMap<String, Vec<PathBuf>>;

/// Read the takes folder. Folders starting with `.` or `_` (the trash, background noise) are
/// not words; a folder that does not exist yet holds no takes.
pub(crate) fn scan_takes(root: &Path) -> std::io::Result<Takes> {
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
pub(crate) fn count(takes: &Takes, keyword: &str) -> usize {
    takes.get(keyword).map_or(0, Vec::len)
}

/// Why Fine-tune cannot start yet (`None`: it can): every keyword needs [`MIN_TAKES`].
pub(crate) fn finetune_blocker(keywords: &[String], takes: &Takes) -> Option<String> {
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
pub(crate) fn next_incomplete(
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

/// Words of the takes folder that are not among `keywords`: the fine-tune refuses them (takes
/// of another mode or of another model's words).
pub(crate) fn foreign_words(keywords: &[String], takes: &Takes) -> Vec<String> {
    takes
        .keys()
        .filter(|w| !keywords.contains(w))
        .cloned()
        .collect()
}

/// The keyword after `current`, going round.
pub(super) fn next_keyword(keywords: &[String], current: &str) -> Option<String> {
    let i = keywords.iter().position(|k| k == current)?;
    keywords.get((i + 1) % keywords.len()).cloned()
}

/// How far a training run is, from its events.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TrainProgress {
    pub epochs: usize,
    pub epochs_done: usize,
    /// Step within the running epoch (1-based; 0 before its first step).
    pub step: usize,
    pub steps_per_epoch: usize,
}

impl TrainProgress {
    pub(crate) fn new(epochs: usize) -> Self {
        Self {
            epochs,
            ..Self::default()
        }
    }

    pub(crate) fn apply(&mut self, event: &TrainEvent) {
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
    pub(crate) fn fraction(&self) -> f32 {
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
pub(crate) struct ImportOutcome {
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
    pub(crate) fn notice(&self) -> Option<Notice> {
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
pub(crate) fn import_all(
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
pub(super) fn per_path(values: &[f32]) -> String {
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
pub(super) fn take_id(path: &Path) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut h);
    h.finish() | TAKE_ID_BIT
}

pub(super) fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    )
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
    fn takes_of_words_that_are_not_the_keywords_are_found() {
        let takes = takes_of(&[("yes", 2), ("lights_on", 3), ("pause", 1)]);
        assert_eq!(
            foreign_words(&words(&["lights_on", "pause"]), &takes),
            ["yes"]
        );
        assert_eq!(
            foreign_words(&words(&["yes", "no"]), &takes),
            ["lights_on", "pause"]
        );
        assert!(foreign_words(&words(&["yes", "lights_on", "pause"]), &takes).is_empty());
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
            phases: Default::default(),
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
    fn take_ids_are_stable_and_apart_from_clip_indices() {
        let a = take_id(Path::new("/t/yes/a.wav"));
        assert_eq!(a, take_id(Path::new("/t/yes/a.wav")));
        assert_ne!(a, take_id(Path::new("/t/yes/b.wav")));
        assert!(a & TAKE_ID_BIT != 0);
    }
}
