//! The Data panel's "Make an editable copy" of the bundled demo set. A test binary of its own:
//! it points the workbench's data folder (`BIFSMN_DATA_DIR`) at a temp folder, which would
//! leak into the other UI tests if they shared its process.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

mod common;

use std::time::Duration;

use bifsmn_app::Settings;
use common::{harness, run_until, wait_for_dataset};
use egui_kittest::kittest::Queryable;

#[test]
fn the_demo_set_can_be_copied_and_the_copy_opens() {
    let data = tempfile::tempdir().unwrap();
    // SAFETY: the only test of this binary, run before the workbench starts any thread.
    unsafe { std::env::set_var("BIFSMN_DATA_DIR", data.path()) };
    // Something already named `demo` there: the copy takes the next free name.
    std::fs::create_dir_all(data.path().join("datasets/demo")).unwrap();

    let mut h = harness(Settings::default());
    wait_for_dataset(&mut h);
    let demo = h.state().data.dataset().unwrap().clone();
    run_until(&mut h, Duration::from_secs(10), "the copy offer", |h| {
        h.query_by_label("Make an editable copy").is_some()
    });
    h.get_by_label("Make an editable copy").click();

    let copy = data.path().join("datasets/demo-2");
    run_until(&mut h, Duration::from_secs(60), "the copy to open", |h| {
        h.state().data.dataset().is_some_and(|ds| {
            std::fs::canonicalize(&ds.root).ok() == std::fs::canonicalize(&copy).ok()
        })
    });
    let opened = h.state().data.dataset().unwrap().clone();
    assert_eq!(opened.clips.len(), demo.clips.len());
    assert_eq!(opened.labels, demo.labels);
    assert!(
        h.query_by_label_contains("Copied the demo set to")
            .is_some(),
        "the panel says where the copy went"
    );
    // The copy is not the bundled set: no offer to copy it again.
    for _ in 0..3 {
        h.step();
    }
    assert!(h.query_by_label("Make an editable copy").is_none());
}
