//! The Data panel's "New dataset from keywords…": the form's settings make a small corpus
//! through espeak-ng on a worker thread, and the new dataset opens with its own keywords as
//! classes. A test binary of its own: it writes into a temp folder and takes a few seconds.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

mod common;

use std::time::Duration;

use bifsmn_app::Settings;
use bifsmn_app::test_support::SynthSettings;
use common::{harness, run_until, wait_for_dataset};
use egui_kittest::kittest::Queryable;

#[test]
fn a_dataset_made_from_typed_keywords_opens_with_them_as_classes() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("my-words");
    let mut settings = Settings::default();
    settings.data.synth = SynthSettings {
        keywords: "lights on, pause".into(),
        espeak: true,
        festival: false,
        mbrola: false,
        speakers: 4,
        negatives_per_speaker: 2,
        sentences: 1,
        seed: 5,
        dest: dest.display().to_string(),
    };
    let mut h = harness(settings);
    wait_for_dataset(&mut h);
    h.get_by_label("New dataset from keywords…").click();
    run_until(&mut h, Duration::from_secs(10), "the form", |h| {
        h.query_by_label("Create dataset").is_some()
    });
    h.get_by_label("Create dataset").click();
    run_until(
        &mut h,
        Duration::from_secs(120),
        "the new dataset to open",
        |h| {
            h.state()
                .data
                .dataset()
                .is_some_and(|ds| ds.labels == ["unknown", "silence", "lights_on", "pause"])
        },
    );
    let ds = h.state().data.dataset().unwrap().clone();
    assert_eq!(
        std::fs::canonicalize(&ds.root).unwrap(),
        std::fs::canonicalize(&dest).unwrap()
    );
    // 4 speakers x (2 keywords x 2 takes + 2 negatives) + their sentence windows + silence.
    assert!(ds.clips.iter().filter(|c| c.label >= 2).count() == 16);
    assert!(ds.clips.iter().any(|c| c.is_excerpt()));
    // The form is remembered for the next launch.
    assert_eq!(h.state().settings().data.synth.keywords, "lights on, pause");
}
