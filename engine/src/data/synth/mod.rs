//! Keyword corpora from text: `bifsmn data synth` and the Data panel's "New dataset from
//! keywords".
//!
//! Given keywords (words or short phrases) and a negative vocabulary, the generator makes a
//! dataset in the Speech Commands layout that the rest of the workbench reads unchanged:
//!
//! ```text
//! <out>/<keyword folder>/<speaker>_nohash_<take>.wav   the keywords, 1 s, 16 kHz, 16-bit
//! <out>/<negative word>/<speaker>_nohash_0.wav         one folder per negative word
//! <out>/_long_speech_/<speaker>_nohash_<n>.wav         sentences of negative words (long-form)
//! <out>/_background_noise_/*.wav                       white, pink, brown noise and babble
//! <out>/validation_list.txt, testing_list.txt          speaker-disjoint splits
//! <out>/keywords.txt                                   the keyword folders, in class order
//! <out>/manifest.tsv                                   every file: speaker, voice, settings
//! <out>/synth.json                                     the settings that made the corpus
//! ```
//!
//! Every random choice is seeded from the settings' seed and the item's identity, so the same
//! settings always give the same corpus (with the same engine versions). Files are written
//! atomically and existing files are kept: running the same command again after an
//! interruption renders only what is missing. Running it with other settings on an existing
//! corpus is refused, naming the setting that differs.

mod clip;
mod engines;
mod noise;
mod speakers;
mod timbre;
mod vocab;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use rand::SeedableRng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use engines::{check_installed, engine_package, phonemes};
pub use speakers::{ESPEAK_ACCENTS, ESPEAK_VARIANTS, EngineKind, FESTIVAL_VOICES, Speaker};
pub use vocab::{DEFAULT_WORDLIST, Keyword, Vocabulary};

use crate::audio::write_wav_mono_16k;
use crate::data::Split;
use crate::fsutil::write_atomic;

/// Folder of the long-form negatives (continuous non-keyword speech).
pub const LONG_SPEECH_DIR: &str = "_long_speech_";
/// The keyword folders, one per line, in class order.
pub const KEYWORDS_FILE: &str = "keywords.txt";
/// The settings a corpus was made with.
pub const SETTINGS_FILE: &str = "synth.json";
/// Synthesis attempts per item: a render too long for a clip is retried faster.
const MAX_ATTEMPTS: u32 = 4;

/// What to generate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SynthConfig {
    /// Keywords as typed (words or phrases of up to four words).
    pub keywords: Vec<String>,
    /// Engines; each gets `speakers_per_engine` speakers.
    pub engines: Vec<EngineKind>,
    pub speakers_per_engine: usize,
    /// Takes of every keyword per speaker.
    pub takes: usize,
    /// Distinct negative words each speaker says.
    pub negatives_per_speaker: usize,
    /// Size of the negative vocabulary (all splits).
    pub negative_words: usize,
    /// Sentences of negative words per speaker (long-form negatives).
    pub sentences_per_speaker: usize,
    /// Fraction of espeak-ng speakers with a voice variant generated for them (their own
    /// formants, voice source and breathiness) rather than an installed variant.
    pub espeak_timbres: f64,
    /// Fractions of speakers (and of negative words) in validation and test.
    pub validation_fraction: f64,
    pub test_fraction: f64,
    pub seed: u64,
    /// Word list the negatives come from (Debian's `wamerican` by default).
    pub wordlist: PathBuf,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            keywords: crate::data::speech_commands::COMMAND_WORDS
                .iter()
                .map(|w| w.to_string())
                .collect(),
            engines: EngineKind::DEFAULT.to_vec(),
            speakers_per_engine: 150,
            takes: 2,
            negatives_per_speaker: 20,
            negative_words: 2000,
            sentences_per_speaker: 2,
            espeak_timbres: 0.5,
            validation_fraction: 0.1,
            test_fraction: 0.15,
            seed: 1,
            wordlist: PathBuf::from(DEFAULT_WORDLIST),
        }
    }
}

/// Everything that can stop a corpus; each names the file, engine, voice or setting.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error(
        "{engine} is not installed (`{program}` not found): apt install {package}{}",
        engine.apt_component_hint()
    )]
    MissingEngine {
        engine: EngineKind,
        program: String,
        package: String,
    },
    #[error(
        "{engine} voice `{voice}` is not installed: apt install {package}{}",
        engine.apt_component_hint()
    )]
    MissingVoice {
        engine: EngineKind,
        voice: String,
        package: String,
    },
    #[error("word list {}: {reason} (Debian's list: apt install wamerican)", path.display())]
    Wordlist { path: PathBuf, reason: String },
    #[error("the word list has only {found} usable negative words, {wanted} were asked for")]
    TooFewWords { wanted: usize, found: usize },
    #[error(
        "keyword `{0}` is not usable: give letters (apostrophes and hyphens allowed), up to four words"
    )]
    BadKeyword(String),
    #[error("setting `{field}`: {reason}")]
    BadSetting { field: &'static str, reason: String },
    #[error("{engine} voice {voice} could not render `{text}`: {reason}")]
    Render {
        engine: EngineKind,
        voice: String,
        text: String,
        reason: String,
    },
    #[error(
        "{} was made with other settings ({field}: {existing} there, {requested} now); \
         use another folder or the same settings to resume",
        path.display()
    )]
    SettingsDiffer {
        path: PathBuf,
        field: String,
        existing: String,
        requested: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("corpus generation was cancelled; run it again to resume")]
    Cancelled,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Gives each word's phonemes, one per word in order ([`phonemes`] in production).
pub type Pronouncer = dyn Fn(&[String]) -> Result<Vec<String>, SynthError>;

/// A 32-byte seed from the corpus seed and the parts that identify what it is for.
pub(crate) fn seed_bytes(seed: u64, parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"bifsmn-synth-v1");
    h.update(seed.to_le_bytes());
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    h.finalize().into()
}

/// A seeded hash of `key` into train / validation / test with the given fractions of
/// validation and test: the same key always lands in the same split.
pub(crate) fn fraction_split(
    seed: u64,
    domain: &str,
    key: &str,
    (validation, test): (f64, f64),
) -> Split {
    let b = seed_bytes(seed, &[domain, key]);
    let u = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f64
        / u64::MAX as f64;
    if u < validation {
        Split::Validation
    } else if u < validation + test {
        Split::Test
    } else {
        Split::Train
    }
}

fn item_rng(seed: u64, parts: &[&str]) -> ChaCha8Rng {
    ChaCha8Rng::from_seed(seed_bytes(seed, parts))
}

/// What an item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemKind {
    Keyword,
    Negative,
    Sentence,
}

/// One file of the corpus, as planned.
#[derive(Clone, Debug)]
pub struct Item {
    pub kind: ItemKind,
    pub text: String,
    /// Path relative to the corpus root, `/`-separated.
    pub rel: String,
}

/// The whole corpus, planned before anything is rendered.
#[derive(Clone, Debug)]
pub struct Plan {
    pub keywords: Vec<Keyword>,
    pub vocabulary: Vocabulary,
    /// Each speaker with its items.
    pub speakers: Vec<(Speaker, Vec<Item>)>,
}

impl Plan {
    /// Items in the corpus.
    pub fn items(&self) -> usize {
        self.speakers.iter().map(|(_, items)| items.len()).sum()
    }
}

/// Check the settings and plan every file. Needs espeak-ng (for the phonemes that keep
/// keyword homophones out of the negatives) and the word list.
pub fn plan(config: &SynthConfig) -> Result<Plan, SynthError> {
    plan_with(config, &phonemes)
}

fn plan_with(config: &SynthConfig, pronounce: &Pronouncer) -> Result<Plan, SynthError> {
    check_config(config)?;
    let keywords = config
        .keywords
        .iter()
        .map(|k| Keyword::parse(k))
        .collect::<Result<Vec<_>, _>>()?;
    let fractions = (config.validation_fraction, config.test_fraction);
    let candidates = vocab::read_wordlist(&config.wordlist)?;
    let vocabulary = vocab::build_vocabulary(
        &candidates,
        &keywords,
        config.negative_words,
        fractions,
        config.seed,
        pronounce,
    )?;
    let mut speakers = Vec::new();
    for &engine in &config.engines {
        let list = speakers::speakers(
            engine,
            config.speakers_per_engine,
            fractions,
            config.espeak_timbres,
            config.seed,
        );
        for s in list {
            let items = speaker_items(config, &keywords, &vocabulary, &s);
            speakers.push((s, items));
        }
    }
    Ok(Plan {
        keywords,
        vocabulary,
        speakers,
    })
}

fn check_config(config: &SynthConfig) -> Result<(), SynthError> {
    let bad = |field, reason: &str| {
        Err(SynthError::BadSetting {
            field,
            reason: reason.to_string(),
        })
    };
    if config.keywords.is_empty() {
        return bad("keywords", "give at least one keyword");
    }
    if config.engines.is_empty() {
        return bad("engines", "give at least one engine (espeak, festival)");
    }
    if config.speakers_per_engine == 0 {
        return bad("speakers_per_engine", "must be at least 1");
    }
    if config.takes == 0 {
        return bad("takes", "must be at least 1");
    }
    let (v, t) = (config.validation_fraction, config.test_fraction);
    // Together 1 is allowed: an evaluation corpus (every speaker and word in test).
    if !(0.0..=1.0).contains(&v) || !(0.0..=1.0).contains(&t) || v + t > 1.0 {
        return bad(
            "validation_fraction/test_fraction",
            "each in [0, 1] and together at most 1",
        );
    }
    let mut folders: Vec<String> = Vec::new();
    for k in &config.keywords {
        let folder = Keyword::parse(k)?.folder;
        if folders.contains(&folder) {
            return bad("keywords", &format!("`{k}` is given twice"));
        }
        folders.push(folder);
    }
    Ok(())
}

/// A speaker's items: every keyword `takes` times, distinct negatives from the speaker's
/// split, and sentences.
fn speaker_items(
    config: &SynthConfig,
    keywords: &[Keyword],
    vocabulary: &Vocabulary,
    speaker: &Speaker,
) -> Vec<Item> {
    let mut items = Vec::new();
    for k in keywords {
        for take in 0..config.takes {
            items.push(Item {
                kind: ItemKind::Keyword,
                text: k.text.clone(),
                rel: format!("{}/{}_nohash_{take}.wav", k.folder, speaker.id),
            });
        }
    }
    let mut rng = item_rng(config.seed, &["negatives-of", &speaker.id]);
    let pool = vocabulary.words(speaker.split);
    let chosen: Vec<&String> = pool
        .sample(&mut rng, config.negatives_per_speaker.min(pool.len()))
        .collect();
    for word in chosen {
        items.push(Item {
            kind: ItemKind::Negative,
            text: word.clone(),
            rel: format!("{word}/{}_nohash_0.wav", speaker.id),
        });
    }
    for n in 0..config.sentences_per_speaker {
        items.push(Item {
            kind: ItemKind::Sentence,
            text: vocab::sentence(vocabulary, speaker.split, &mut rng),
            rel: format!("{LONG_SPEECH_DIR}/{}_nohash_{n}.wav", speaker.id),
        });
    }
    items
}

/// Progress of a running generation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SynthProgress {
    /// Items finished (rendered, reused or dropped) out of `total`.
    pub done: usize,
    pub total: usize,
    /// Items that were already on disk.
    pub reused: usize,
}

/// An item that could not be rendered usably after every attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dropped {
    pub rel: String,
    pub reason: String,
}

/// What a generation made.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SynthReport {
    pub root: PathBuf,
    pub keywords: Vec<String>,
    /// Speakers per split per engine.
    pub speakers: BTreeMap<String, BTreeMap<String, usize>>,
    /// Files per split per kind (`keyword`, `negative`, `sentence`).
    pub files: BTreeMap<String, BTreeMap<String, usize>>,
    /// Negative words per split.
    pub negative_words: BTreeMap<String, usize>,
    /// Negative candidates left out as keyword homophones or inflections.
    pub excluded_negatives: Vec<String>,
    pub rendered: usize,
    pub reused: usize,
    pub dropped: Vec<Dropped>,
    pub seconds: f64,
}

/// Generate (or finish) the corpus at `root`. `progress` is called after every item, from
/// worker threads; `cancel` stops between items (what is written stays, a rerun resumes).
pub fn synthesize(
    config: &SynthConfig,
    root: &Path,
    progress: &(dyn Fn(SynthProgress) + Sync),
    cancel: &AtomicBool,
) -> Result<SynthReport, SynthError> {
    let started = Instant::now();
    let plan = plan(config)?;
    for &engine in &config.engines {
        let of_engine: Vec<Speaker> = plan
            .speakers
            .iter()
            .filter(|(s, _)| s.engine == engine)
            .map(|(s, _)| s.clone())
            .collect();
        check_installed(engine, &of_engine)?;
    }
    claim_root(config, root)?;
    let speakers: Vec<&Speaker> = plan.speakers.iter().map(|(s, _)| s).collect();
    let timbres: Vec<&timbre::Timbre> = speakers.iter().filter_map(|s| s.timbre.as_ref()).collect();
    let espeak_data = timbre::EspeakData::prepare(&timbres)?;

    let total = plan.items();
    let done = AtomicUsize::new(0);
    let reused = AtomicUsize::new(0);
    let dropped = Mutex::new(Vec::new());
    let rows = Mutex::new(Vec::new());
    plan.speakers
        .par_iter()
        .try_for_each(|(speaker, items)| -> Result<(), SynthError> {
            if cancel.load(Ordering::Relaxed) {
                return Err(SynthError::Cancelled);
            }
            let espeak_path = espeak_data
                .as_ref()
                .and_then(|d| d.path_for(speaker.timbre.as_ref()));
            let outcome =
                render_speaker(config, root, speaker, items, espeak_path.as_deref(), cancel)?;
            reused.fetch_add(outcome.reused, Ordering::Relaxed);
            let finished = done.fetch_add(items.len(), Ordering::Relaxed) + items.len();
            lock(&dropped).extend(outcome.dropped);
            lock(&rows).extend(outcome.rows);
            progress(SynthProgress {
                done: finished,
                total,
                reused: reused.load(Ordering::Relaxed),
            });
            Ok(())
        })?;

    let dropped = into_inner(dropped);
    let mut rows = into_inner(rows);
    rows.sort_by(|a: &ManifestRow, b| a.rel.cmp(&b.rel));
    noise::write_background(root, &plan, config.seed)?;
    write_lists(root, &plan, &rows)?;
    let reused = reused.into_inner();
    Ok(report(
        root,
        &plan,
        &rows,
        dropped,
        reused,
        started.elapsed().as_secs_f64(),
    ))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn into_inner<T>(m: Mutex<T>) -> T {
    m.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// Write `synth.json` into a new corpus folder, or check that an existing one was made with
/// the same settings.
fn claim_root(config: &SynthConfig, root: &Path) -> Result<(), SynthError> {
    let path = root.join(SETTINGS_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let existing: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(|e| SynthError::Io {
                    path: path.clone(),
                    source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
                })?;
            let requested = serde_json::to_value(config).unwrap_or_default();
            if let (Some(old), Some(new)) = (existing.as_object(), requested.as_object()) {
                for (field, value) in new {
                    let before = old.get(field).cloned().unwrap_or_default();
                    if before != *value {
                        return Err(SynthError::SettingsDiffer {
                            path,
                            field: field.clone(),
                            existing: before.to_string(),
                            requested: value.to_string(),
                        });
                    }
                }
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if root.is_dir()
                && std::fs::read_dir(root)
                    .map_err(io_error(root))?
                    .next()
                    .is_some()
            {
                return Err(SynthError::BadSetting {
                    field: "out",
                    reason: format!(
                        "{} exists and is not a generated corpus (no {SETTINGS_FILE}); choose an empty or new folder",
                        root.display()
                    ),
                });
            }
            std::fs::create_dir_all(root).map_err(io_error(root))?;
            let json = serde_json::to_vec_pretty(config).unwrap_or_default();
            write_atomic(&path, &json).map_err(io_error(&path))
        }
        Err(e) => Err(SynthError::Io { path, source: e }),
    }
}

/// One manifest line.
#[derive(Clone, Debug)]
struct ManifestRow {
    rel: String,
    kind: ItemKind,
    text: String,
    speaker: Speaker,
    pitch: f32,
    rate: f32,
    attempt: u32,
    placed: Option<clip::Placed>,
}

struct SpeakerOutcome {
    rows: Vec<ManifestRow>,
    dropped: Vec<Dropped>,
    reused: usize,
}

/// Render every missing item of one speaker, retrying too-long renders faster.
fn render_speaker(
    config: &SynthConfig,
    root: &Path,
    speaker: &Speaker,
    items: &[Item],
    espeak_path: Option<&Path>,
    cancel: &AtomicBool,
) -> Result<SpeakerOutcome, SynthError> {
    let scratch = tempfile::Builder::new()
        .prefix("bifsmn-synth-")
        .tempdir()
        .map_err(io_error(&std::env::temp_dir()))?;
    let mut outcome = SpeakerOutcome {
        rows: Vec::new(),
        dropped: Vec::new(),
        reused: 0,
    };
    let mut pending: Vec<&Item> = Vec::new();
    for item in items {
        if root.join(&item.rel).is_file() {
            outcome.reused += 1;
            outcome.rows.push(planned_row(config, speaker, item));
        } else {
            pending.push(item);
        }
    }
    for attempt in 0..MAX_ATTEMPTS {
        if pending.is_empty() {
            break;
        }
        if cancel.load(Ordering::Relaxed) {
            return Err(SynthError::Cancelled);
        }
        let voices: Vec<engines::Utterance> = pending
            .iter()
            .map(|item| engines::Utterance {
                text: item.text.clone(),
                voice: speaker.take_voice(
                    &mut take_rng(config, speaker, item, attempt, "voice"),
                    attempt,
                ),
            })
            .collect();
        let renders = engines::render(speaker, &voices, scratch.path(), espeak_path)?;
        let mut retry = Vec::new();
        for ((item, voice), render) in pending.iter().zip(&voices).zip(renders) {
            let mut rng = take_rng(config, speaker, item, attempt, "place");
            match finish_item(root, speaker, item, render, &mut rng)? {
                Ok(placed) => outcome.rows.push(ManifestRow {
                    placed: Some(placed),
                    pitch: voice.voice.pitch,
                    rate: voice.voice.rate,
                    attempt,
                    ..planned_row(config, speaker, item)
                }),
                Err(_) if attempt + 1 < MAX_ATTEMPTS => retry.push(*item),
                Err(reason) => outcome.dropped.push(Dropped {
                    rel: item.rel.clone(),
                    reason: reason.to_string(),
                }),
            }
        }
        pending = retry;
    }
    Ok(outcome)
}

/// The settings a reused file was made with (its first attempt's; a retried file records
/// attempt 0 after a resume, which the manifest says).
fn planned_row(config: &SynthConfig, speaker: &Speaker, item: &Item) -> ManifestRow {
    let voice = speaker.take_voice(&mut take_rng(config, speaker, item, 0, "voice"), 0);
    ManifestRow {
        rel: item.rel.clone(),
        kind: item.kind,
        text: item.text.clone(),
        speaker: speaker.clone(),
        pitch: voice.pitch,
        rate: voice.rate,
        attempt: 0,
        placed: None,
    }
}

/// The RNG of one attempt at one item, for one purpose (`voice`: pitch and rate; `place`:
/// level, offset and floor).
fn take_rng(
    config: &SynthConfig,
    speaker: &Speaker,
    item: &Item,
    attempt: u32,
    purpose: &str,
) -> ChaCha8Rng {
    item_rng(
        config.seed,
        &[
            "take",
            purpose,
            &speaker.id,
            &item.rel,
            &attempt.to_string(),
        ],
    )
}

/// Warp, place and write one render. The outer error stops the corpus (a file could not be
/// written); the inner one means this render is unusable and may be retried.
fn finish_item(
    root: &Path,
    speaker: &Speaker,
    item: &Item,
    render: Vec<f32>,
    rng: &mut ChaCha8Rng,
) -> Result<Result<clip::Placed, clip::Unusable>, SynthError> {
    let warped = match clip::warp(&render, speaker) {
        Ok(w) => w,
        Err(e) => return Ok(Err(e)),
    };
    let made = match item.kind {
        ItemKind::Sentence => clip::long_form(warped, rng),
        _ => clip::one_second_clip(warped, rng),
    };
    let (samples, placed) = match made {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    let path = root.join(&item.rel);
    write_wav_mono_16k(&path, &samples).map_err(|e| SynthError::Io {
        path: path.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(Ok(placed))
}

/// `validation_list.txt`, `testing_list.txt`, `keywords.txt` and `manifest.tsv`, from the
/// files that exist.
fn write_lists(root: &Path, plan: &Plan, rows: &[ManifestRow]) -> Result<(), SynthError> {
    let mut lists: BTreeMap<Split, String> = BTreeMap::new();
    for row in rows {
        if row.speaker.split != Split::Train {
            let list = lists.entry(row.speaker.split).or_default();
            list.push_str(&row.rel);
            list.push('\n');
        }
    }
    let write = |name: &str, text: &str| {
        let path = root.join(name);
        write_atomic(&path, text.as_bytes()).map_err(io_error(&path))
    };
    write(
        crate::data::speech_commands::VALIDATION_LIST,
        lists.get(&Split::Validation).map_or("", |s| s.as_str()),
    )?;
    write(
        crate::data::speech_commands::TESTING_LIST,
        lists.get(&Split::Test).map_or("", |s| s.as_str()),
    )?;
    let keywords: String = plan
        .keywords
        .iter()
        .map(|k| format!("{}\n", k.folder))
        .collect();
    write(KEYWORDS_FILE, &keywords)?;
    write("manifest.tsv", &manifest(rows))
}

fn manifest(rows: &[ManifestRow]) -> String {
    let mut out = String::from(
        "path\tsplit\tkind\ttext\tspeaker\tengine\tvoice\tspeaker_pitch\tspeaker_rate\twarp_hz\t\
         pitch\trate\tattempt\toffset\tspeech_samples\tgain_db\tfloor_dbfs\n",
    );
    for r in rows {
        let s = &r.speaker;
        let placed = r.placed.map_or_else(
            || "\t\t\t".to_string(),
            |p| {
                format!(
                    "{}\t{}\t{:.2}\t{:.2}",
                    p.offset, p.speech_samples, p.gain_db, p.floor_dbfs
                )
            },
        );
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.1}\t{:.3}\t{}\t{placed}\n",
            r.rel,
            s.split,
            serde_json::to_value(r.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            r.text,
            s.id,
            s.engine,
            s.voice,
            s.pitch,
            s.rate,
            s.warp_hz,
            r.pitch,
            r.rate,
            r.attempt,
        ));
    }
    out
}

fn report(
    root: &Path,
    plan: &Plan,
    rows: &[ManifestRow],
    dropped: Vec<Dropped>,
    reused: usize,
    seconds: f64,
) -> SynthReport {
    let mut speakers: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for (s, _) in &plan.speakers {
        *speakers
            .entry(s.split.name().into())
            .or_default()
            .entry(s.engine.name().into())
            .or_default() += 1;
    }
    let mut files: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for r in rows {
        let kind = match r.kind {
            ItemKind::Keyword => "keyword",
            ItemKind::Negative => "negative",
            ItemKind::Sentence => "sentence",
        };
        *files
            .entry(r.speaker.split.name().into())
            .or_default()
            .entry(kind.into())
            .or_default() += 1;
    }
    let negative_words = Split::ALL
        .iter()
        .map(|s| (s.name().to_string(), plan.vocabulary.words(*s).len()))
        .collect();
    SynthReport {
        root: root.to_path_buf(),
        keywords: plan.keywords.iter().map(|k| k.folder.clone()).collect(),
        speakers,
        files,
        negative_words,
        excluded_negatives: plan.vocabulary.excluded.clone(),
        rendered: rows.len() - reused,
        reused,
        dropped,
        seconds,
    }
}

#[cfg(test)]
mod tests;
