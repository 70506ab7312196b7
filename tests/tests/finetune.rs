//! Fine-tuning a trained student on a few takes (`bifsmn train finetune`'s engine): the
//! training set, the new run and `.bkw`, the before/after report, and the refusals.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

use std::path::{Path, PathBuf};

use bifsmn_engine::train::finetune::{self, FinetuneConfig};
use bifsmn_tests::models::{tiny_models, train};

/// Three takes of `yes`, `no` and `stop`, copied from demo test clips (any voice will do for
/// the mechanics).
fn takes(dir: &Path) -> PathBuf {
    let demo = &tiny_models().demo;
    let takes = dir.join("takes");
    for word in ["yes", "no", "stop"] {
        let mut clips: Vec<String> = std::fs::read_to_string(demo.join("testing_list.txt"))
            .unwrap()
            .lines()
            .filter(|l| l.starts_with(&format!("{word}/")))
            .map(str::to_string)
            .collect();
        clips.truncate(3);
        std::fs::create_dir_all(takes.join(word)).unwrap();
        for (i, rel) in clips.iter().enumerate() {
            std::fs::copy(
                demo.join(rel),
                takes.join(word).join(format!("take{i}.flac")),
            )
            .unwrap();
        }
    }
    takes
}

fn digest(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(path)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_finetune_writes_a_new_run_and_model_and_compares_them_with_the_base() {
    let m = tiny_models();
    let tmp = tempfile::tempdir().unwrap();
    let takes = takes(tmp.path());
    let run_dir = tmp.path().join("mine");
    let mut config = FinetuneConfig::new(
        m.student_run.clone(),
        takes.clone(),
        m.demo.clone(),
        run_dir.clone(),
    );
    config.teacher = Some(m.teacher_run.clone());
    config.epochs = 1;
    config.replay_clips = 64;
    config.take_copies = 2;
    let base_before = digest(&m.student_run);

    let prepared = finetune::prepare(&config).unwrap();
    assert_eq!(prepared.train_takes, 3 * 2);
    assert_eq!(prepared.held_back.len(), 3, "one take of each keyword");
    assert_eq!(
        prepared.train.init_from.as_deref(),
        Some(m.student_run.as_path())
    );
    assert_eq!(
        prepared.train.teacher.as_deref(),
        Some(m.teacher_run.as_path())
    );
    train(prepared.train.clone());
    let report = finetune::finish(&prepared, 1.0).unwrap();

    assert!(report.model.is_file());
    assert!(run_dir.join("finetune.json").is_file());
    let words: Vec<(&str, u32)> = report
        .per_keyword
        .iter()
        .map(|k| (k.keyword.as_str(), k.takes))
        .collect();
    assert_eq!(words, [("yes", 1), ("no", 1), ("stop", 1)]);
    assert_eq!(report.held_back.before.len(), 3, "every thin path");
    assert_eq!(report.base_test.after.len(), 3);
    assert!(report.stream.fa_per_hour.0.is_finite() && report.stream.frr.1 <= 1.0);
    assert_eq!(
        digest(&m.student_run),
        base_before,
        "the base run is untouched"
    );

    // The same folder again: refused, nothing overwritten.
    let err = finetune::prepare(&config).unwrap_err().to_string();
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn takes_of_a_word_the_model_does_not_know_and_a_bare_bkw_are_refused() {
    let m = tiny_models();
    let tmp = tempfile::tempdir().unwrap();
    let takes = takes(tmp.path());
    std::fs::create_dir_all(takes.join("lights_on")).unwrap();
    std::fs::copy(
        takes.join("yes/take0.flac"),
        takes.join("lights_on/take0.flac"),
    )
    .unwrap();
    let config = FinetuneConfig::new(
        m.student_run.clone(),
        takes,
        m.demo.clone(),
        tmp.path().join("run"),
    );
    let err = finetune::prepare(&config).unwrap_err().to_string();
    assert!(
        err.contains("`lights_on`") && err.contains("not a keyword"),
        "{err}"
    );

    // A .bkw alone, without the run it was exported from beside it.
    let lonely = tmp.path().join("lonely.bkw");
    std::fs::copy(&m.student_bkw, &lonely).unwrap();
    let bare = FinetuneConfig {
        base: lonely,
        ..config
    };
    let err = finetune::prepare(&bare).unwrap_err().to_string();
    assert!(err.contains("only the packed 1-bit weights"), "{err}");
}
