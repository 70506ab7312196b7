//! A batch's features and labels as burn tensors, for the training loop and for evaluation.

use burn::prelude::*;

/// Build a `[B, 1, mels, frames]` tensor from flat features.
pub(crate) fn features_tensor(features: &[f32], batch: usize, device: &Device) -> Tensor<4> {
    let per = features.len() / batch.max(1);
    let side = (per as f64).sqrt() as usize;
    Tensor::<1>::from_floats(features, device).reshape([batch, 1, side, per / side.max(1)])
}

pub(crate) fn labels_tensor(labels: &[usize], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    Tensor::<1, Int>::from_ints(v.as_slice(), device)
}
