//! The Data panel's "Make an editable copy" of the bundled demo set. A test binary of its own:
//! it points the workbench's data folder (`BIFSMN_DATA_DIR`) at a temp folder, which would
//! leak into the other UI tests if they shared its process.

use std::time::{Duration, Instant};

use bifsmn_app::{LaunchOptions, Settings, Workbench};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn run_until(
    h: &mut Harness<'static, Workbench>,
    limit: Duration,
    what: &str,
    done: impl Fn(&mut Harness<'static, Workbench>) -> bool,
) {
    let start = Instant::now();
    while !done(h) {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_demo_set_can_be_copied_and_the_copy_opens() {
    let data = tempfile::tempdir().unwrap();
    // SAFETY: the only test of this binary, run before the workbench starts any thread.
    unsafe { std::env::set_var("BIFSMN_DATA_DIR", data.path()) };
    // Something already named `demo` there: the copy takes the next free name.
    std::fs::create_dir_all(data.path().join("datasets/demo")).unwrap();

    let ctx = egui::Context::default();
    let wb = Workbench::new(&ctx, Some(Settings::default()), &LaunchOptions::default());
    let mut h = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, wb: &mut Workbench| wb.ui(ui), wb);
    run_until(&mut h, Duration::from_secs(60), "the demo dataset", |h| {
        h.state().data.dataset().is_some()
    });
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
