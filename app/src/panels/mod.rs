//! One module per panel; each implements [`Panel`] and owns only view state.

pub(crate) mod data;
pub(crate) mod deploy;
pub(crate) mod inspect;
pub(crate) mod test;
pub(crate) mod train;

use egui::Ui;

use crate::model_slot::ModelSlot;
use crate::task::JobStatus;

/// The panels, in navigation order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PanelId {
    #[default]
    Data,
    Train,
    Inspect,
    Test,
    Deploy,
}

impl PanelId {
    pub const ALL: [PanelId; 5] = [
        PanelId::Data,
        PanelId::Train,
        PanelId::Inspect,
        PanelId::Test,
        PanelId::Deploy,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PanelId::Data => "Data",
            PanelId::Train => "Train",
            PanelId::Inspect => "Inspect",
            PanelId::Test => "Test",
            PanelId::Deploy => "Deploy",
        }
    }

    pub fn parse(s: &str) -> Option<PanelId> {
        PanelId::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
    }
}

/// What the workbench asks of every panel, once per frame, whichever panel is shown.
///
/// Besides these, each panel is built from its own typed settings (`new(&XSettings)`) and
/// returns them for persistence (`settings()`); those differ in type per panel, so they stay
/// out of this trait, which the workbench uses as `dyn Panel`.
///
/// Panels do their work in the background: [`poll`](Panel::poll) drains the channels of
/// their tasks and threads and never blocks; [`ui`](Panel::ui) only draws.
pub(crate) trait Panel {
    /// Collect finished background work (every frame, shown or not).
    fn poll(&mut self, ctx: &egui::Context, model: &ModelSlot);

    /// The background jobs running, for the status bar.
    fn jobs(&self, out: &mut Vec<JobStatus>);

    /// Whether loading work runs: screenshots wait for it, and the UI repaints while it
    /// does. Training and playback do not count (see [`live`](Panel::live)).
    fn busy(&self) -> bool {
        false
    }

    /// Whether something moves on its own (training, playback, the microphone): the UI then
    /// repaints steadily.
    fn live(&self) -> bool {
        false
    }

    /// Draw the panel into the central area; panels with a model row edit and load the
    /// model through `model`.
    fn ui(&mut self, ui: &mut Ui, model: &mut ModelSlot);
}
