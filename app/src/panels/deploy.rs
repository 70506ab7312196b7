//! The Deploy panel: boards, push and bench over SSH, reports and history.
//! (Being built: see issue 7.)

use std::path::PathBuf;

use egui::Ui;

use crate::task::JobStatus;

/// Persisted state.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DeploySettings {}

/// The Deploy panel.
pub struct DeployPanel {
    model: Option<PathBuf>,
}

impl DeployPanel {
    pub fn new(_s: &DeploySettings) -> Self {
        Self { model: None }
    }

    pub fn settings(&self) -> DeploySettings {
        DeploySettings {}
    }

    /// The model loaded in the Inspect panel (the default model to push).
    pub fn set_model(&mut self, model: Option<PathBuf>) {
        self.model = model;
    }

    pub fn jobs(&self, _out: &mut Vec<JobStatus>) {}

    pub fn busy(&self) -> bool {
        false
    }

    pub fn poll(&mut self, _ctx: &egui::Context) {}

    pub fn ui(&mut self, ui: &mut Ui) {
        ui.heading("Deploy");
    }
}
