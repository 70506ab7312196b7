//! Small reusable widgets.

pub mod bitmap;
pub mod colormap;
pub mod heatmap;
pub mod layer_bits;
pub mod notice;
pub mod path_field;
pub mod waveform;

pub use notice::Notice;
pub use path_field::{PathField, Pick};
