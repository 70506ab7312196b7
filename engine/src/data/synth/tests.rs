//! The planner without engines (a fake pronouncer and word list), and one real corpus of a few
//! words and two voices per engine through espeak-ng and Festival (the test command installs
//! both; see `packaging/bootstrap.sh`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicBool;

use super::*;
use crate::data::{Dataset, Protocol};

fn wordlist(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join("words");
    let words: String = (0..n)
        .map(|i| {
            // Letters only, like the real list: base-26 spelled names.
            let mut s = String::new();
            let mut k = i + 26 * 27;
            while k > 0 {
                s.push((b'a' + (k % 26) as u8) as char);
                k /= 26;
            }
            s + "\n"
        })
        .collect();
    std::fs::write(&path, words).unwrap();
    path
}

fn same_sound(words: &[String]) -> Result<Vec<String>, SynthError> {
    Ok(words.to_vec())
}

fn small_config(dir: &Path) -> SynthConfig {
    SynthConfig {
        keywords: vec!["yes".into(), "lights on".into()],
        engines: EngineKind::DEFAULT.to_vec(),
        speakers_per_engine: 6,
        takes: 1,
        negatives_per_speaker: 2,
        negative_words: 40,
        sentences_per_speaker: 1,
        espeak_timbres: 0.5,
        validation_fraction: 0.25,
        test_fraction: 0.25,
        seed: 3,
        wordlist: wordlist(dir, 400),
    }
}

#[test]
fn the_plan_is_seeded_speaker_disjoint_and_word_disjoint() {
    let tmp = tempfile::tempdir().unwrap();
    let config = SynthConfig {
        speakers_per_engine: 40,
        negatives_per_speaker: 5,
        negative_words: 200,
        ..small_config(tmp.path())
    };
    let plan = plan_with(&config, &same_sound).unwrap();
    let again = plan_with(&config, &same_sound).unwrap();
    let rels = |p: &Plan| -> Vec<String> {
        p.speakers
            .iter()
            .flat_map(|(_, items)| items.iter().map(|i| i.rel.clone()))
            .collect()
    };
    assert_eq!(rels(&plan), rels(&again));
    let other = plan_with(
        &SynthConfig {
            seed: 4,
            ..config.clone()
        },
        &same_sound,
    )
    .unwrap();
    assert_ne!(rels(&plan), rels(&other));

    assert_eq!(plan.speakers.len(), 80);
    // 2 keywords x 1 take + 5 negatives + 1 sentence per speaker.
    assert_eq!(plan.items(), 80 * 8);
    let mut split_of_word: HashMap<String, Split> = HashMap::new();
    for (speaker, items) in &plan.speakers {
        for item in items {
            assert!(item.rel.ends_with(".wav") && item.rel.contains(&speaker.id));
            if item.kind == ItemKind::Negative {
                let prev = split_of_word.insert(item.text.clone(), speaker.split);
                assert!(
                    prev.is_none_or(|p| p == speaker.split),
                    "`{}` spoken in two splits",
                    item.text
                );
            }
        }
    }
    let words_per_split: HashSet<Split> = split_of_word.values().copied().collect();
    assert_eq!(words_per_split.len(), 3, "every split has negatives");
    assert_eq!(plan.keywords[1].folder, "lights_on");
}

#[test]
fn bad_settings_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let base = small_config(tmp.path());
    let cases: Vec<(SynthConfig, &str)> = vec![
        (
            SynthConfig {
                keywords: vec![],
                ..base.clone()
            },
            "keywords",
        ),
        (
            SynthConfig {
                keywords: vec!["yes".into(), "Yes".into()],
                ..base.clone()
            },
            "twice",
        ),
        (
            SynthConfig {
                keywords: vec!["y3s".into()],
                ..base.clone()
            },
            "y3s",
        ),
        (
            SynthConfig {
                engines: vec![],
                ..base.clone()
            },
            "engines",
        ),
        (
            SynthConfig {
                test_fraction: 0.8,
                ..base.clone()
            },
            "test_fraction",
        ),
        (
            SynthConfig {
                negative_words: 100_000,
                ..base.clone()
            },
            "100000",
        ),
        (
            SynthConfig {
                wordlist: tmp.path().join("nope"),
                ..base.clone()
            },
            "apt install wamerican",
        ),
    ];
    for (config, needle) in cases {
        let err = plan_with(&config, &same_sound).unwrap_err().to_string();
        assert!(err.contains(needle), "`{err}` should mention `{needle}`");
    }
}

/// A real corpus: two keywords (one a phrase), both engines, a few speakers each. It opens as
/// a 12-class dataset with its own keywords; a rerun after deleting a file renders only that
/// file; other settings on the same folder are refused.
#[test]
fn a_small_corpus_from_both_engines_opens_as_a_dataset_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let config = SynthConfig {
        speakers_per_engine: 3,
        ..small_config(tmp.path())
    };
    let root = tmp.path().join("corpus");
    let never = AtomicBool::new(false);
    let calls = AtomicUsize::new(0);
    let report = synthesize(
        &config,
        &root,
        &|_| {
            calls.fetch_add(1, Ordering::Relaxed);
        },
        &never,
    )
    .unwrap();
    assert!(report.dropped.is_empty(), "{:?}", report.dropped);
    assert_eq!(report.rendered, 6 * 5);
    assert_eq!(
        calls.load(Ordering::Relaxed),
        6,
        "one progress call per speaker"
    );

    let ds = Dataset::open(&root, Protocol::Twelve).unwrap();
    assert_eq!(ds.labels, vec!["unknown", "silence", "yes", "lights_on"]);
    let speakers_of = |split| -> HashSet<String> {
        ds.clips_in(split)
            .map(|c| c.speaker.clone())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let train = speakers_of(Split::Train);
    assert!(!train.is_empty());
    for split in [Split::Validation, Split::Test] {
        assert!(
            speakers_of(split).is_disjoint(&train),
            "{split} shares speakers"
        );
    }
    assert!(ds.clips.iter().any(|c| c.is_excerpt() && c.label == 0));
    for c in ds.clips.iter().filter(|c| c.label >= 2) {
        let samples = ds.load(c).unwrap();
        let (peak, rms) = crate::audio::levels_dbfs(&samples);
        assert!(
            peak < -1.0 && rms > -45.0,
            "{}: peak {peak} rms {rms}",
            c.word
        );
    }
    let names: Vec<String> = std::fs::read_dir(root.join("_background_noise_"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");

    // Resume: only the missing file is rendered, and it comes back byte for byte.
    let victim = ds
        .clips
        .iter()
        .find(|c| c.word == "yes")
        .unwrap()
        .path()
        .unwrap()
        .to_path_buf();
    let before = std::fs::read(&victim).unwrap();
    std::fs::remove_file(&victim).unwrap();
    let again = synthesize(&config, &root, &|_| {}, &never).unwrap();
    assert_eq!((again.rendered, again.reused), (1, 6 * 5 - 1));
    assert_eq!(std::fs::read(&victim).unwrap(), before);

    let other = SynthConfig { takes: 2, ..config };
    let err = synthesize(&other, &root, &|_| {}, &never)
        .unwrap_err()
        .to_string();
    assert!(err.contains("takes") && err.contains("synth.json"), "{err}");
}

#[test]
fn cancelling_stops_before_rendering_and_a_foreign_folder_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let config = SynthConfig {
        engines: vec![EngineKind::Espeak],
        ..small_config(tmp.path())
    };
    let cancelled = AtomicBool::new(true);
    let err = synthesize(&config, &tmp.path().join("c"), &|_| {}, &cancelled).unwrap_err();
    assert!(matches!(err, SynthError::Cancelled), "{err}");

    let foreign = tmp.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let err = synthesize(&config, &foreign, &|_| {}, &AtomicBool::new(false)).unwrap_err();
    assert!(err.to_string().contains("not a generated corpus"), "{err}");
}

/// MBROLA is outside Debian main, so the bootstrap does not install it: where it is missing,
/// the error names the package and the components to enable; where it is there, its
/// speakers render keyword clips like the other engines', and a word a voice lacks a
/// diphone for ("on" with mb-us3) is dropped, not kept as a clip of silence.
#[test]
fn mbrola_speakers_render_where_it_is_installed_and_are_named_where_not() {
    let tmp = tempfile::tempdir().unwrap();
    let config = SynthConfig {
        keywords: vec!["yes".into(), "on".into()],
        engines: vec![EngineKind::Mbrola],
        speakers_per_engine: 4,
        negatives_per_speaker: 1,
        sentences_per_speaker: 0,
        ..small_config(tmp.path())
    };
    let root = tmp.path().join("corpus");
    let installed = std::process::Command::new("mbrola")
        .arg("-h")
        .output()
        .is_ok_and(|o| o.status.success());
    let outcome = synthesize(&config, &root, &|_| {}, &AtomicBool::new(false));
    if !installed {
        let err = outcome.unwrap_err().to_string();
        assert!(
            err.contains("apt install mbrola") && err.contains("contrib non-free"),
            "{err}"
        );
        eprintln!("mbrola is not installed: only its missing-engine error was checked");
        return;
    }
    let report = outcome.unwrap();
    let voices: HashSet<String> = report_voices(&root);
    assert_eq!(voices.len(), 4, "one speaker per MBROLA voice: {voices:?}");
    // Four speakers x (two keywords + one negative word), less what mb-us3 cannot say.
    assert_eq!(report.rendered + report.dropped.len(), 12);
    assert!(
        report.dropped.iter().any(|d| d.rel.starts_with("on/"))
            && !report.dropped.iter().any(|d| d.rel.starts_with("yes/")),
        "{:?}",
        report.dropped
    );
    let ds = Dataset::open(&root, Protocol::Twelve).unwrap();
    for c in ds.clips.iter().filter(|c| c.label >= 2) {
        let (peak, rms) = crate::audio::levels_dbfs(&ds.load(c).unwrap());
        assert!(
            peak < -1.0 && rms > -45.0,
            "{}: peak {peak} rms {rms}",
            c.word
        );
    }
}

/// The voices of a corpus's keyword clips, from its manifest.
fn report_voices(root: &Path) -> HashSet<String> {
    let manifest = std::fs::read_to_string(root.join("manifest.tsv")).unwrap();
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let voice = header.iter().position(|h| *h == "voice").unwrap();
    lines
        .map(|l| l.split('\t').nth(voice).unwrap().to_string())
        .collect()
}
