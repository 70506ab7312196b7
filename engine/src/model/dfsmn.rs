//! The D-FSMN keyword spotter (docs/METHOD.md §2): FP teacher and thinnable binary student.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{BatchNorm, Dropout, DropoutConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::module::linear;
use burn::tensor::ops::PadMode;

use super::layers::{
    ActKind, Activation, BinConv1d, BinConv2d, BinLinear, FloatConv2d, QuantSpec, batch_norm,
};
use super::quant::{ActTrace, BinarizerKind};

/// Network shape and binarization settings. Defaults are the paper's student.
#[derive(Config, Debug, PartialEq)]
pub struct DfsmnConfig {
    /// Output classes.
    pub num_classes: usize,
    #[config(default = 8)]
    pub num_layers: usize,
    /// D-FSMN memory width N.
    #[config(default = 128)]
    pub memory: usize,
    /// Hidden width of the 1x1 expansion.
    #[config(default = 256)]
    pub hidden: usize,
    /// Front-end conv channels (the second conv has twice as many).
    #[config(default = 16)]
    pub frontend_channels: usize,
    /// Memory taps on each side (total taps 2*context+1).
    #[config(default = 2)]
    pub context: usize,
    #[config(default = 32)]
    pub n_mels: usize,
    /// `None` for the full-precision teacher.
    #[config(default = "Some(BinarizerKind::Lpb)")]
    pub binarizer: Option<BinarizerKind>,
    /// Activation planes: 2 is DTA's dual-scale binarization, 1 the single-plane ablation.
    #[config(default = 2)]
    pub planes: usize,
    /// Number of thin paths with their own output BN/PReLU (teacher 1, student 4).
    #[config(default = 4)]
    pub path_sets: usize,
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Learn the LPB alphas (false = the "without LPB" ablation: plain clipped STE).
    #[config(default = true)]
    pub learn_alpha: bool,
    /// Reproduce the released code's non-deployable scale axes.
    #[config(default = false)]
    pub reference_code: bool,
}

impl DfsmnConfig {
    /// The paper's FP32 teacher: ReLU where the reference uses it, one output set, dropout 0.2.
    pub fn teacher(num_classes: usize) -> Self {
        Self::new(num_classes)
            .with_binarizer(None)
            .with_path_sets(1)
            .with_dropout(0.2)
    }

    /// The deployable BiFSMNv2 student.
    pub fn student(num_classes: usize) -> Self {
        Self::new(num_classes)
    }

    pub fn is_binary(&self) -> bool {
        self.binarizer.is_some()
    }

    /// Time steps after the front end (two stride-2 convs on 32 frames).
    pub fn time_steps(&self) -> usize {
        self.n_mels / 4
    }

    fn quant(&self) -> QuantSpec {
        QuantSpec {
            binarizer: self.binarizer,
            planes: self.planes,
            reference_code: self.reference_code,
        }
    }

    fn act_kind(&self, relu_in_teacher: bool) -> ActKind {
        match self.binarizer {
            None if relu_in_teacher => ActKind::Relu,
            Some(BinarizerKind::ReAct) => ActKind::Rprelu,
            _ => ActKind::Prelu,
        }
    }

    /// Thin paths that exist for this model (layer indices per path).
    pub fn paths(&self) -> Vec<Vec<usize>> {
        let mut p = bifsmn_kernels::weights::NetworkWeights::standard_paths(self.num_layers);
        p.truncate(self.path_sets.max(1));
        p
    }

    pub fn init(&self, device: &Device) -> Dfsmn {
        let q = self.quant();
        let c1 = self.frontend_channels;
        let c2 = 2 * c1;
        let freq_after = self.n_mels / 4;
        let n = self.memory;
        let layers = (0..self.num_layers)
            .map(|_| DfsmnLayer {
                memory: BinConv1d::depthwise(n, 2 * self.context + 1, q, device),
                memory_bn: batch_norm(n, device),
                memory_act: Activation::new(self.act_kind(false), n, device),
                expand: BinConv1d::pointwise(n, self.hidden, q, device),
                expand_bn: batch_norm(self.hidden, device),
                expand_act: Activation::new(self.act_kind(true), self.hidden, device),
                project: BinConv1d::pointwise(self.hidden, n, q, device),
                out_bn: (0..self.path_sets.max(1))
                    .map(|_| batch_norm(n, device))
                    .collect(),
                out_act: (0..self.path_sets.max(1))
                    .map(|_| Activation::new(self.act_kind(false), n, device))
                    .collect(),
                context: self.context,
                dropout: DropoutConfig::new(self.dropout).init(),
            })
            .collect();
        let flat = n * self.time_steps();
        let k = 1.0 / (flat as f64).sqrt();
        let mut model = Dfsmn {
            conv1: FloatConv2d::new(1, c1, 5, 2, 2, device),
            bn1: batch_norm(c1, device),
            act1: Activation::new(self.act_kind(true), c1, device),
            conv2: BinConv2d::new(c1, c2, 5, 2, 2, q, device),
            bn2: batch_norm(c2, device),
            act2: Activation::new(self.act_kind(true), c2, device),
            fc1: BinLinear::new(c2 * freq_after, n, q, device),
            act_fc1: Activation::new(self.act_kind(true), n, device),
            layers,
            classifier_weight: Param::from_tensor(Tensor::random(
                [self.num_classes, flat],
                Distribution::Uniform(-k, k),
                device,
            )),
            classifier_bias: Param::from_tensor(Tensor::random(
                [self.num_classes],
                Distribution::Uniform(-k, k),
                device,
            )),
            dropout: DropoutConfig::new(self.dropout).init(),
            config: self.clone(),
        };
        if !self.learn_alpha {
            model = model.freeze_alphas();
        }
        model
    }
}

/// One D-FSMN memory layer (docs/METHOD.md §2, thinnable version).
#[derive(Module, Debug)]
pub struct DfsmnLayer {
    pub memory: BinConv1d,
    pub memory_bn: BatchNorm,
    pub memory_act: Activation,
    pub expand: BinConv1d,
    pub expand_bn: BatchNorm,
    pub expand_act: Activation,
    pub project: BinConv1d,
    /// Output BatchNorm per thin path.
    pub out_bn: Vec<BatchNorm>,
    /// Output PReLU per thin path.
    pub out_act: Vec<Activation>,
    #[module(skip)]
    pub context: usize,
    pub dropout: Dropout,
}

/// Binarizer activity of one layer, for charts and the bit inspector.
#[derive(Clone, Debug)]
pub struct BinarizerTrace {
    /// e.g. "layer3.expand".
    pub name: String,
    /// Rank-3 view [B, C, T] (conv2 is flattened to [B, C, F*T]; fc1 is [B, features, T]).
    pub act: ActTrace<3>,
    /// The gradient probe in its original shape (a leaf, so its gradient can be read).
    pub probe: Option<Probe>,
}

/// A zero leaf added to a binarizer's output; its gradient is what reached the binarizer.
#[derive(Clone, Debug)]
pub enum Probe {
    D3(Tensor<3>),
    D4(Tensor<4>),
}

impl Probe {
    /// Gradient values after a backward pass.
    pub fn gradient(&self, grads: &burn::tensor::Gradients) -> Option<Vec<f32>> {
        let data = match self {
            Probe::D3(t) => t.grad(grads)?.into_data(),
            Probe::D4(t) => t.grad(grads)?.into_data(),
        };
        data.try_into_vec::<f32>().ok()
    }
}

/// Intermediate values collected by a traced forward pass.
#[derive(Clone, Debug, Default)]
pub struct ForwardTrace {
    pub binarizers: Vec<BinarizerTrace>,
}

impl DfsmnLayer {
    /// `x`: [B, N, T]; `path` selects the output BN/PReLU set.
    pub fn forward(
        &self,
        x: Tensor<3>,
        path: usize,
        index: usize,
        progress: f64,
        trace: &mut Option<ForwardTrace>,
    ) -> Tensor<3> {
        let want = trace.is_some();
        let mut record = |name: &str, t: Option<ActTrace<3>>| {
            if let (Some(tr), Some(mut act)) = (trace.as_mut(), t) {
                let probe = act.probe.take().map(Probe::D3);
                tr.binarizers.push(BinarizerTrace {
                    name: format!("layer{index}.{name}"),
                    act,
                    probe,
                });
            }
        };
        // Pad before the memory conv: in the binary model the pads are binarized too.
        let padded = x.clone().pad(
            [(0, 0), (0, 0), (self.context, self.context)],
            PadMode::Constant(0.0),
        );
        let (mem, t) = self.memory.forward(padded, progress, want);
        record("memory", t);
        let m = self.memory_act.forward(self.memory_bn.forward(mem)) + x;
        let (u, t) = self.expand.forward(m.clone(), progress, want);
        record("expand", t);
        let u = self
            .dropout
            .forward(self.expand_act.forward(self.expand_bn.forward(u)));
        let (o, t) = self.project.forward(u, progress, want);
        record("project", t);
        let set = path.min(self.out_bn.len() - 1);
        self.out_act[set].forward(self.out_bn[set].forward(o)) + m
    }
}

/// The whole network.
#[derive(Module, Debug)]
pub struct Dfsmn {
    pub conv1: FloatConv2d,
    pub bn1: BatchNorm,
    pub act1: Activation,
    pub conv2: BinConv2d,
    pub bn2: BatchNorm,
    pub act2: Activation,
    pub fc1: BinLinear,
    pub act_fc1: Activation,
    pub layers: Vec<DfsmnLayer>,
    /// `[classes, N*T]`, full precision.
    pub classifier_weight: Param<Tensor<2>>,
    pub classifier_bias: Param<Tensor<1>>,
    pub dropout: Dropout,
    #[module(skip)]
    pub config: DfsmnConfig,
}

/// Output of a forward pass on one thin path.
#[derive(Clone, Debug)]
pub struct PathOutput {
    pub logits: Tensor<2>,
    /// Output of every D-FSMN layer the path ran, `(layer index, [B, N, T])`.
    pub layer_outputs: Vec<(usize, Tensor<3>)>,
}

impl Dfsmn {
    /// Front end shared by all thin paths: features [B, 1, mels, frames] -> [B, N, T].
    pub fn frontend(
        &self,
        features: Tensor<4>,
        progress: f64,
        trace: &mut Option<ForwardTrace>,
    ) -> Tensor<3> {
        let want = trace.is_some();
        let h = self
            .act1
            .forward(self.bn1.forward(self.conv1.forward(features)));
        let (h, t) = self.conv2.forward(h, progress, want);
        if let (Some(tr), Some(t)) = (trace.as_mut(), t) {
            let flat = |x: Tensor<4>| {
                let [b, c, f, tt] = x.dims();
                x.reshape([b, c, f * tt])
            };
            tr.binarizers.push(BinarizerTrace {
                name: "conv2".into(),
                act: ActTrace {
                    input: flat(t.input),
                    b1: flat(t.b1),
                    b2: t.b2.map(flat),
                    probe: None,
                },
                probe: t.probe.map(Probe::D4),
            });
        }
        let h = self.act2.forward(self.bn2.forward(h));
        // [B, C, F, T] -> [B, T, C*F] with feature index c*F + f.
        let [b, c, f, t] = h.dims();
        let z = h.permute([0, 3, 1, 2]).reshape([b, t, c * f]);
        let (z, tr_fc1) = self.fc1.forward(z, progress, want);
        if let (Some(tr), Some(act)) = (trace.as_mut(), tr_fc1) {
            // Stored as [B, features, T] like the conv layers.
            tr.binarizers.push(BinarizerTrace {
                name: "fc1".into(),
                act: ActTrace {
                    input: act.input.swap_dims(1, 2),
                    b1: act.b1.swap_dims(1, 2),
                    b2: act.b2.map(|b| b.swap_dims(1, 2)),
                    probe: None,
                },
                probe: act.probe.map(Probe::D3),
            });
        }
        // [B, T, N] -> [B, N, T]; the activation is per-channel, so apply it channel-first.
        self.act_fc1.forward(z.swap_dims(1, 2))
    }

    /// Run the D-FSMN layers of thin path `path` and the classifier on a front-end output.
    pub fn backbone(
        &self,
        z: Tensor<3>,
        path: usize,
        progress: f64,
        trace: &mut Option<ForwardTrace>,
    ) -> PathOutput {
        let paths = self.config.paths();
        let layers = &paths[path.min(paths.len() - 1)];
        let mut x = z;
        let mut layer_outputs = Vec::with_capacity(layers.len());
        for &j in layers {
            x = self.layers[j].forward(x, path, j, progress, trace);
            layer_outputs.push((j, x.clone()));
        }
        let [b, n, t] = x.dims();
        let flat = self.dropout.forward(x.reshape([b, n * t]));
        let logits = linear(
            flat,
            self.classifier_weight.val().transpose(),
            Some(self.classifier_bias.val()),
        );
        PathOutput {
            logits,
            layer_outputs,
        }
    }

    /// Full forward on one path.
    pub fn forward(&self, features: Tensor<4>, path: usize) -> PathOutput {
        let z = self.frontend(features, 1.0, &mut None);
        self.backbone(z, path, 1.0, &mut None)
    }

    /// Freeze every LPB alpha (the "without LPB" ablation).
    pub fn freeze_alphas(mut self) -> Self {
        fn f(b: &mut Option<super::quant::ActBinarizer>) {
            if let Some(a) = b.take() {
                *b = Some(a.freeze_alpha());
            }
        }
        f(&mut self.conv2.act);
        f(&mut self.fc1.act);
        for l in &mut self.layers {
            f(&mut l.memory.act);
            f(&mut l.expand.act);
            f(&mut l.project.act);
        }
        self
    }

    /// Number of thin paths this model was built with.
    pub fn num_paths(&self) -> usize {
        self.config.paths().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_shapes_for_every_path() {
        let device = Device::flex();
        for cfg in [DfsmnConfig::student(12), DfsmnConfig::teacher(12)] {
            let model = cfg.init(&device);
            let x = Tensor::<4>::random([3, 1, 32, 32], Distribution::Default, &device);
            for (p, layers) in cfg.paths().iter().enumerate() {
                let out = model.forward(x.clone(), p);
                assert_eq!(out.logits.dims(), [3, 12]);
                assert_eq!(out.layer_outputs.len(), layers.len());
                for (j, (idx, y)) in out.layer_outputs.iter().enumerate() {
                    assert_eq!(*idx, layers[j]);
                    assert_eq!(y.dims(), [3, 128, 8]);
                }
            }
        }
    }

    #[test]
    fn path_layer_counts_are_8_4_2_1() {
        let cfg = DfsmnConfig::student(12);
        let counts: Vec<usize> = cfg.paths().iter().map(|p| p.len()).collect();
        assert_eq!(counts, vec![8, 4, 2, 1]);
        assert_eq!(DfsmnConfig::teacher(12).paths().len(), 1);
    }
}
