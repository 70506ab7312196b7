//! Small reusable widgets.

pub(crate) mod bitmap;
pub(crate) mod colormap;
pub(crate) mod heatmap;
pub(crate) mod layer_bits;
pub(crate) mod notice;
pub(crate) mod path_field;
pub(crate) mod waveform;

pub(crate) use notice::Notice;
pub(crate) use path_field::{PathField, Pick};
