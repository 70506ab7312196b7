//! Folding a binary or float layer and its BatchNorm into one per-channel affine
//! (`docs/MODEL.md`, "What the kernels fold").
//!
//! A binary layer followed by BatchNorm computes
//! `y[o] = k[o] * (dot1[o] + s2 * dot2[o]) + c[o]` with
//! `k = sw * g`, `c = g * (b - sw * sum_i sgn(W[o][i]) * tau2[i] - mean) + beta`,
//! `g = gamma / sqrt(var + eps)`, `sw = mean |W[o][..]|`.
//! A float layer keeps its weights and folds only the BatchNorm: `k = g`,
//! `c = g * (b - mean) + beta`. Layers without BatchNorm (fc1) use `g = 1, mean = beta = 0`.
//! Everything is computed in f64 and rounded once to f32.

use crate::bitpack::{pack_signs, sign_bit};
use crate::weights::BatchNorm;

/// Per-output-channel `y = scale * acc + shift`.
#[derive(Clone, Debug, PartialEq)]
pub struct Affine {
    pub scale: Vec<f32>,
    pub shift: Vec<f32>,
}

impl Affine {
    pub fn len(&self) -> usize {
        self.scale.len()
    }
    pub fn is_empty(&self) -> bool {
        self.scale.is_empty()
    }
}

/// `(g, mean, beta)` of output `o`, or the identity without BatchNorm.
fn bn_terms(bn: Option<&BatchNorm>, o: usize) -> (f64, f64, f64) {
    match bn {
        Some(bn) => (
            bn.gamma[o] as f64 / (bn.running_var[o] as f64 + bn.eps as f64).sqrt(),
            bn.running_mean[o] as f64,
            bn.beta[o] as f64,
        ),
        None => (1.0, 0.0, 0.0),
    }
}

/// Result of folding a binary layer.
#[derive(Clone, Debug, PartialEq)]
pub struct BinaryFold {
    /// `sgn(W)` as a flat bit stream in the weight's own order (bit = 1 means -1).
    pub bits: Vec<u64>,
    /// Per-output weight scale `sw = mean |W[o][..]|`.
    pub sw: Vec<f32>,
    pub affine: Affine,
}

/// Fold a binary layer with weights `[outs][k]` (row-major), bias, optional BatchNorm, and
/// `tau2_of(o, i)`: the `tau2` that multiplies weight `i` of output `o` (the threshold of the
/// input channel that weight reads; for a depthwise conv that is channel `o`).
pub fn fold_binary(
    weight: &[f32],
    outs: usize,
    bias: &[f32],
    bn: Option<&BatchNorm>,
    tau2_of: impl Fn(usize, usize) -> f32,
) -> BinaryFold {
    let k = weight.len() / outs.max(1);
    let mut sw = Vec::with_capacity(outs);
    let mut scale = Vec::with_capacity(outs);
    let mut shift = Vec::with_capacity(outs);
    for o in 0..outs {
        let row = &weight[o * k..(o + 1) * k];
        let s = row.iter().map(|w| w.abs() as f64).sum::<f64>() / k as f64;
        let t: f64 = row
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let sgn = if sign_bit(w) { -1.0 } else { 1.0 };
                sgn * tau2_of(o, i) as f64
            })
            .sum();
        let (g, mean, beta) = bn_terms(bn, o);
        sw.push(s as f32);
        scale.push((s * g) as f32);
        shift.push((g * (bias[o] as f64 - s * t - mean) + beta) as f32);
    }
    BinaryFold {
        bits: pack_signs(weight),
        sw,
        affine: Affine { scale, shift },
    }
}

/// Fold the BatchNorm of a float layer (the weights stay as they are).
pub fn fold_float(bias: &[f32], bn: Option<&BatchNorm>) -> Affine {
    let (scale, shift) = (0..bias.len())
        .map(|o| {
            let (g, mean, beta) = bn_terms(bn, o);
            (g as f32, (g * (bias[o] as f64 - mean) + beta) as f32)
        })
        .unzip();
    Affine { scale, shift }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bn(gamma: f32, beta: f32, mean: f32, var: f32) -> BatchNorm {
        BatchNorm {
            gamma: vec![gamma],
            beta: vec![beta],
            running_mean: vec![mean],
            running_var: vec![var],
            eps: 1e-5,
        }
    }

    /// Literal binary layer + BN on one output, in f64.
    fn literal(
        w: &[f32],
        b: f32,
        bn: &BatchNorm,
        b1: &[f64],
        b2: &[f64],
        s2: f64,
        tau2: &[f32],
    ) -> f64 {
        let sw = w.iter().map(|v| v.abs() as f64).sum::<f64>() / w.len() as f64;
        let acc: f64 = w
            .iter()
            .enumerate()
            .map(|(i, &wi)| {
                let what = sw * if wi >= 0.0 { 1.0 } else { -1.0 };
                what * (b1[i] + s2 * b2[i] - tau2[i] as f64)
            })
            .sum::<f64>()
            + b as f64;
        let g = bn.gamma[0] as f64 / (bn.running_var[0] as f64 + 1e-5f32 as f64).sqrt();
        g * (acc - bn.running_mean[0] as f64) + bn.beta[0] as f64
    }

    #[test]
    fn folded_binary_layer_equals_the_literal_one() {
        let w = [0.3f32, -0.7, 0.0, 1.2, -0.1];
        let tau2 = [0.01f32, -0.02, 0.03, 0.0, 0.05];
        let b1 = [1.0, -1.0, -1.0, 1.0, 1.0];
        let b2 = [-1.0, -1.0, 1.0, 1.0, -1.0];
        let s2 = 0.37;
        let norm = bn(1.5, 0.2, -0.3, 2.0);
        let f = fold_binary(&w, 1, &[0.4], Some(&norm), |_, i| tau2[i]);
        // bit = 1 for -1: w[1] and w[4] only (0.0 counts as +1).
        assert_eq!(f.bits, vec![0b10010]);
        let dot = |b: &[f64]| -> f64 {
            (0..5)
                .map(|i| {
                    if (f.bits[0] >> i) & 1 == 1 {
                        -b[i]
                    } else {
                        b[i]
                    }
                })
                .sum()
        };
        let y = f.affine.scale[0] as f64 * (dot(&b1) + s2 * dot(&b2)) + f.affine.shift[0] as f64;
        let want = literal(&w, 0.4, &norm, &b1, &b2, s2, &tau2);
        assert!((y - want).abs() < 1e-5, "{y} vs {want}");
    }

    #[test]
    fn fold_without_bn_is_sw_and_bias() {
        let f = fold_binary(&[2.0, -2.0, 2.0, 2.0], 2, &[0.5, -0.5], None, |_, _| 0.0);
        assert_eq!(f.affine.scale, vec![2.0, 2.0]);
        assert_eq!(f.affine.shift, vec![0.5, -0.5]);
        assert_eq!(f.sw, vec![2.0, 2.0]);
    }

    #[test]
    fn float_fold_is_the_bn_affine_applied_after_the_bias() {
        let norm = bn(2.0, 1.0, 3.0, 4.0 - 1e-5);
        let a = fold_float(&[0.5], Some(&norm));
        let acc = 7.0f32; // W x without bias
        let y = a.scale[0] * acc + a.shift[0];
        let want = 2.0 * (acc + 0.5 - 3.0) / 2.0 + 1.0;
        assert!((y - want).abs() < 1e-5);
        assert_eq!(
            fold_float(&[0.5], None),
            Affine {
                scale: vec![1.0],
                shift: vec![0.5]
            }
        );
    }
}
