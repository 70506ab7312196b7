//! The Test panel's "Teach it my voice": takes imported for every keyword of a small trained
//! student (the file dialog's entry point, `import_files`), a one-epoch fine-tune on a worker
//! thread, the before/after table, and the new model loaded and handed to the Deploy panel.
//! A test binary of its own: it trains a teacher and a student first (a few minutes).

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bifsmn_app::test_support::DeployFiles;
use bifsmn_app::test_support::TestView;
use bifsmn_app::test_support::{FinetuneOverrides, keywords_of};
use bifsmn_app::{PanelId, Settings, Workbench};
use common::{harness, run_until, wait_for_dataset};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

/// The first `n` clips of `word` in the demo set.
fn demo_clips(demo: &Path, word: &str, n: usize) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(demo.join(word))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.truncate(n);
    files
}

fn fine_tune_enabled(h: &Harness<'static, Workbench>) -> bool {
    !h.get_by_label("Fine-tune").accesskit_node().is_disabled()
}

/// Import 3 demo clips of each keyword and wait until every one counts at least 2 takes
/// (a clip whose speech the detector misses is refused with a notice).
fn import_takes(h: &mut Harness<'static, Workbench>, demo: &Path, keywords: &[String]) {
    let ctx = h.ctx.clone();
    for k in keywords {
        let files = demo_clips(demo, k, 3);
        h.state_mut().test.teach.import_files(&ctx, k, files);
    }
    run_until(h, Duration::from_secs(120), "the imported takes", |h| {
        h.step();
        let t = &h.state().test.teach;
        !t.busy() && keywords.iter().all(|k| t.take_count(k) >= 2)
    });
}

#[test]
fn takes_of_my_voice_fine_tune_the_model_and_show_before_and_after() {
    let models = bifsmn_tests::models::tiny_models();
    let tmp = tempfile::tempdir().unwrap();
    let takes = tmp.path().join("my-voice");
    let mut settings = Settings {
        panel: PanelId::Test,
        ..Settings::default()
    };
    settings.model = models.student_bkw.display().to_string();
    settings.test.view = TestView::Live;
    settings.test.teach.takes = takes.display().to_string();
    let mut h = harness(settings);
    wait_for_dataset(&mut h);
    h.state_mut().deploy.use_files(DeployFiles {
        boards: Some(tmp.path().join("boards.toml")),
        history: tmp.path().join("bench-history.jsonl"),
    });
    h.state_mut()
        .test
        .teach
        .set_finetune_overrides(FinetuneOverrides {
            epochs: Some(1),
            replay_clips: Some(32),
            runs_dir: Some(tmp.path().join("runs")),
        });
    h.get_by_label("Teach it my voice").click();
    run_until(
        &mut h,
        Duration::from_secs(120),
        "the model's keywords",
        |h| {
            h.step();
            h.query_by_label_contains("of 5 takes").is_some()
        },
    );
    assert!(!fine_tune_enabled(&h), "Fine-tune is enabled without takes");

    // Takes of a few keywords are not enough: every keyword needs two.
    let demo = models.demo.clone();
    let keywords = keywords_of(&h.state().test.model().unwrap().packed.labels);
    assert_eq!(keywords.len(), 10, "{keywords:?}");
    import_takes(&mut h, &demo, &keywords[..3]);
    h.run_steps(2);
    assert!(
        !fine_tune_enabled(&h),
        "Fine-tune is enabled with 3 keywords"
    );
    assert!(h.query_by_label_contains("still short:").is_some());
    import_takes(&mut h, &demo, &keywords[3..]);
    run_until(&mut h, Duration::from_secs(30), "Fine-tune enabled", |h| {
        h.step();
        fine_tune_enabled(h)
    });

    h.get_by_label("Fine-tune").click();
    run_until(
        &mut h,
        Duration::from_secs(600),
        "the before/after table",
        |h| {
            h.step();
            std::thread::sleep(Duration::from_millis(40));
            h.query_by_label("Before and after").is_some()
                || h.state().test.teach.finetune_notice().is_some()
        },
    );
    if let Some(n) = h.state().test.teach.finetune_notice() {
        panic!("the fine-tune failed: {} / {}", n.message, n.hint);
    }
    let report = h.state().test.teach.report().unwrap().clone();
    eprintln!("{}", bifsmn_app::test_support::summary(&report));
    assert!(report.model.is_file(), "{}", report.model.display());
    assert!(report.run_dir.starts_with(tmp.path().join("runs")));
    assert_eq!(report.per_keyword.len(), keywords.len());
    for k in &report.per_keyword {
        assert_eq!(k.takes, 1, "one held-back take of {}", k.keyword);
        assert!(
            h.query_all_by_label(&k.keyword).count() >= 1,
            "no row for {}",
            k.keyword
        );
    }
    for row in [
        "Held-back accuracy per thin path",
        "Base corpus test split per thin path",
        "False accepts per hour (stream)",
        "False-reject rate (stream)",
    ] {
        assert!(h.query_by_label(row).is_some(), "no row {row}");
    }

    // The new model replaces the loaded one, as if chosen in the model row. The view scrolls
    // to the report with an animation: let it settle, so the click lands on the button.
    for _ in 0..60 {
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    h.get_by_label("Use the new model").click();
    run_until(&mut h, Duration::from_secs(60), "the new model", |h| {
        h.step();
        h.state()
            .test
            .model()
            .is_some_and(|m| m.source == report.model)
    });
    // "Deploy it…" opens the Deploy panel with it chosen.
    h.get_by_label("Deploy it…").click();
    h.run_steps(2);
    assert_eq!(h.state().panel, PanelId::Deploy);
    assert_eq!(
        h.state().settings().deploy.model,
        report.model.display().to_string()
    );
    // The takes folder is remembered.
    assert_eq!(
        h.state().settings().test.teach.takes,
        takes.display().to_string()
    );
}
