//! `bifsmn ablate`'s engine: a method whose training fails is reported in its row and the
//! other methods still run; a rerun resumes instead of retraining finished rows.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

use bifsmn_engine::ablate::{AblationSettings, run_ablation};
use bifsmn_engine::data::Split;
use bifsmn_engine::train::Backend;
use bifsmn_tests::models::{tiny_models, train};

#[test]
fn a_diverging_method_is_reported_and_the_others_still_run() {
    let m = tiny_models();
    let out = tempfile::tempdir().unwrap();
    let settings = AblationSettings {
        dataset: m.demo.clone(),
        protocol: "12".into(),
        out: out.path().to_path_buf(),
        teacher_epochs: 1,
        student_epochs: 1,
        teacher_lr: 0.01,
        student_lr: 0.01,
        batch_size: 16,
        seed: 1,
        augment: false,
        augmentation: bifsmn_engine::data::AugmentConfig::default(),
        backend: Backend::Flex,
        max_train_clips: Some(64),
        teacher: Some(m.teacher_run.clone()),
        // ReActNet's per-channel RPReLU slopes start from the teacher's single PReLU slope.
        only: vec!["bnn".into(), "react".into(), "bifsmnv2".into()],
        split: Split::Test,
    };
    let mut trained = Vec::new();
    let mut seen = Vec::new();
    let table = run_ablation(
        &settings,
        &mut |config, _resume| {
            trained.push(config.binarizer);
            if config.run_dir.ends_with("bnn") {
                anyhow::bail!("the loss became NaN at epoch 1 step 3 (simulated)");
            }
            train(config);
            Ok(())
        },
        &mut |row| seen.push(row.id.clone()),
    )
    .expect("the table is produced although one method failed");

    assert_eq!(seen, ["teacher", "bnn", "react", "bifsmnv2"]);
    // Every row has a cell per column (the teacher only has the full path).
    assert_eq!(table.rows[0].accuracy.len(), 3);
    assert!(table.rows[0].accuracy[0].is_some() && table.rows[0].accuracy[1].is_none());
    let bnn = &table.rows[1];
    assert!(bnn.accuracy.iter().all(Option::is_none));
    assert!(bnn.error.as_deref().unwrap().contains("NaN"));
    for row in &table.rows[2..] {
        assert!(row.error.is_none(), "{}: {:?}", row.id, row.error);
        assert_eq!(row.accuracy.iter().filter(|a| a.is_some()).count(), 3);
    }
    let md = table.markdown();
    assert!(md.contains("failed"), "{md}");
    assert!(md.contains("simulated"), "{md}");
    assert!(table.csv().lines().nth(2).unwrap().contains("NaN"));

    // A rerun trains only what is unfinished (the failed row), not the finished one.
    let mut retrained = Vec::new();
    run_ablation(
        &settings,
        &mut |config, _| {
            retrained.push(config.run_dir.clone());
            anyhow::bail!("still diverging")
        },
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(retrained.len(), 1);
    assert!(retrained[0].ends_with("bnn"));
}
