//! The Test panel: microphone, recording, live detection and the test-split confusion matrix.
//! (Being built: see issue 7.)

use std::sync::Arc;

use bifsmn_engine::data::Dataset;
use egui::Ui;

use crate::task::JobStatus;

/// Persisted state.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TestSettings {}

/// The Test panel.
pub struct TestPanel {
    dataset: Option<Arc<Dataset>>,
}

impl TestPanel {
    pub fn new(_s: &TestSettings) -> Self {
        Self { dataset: None }
    }

    pub fn settings(&self) -> TestSettings {
        TestSettings {}
    }

    /// The dataset open in the Data panel (recordings go there; the confusion matrix uses its
    /// test split).
    pub fn set_dataset(&mut self, dataset: Option<Arc<Dataset>>) {
        self.dataset = dataset;
    }

    pub fn jobs(&self, _out: &mut Vec<JobStatus>) {}

    pub fn busy(&self) -> bool {
        false
    }

    /// Whether live audio is running (the UI repaints steadily while it does).
    pub fn is_live(&self) -> bool {
        false
    }

    pub fn poll(&mut self, _ctx: &egui::Context) {}

    pub fn ui(&mut self, ui: &mut Ui) {
        ui.heading("Test");
    }
}
