//! The Test panel's "Teach it my voice" with new keywords: two words typed, a tiny corpus of
//! them made on a worker ("Make the corpus"), takes of both imported from files (another
//! synthetic speaker set), a one-epoch fine-tune that gives the student a new classifier, the
//! before/after table and the new `.bkw` under the new labels; then takes of a word that is
//! not in the corpus make the fine-tune refuse with a notice that says what to do.
//! A test binary of its own: it trains a teacher and a student first (a few minutes).

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use bifsmn_app::test_support::TestView;
use bifsmn_app::test_support::{CorpusSizes, FinetuneOverrides, TeachMode};
use bifsmn_app::{PanelId, Settings, Workbench};
use bifsmn_engine::data::synth::{EngineKind, SynthConfig, synthesize};
use bifsmn_kernels::format::PackedModel;
use common::{harness, run_until, wait_for_dataset};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

const WORDS: [&str; 2] = ["lights_on", "pause"];

/// The "user": two other synthetic speakers saying the words (another seed), so the takes are
/// other voices than the corpus's. Returns the keyword clips per word folder.
fn user_clips(root: &Path) -> Vec<(String, Vec<PathBuf>)> {
    let config = SynthConfig {
        keywords: vec!["lights on".into(), "pause".into()],
        engines: vec![EngineKind::Espeak],
        speakers_per_engine: 2,
        takes: 2,
        negatives_per_speaker: 0,
        sentences_per_speaker: 0,
        validation_fraction: 0.0,
        test_fraction: 0.0,
        seed: 99,
        ..SynthConfig::default()
    };
    synthesize(&config, root, &|_| {}, &AtomicBool::new(false)).unwrap();
    WORDS
        .iter()
        .map(|w| {
            let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(w))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            (w.to_string(), files)
        })
        .collect()
}

fn fine_tune_enabled(h: &Harness<'static, Workbench>) -> bool {
    h.query_by_label("Fine-tune")
        .is_some_and(|b| !b.accesskit_node().is_disabled())
}

/// Press Fine-tune and wait for the table or a notice.
fn fine_tune(h: &mut Harness<'static, Workbench>) {
    h.get_by_label("Fine-tune").click();
    run_until(h, Duration::from_secs(900), "the fine-tune to end", |h| {
        h.step();
        std::thread::sleep(Duration::from_millis(40));
        let t = &h.state().test.teach;
        !t.busy() && (t.report().is_some() || t.finetune_notice().is_some())
    });
    h.run_steps(2);
}

/// The tiny workbench: the tiny student loaded, the Teach view, and a tiny corpus and
/// fine-tune.
fn workbench(tmp: &Path, takes: &Path) -> Harness<'static, Workbench> {
    let models = bifsmn_tests::models::tiny_models();
    let mut settings = Settings {
        panel: PanelId::Test,
        ..Settings::default()
    };
    settings.model = models.student_bkw.display().to_string();
    settings.test.view = TestView::Teach;
    settings.test.teach.takes = takes.display().to_string();
    let mut h = harness(settings);
    wait_for_dataset(&mut h);
    let teach = &mut h.state_mut().test.teach;
    teach.set_finetune_overrides(FinetuneOverrides {
        epochs: Some(1),
        replay_clips: Some(32),
        runs_dir: Some(tmp.join("runs")),
    });
    // Seed 7 puts the 4 speakers in every split (2 train, 1 validation, 1 test).
    teach.set_corpus_sizes(CorpusSizes {
        engines: vec![EngineKind::Espeak],
        speakers_per_engine: 4,
        takes: 2,
        negatives_per_speaker: 2,
        sentences_per_speaker: 1,
        validation_fraction: 0.3,
        test_fraction: 0.3,
        seed: 7,
    });
    run_until(&mut h, Duration::from_secs(120), "the model", |h| {
        h.step();
        h.state().test.model().is_some()
    });
    h
}

/// Choose "New keywords", type the words and make their corpus.
fn make_corpus(h: &mut Harness<'static, Workbench>) {
    h.get_by_label("New keywords").click();
    h.run_steps(2);
    assert_eq!(h.state().test.teach.mode(), TeachMode::NewKeywords);
    assert!(
        h.query_by_label_contains("Make the corpus of your words first")
            .is_some()
    );
    h.get_by_label("Words").focus();
    h.run_steps(1);
    h.get_by_label("Words").type_text("lights on, pause");
    h.run_steps(1);
    h.get_by_label("Make the corpus").click();
    run_until(h, Duration::from_secs(300), "the corpus", |h| {
        h.step();
        std::thread::sleep(Duration::from_millis(20));
        let t = &h.state().test.teach;
        if let Some(n) = t.corpus_notice() {
            panic!("the corpus failed: {} / {}", n.message, n.hint);
        }
        !t.making_corpus() && t.corpus_keywords() == WORDS
    });
    run_until(h, Duration::from_secs(10), "the corpus's keywords", |h| {
        h.step();
        h.query_by_label_contains("lights_on · 0/5").is_some()
    });
}

/// Import the user's clips as takes and wait until both words have at least two.
fn import_takes(h: &mut Harness<'static, Workbench>, clips: Vec<(String, Vec<PathBuf>)>) {
    let ctx = h.ctx.clone();
    for (word, files) in clips {
        h.state_mut().test.teach.import_files(&ctx, &word, files);
    }
    run_until(h, Duration::from_secs(120), "the imported takes", |h| {
        h.step();
        let t = &h.state().test.teach;
        !t.busy() && WORDS.iter().all(|w| t.take_count(w) >= 2)
    });
    run_until(h, Duration::from_secs(30), "Fine-tune enabled", |h| {
        h.step();
        fine_tune_enabled(h)
    });
}

#[test]
fn typed_keywords_get_a_corpus_takes_and_a_model_of_their_own() {
    let tmp = tempfile::tempdir().unwrap();
    let takes = tmp.path().join("my-words");
    let clips = user_clips(&tmp.path().join("user"));
    let mut h = workbench(tmp.path(), &takes);
    make_corpus(&mut h);
    let corpus = PathBuf::from(format!("{}-corpus", takes.display()));
    assert!(
        corpus.join("keywords.txt").is_file(),
        "{}",
        corpus.display()
    );
    import_takes(&mut h, clips.clone());

    fine_tune(&mut h);
    if let Some(n) = h.state().test.teach.finetune_notice() {
        panic!("the fine-tune failed: {} / {}", n.message, n.hint);
    }
    let report = h.state().test.teach.report().unwrap().clone();
    eprintln!("{}", bifsmn_app::test_support::summary(&report));
    assert!(report.run_dir.starts_with(tmp.path().join("runs")));
    let taught: Vec<&str> = report
        .per_keyword
        .iter()
        .map(|k| k.keyword.as_str())
        .collect();
    assert_eq!(taught, WORDS);
    assert!(
        report.per_keyword.iter().all(|k| k.before == 0),
        "the base model knows none of the new words"
    );
    assert!(report.base_test.before.is_empty());
    assert!(h.query_by_label("Before and after").is_some());
    for w in WORDS {
        assert!(h.query_all_by_label(w).count() >= 1, "no row for {w}");
    }
    assert!(
        h.query_by_label("Corpus test split per thin path")
            .is_some()
    );
    assert!(
        h.query_all_by_label("—").count() >= 1,
        "no empty 'before' cell"
    );
    let labels = PackedModel::load(&report.model).unwrap().labels;
    assert_eq!(labels, ["unknown", "silence", "lights_on", "pause"]);

    // The mode, the words and the corpus folder are remembered.
    let s = h.state().settings().test.teach;
    assert_eq!(s.mode, TeachMode::NewKeywords);
    assert_eq!(s.words, "lights on, pause");
    assert_eq!(PathBuf::from(&s.corpus), corpus);

    // Takes of a word that is not in the corpus (e.g. from the other mode): a warning, and
    // the fine-tune refuses by name with a notice that says what to do.
    let ctx = h.ctx.clone();
    let one = vec![clips[0].1[0].clone()];
    h.state_mut().test.teach.import_files(&ctx, "yes", one);
    run_until(&mut h, Duration::from_secs(60), "the take of yes", |h| {
        h.step();
        let t = &h.state().test.teach;
        !t.busy() && t.take_count("yes") == 1
    });
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("also holds takes of yes")
            .is_some()
    );
    fine_tune(&mut h);
    let n = h.state().test.teach.finetune_notice().unwrap().clone();
    assert!(n.message.contains("`yes`"), "{}", n.message);
    assert!(
        n.hint.contains("another takes folder for other words"),
        "{}",
        n.hint
    );
}
