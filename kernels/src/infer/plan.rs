//! Turning a [`PackedModel`] into the layouts the kernels want, once per engine.
//!
//! Internal orders (all fixed here, all permutations of the file's canonical orders):
//! * conv1 output `h1` is `[y][x][c]` (position `f * w1 + t`, channel innermost);
//! * conv2 patches are `[ky][kx][c]`, and conv2 output positions are time-major
//!   (`t * h2 + f`), so conv2's output *is* fc1's input `z[t][f * c2 + c]` (fc1's weights and
//!   thresholds are permuted from the canonical `c * h2 + f` to match);
//! * the D-FSMN state is `[t][c]`, and the classifier weights are permuted from the canonical
//!   input index `c * t_steps + t` to `t * m + c`.

use crate::bitpack::{BitRows, get_bit, set_bit, sign_bit, words_for};
use crate::fold::Affine;
use crate::format::{LayerWeights, PackedDfsmn, PackedLayer, PackedModel, Quant};
use crate::fp::NR;
use crate::gemm::PreparedBits;
use crate::isa::Isa;
use crate::network::Dims;

use super::im2col::{Im2Col, Run};

/// `y = scale * acc + shift`, then PReLU.
#[derive(Clone, Debug)]
pub(crate) struct Epilogue {
    pub scale: Vec<f32>,
    pub shift: Vec<f32>,
    pub slope: f32,
}

impl Epilogue {
    fn new(a: &Affine, slope: f32) -> Self {
        Self {
            scale: a.scale.clone(),
            shift: a.shift.clone(),
            slope,
        }
    }
}

/// Activation binariser in internal input order.
#[derive(Clone, Debug)]
pub(crate) struct Binariser {
    pub planes: u8,
    pub tau0: Vec<f32>,
    pub tau1: Vec<f32>,
}

/// A binary matrix product over `k` input bits (fc1, expand, project).
#[derive(Clone, Debug)]
pub(crate) struct DenseBin {
    pub k: usize,
    pub outs: usize,
    pub w: PreparedBits,
    pub bin: Binariser,
}

/// A float matrix product: `wt[k][outs_p]`.
#[derive(Clone, Debug)]
pub(crate) struct DenseF {
    pub k: usize,
    pub outs: usize,
    pub outs_p: usize,
    pub wt: Vec<f32>,
}

#[derive(Clone, Debug)]
pub(crate) enum Dense {
    Bin(DenseBin),
    F(DenseF),
}

/// How conv2's bit patches are gathered: by 16-bit or 8-bit units through an index table
/// (conv1 channels a multiple of 16 or 8), or bit runs otherwise.
#[derive(Clone, Debug)]
pub(crate) enum PatchGather {
    U16(Vec<Run>),
    U8(Vec<Run>),
    Bits,
}

/// conv2 as a masked binary product over bit patches.
#[derive(Clone, Debug)]
pub(crate) struct Conv2Bin {
    pub gather: PatchGather,
    pub w: PreparedBits,
    /// Thresholds tiled over every conv1 output position (`[pos][c]`).
    pub tau0: Vec<f32>,
    pub tau1: Vec<f32>,
    pub planes: u8,
    pub scale: Vec<f32>,
    /// Per output position and channel (`[pos][o]`): border positions miss some `tau2` terms.
    pub shift: Vec<f32>,
    /// Valid patch bits per output position.
    pub valid: Vec<f32>,
    pub masks: BitRows,
    pub slope: f32,
}

#[derive(Clone, Debug)]
pub(crate) enum Conv2 {
    Bin(Conv2Bin),
    F(DenseF, Epilogue),
}

/// Memory block: 1 bit (`sgn` as ±1.0 floats) or float weights, `[tap][channel]`.
///
/// The binary depthwise conv runs in float on ±1 values, not on bits: its reduction is 5 taps
/// of one channel, a vertical count along time rather than a long horizontal popcount, so a
/// popcount kernel would waste 59 of every 64 bits. In float, the two planes combine once per
/// input element into the activation `b1 + s2 * b2`, the taps vectorise across the 128
/// channels, and the whole block is 0.1 % of the model's MACs.
#[derive(Clone, Debug)]
pub(crate) struct Memory {
    pub taps: Vec<f32>,
    pub bin: Option<Binariser>,
    /// Binary only: the binarised zero pads, per channel.
    pub pad: Option<MemoryPad>,
    pub epi: Epilogue,
}

/// What the memory block's zero pads binarise to (they are the same for every clip): plane 1
/// and plane 2 as ±1, `|r|`, and `lead` = the sum of `|r|` over the leading pads, added in time
/// order from zero exactly as the forward adds every other time step.
#[derive(Clone, Debug)]
pub(crate) struct MemoryPad {
    pub b1: Vec<f32>,
    pub b2: Vec<f32>,
    pub abs: Vec<f32>,
    pub lead: Vec<f32>,
}

impl MemoryPad {
    fn new(b: &Binariser, pad: usize) -> Self {
        let sgn = |neg: bool| if neg { -1.0f32 } else { 1.0 };
        let mut out = MemoryPad {
            b1: Vec::new(),
            b2: Vec::new(),
            abs: Vec::new(),
            lead: Vec::new(),
        };
        for (&t0, &t1) in b.tau0.iter().zip(&b.tau1) {
            let x = 0.0f32;
            let s1 = sgn(sign_bit(x - t0));
            let r = (x - s1) - t1;
            out.b1.push(s1);
            out.b2.push(sgn(sign_bit(r)));
            out.abs.push(r.abs());
            out.lead.push((0..pad).fold(0.0f32, |acc, _| acc + r.abs()));
        }
        out
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Layer {
    pub memory: Memory,
    pub expand: Dense,
    pub expand_epi: Epilogue,
    pub project: Dense,
    /// Per path.
    pub project_epi: Vec<Option<Epilogue>>,
}

/// Everything the forward pass needs, in kernel layouts.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub dims: Dims,
    pub conv1_col: Im2Col,
    pub conv1: DenseF,
    pub conv1_epi: Epilogue,
    pub conv2_col: Im2Col,
    pub conv2: Conv2,
    pub fc1: Dense,
    pub fc1_epi: Epilogue,
    pub layers: Vec<Layer>,
    /// `[t * m + c][classes_p]`.
    pub cls_wt: Vec<f32>,
    pub cls_bias: Vec<f32>,
    pub classes_p: usize,
    /// Internal fc1 input index -> canonical (`f * c2 + c` -> `c * h2 + f`).
    pub fc1_canon: Vec<usize>,
}

/// Transposed, padded float weights: `[outs][k]` with input permutation `src(i_internal)`
/// -> `[k][outs_p]`.
fn dense_f(w: &[f32], outs: usize, k: usize, src: impl Fn(usize) -> usize) -> DenseF {
    let outs_p = outs.next_multiple_of(NR);
    let mut wt = vec![0.0; k * outs_p];
    for o in 0..outs {
        for i in 0..k {
            wt[i * outs_p + o] = w[o * k + src(i)];
        }
    }
    DenseF {
        k,
        outs,
        outs_p,
        wt,
    }
}

/// Rows of `outs` x `k` bits from a flat canonical bit stream, with the input permutation
/// `src(i_internal)`, as canonical word rows for [`PreparedBits::new`].
fn permuted_rows(bits: &[u64], outs: usize, k: usize, src: impl Fn(usize) -> usize) -> Vec<u64> {
    let words = words_for(k);
    let mut rows = vec![0u64; outs * words];
    for o in 0..outs {
        for i in 0..k {
            if get_bit(bits, o * k + src(i)) {
                set_bit(&mut rows[o * words..(o + 1) * words], i, true);
            }
        }
    }
    rows
}

fn dense(
    isa: Isa,
    l: &LayerWeights,
    outs: usize,
    k: usize,
    src: impl Fn(usize) -> usize + Copy,
) -> Dense {
    match l {
        LayerWeights::Binary { bits, quant } => Dense::Bin(DenseBin {
            k,
            outs,
            w: PreparedBits::new(isa, &permuted_rows(bits, outs, k, src), outs, k),
            bin: Binariser {
                planes: quant.planes,
                tau0: (0..k).map(|i| quant.tau0[src(i)]).collect(),
                tau1: (0..k).map(|i| quant.tau1[src(i)]).collect(),
            },
        }),
        LayerWeights::Float { weight } => Dense::F(dense_f(weight, outs, k, src)),
    }
}

fn epi(l: &PackedLayer) -> Epilogue {
    Epilogue::new(&l.affine, l.slope)
}

impl Plan {
    /// Build every layout. `model` must have passed validation (the engine checks).
    pub fn new(model: &PackedModel, isa: Isa) -> Plan {
        let d = model.dims;
        let (k1, k2) = (d.hyper.conv1_kernel, d.hyper.conv2_kernel);
        let conv1_col = Im2Col::new(
            d.n_mels,
            d.frames,
            1,
            k1,
            d.hyper.conv1_stride,
            d.hyper.conv1_padding,
            false,
        );
        let conv1_w = match &model.conv1.weights {
            LayerWeights::Float { weight } => weight.as_slice(),
            LayerWeights::Binary { .. } => &[],
        };
        let conv1 = dense_f(conv1_w, d.c1, k1 * k1, |i| i);
        let conv2_col = Im2Col::new(
            d.h1,
            d.w1,
            d.c1,
            k2,
            d.hyper.conv2_stride,
            d.hyper.conv2_padding,
            true,
        );
        let conv2 = conv2_plan(model, isa, &conv2_col);
        // fc1 internal input f * c2 + c reads canonical c * h2 + f.
        let fc1_canon: Vec<usize> = (0..d.fc1_in)
            .map(|i| (i % d.c2) * d.h2 + i / d.c2)
            .collect();
        let fc1 = dense(isa, &model.fc1.weights, d.m, d.fc1_in, |i| fc1_canon[i]);
        let layers = model
            .layers
            .iter()
            .map(|l| layer_plan(&d, isa, l))
            .collect();
        let cin = d.classifier_in();
        // Internal input t * m + c reads canonical c * t_steps + t.
        let cls = dense_f(&model.classifier.weight, d.classes, cin, |i| {
            (i % d.m) * d.t + i / d.m
        });
        Plan {
            dims: d,
            conv1_col,
            conv1,
            conv1_epi: epi(&model.conv1),
            conv2_col,
            conv2,
            fc1,
            fc1_epi: epi(&model.fc1),
            layers,
            classes_p: cls.outs_p,
            cls_wt: cls.wt,
            cls_bias: model.classifier.bias.clone(),
            fc1_canon,
        }
    }
}

/// conv2 in the kernels' layout: masked bit rows, or float weights for a float model.
fn conv2_plan(model: &PackedModel, isa: Isa, conv2_col: &Im2Col) -> Conv2 {
    let d = model.dims;
    let k2 = d.hyper.conv2_kernel;
    let kk = k2 * k2;
    // Internal patch index (ky, kx, c) -> canonical (c, ky, kx).
    let patch_src = move |i: usize| (i % d.c1) * kk + i / d.c1;
    let patch = d.conv2_patch();
    match &model.conv2.weights {
        LayerWeights::Binary { bits, quant } => {
            let rows = permuted_rows(bits, d.c2, patch, patch_src);
            Conv2::Bin(conv2_bin(model, isa, conv2_col, &rows, quant))
        }
        LayerWeights::Float { weight } => {
            Conv2::F(dense_f(weight, d.c2, patch, patch_src), epi(&model.conv2))
        }
    }
}

/// Binary conv2: its weight rows `rows` (internal patch order), the valid-tap masks of every
/// output position, and the per-position shifts that stand for the taps outside the input.
fn conv2_bin(
    model: &PackedModel,
    isa: Isa,
    conv2_col: &Im2Col,
    rows: &[u64],
    quant: &Quant,
) -> Conv2Bin {
    let d = model.dims;
    let patch = d.conv2_patch();
    let p1 = d.h1 * d.w1;
    let p2 = conv2_col.positions;
    // Masks: the valid runs of each position, for both planes.
    let plane_off = p2.next_multiple_of(crate::bitpack::ROW_BLOCK);
    let mut masks = BitRows::new(2 * plane_off, patch);
    for r in &conv2_col.runs {
        for plane in [0, plane_off] {
            let row = masks.row_mut(r.pos as usize + plane);
            for b in r.dst..r.dst + r.len {
                set_bit(row, b as usize, true);
            }
        }
    }
    // Border bias: + scale * sum over taps outside the input of sgn(W) * tau2[c].
    let a = &model.conv2.affine;
    let mut shift = vec![0f32; p2 * d.c2];
    for pos in 0..p2 {
        let row = masks.row(pos);
        for o in 0..d.c2 {
            let mut corr = 0f64;
            for i in 0..patch {
                if !get_bit(row, i) {
                    let sgn = if get_bit(&rows[o * words_for(patch)..], i) {
                        -1.0
                    } else {
                        1.0
                    };
                    corr += sgn * quant.tau2[i % d.c1] as f64;
                }
            }
            shift[pos * d.c2 + o] = (a.shift[o] as f64 + a.scale[o] as f64 * corr) as f32;
        }
    }
    let gather = if let Some(runs) = conv2_col.unit_runs(16) {
        PatchGather::U16(runs)
    } else if let Some(runs) = conv2_col.unit_runs(8) {
        PatchGather::U8(runs)
    } else {
        PatchGather::Bits
    };
    Conv2Bin {
        gather,
        w: PreparedBits::new(isa, rows, d.c2, patch),
        tau0: (0..p1 * d.c1).map(|i| quant.tau0[i % d.c1]).collect(),
        tau1: (0..p1 * d.c1).map(|i| quant.tau1[i % d.c1]).collect(),
        planes: quant.planes,
        scale: a.scale.clone(),
        shift,
        valid: conv2_col.valid.iter().map(|&v| v as f32).collect(),
        masks,
        slope: model.conv2.slope,
    }
}

/// One D-FSMN layer: the memory taps as floats (±1 for a binary block, `[tap][channel]`), the
/// two pointwise products and every path's output affine.
fn layer_plan(d: &Dims, isa: Isa, l: &PackedDfsmn) -> Layer {
    let (taps, bin): (Vec<f32>, _) = match &l.memory.weights {
        LayerWeights::Binary { bits, quant } => (
            (0..d.taps * d.m)
                .map(|i| {
                    let (tap, c) = (i / d.m, i % d.m);
                    if get_bit(bits, c * d.taps + tap) {
                        -1.0
                    } else {
                        1.0
                    }
                })
                .collect(),
            Some(Binariser {
                planes: quant.planes,
                tau0: quant.tau0.clone(),
                tau1: quant.tau1.clone(),
            }),
        ),
        LayerWeights::Float { weight } => (
            (0..d.taps * d.m)
                .map(|i| weight[(i % d.m) * d.taps + i / d.m])
                .collect(),
            None,
        ),
    };
    let pad = bin.as_ref().map(|b| MemoryPad::new(b, (d.taps - 1) / 2));
    Layer {
        memory: Memory {
            taps,
            bin,
            pad,
            epi: epi(&l.memory),
        },
        expand: dense(isa, &l.expand.weights, d.hidden, d.m, |i| i),
        expand_epi: epi(&l.expand),
        project: dense(isa, &l.project.weights, d.m, d.hidden, |i| i),
        project_epi: l
            .project
            .affine
            .iter()
            .zip(&l.project.slope)
            .map(|(a, &s)| a.as_ref().map(|a| Epilogue::new(a, s)))
            .collect(),
    }
}
