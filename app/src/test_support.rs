//! Names the integration tests in `app/tests` write: the panels reached through the
//! [`Workbench`](crate::Workbench)'s fields, their settings and the values the tests build or
//! compare. Not an API for other crates; everything else in the app is crate-private.

pub use crate::model_slot::demo_model;
pub use crate::panels::data::DataPanel;
pub use crate::panels::data::synth::SynthSettings;
pub use crate::panels::deploy::{DeployFiles, DeployPanel, DeploySettings};
pub use crate::panels::inspect::InspectPanel;
pub use crate::panels::test::live::SourceKind;
pub use crate::panels::test::teach::logic::{keywords_of, summary};
pub use crate::panels::test::teach::new_words::{CorpusSizes, TeachMode};
pub use crate::panels::test::teach::run::FinetuneOverrides;
pub use crate::panels::test::{TestPanel, TestSettings, TestView};
pub use crate::panels::train::remote::HostFiles;
pub use crate::panels::train::{LiveState, TrainPanel};
