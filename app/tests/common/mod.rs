//! Helpers shared by the UI test binaries.

use std::time::{Duration, Instant};

use bifsmn_app::{LaunchOptions, Settings, Workbench};
use egui_kittest::Harness;

/// A workbench on the demo set with default settings, in a large headless window.
pub fn harness(settings: Settings) -> Harness<'static, Workbench> {
    let ctx = egui::Context::default();
    let wb = Workbench::new(&ctx, Some(settings), &LaunchOptions::default());
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, wb: &mut Workbench| wb.ui(ui), wb)
}

/// Step frames (sleeping a little between them) until `done` holds, or panic after `limit`.
pub fn run_until(
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

/// Wait until the Data panel has opened its dataset.
pub fn wait_for_dataset(h: &mut Harness<'static, Workbench>) {
    run_until(h, Duration::from_secs(60), "the demo dataset", |h| {
        h.state().data.dataset().is_some()
    });
}
