//! Unfolded float description of a trained network, as `docs/MODEL.md` defines it.
//!
//! This is the hand-off point between training and deployment: `bifsmn export` copies tensors out
//! of the burn model into a [`NetworkWeights`]; [`crate::format`] folds and bit-packs it into a
//! `.bkw` file. Nothing here is folded or packed yet, so every field means exactly what the
//! training code means by it (latent weights, raw BatchNorm statistics, thresholds).

use serde::{Deserialize, Serialize};

use crate::features::FeatureParams;

/// Whether the binarisable layers (conv2, fc1 and the three convs of every D-FSMN layer) are
/// binary or plain float.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Precision {
    /// BiFSMNv2 student: binarised layers are XOR-popcount products.
    Binary,
    /// Full-precision teacher / FP32 baseline.
    Float,
}

/// BatchNorm with running statistics (inference form).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchNorm {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub running_mean: Vec<f32>,
    pub running_var: Vec<f32>,
    pub eps: f32,
}

impl BatchNorm {
    /// Number of channels.
    pub fn len(&self) -> usize {
        self.gamma.len()
    }

    pub fn is_empty(&self) -> bool {
        self.gamma.is_empty()
    }

    /// The affine `(scale, shift)` per channel that this BatchNorm applies in eval mode.
    pub fn affine(&self) -> (Vec<f32>, Vec<f32>) {
        let scale: Vec<f32> = self
            .gamma
            .iter()
            .zip(&self.running_var)
            .map(|(g, v)| g / (v + self.eps).sqrt())
            .collect();
        let shift = self
            .beta
            .iter()
            .zip(&self.running_mean)
            .zip(&scale)
            .map(|((b, m), s)| b - m * s)
            .collect();
        (scale, shift)
    }
}

/// Per-input-channel thresholds of the dual-scale activation binarizer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActQuant {
    /// 1 (`ahat = b1 - tau2`) or 2 (`ahat = b1 + s2*b2 - tau2`).
    pub planes: u8,
    pub tau0: Vec<f32>,
    pub tau1: Vec<f32>,
    pub tau2: Vec<f32>,
}

/// A dense weight matrix `[out][in]` (Linear, or a 1x1 Conv1d) with bias.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dense {
    pub out_features: usize,
    pub in_features: usize,
    /// Row-major `[out][in]`.
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// A Conv2d `[out][in][k][k]` with bias.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conv2d {
    pub out_channels: usize,
    pub in_channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    /// Row-major `[out][in][kh][kw]`.
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// A depthwise Conv1d `[channels][taps]` with bias.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DepthwiseConv1d {
    pub channels: usize,
    /// Taps = left + right + 1 (5 by default); the input is padded by `(taps-1)/2` each side.
    pub taps: usize,
    /// Row-major `[channel][tap]`.
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// One D-FSMN layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DfsmnLayer {
    pub memory: DepthwiseConv1d,
    pub memory_quant: Option<ActQuant>,
    pub memory_bn: BatchNorm,
    pub memory_act: f32,
    pub expand: Dense,
    pub expand_quant: Option<ActQuant>,
    pub expand_bn: BatchNorm,
    pub expand_act: f32,
    pub project: Dense,
    pub project_quant: Option<ActQuant>,
    /// Output BatchNorm per thin path index; `None` for paths that do not run this layer.
    pub out_bn: Vec<Option<BatchNorm>>,
    /// Output PReLU slope per thin path index (ignored where `out_bn` is `None`).
    pub out_act: Vec<f32>,
}

/// The whole network, unfolded. See `docs/MODEL.md` for the graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkWeights {
    pub precision: Precision,
    /// Class names in logit order.
    pub labels: Vec<String>,
    pub features: FeatureParams,
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub act1: f32,
    pub conv2: Conv2d,
    pub conv2_quant: Option<ActQuant>,
    pub bn2: BatchNorm,
    pub act2: f32,
    pub fc1: Dense,
    pub fc1_quant: Option<ActQuant>,
    pub act_fc1: f32,
    pub layers: Vec<DfsmnLayer>,
    /// Thin paths: for each path index, the 0-based layers it runs, in order.
    pub paths: Vec<Vec<usize>>,
    pub classifier: Dense,
}

impl NetworkWeights {
    /// The standard thin paths for `n` layers: all, every 2nd, every 4th, every 8th, ending at
    /// the last layer (for 8 layers: {0..7}, {1,3,5,7}, {3,7}, {7}).
    pub fn standard_paths(num_layers: usize) -> Vec<Vec<usize>> {
        let mut paths = Vec::new();
        let mut stride = 1;
        while stride <= num_layers {
            paths.push((0..num_layers).filter(|j| (j + 1) % stride == 0).collect());
            stride *= 2;
        }
        paths
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_paths_match_the_spec() {
        let p = NetworkWeights::standard_paths(8);
        assert_eq!(
            p,
            vec![
                vec![0, 1, 2, 3, 4, 5, 6, 7],
                vec![1, 3, 5, 7],
                vec![3, 7],
                vec![7]
            ]
        );
        assert_eq!(
            NetworkWeights::standard_paths(4),
            vec![vec![0, 1, 2, 3], vec![1, 3], vec![3]]
        );
    }

    #[test]
    fn batchnorm_affine_is_the_eval_transform() {
        let bn = BatchNorm {
            gamma: vec![2.0],
            beta: vec![1.0],
            running_mean: vec![3.0],
            running_var: vec![4.0 - 1e-5],
            eps: 1e-5,
        };
        let (s, b) = bn.affine();
        let x = 5.0f32;
        assert!((s[0] * x + b[0] - (2.0 * (x - 3.0) / 2.0 + 1.0)).abs() < 1e-6);
    }
}
