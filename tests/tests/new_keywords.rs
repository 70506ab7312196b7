//! New keywords end to end: a small corpus of three new words from text (`data synth`), a few
//! takes of them, a student started from a trained one with a new classifier, exported, and
//! classified by the board runner under the new labels.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;

use bifsmn_deploy::{Arch, RunnerLocator, workspace_runners_dir};
use bifsmn_engine::data::synth::{EngineKind, SynthConfig, synthesize};
use bifsmn_engine::train::finetune::{self, FinetuneConfig};
use bifsmn_tests::models::{tiny_models, train};

const WORDS: [&str; 3] = ["lights", "music", "pause"];

fn corpus(root: &Path, speakers: usize, seed: u64) {
    let config = SynthConfig {
        keywords: WORDS.iter().map(|w| w.to_string()).collect(),
        engines: vec![EngineKind::Espeak],
        speakers_per_engine: speakers,
        takes: 2,
        negatives_per_speaker: 6,
        negative_words: 200,
        sentences_per_speaker: 1,
        validation_fraction: 0.2,
        test_fraction: 0.2,
        seed,
        ..SynthConfig::default()
    };
    let report = synthesize(&config, root, &|_| {}, &AtomicBool::new(false)).unwrap();
    assert!(report.dropped.is_empty(), "{:?}", report.dropped);
}

#[test]
fn three_new_words_from_text_and_takes_run_on_the_board_runner_under_their_labels() {
    let m = tiny_models();
    let tmp = tempfile::tempdir().unwrap();
    let words = tmp.path().join("words");
    corpus(&words, 10, 1);
    // The "user": another seed, so other voices; their keyword clips are the takes.
    let user = tmp.path().join("user");
    corpus(&user, 2, 99);
    let takes = tmp.path().join("takes");
    for w in WORDS {
        std::fs::create_dir_all(takes.join(w)).unwrap();
        for (i, e) in std::fs::read_dir(user.join(w)).unwrap().enumerate() {
            std::fs::copy(e.unwrap().path(), takes.join(w).join(format!("t{i}.wav"))).unwrap();
        }
    }

    let run_dir = tmp.path().join("new-words");
    let mut config = FinetuneConfig::new(m.student_run.clone(), takes, words, run_dir);
    config.epochs = 2;
    config.replay_clips = 1000;
    let prepared = finetune::prepare(&config).unwrap();
    assert_eq!(
        prepared.labels,
        ["unknown", "silence", "lights", "music", "pause"]
    );
    assert!(
        prepared.train.teacher.is_none(),
        "a teacher of the ten commands cannot teach these words"
    );
    train(prepared.train.clone());
    let report = finetune::finish(&prepared, 0.0).unwrap();
    let taught: Vec<&str> = report
        .per_keyword
        .iter()
        .map(|k| k.keyword.as_str())
        .collect();
    assert_eq!(taught, WORDS);
    assert!(
        report.per_keyword.iter().all(|k| k.before == 0),
        "the base model knows none of them"
    );
    assert!(report.base_test.before.is_empty());

    let Ok(runner) = RunnerLocator::only(workspace_runners_dir()).find(Arch::X86_64) else {
        println!(
            "note: no host runner in target/runners (packaging/build-runner-host.sh); runner step skipped"
        );
        return;
    };
    let clip = std::fs::read_dir(user.join("music"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let out = Command::new(&runner)
        .args(["classify", "--json", "--model"])
        .arg(&report.model)
        .arg(&clip)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        r["labels"],
        serde_json::json!(["unknown", "silence", "lights", "music", "pause"])
    );
    let label = r["label"].as_str().unwrap();
    assert!(
        ["unknown", "silence", "lights", "music", "pause"].contains(&label),
        "{label}"
    );
}
