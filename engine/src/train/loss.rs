//! Training objectives, written to read like docs/METHOD.md §5:
//!
//! `L = sum_p w_p * { CE(f_p, y) + alpha * [ sum_j ( R(high S_j, high T_j) + R(low S_j, low T_j) )
//!                                         + MSE(f_p, g) ] }`

use burn::nn::loss::{CrossEntropyLossConfig, MseLoss, Reduction};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::PathOutput;
use crate::model::haar::{haar_high, haar_split, normalized_square_distance as r};

/// How the student learns from the teacher.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DistillMode {
    /// Cross-entropy only.
    None,
    /// BiFSMNv2 Frequency Independent Distillation: high and low bands separately + logit MSE.
    Fid,
    /// BiFSMN v1 High-frequency Enhancement Distillation (no logit term).
    Hed,
    /// The same distances on the whole maps (no band split) + logit MSE: the "without FID"
    /// ablation.
    Plain,
}

impl DistillMode {
    pub fn cli_name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Fid => "fid",
            Self::Hed => "hed",
            Self::Plain => "plain",
        }
    }

    pub fn from_cli_name(s: &str) -> Option<Self> {
        [Self::None, Self::Fid, Self::Hed, Self::Plain]
            .into_iter()
            .find(|m| m.cli_name() == s)
    }
}

/// What the teacher produced for a batch (detached, on the student's device).
#[derive(Clone, Debug)]
pub struct TeacherTargets {
    pub logits: Tensor<2>,
    /// Output of every teacher layer, indexed by layer.
    pub layers: Vec<Tensor<3>>,
}

impl TeacherTargets {
    /// The targets on the autodiff device, as constants for the student's loss.
    pub fn autodiff(self) -> Self {
        Self {
            logits: self.logits.autodiff(),
            layers: self.layers.into_iter().map(Tensor::autodiff).collect(),
        }
    }
}

/// One path's loss with its parts (scalars for charts are read off these).
#[derive(Clone, Debug)]
pub struct PathLoss {
    /// `CE + alpha * distill` (before the path weight).
    pub total: Tensor<1>,
    pub ce: Tensor<1>,
    /// Per distilled layer: `(layer, high-band R, low-band R)` for FID, `(layer, R, R)` for
    /// the others' single term in both slots' sum (high holds it, low is zero).
    pub bands: Vec<(usize, Tensor<1>, Tensor<1>)>,
    pub logit_mse: Option<Tensor<1>>,
}

/// Cross-entropy of logits `[B, C]` against class indices.
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    CrossEntropyLossConfig::new()
        .init(&logits.device())
        .forward(logits, labels)
}

/// Unbiased standard deviation over a whole tensor.
fn std_all(x: Tensor<3>) -> Tensor<1> {
    let n = x.dims().iter().product::<usize>() as f64;
    let mean = x.clone().mean().reshape([1, 1, 1]);
    (x - mean)
        .square()
        .sum()
        .div_scalar((n - 1.0).max(1.0))
        .add_scalar(1e-12)
        .sqrt()
}

/// The student's loss on one path.
pub fn path_loss(
    out: &PathOutput,
    labels: Tensor<1, Int>,
    teacher: Option<&TeacherTargets>,
    mode: DistillMode,
    alpha: f64,
) -> PathLoss {
    let ce = cross_entropy(out.logits.clone(), labels);
    let Some(t) = teacher.filter(|_| mode != DistillMode::None) else {
        return PathLoss {
            total: ce.clone(),
            ce,
            bands: Vec::new(),
            logit_mse: None,
        };
    };
    let device = out.logits.device();
    let zero = || Tensor::<1>::zeros([1], &device);
    let mut bands = Vec::with_capacity(out.layer_outputs.len());
    for (j, s) in &out.layer_outputs {
        let tj = t.layers[*j].clone();
        match mode {
            DistillMode::Fid => {
                let (s_low, s_high) = haar_split(s.clone());
                let (t_low, t_high) = haar_split(tj);
                bands.push((*j, r(s_high, t_high), r(s_low, t_low)));
            }
            DistillMode::Hed => {
                let t_high = haar_high(tj.clone());
                let target = t_high.clone() / std_all(t_high).reshape([1, 1, 1])
                    + tj.clone() / std_all(tj).reshape([1, 1, 1]);
                bands.push((*j, r(s.clone(), target), zero()));
            }
            DistillMode::Plain => bands.push((*j, r(s.clone(), tj), zero())),
            DistillMode::None => unreachable!("filtered above"),
        }
    }
    let logit_mse = matches!(mode, DistillMode::Fid | DistillMode::Plain)
        .then(|| MseLoss::new().forward(out.logits.clone(), t.logits.clone(), Reduction::Mean));
    let mut distill = zero();
    for (_, h, l) in &bands {
        distill = distill + h.clone() + l.clone();
    }
    if let Some(m) = &logit_mse {
        distill = distill + m.clone();
    }
    PathLoss {
        total: ce.clone() + distill.mul_scalar(alpha),
        ce,
        bands,
        logit_mse,
    }
}

/// Top-1 correct predictions in a batch.
pub fn correct(logits: Tensor<2>, labels: Tensor<1, Int>) -> usize {
    let pred = logits.argmax(1).squeeze_dim::<1>(1);
    pred.equal(labels).int().sum().into_scalar::<i64>() as usize
}
