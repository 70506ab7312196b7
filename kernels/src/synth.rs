//! Deterministic random networks and inputs for tests, benchmarks, fuzz seeds and the runner's
//! self-test. A tiny SplitMix64 generator keeps this dependency-free and identical on every
//! platform (the cross-architecture check relies on both builds generating the same input).

use crate::features::FeatureParams;
use crate::weights::{
    ActQuant, BatchNorm, Conv2d, Dense, DepthwiseConv1d, DfsmnLayer, NetworkWeights, Precision,
};

/// SplitMix64: small, fast, and the same sequence everywhere.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)` with 24 bits.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }
    pub fn vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
}

/// The shape of a synthetic network.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthSpec {
    pub precision: Precision,
    pub features: FeatureParams,
    pub classes: usize,
    pub layers: usize,
    pub conv1_channels: usize,
    pub conv1_kernel: usize,
    pub conv2_channels: usize,
    pub conv2_kernel: usize,
    pub stride: usize,
    pub memory: usize,
    pub hidden: usize,
    pub taps: usize,
    /// Activation planes of every binary layer.
    pub planes: u8,
    /// Thin paths; `None` = [`NetworkWeights::standard_paths`] (a float model gets one path).
    pub paths: Option<Vec<Vec<usize>>>,
}

impl SynthSpec {
    /// The paper's 8-layer, 12-class student (or, for `Float`, its teacher).
    pub fn paper(precision: Precision) -> Self {
        Self {
            precision,
            features: FeatureParams::default(),
            classes: 12,
            layers: 8,
            conv1_channels: 16,
            conv1_kernel: 5,
            conv2_channels: 32,
            conv2_kernel: 5,
            stride: 2,
            memory: 128,
            hidden: 256,
            taps: 5,
            planes: 2,
            paths: None,
        }
    }

    /// A very small network with odd sizes (3 conv1 channels: conv2's patches are not byte
    /// aligned) for fast tests and fuzz seeds.
    pub fn tiny(precision: Precision) -> Self {
        Self {
            precision,
            features: FeatureParams {
                sample_rate: 8000,
                clip_samples: 1024,
                n_fft: 64,
                hop: 128,
                n_mels: 8,
                f_min: 0.0,
                f_max: 4000.0,
            },
            classes: 3,
            layers: 3,
            conv1_channels: 3,
            conv1_kernel: 3,
            conv2_channels: 4,
            conv2_kernel: 3,
            stride: 2,
            memory: 16,
            hidden: 24,
            taps: 3,
            planes: 2,
            paths: None,
        }
    }

    /// Random weights with BatchNorm statistics that keep activations near unit scale.
    pub fn weights(&self, seed: u64) -> NetworkWeights {
        let mut r = Draws {
            g: SplitMix64::new(seed ^ 0x5eed_0000_0000_0001),
            binary: self.precision == Precision::Binary,
            planes: self.planes,
        };
        let f = self.features;
        let frames = f.frames();
        let conv_out = |n: usize, k: usize| (n + 2 * (k / 2) - k) / self.stride + 1;
        let (k1, k2) = (self.conv1_kernel, self.conv2_kernel);
        let (h1, w1) = (conv_out(f.n_mels, k1), conv_out(frames, k1));
        let (h2, t) = (conv_out(h1, k2), conv_out(w1, k2));
        let (c1, c2, m) = (self.conv1_channels, self.conv2_channels, self.memory);
        let paths = self.paths.clone().unwrap_or_else(|| {
            if r.binary {
                NetworkWeights::standard_paths(self.layers)
            } else {
                vec![(0..self.layers).collect()]
            }
        });
        let conv1 = Conv2d {
            out_channels: c1,
            in_channels: 1,
            kernel: k1,
            stride: self.stride,
            padding: k1 / 2,
            weight: r
                .g
                .vec(c1 * k1 * k1, -xavier_bound(k1 * k1), xavier_bound(k1 * k1)),
            bias: r.g.vec(c1, -0.1, 0.1),
        };
        let bn1 = r.bn(c1, 1.0);
        let act1 = r.slope();
        let fan2 = c1 * k2 * k2;
        let conv2 = Conv2d {
            out_channels: c2,
            in_channels: c1,
            kernel: k2,
            stride: self.stride,
            padding: k2 / 2,
            weight: r.g.vec(c2 * fan2, -r.w_scale(fan2), r.w_scale(fan2)),
            bias: r.g.vec(c2, -0.1, 0.1),
        };
        let conv2_quant = r.quant(c1);
        let bn2 = r.bn(c2, r.out_var(fan2));
        let act2 = r.slope();
        let fc1_in = c2 * h2;
        let fc1 = r.dense(m, fc1_in, r.w_scale(fc1_in));
        let fc1_quant = r.quant(fc1_in);
        let act_fc1 = r.slope();
        let layers = (0..self.layers)
            .map(|j| self.dfsmn_layer(&mut r, j, &paths))
            .collect();
        let cls_in = m * t;
        let classifier = r.dense(self.classes, cls_in, xavier_bound(cls_in));
        NetworkWeights {
            precision: self.precision,
            labels: (0..self.classes).map(|i| format!("class{i}")).collect(),
            features: f,
            conv1,
            bn1,
            act1,
            conv2,
            conv2_quant,
            bn2,
            act2,
            fc1,
            fc1_quant,
            act_fc1,
            layers,
            paths,
            classifier,
        }
    }

    /// D-FSMN layer `j` (its output BatchNorm only for the paths that run it).
    fn dfsmn_layer(&self, r: &mut Draws, j: usize, paths: &[Vec<usize>]) -> DfsmnLayer {
        let (m, hid, taps) = (self.memory, self.hidden, self.taps);
        let memory = DepthwiseConv1d {
            channels: m,
            taps,
            weight: r.g.vec(m * taps, -r.w_scale(taps), r.w_scale(taps)),
            bias: r.g.vec(m, -0.1, 0.1),
        };
        let memory_quant = r.quant(m);
        let memory_bn = r.bn(m, r.out_var(taps));
        let memory_act = r.g.uniform(0.0, 0.3);
        let expand = r.dense(hid, m, r.w_scale(m));
        let expand_quant = r.quant(m);
        let expand_bn = r.bn(hid, r.out_var(m));
        let expand_act = r.slope();
        let project = r.dense(m, hid, r.w_scale(hid));
        let project_quant = r.quant(hid);
        let out_bn = paths
            .iter()
            .map(|p| {
                let b = r.bn(m, r.out_var(hid));
                p.contains(&j).then_some(b)
            })
            .collect();
        let out_act = r.g.vec(paths.len(), 0.0, 0.3);
        DfsmnLayer {
            memory,
            memory_quant,
            memory_bn,
            memory_act,
            expand,
            expand_quant,
            expand_bn,
            expand_act,
            project,
            project_quant,
            out_bn,
            out_act,
        }
    }
}

/// The random stream of [`SynthSpec::weights`] and the scales that depend on the precision.
/// Every draw happens in a fixed order, so a seed always gives the same network.
struct Draws {
    g: SplitMix64,
    binary: bool,
    planes: u8,
}

impl Draws {
    /// BatchNorm statistics for outputs of variance `var`.
    fn bn(&mut self, n: usize, var: f32) -> BatchNorm {
        let g = &mut self.g;
        BatchNorm {
            gamma: g.vec(n, 0.5, 1.5),
            beta: g.vec(n, -0.2, 0.2),
            running_mean: (0..n).map(|_| g.uniform(-0.3, 0.3) * var.sqrt()).collect(),
            running_var: (0..n).map(|_| var * g.uniform(0.5, 2.0)).collect(),
            eps: 1e-5,
        }
    }

    /// Activation thresholds of `n` inputs (binary networks only).
    fn quant(&mut self, n: usize) -> Option<ActQuant> {
        let planes = self.planes;
        let g = &mut self.g;
        self.binary.then(|| ActQuant {
            planes,
            tau0: g.vec(n, -0.3, 0.3),
            tau1: g.vec(n, -0.3, 0.3),
            tau2: g.vec(n, -0.1, 0.1),
        })
    }

    /// Expected output variance of a layer with `fan_in` inputs: binary outputs are sums of
    /// `fan_in` terms of size ~ sw * (1 + s2); float ones ~ 1.
    fn out_var(&self, fan_in: usize) -> f32 {
        if self.binary {
            0.25 * 2.0 * fan_in as f32
        } else {
            1.0
        }
    }

    /// A PReLU slope (0 for a float network).
    fn slope(&mut self) -> f32 {
        if self.binary {
            self.g.uniform(0.0, 0.3)
        } else {
            0.0
        }
    }

    /// The weight range: signs only matter in a binary network.
    fn w_scale(&self, fan: usize) -> f32 {
        if self.binary { 1.0 } else { xavier_bound(fan) }
    }

    /// A dense layer with weights in `U(-scale, scale)`.
    fn dense(&mut self, outs: usize, ins: usize, scale: f32) -> Dense {
        Dense {
            out_features: outs,
            in_features: ins,
            weight: self.g.vec(outs * ins, -scale, scale),
            bias: self.g.vec(outs, -0.1, 0.1),
        }
    }
}

/// The Xavier-uniform bound for `fan_in` inputs.
fn xavier_bound(fan_in: usize) -> f32 {
    (3.0 / fan_in as f32).sqrt()
}

/// Random standardised features (uniform in `[-2, 2)`), `params.len()` values.
pub fn random_features(params: &FeatureParams, seed: u64) -> Vec<f32> {
    SplitMix64::new(seed ^ 0xfea7_0000_0000_0002).vec(params.len(), -2.0, 2.0)
}

/// A clip of noise plus a tone (`params.clip_samples` samples in `[-1, 1]`).
pub fn random_clip(params: &FeatureParams, seed: u64) -> Vec<f32> {
    let mut g = SplitMix64::new(seed ^ 0xc11b_0000_0000_0003);
    let freq = g.uniform(200.0, 2000.0);
    (0..params.clip_samples)
        .map(|i| {
            let ph = 2.0 * std::f32::consts::PI * freq * i as f32 / params.sample_rate as f32;
            0.5 * ph.sin() + g.uniform(-0.1, 0.1)
        })
        .collect()
}
