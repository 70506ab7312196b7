//! Layers that are either full precision (teacher) or binarized (student), and activations.

use burn::module::{Module, Param};
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::module::{conv1d, conv2d, linear};
use burn::tensor::ops::ConvOptions;

use super::quant::{ActBinarizer, ActTrace, BinarizerKind, WeightBinarizer};

/// How a binarizable layer computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QuantSpec {
    /// `None`: full precision.
    pub binarizer: Option<BinarizerKind>,
    /// Activation planes (1 or 2) for the LPB.
    pub planes: usize,
    /// Reproduce the released code's scale axes (s2 along the code's axes, weight scales per
    /// (out, in) pair, so 1x1 weights are effectively full precision). Not deployable.
    pub reference_code: bool,
}

impl QuantSpec {
    pub const FLOAT: QuantSpec = QuantSpec {
        binarizer: None,
        planes: 1,
        reference_code: false,
    };
}

/// What a full-precision layer's input would binarize to (its signs), for comparing a
/// teacher with a student.
fn float_trace<const D: usize>(x: Tensor<D>) -> ActTrace<D> {
    ActTrace {
        b1: super::quant::sign(x.clone()),
        input: x,
        b2: None,
        probe: None,
    }
}

/// PyTorch's default init for conv/linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
fn uniform_fan_in<const D: usize>(shape: [usize; D], fan_in: usize, device: &Device) -> Tensor<D> {
    let k = 1.0 / (fan_in as f64).sqrt();
    Tensor::random(shape, Distribution::Uniform(-k, k), device)
}

pub fn batch_norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels)
        .with_epsilon(1e-5)
        .with_momentum(0.1)
        .init(device)
}

/// Activation after a BatchNorm: PReLU with one shared slope (docs/METHOD.md), ReLU (slope fixed at 0,
/// the teacher's choice), or ReActNet's RPReLU (per-channel shifts around a PReLU).
#[derive(Module, Debug)]
pub struct Activation {
    pub slope: Param<Tensor<1>>,
    pub shift_in: Option<Param<Tensor<1>>>,
    pub shift_out: Option<Param<Tensor<1>>>,
}

/// Which activation function a model uses where the method allows a choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ActKind {
    Relu,
    Prelu,
    Rprelu,
}

impl Activation {
    pub fn new(kind: ActKind, channels: usize, device: &Device) -> Self {
        match kind {
            ActKind::Relu => Self {
                slope: Param::from_tensor(Tensor::zeros([1], device)).set_require_grad(false),
                shift_in: None,
                shift_out: None,
            },
            ActKind::Prelu => Self {
                slope: Param::from_tensor(Tensor::full([1], 0.25, device)),
                shift_in: None,
                shift_out: None,
            },
            ActKind::Rprelu => Self {
                slope: Param::from_tensor(Tensor::full([channels], 0.25, device)),
                shift_in: Some(Param::from_tensor(Tensor::zeros([channels], device))),
                shift_out: Some(Param::from_tensor(Tensor::zeros([channels], device))),
            },
        }
    }

    fn channel<const D: usize>(v: Tensor<1>) -> Tensor<D> {
        let n = v.dims()[0];
        let mut shape = [1usize; D];
        if n > 1 {
            shape[1] = n;
        }
        v.reshape(shape)
    }

    /// Apply along dim 1 (channels).
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let x = match &self.shift_in {
            Some(s) => x - Self::channel(s.val()),
            None => x,
        };
        let slope = Self::channel::<D>(self.slope.val());
        let neg = x.clone().lower_elem(0.0).float();
        // prelu(x) = x + (slope - 1) * x * 1[x < 0]
        let y = x.clone() + x * neg * (slope - 1.0);
        match &self.shift_out {
            Some(s) => y + Self::channel(s.val()),
            None => y,
        }
    }

    /// The shared slope (docs/METHOD.md §2 PReLU), or `None` for RPReLU.
    pub fn shared_slope(&self) -> Option<f32> {
        (self.shift_in.is_none() && self.slope.val().dims()[0] == 1)
            .then(|| self.slope.val().into_scalar::<f32>())
    }
}

/// The full-precision first conv: Conv2d 1->16, 5x5, stride 2, pad 2, bias.
#[derive(Module, Debug)]
pub struct FloatConv2d {
    pub weight: Param<Tensor<4>>,
    pub bias: Param<Tensor<1>>,
    #[module(skip)]
    pub stride: usize,
    #[module(skip)]
    pub padding: usize,
}

impl FloatConv2d {
    pub fn new(
        cin: usize,
        cout: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        device: &Device,
    ) -> Self {
        let fan_in = cin * kernel * kernel;
        Self {
            weight: Param::from_tensor(uniform_fan_in([cout, cin, kernel, kernel], fan_in, device)),
            bias: Param::from_tensor(uniform_fan_in([cout], fan_in, device)),
            stride,
            padding,
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        conv2d(
            x,
            self.weight.val(),
            Some(self.bias.val()),
            ConvOptions::new(
                [self.stride, self.stride],
                [self.padding, self.padding],
                [1, 1],
                1,
            ),
        )
    }
}

/// Conv2d that is binarized per [`QuantSpec`] (conv2 of the front end).
#[derive(Module, Debug)]
pub struct BinConv2d {
    pub weight: Param<Tensor<4>>,
    pub bias: Param<Tensor<1>>,
    pub act: Option<ActBinarizer>,
    pub wbin: Option<WeightBinarizer>,
    #[module(skip)]
    pub stride: usize,
    #[module(skip)]
    pub padding: usize,
    #[module(skip)]
    pub spec: QuantSpec,
}

impl BinConv2d {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cin: usize,
        cout: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        spec: QuantSpec,
        device: &Device,
    ) -> Self {
        let fan_in = cin * kernel * kernel;
        Self {
            weight: Param::from_tensor(uniform_fan_in([cout, cin, kernel, kernel], fan_in, device)),
            bias: Param::from_tensor(uniform_fan_in([cout], fan_in, device)),
            act: spec
                .binarizer
                .map(|k| ActBinarizer::new(cin, k, spec.planes, device)),
            wbin: spec.binarizer.map(|k| WeightBinarizer::new(k, device)),
            stride,
            padding,
            spec,
        }
    }

    /// `x`: [B, C, F, T]. Zero padding is applied to the binarized activations, so pads
    /// contribute nothing (docs/METHOD.md §3.3 item 3).
    pub fn forward(
        &self,
        x: Tensor<4>,
        progress: f64,
        trace: bool,
    ) -> (Tensor<4>, Option<ActTrace<4>>) {
        let options = ConvOptions::new(
            [self.stride, self.stride],
            [self.padding, self.padding],
            [1, 1],
            1,
        );
        match (&self.act, &self.wbin) {
            (Some(act), Some(wbin)) => {
                // Deployable: one s2 per sample (constant over each 5x5xC reduction), one weight
                // scale per output channel. Reference code: per (sample, channel, freq) and per
                // (out, in, kh).
                let (s2_dims, w_dims): (&[usize], &[usize]) = if self.spec.reference_code {
                    (&[3], &[3])
                } else {
                    (&[1, 2, 3], &[1, 2, 3])
                };
                let (ahat, t) = act.forward(x, 1, s2_dims, progress, trace);
                let w = wbin.forward(self.weight.val(), w_dims, progress);
                (conv2d(ahat, w, Some(self.bias.val()), options), t)
            }
            _ => {
                let t = trace.then(|| float_trace(x.clone()));
                (
                    conv2d(x, self.weight.val(), Some(self.bias.val()), options),
                    t,
                )
            }
        }
    }
}

/// Linear layer applied per time step, weight stored `[out, in]`, binarized per [`QuantSpec`].
#[derive(Module, Debug)]
pub struct BinLinear {
    pub weight: Param<Tensor<2>>,
    pub bias: Param<Tensor<1>>,
    pub act: Option<ActBinarizer>,
    pub wbin: Option<WeightBinarizer>,
    #[module(skip)]
    pub spec: QuantSpec,
}

impl BinLinear {
    pub fn new(din: usize, dout: usize, spec: QuantSpec, device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(uniform_fan_in([dout, din], din, device)),
            bias: Param::from_tensor(uniform_fan_in([dout], din, device)),
            act: spec
                .binarizer
                .map(|k| ActBinarizer::new(din, k, spec.planes, device)),
            wbin: spec.binarizer.map(|k| WeightBinarizer::new(k, device)),
            spec,
        }
    }

    /// `x`: [B, T, in] -> [B, T, out]. s2 is per (sample, time step) in both variants.
    pub fn forward(
        &self,
        x: Tensor<3>,
        progress: f64,
        trace: bool,
    ) -> (Tensor<3>, Option<ActTrace<3>>) {
        let (x, w, t) = match (&self.act, &self.wbin) {
            (Some(act), Some(wbin)) => {
                let (ahat, t) = act.forward(x, 2, &[2], progress, trace);
                (ahat, wbin.forward(self.weight.val(), &[1], progress), t)
            }
            _ => {
                let t = trace.then(|| float_trace(x.clone()));
                (x, self.weight.val(), t)
            }
        };
        // burn's functional linear takes the weight as [in, out].
        (linear(x, w.transpose(), Some(self.bias.val())), t)
    }
}

/// Conv1d (depthwise or 1x1) binarized per [`QuantSpec`]. The caller pads.
#[derive(Module, Debug)]
pub struct BinConv1d {
    pub weight: Param<Tensor<3>>,
    pub bias: Param<Tensor<1>>,
    pub act: Option<ActBinarizer>,
    pub wbin: Option<WeightBinarizer>,
    #[module(skip)]
    pub groups: usize,
    #[module(skip)]
    pub spec: QuantSpec,
}

impl BinConv1d {
    /// Depthwise conv over `channels` with `taps` taps.
    pub fn depthwise(channels: usize, taps: usize, spec: QuantSpec, device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(uniform_fan_in([channels, 1, taps], taps, device)),
            bias: Param::from_tensor(uniform_fan_in([channels], taps, device)),
            act: spec
                .binarizer
                .map(|k| ActBinarizer::new(channels, k, spec.planes, device)),
            wbin: spec.binarizer.map(|k| WeightBinarizer::new(k, device)),
            groups: channels,
            spec,
        }
    }

    /// 1x1 conv `cin -> cout`.
    pub fn pointwise(cin: usize, cout: usize, spec: QuantSpec, device: &Device) -> Self {
        Self {
            weight: Param::from_tensor(uniform_fan_in([cout, cin, 1], cin, device)),
            bias: Param::from_tensor(uniform_fan_in([cout], cin, device)),
            act: spec
                .binarizer
                .map(|k| ActBinarizer::new(cin, k, spec.planes, device)),
            wbin: spec.binarizer.map(|k| WeightBinarizer::new(k, device)),
            groups: 1,
            spec,
        }
    }

    pub fn is_depthwise(&self) -> bool {
        self.groups > 1
    }

    /// `x`: [B, C, T'] (already padded for the depthwise conv).
    pub fn forward(
        &self,
        x: Tensor<3>,
        progress: f64,
        trace: bool,
    ) -> (Tensor<3>, Option<ActTrace<3>>) {
        let options = ConvOptions::new([1], [0], [1], self.groups);
        match (&self.act, &self.wbin) {
            (Some(act), Some(wbin)) => {
                // s2 must be constant along each dot product: over time for the depthwise conv
                // (its reduction runs over taps of one channel), over channels for 1x1 convs.
                // The released code takes it over time everywhere (not popcount-friendly).
                let s2_dims: &[usize] = if self.is_depthwise() || self.spec.reference_code {
                    &[2]
                } else {
                    &[1]
                };
                let w_dims: &[usize] = if self.spec.reference_code {
                    &[2]
                } else {
                    &[1, 2]
                };
                let (ahat, t) = act.forward(x, 1, s2_dims, progress, trace);
                let w = wbin.forward(self.weight.val(), w_dims, progress);
                (self.conv(ahat, w, options), t)
            }
            _ => {
                let t = trace.then(|| float_trace(x.clone()));
                (self.conv(x, self.weight.val(), options), t)
            }
        }
    }

    /// The convolution itself. A 1x1 convolution is one matrix product over all `B x T`
    /// positions: burn flex runs `conv1d` per sample (32 small products and their gradients),
    /// and the single product is 1.3-3.7x faster forward and backward (`docs/SCALE.md`).
    fn conv(&self, x: Tensor<3>, w: Tensor<3>, options: ConvOptions<1>) -> Tensor<3> {
        let [out, cin, k] = w.dims();
        if self.is_depthwise() || k != 1 {
            return conv1d(x, w, Some(self.bias.val()), options);
        }
        let [b, _, t] = x.dims();
        let rows = x.swap_dims(1, 2).reshape([b * t, cin]);
        let y = linear(
            rows,
            w.reshape([out, cin]).transpose(),
            Some(self.bias.val()),
        );
        y.reshape([b, t, out]).swap_dims(1, 2)
    }
}
