//! Binarizers: the Learning Propagation Binarizer (BiFSMNv2) and the classic baselines.
//!
//! Every binarizer is written as a straight-through composition `ste(value, proxy)`: the
//! forward pass returns `value` exactly, the backward pass differentiates `proxy`. The proxies
//! are built from detached masks rather than `clamp`, so the gradient windows are exactly the
//! released code's (inclusive at the edges, `docs/METHOD.md` §3.2) whatever the backend's
//! clamp does at its bounds.

use burn::module::{Module, Param};
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

/// Which binarization method a model uses (one per run, so the ablation can swap them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BinarizerKind {
    /// BiFSMNv2's Learning Propagation Binarizer: learnable alpha shapes the backward window;
    /// dual-scale activations with per-channel thresholds.
    Lpb,
    /// BNN: sign with the clipped straight-through estimator, unscaled weights.
    Bnn,
    /// XNOR-Net: weights and activations scaled by their mean magnitudes.
    Xnor,
    /// Bi-Real Net: ApproxSign backward for activations, magnitude-scaled weights.
    BiReal,
    /// IR-Net: Libra-PB balanced weights and the EDE annealed tanh backward.
    IrNet,
    /// ReActNet: RSign (learnable per-channel shift) and RPReLU.
    ReAct,
    /// BiFSMN (v1): centred scaled weights, plain sign activations with clipped STE.
    BiFsmnV1,
}

impl BinarizerKind {
    pub const ALL: [BinarizerKind; 7] = [
        Self::Lpb,
        Self::Bnn,
        Self::Xnor,
        Self::BiReal,
        Self::IrNet,
        Self::ReAct,
        Self::BiFsmnV1,
    ];

    /// Display name used in tables and charts.
    pub fn name(self) -> &'static str {
        match self {
            Self::Lpb => "LPB (BiFSMNv2)",
            Self::Bnn => "BNN",
            Self::Xnor => "XNOR-Net",
            Self::BiReal => "Bi-Real",
            Self::IrNet => "IR-Net",
            Self::ReAct => "ReActNet",
            Self::BiFsmnV1 => "BiFSMN",
        }
    }

    /// Command-line spelling.
    pub fn cli_name(self) -> &'static str {
        match self {
            Self::Lpb => "lpb",
            Self::Bnn => "bnn",
            Self::Xnor => "xnor",
            Self::BiReal => "bi-real",
            Self::IrNet => "ir-net",
            Self::ReAct => "react",
            Self::BiFsmnV1 => "bifsmn-v1",
        }
    }

    pub fn from_cli_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.cli_name() == s)
    }

    /// Whether activations carry learnable per-channel thresholds.
    pub fn has_thresholds(self) -> bool {
        matches!(self, Self::Lpb | Self::ReAct)
    }

    /// Whether the bitwise kernels can run this binarizer exactly (sign of a thresholded input
    /// times a per-output-channel weight scale).
    pub fn exportable(self) -> bool {
        !matches!(self, Self::Xnor | Self::ReAct)
    }
}

/// Strict sign: +1 for `u >= 0`, -1 otherwise (never 0, unlike `Tensor::sign`).
pub fn sign<const D: usize>(u: Tensor<D>) -> Tensor<D> {
    u.greater_equal_elem(0.0)
        .float()
        .mul_scalar(2.0)
        .sub_scalar(1.0)
}

/// Forward `value`, backward through `proxy`.
pub fn ste<const D: usize>(value: Tensor<D>, proxy: Tensor<D>) -> Tensor<D> {
    proxy.clone() + (value - proxy).detach()
}

/// Detached indicator `1[|u| <= limit]`.
fn window<const D: usize>(u: &Tensor<D>, limit: f64) -> Tensor<D> {
    u.clone().abs().lower_equal_elem(limit).float().detach()
}

/// Clipped STE proxy scaled by `alpha`: value alpha*u inside |alpha*u| <= 1, gradient
/// d/du = alpha * 1[..] and d/dalpha = u * 1[..] (docs/METHOD.md §3.2). `alpha` broadcasts.
pub fn lpb_proxy<const D: usize>(u: Tensor<D>, alpha: Tensor<D>) -> Tensor<D> {
    let au = u * alpha;
    let mask = window(&au, 1.0);
    au * mask
}

/// Bi-Real ApproxSign proxy: 2u - u|u| on |u| <= 1 (gradient 2 - 2|u|), constant outside.
pub fn approx_sign_proxy<const D: usize>(u: Tensor<D>) -> Tensor<D> {
    let mask = window(&u, 1.0);
    let inside = u.clone().mul_scalar(2.0) - u.clone() * u.abs();
    inside * mask
}

/// IR-Net EDE proxy `k * tanh(t * u)` with the annealing schedule of the paper:
/// t goes from 0.1 to 10 over training (log-linear in `progress`), k = max(1/t, 1).
pub fn ede_proxy<const D: usize>(u: Tensor<D>, progress: f64) -> Tensor<D> {
    let (t_min, t_max) = (0.1f64, 10.0f64);
    let t = t_min * 10f64.powf(progress.clamp(0.0, 1.0) * (t_max / t_min).log10());
    let k = (1.0 / t).max(1.0);
    u.mul_scalar(t).tanh().mul_scalar(k)
}

/// Derivative of [`ede_proxy`] at `u` (for drawing the backward curve).
pub fn ede_proxy_derivative(u: f64, progress: f64) -> f64 {
    let (t_min, t_max) = (0.1f64, 10.0f64);
    let t = t_min * 10f64.powf(progress.clamp(0.0, 1.0) * (t_max / t_min).log10());
    let k = (1.0 / t).max(1.0);
    let th = (t * u).tanh();
    k * t * (1.0 - th * th)
}

/// Binarize an activation tensor with `kind`'s sign and backward, no thresholds, no scale.
pub fn binarize_plain<const D: usize>(
    u: Tensor<D>,
    kind: BinarizerKind,
    progress: f64,
) -> Tensor<D> {
    let value = sign(u.clone());
    let proxy = match kind {
        BinarizerKind::BiReal | BinarizerKind::ReAct => approx_sign_proxy(u),
        BinarizerKind::IrNet => ede_proxy(u, progress),
        _ => {
            let mask = window(&u, 1.0);
            u * mask
        }
    };
    ste(value, proxy)
}

/// Which axes a layer's second-plane scale `s2` (and XNOR's activation scale) averages over.
/// `Vec<usize>` of tensor dims; the result keeps them as size-1 dims for broadcasting.
pub type ReduceDims = Vec<usize>;

/// Learnable state of a layer's activation binarizer: per-input-channel thresholds and the
/// LPB's alphas. Baselines without thresholds keep them at zero and never train them.
#[derive(Module, Debug)]
pub struct ActBinarizer {
    /// Plane-1 threshold (ReActNet: the RSign shift).
    pub tau0: Param<Tensor<1>>,
    /// Residual threshold.
    pub tau1: Param<Tensor<1>>,
    /// Output shift.
    pub tau2: Param<Tensor<1>>,
    /// LPB plane-1 backward scale.
    pub alpha1: Param<Tensor<1>>,
    /// LPB plane-2 backward scale.
    pub alpha2: Param<Tensor<1>>,
    #[module(skip)]
    pub kind: BinarizerKind,
    /// 1 or 2 activation planes.
    #[module(skip)]
    pub planes: usize,
    /// Whether alpha is learnable (the LPB ablation freezes it at 1).
    #[module(skip)]
    pub learn_alpha: bool,
}

/// What one binarizer produced, kept for charts and the bit inspector.
#[derive(Clone, Debug)]
pub struct ActTrace<const D: usize> {
    /// The plane-1 binarizer input `x - tau0`.
    pub input: Tensor<D>,
    /// Plane 1 (+1/-1).
    pub b1: Tensor<D>,
    /// Plane 2 (+1/-1), when the layer has two planes.
    pub b2: Option<Tensor<D>>,
    /// A zero tensor added to the binarizer's output during training, whose gradient is the
    /// gradient reaching the binarizer.
    pub probe: Option<Tensor<D>>,
}

impl ActBinarizer {
    /// A binarizer for `channels` input channels. Thresholds start at U(0, 0.001) (docs/METHOD.md) for
    /// kinds that learn them, zero otherwise; alphas start at 1.
    pub fn new(channels: usize, kind: BinarizerKind, planes: usize, device: &Device) -> Self {
        let thresholds = |device: &Device| {
            if kind.has_thresholds() {
                Param::from_tensor(Tensor::random(
                    [channels],
                    Distribution::Uniform(0.0, 0.001),
                    device,
                ))
            } else {
                Param::from_tensor(Tensor::zeros([channels], device)).set_require_grad(false)
            }
        };
        let alpha = |device: &Device| {
            let p = Param::from_tensor(Tensor::ones([1], device));
            if kind == BinarizerKind::Lpb {
                p
            } else {
                p.set_require_grad(false)
            }
        };
        let planes = if kind == BinarizerKind::Lpb {
            planes.clamp(1, 2)
        } else {
            1
        };
        let tau1 = thresholds(device);
        let tau2 = thresholds(device);
        Self {
            tau0: thresholds(device),
            tau1: if planes == 2 {
                tau1
            } else {
                tau1.set_require_grad(false)
            },
            tau2: if kind == BinarizerKind::Lpb {
                tau2
            } else {
                tau2.set_require_grad(false)
            },
            alpha1: alpha(device),
            alpha2: alpha(device),
            kind,
            planes,
            learn_alpha: true,
        }
    }

    /// Freeze both alphas at their current value (LPB ablation: plain clipped STE).
    pub fn freeze_alpha(mut self) -> Self {
        self.alpha1 = self.alpha1.set_require_grad(false);
        self.alpha2 = self.alpha2.set_require_grad(false);
        self.learn_alpha = false;
        self
    }

    /// Reshape a per-channel vector to broadcast along `channel_dim` of a rank-`D` tensor.
    fn per_channel<const D: usize>(v: Tensor<1>, channel_dim: usize) -> Tensor<D> {
        let n = v.dims()[0];
        let mut shape = [1usize; D];
        shape[channel_dim] = n;
        v.reshape(shape)
    }

    fn scalar<const D: usize>(v: Tensor<1>) -> Tensor<D> {
        v.reshape([1usize; D])
    }

    /// Binarize `x` (channels along `channel_dim`); `s2_dims` are the axes the second-plane
    /// scale averages over. Returns `ahat` and, when `trace` is set, the planes.
    pub fn forward<const D: usize>(
        &self,
        x: Tensor<D>,
        channel_dim: usize,
        s2_dims: &[usize],
        progress: f64,
        trace: bool,
    ) -> (Tensor<D>, Option<ActTrace<D>>) {
        let (ahat, trace) = self.forward_untraced(x, channel_dim, s2_dims, progress, trace);
        match trace {
            Some(mut t) if ahat.is_autodiff() => {
                let probe = ahat.zeros_like().require_grad();
                t.probe = Some(probe.clone());
                (ahat + probe, Some(t))
            }
            t => (ahat, t),
        }
    }

    fn forward_untraced<const D: usize>(
        &self,
        x: Tensor<D>,
        channel_dim: usize,
        s2_dims: &[usize],
        progress: f64,
        trace: bool,
    ) -> (Tensor<D>, Option<ActTrace<D>>) {
        match self.kind {
            BinarizerKind::Lpb => self.forward_lpb(x, channel_dim, s2_dims, trace),
            BinarizerKind::ReAct => {
                let u = x - Self::per_channel(self.tau0.val(), channel_dim);
                let b1 = binarize_plain(u.clone(), self.kind, progress);
                let t = trace.then(|| ActTrace {
                    input: u,
                    b1: b1.clone(),
                    b2: None,
                    probe: None,
                });
                (b1, t)
            }
            BinarizerKind::Xnor => {
                // K = mean |x| over the reduction group, treated as a constant.
                let k = x.clone().abs().mean_dims(s2_dims).detach();
                let b1 = binarize_plain(x.clone(), self.kind, progress);
                let t = trace.then(|| ActTrace {
                    input: x,
                    b1: b1.clone(),
                    b2: None,
                    probe: None,
                });
                (b1 * k, t)
            }
            _ => {
                let b1 = binarize_plain(x.clone(), self.kind, progress);
                let t = trace.then(|| ActTrace {
                    input: x,
                    b1: b1.clone(),
                    b2: None,
                    probe: None,
                });
                (b1, t)
            }
        }
    }

    fn forward_lpb<const D: usize>(
        &self,
        x: Tensor<D>,
        channel_dim: usize,
        s2_dims: &[usize],
        trace: bool,
    ) -> (Tensor<D>, Option<ActTrace<D>>) {
        let tau0 = Self::per_channel::<D>(self.tau0.val(), channel_dim);
        let tau2 = Self::per_channel::<D>(self.tau2.val(), channel_dim);
        // Plane 1: b1 = Q_alpha1(x - tau0), unit scale.
        let u = x.clone() - tau0;
        let b1 = ste(
            sign(u.clone()),
            lpb_proxy(u.clone(), Self::scalar(self.alpha1.val())),
        );
        if self.planes == 1 {
            let t = trace.then(|| ActTrace {
                input: u,
                b1: b1.clone(),
                b2: None,
                probe: None,
            });
            return (b1 - tau2, t);
        }
        // Plane 2 on the residual: b2 = s2 * sign(r), s2 = mean |r| (detached) over the group.
        let tau1 = Self::per_channel::<D>(self.tau1.val(), channel_dim);
        let r = x - b1.clone() - tau1;
        let s2 = r.clone().abs().mean_dims(s2_dims).detach();
        let b2_sign = sign(r.clone());
        let b2 = ste(
            b2_sign.clone() * s2,
            lpb_proxy(r, Self::scalar(self.alpha2.val())),
        );
        let t = trace.then(|| ActTrace {
            input: u,
            b1: b1.clone(),
            b2: Some(b2_sign),
            probe: None,
        });
        (b1 + b2 - tau2, t)
    }

    /// The alphas as plain numbers (plane 1, plane 2).
    pub fn alphas(&self) -> (f32, f32) {
        (
            self.alpha1.val().into_scalar::<f32>(),
            self.alpha2.val().into_scalar::<f32>(),
        )
    }
}

/// Weight binarization rule of a layer.
#[derive(Module, Debug)]
pub struct WeightBinarizer {
    /// LPB's weight alpha (alpha3 in docs/METHOD.md §3.2).
    pub alpha: Param<Tensor<1>>,
    #[module(skip)]
    pub kind: BinarizerKind,
}

impl WeightBinarizer {
    pub fn new(kind: BinarizerKind, device: &Device) -> Self {
        let alpha = Param::from_tensor(Tensor::ones([1], device));
        Self {
            alpha: if kind == BinarizerKind::Lpb {
                alpha
            } else {
                alpha.set_require_grad(false)
            },
            kind,
        }
    }

    /// Binarize a weight tensor. `scale_dims` are the axes one scale averages over (all but
    /// the output axis for the deployable models).
    pub fn forward<const D: usize>(
        &self,
        w: Tensor<D>,
        scale_dims: &[usize],
        progress: f64,
    ) -> Tensor<D> {
        match self.kind {
            BinarizerKind::Lpb => {
                let s = w.clone().abs().mean_dims(scale_dims).detach();
                let alpha = self.alpha.val().reshape([1usize; D]);
                ste(sign(w.clone()) * s, lpb_proxy(w, alpha))
            }
            BinarizerKind::Bnn => ste(sign(w.clone()), w.clone() * window(&w, 1.0)),
            BinarizerKind::Xnor | BinarizerKind::BiReal | BinarizerKind::ReAct => {
                let s = w.clone().abs().mean_dims(scale_dims).detach();
                ste(sign(w.clone()) * s, w.clone() * window(&w, 1.0))
            }
            BinarizerKind::BiFsmnV1 => {
                // Centre with the whole-tensor mean, then scale per output channel (docs/METHOD.md §3.1).
                let centred = w.clone() - w.mean().reshape([1usize; D]);
                let s = centred.clone().abs().mean_dims(scale_dims).detach();
                ste(
                    sign(centred.clone()) * s,
                    centred.clone() * window(&centred, 1.0),
                )
            }
            BinarizerKind::IrNet => {
                // Libra-PB: standardise per output channel, then a power-of-two scale.
                let mean = w.clone().mean_dims(scale_dims);
                let centred = w - mean;
                let std = centred
                    .clone()
                    .square()
                    .mean_dims(scale_dims)
                    .add_scalar(1e-8)
                    .sqrt();
                let balanced = centred / std;
                let mag = balanced.clone().abs().mean_dims(scale_dims).detach();
                let pow2 = mag.log().div_scalar(std::f64::consts::LN_2).round();
                let s = pow2.mul_scalar(std::f64::consts::LN_2).exp().detach();
                ste(sign(balanced.clone()) * s, ede_proxy(balanced, progress))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ede_proxy_stays_finite_far_from_zero() {
        // Late in training t = 10; activations of an unscaled binary network reach hundreds.
        let u = Tensor::<1>::from_floats([1.0e3, -1.0e3, 50.0, 0.0], &dev());
        let v: Vec<f32> = vec1(ede_proxy(u, 1.0));
        assert!(v.iter().all(|x| x.is_finite()), "{v:?}");
        assert_eq!(v, [1.0, -1.0, 1.0, 0.0]);
    }

    fn dev() -> Device {
        Device::flex().autodiff()
    }

    fn vec1(t: Tensor<1>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    #[test]
    fn sign_is_strictly_binary() {
        let x = Tensor::<1>::from_floats([-2.0, -0.0, 0.0, 1e-9, 3.0], &dev());
        assert_eq!(vec1(sign(x)), vec![-1.0, 1.0, 1.0, 1.0, 1.0]);
    }

    #[test]
    fn lpb_forward_is_sign_and_backward_is_the_alpha_window() {
        let device = dev();
        let xs = [-2.0f32, -0.6, -0.5, -0.1, 0.0, 0.3, 0.5, 0.7, 1.5];
        let x = Tensor::<1>::from_floats(xs, &device).require_grad();
        let alpha = Tensor::<1>::from_floats([2.0], &device).require_grad();
        let y = ste(sign(x.clone()), lpb_proxy(x.clone(), alpha.clone()));
        assert_eq!(
            vec1(y.clone()),
            xs.iter()
                .map(|&v| if v >= 0.0 { 1.0 } else { -1.0 })
                .collect::<Vec<_>>()
        );
        // Weighted sum so every element's gradient is distinct.
        let w: Vec<f32> = (1..=xs.len()).map(|i| i as f32).collect();
        let loss = (y * Tensor::<1>::from_floats(w.as_slice(), &device)).sum();
        let grads = loss.backward();
        let gx = vec1(x.grad(&grads).unwrap());
        let galpha = vec1(alpha.grad(&grads).unwrap())[0];
        let mut expect_alpha = 0.0;
        for (i, &v) in xs.iter().enumerate() {
            let inside = (2.0 * v).abs() <= 1.0;
            let expect = if inside { 2.0 * w[i] } else { 0.0 };
            assert_eq!(gx[i], expect, "d/dx at x = {v}");
            if inside {
                expect_alpha += w[i] * v;
            }
        }
        assert!(
            (galpha - expect_alpha).abs() < 1e-5,
            "{galpha} vs {expect_alpha}"
        );
    }

    #[test]
    fn approx_sign_backward_matches_bi_real() {
        let device = dev();
        let xs = [-1.5f32, -1.0, -0.5, 0.0, 0.25, 0.999, 1.2];
        let x = Tensor::<1>::from_floats(xs, &device).require_grad();
        let y = binarize_plain(x.clone(), BinarizerKind::BiReal, 0.0);
        let grads = y.sum().backward();
        let g = vec1(x.grad(&grads).unwrap());
        for (i, &v) in xs.iter().enumerate() {
            let expect = if v.abs() <= 1.0 {
                2.0 - 2.0 * v.abs()
            } else {
                0.0
            };
            assert!((g[i] - expect).abs() < 1e-5, "x={v}: {} vs {expect}", g[i]);
        }
    }

    #[test]
    fn ede_gradient_matches_numeric_derivative() {
        let device = dev();
        let progress = 0.5;
        let xs = [-0.8f32, -0.1, 0.0, 0.3, 0.9];
        let x = Tensor::<1>::from_floats(xs, &device).require_grad();
        let y = binarize_plain(x.clone(), BinarizerKind::IrNet, progress);
        let g = vec1(x.grad(&y.sum().backward()).unwrap());
        let f = |v: f64| {
            let t = 0.1 * 10f64.powf(progress * 2.0);
            (1.0 / t).max(1.0) * (t * v).tanh()
        };
        for (i, &v) in xs.iter().enumerate() {
            let h = 1e-4;
            let numeric = (f(v as f64 + h) - f(v as f64 - h)) / (2.0 * h);
            assert!((g[i] as f64 - numeric).abs() < 1e-3, "x={v}");
        }
    }

    #[test]
    fn dual_scale_activation_follows_the_definition() {
        let device = Device::flex();
        let mut b = ActBinarizer::new(2, BinarizerKind::Lpb, 2, &device);
        b.tau0 = Param::from_tensor(Tensor::from_floats([0.1, -0.2], &device));
        b.tau1 = Param::from_tensor(Tensor::from_floats([0.05, 0.0], &device));
        b.tau2 = Param::from_tensor(Tensor::from_floats([0.01, 0.02], &device));
        // x: [batch 1, channels 2, time 3]; s2 over channels (dim 1).
        let xv = [[0.5f32, -0.3, 0.1], [2.0, -1.0, -0.2]];
        let x = Tensor::<3>::from_floats([xv], &device);
        let (ahat, _) = b.forward(x, 1, &[1], 0.0, false);
        let got = ahat.into_data().try_into_vec::<f32>().unwrap();
        let (t0, t1, t2) = ([0.1f32, -0.2], [0.05f32, 0.0], [0.01f32, 0.02]);
        for t in 0..3 {
            let mut r = [0.0f32; 2];
            let mut b1 = [0.0f32; 2];
            for c in 0..2 {
                b1[c] = if xv[c][t] - t0[c] >= 0.0 { 1.0 } else { -1.0 };
                r[c] = xv[c][t] - b1[c] - t1[c];
            }
            let s2 = (r[0].abs() + r[1].abs()) / 2.0;
            for c in 0..2 {
                let b2 = if r[c] >= 0.0 { 1.0 } else { -1.0 };
                let expect = b1[c] + s2 * b2 - t2[c];
                let g = got[c * 3 + t];
                assert!((g - expect).abs() < 1e-6, "c{c} t{t}: {g} vs {expect}");
            }
        }
    }

    #[test]
    fn lpb_weights_are_scaled_signs_per_output_channel() {
        let device = Device::flex();
        let wb = WeightBinarizer::new(BinarizerKind::Lpb, &device);
        let w = Tensor::<2>::from_floats([[0.5, -1.5, 1.0], [-0.2, 0.2, 0.0]], &device);
        let got = wb
            .forward(w, &[1], 0.0)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        assert_eq!(got, vec![1.0, -1.0, 1.0, -0.4 / 3.0, 0.4 / 3.0, 0.4 / 3.0]);
    }
}
