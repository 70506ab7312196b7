//! The forward pass: preallocated buffers and one function per layer type.

use std::sync::Arc;
use std::time::Instant;

use crate::arch::LayerId;
use crate::bitpack::{
    BitRows, ROW_BLOCK, binarize_row, binarize_rows, get_bit, sign_bit, words_for,
};
use crate::fp::{FloatMode, depthwise, gemv, prelu, sgemm};
use crate::gemm::{PreparedBits, xor_popcount_masked_rows, xor_popcount_rows};
use crate::weights::Precision;

use super::im2col::gather_runs;
use super::plan::{Binariser, Conv2, Dense, Epilogue, PatchGather};
use super::{Classification, Engine, InferError, LayerBits, LayerHook};

/// Per-clip state and buffers; create one per thread with [`Engine::session`].
pub struct Session {
    engine: Arc<Engine>,
    col1: Vec<f32>,
    /// Float product outputs (padded rows), shared by every float layer.
    yf: Vec<f32>,
    h1: Vec<f32>,
    // conv2, binary
    h1_b1: Vec<u64>,
    h1_b2: Vec<u64>,
    /// conv1 output bits as gather units, and the gathered patch rows (see `PatchGather`).
    src16: Vec<u16>,
    dst16: Vec<u16>,
    src8: Vec<u8>,
    dst8: Vec<u8>,
    patches: BitRows,
    // conv2, float
    col2: Vec<f32>,
    /// Popcount outputs, shared by every binary layer.
    pc: Vec<u32>,
    z: Vec<f32>,
    rows_fc1: BitRows,
    rows_m: BitRows,
    rows_h: BitRows,
    s2: Vec<f32>,
    x: Vec<f32>,
    mem: Vec<f32>,
    u: Vec<f32>,
    xp: Vec<f32>,
    b1f: Vec<f32>,
    b2f: Vec<f32>,
    d1: Vec<f32>,
    s2m: Vec<f32>,
    logits_p: Vec<f32>,
    logits: Vec<f32>,
    features: Vec<f32>,
}

/// Rows of plane 1 occupy `0..t`, plane 2 `plane_off..plane_off + t` (whole blocks each).
fn plane_off(rows: usize) -> usize {
    rows.next_multiple_of(ROW_BLOCK)
}

macro_rules! timed {
    ($hook:expr, $id:expr, $body:expr) => {{
        let t0 = if H::ENABLED {
            Some(Instant::now())
        } else {
            None
        };
        let r = $body;
        if let Some(t0) = t0 {
            $hook.layer_done($id, t0.elapsed());
        }
        r
    }};
}

impl Session {
    /// Allocate every buffer for `engine`'s model.
    pub fn new(engine: Arc<Engine>) -> Session {
        let p = &engine.plan;
        let d = p.dims;
        let p1 = d.h1 * d.w1;
        let p2 = p.conv2_col.positions;
        let patch = p.conv2_col.patch;
        let po = plane_off(p2);
        let patches = BitRows::new(2 * po, patch);
        let tpo = plane_off(d.t);
        let widest = [d.c2, d.m, d.hidden, d.c1].into_iter().max().unwrap_or(1);
        let outs_p = widest
            .next_multiple_of(crate::fp::NR)
            .max(crate::gemm::OUT_BLOCK);
        let rows_max = (2 * po).max(2 * tpo).max(p1);
        let tpad = d.t + d.taps - 1;
        Session {
            col1: vec![0.0; p.conv1_col.positions * p.conv1_col.patch],
            yf: vec![0.0; rows_max * outs_p],
            h1: vec![0.0; p1 * d.c1],
            h1_b1: vec![0; words_for(p1 * d.c1)],
            h1_b2: vec![0; words_for(p1 * d.c1)],
            src16: vec![0; 4 * words_for(p1 * d.c1)],
            dst16: vec![0; patches.data().len() * 4],
            src8: vec![0; 8 * words_for(p1 * d.c1)],
            dst8: vec![0; patches.data().len() * 8],
            patches,
            col2: if matches!(p.conv2, Conv2::F(..)) {
                vec![0.0; p2 * patch]
            } else {
                Vec::new()
            },
            pc: vec![0; rows_max * outs_p],
            z: vec![0.0; d.t * d.fc1_in],
            rows_fc1: BitRows::new(2 * tpo, d.fc1_in),
            rows_m: BitRows::new(2 * tpo, d.m),
            rows_h: BitRows::new(2 * tpo, d.hidden),
            s2: vec![0.0; d.t],
            x: vec![0.0; d.t * d.m],
            mem: vec![0.0; d.t * d.m],
            u: vec![0.0; d.t * d.hidden],
            xp: vec![0.0; tpad * d.m],
            b1f: vec![0.0; tpad * d.m],
            b2f: vec![0.0; tpad * d.m],
            d1: vec![0.0; d.t * d.m],
            s2m: vec![0.0; d.m],
            logits_p: vec![0.0; p.classes_p],
            logits: vec![0.0; d.classes],
            features: vec![0.0; d.input_len()],
            engine,
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Logits of one clip's features (`[mel][frame]`, [`Engine::input_len`] values) on `path`.
    pub fn forward(&mut self, path: usize, features: &[f32]) -> Result<&[f32], InferError> {
        self.run(path, features, &mut (), None)?;
        Ok(&self.logits)
    }

    /// As [`Session::forward`], reporting each layer's latency to `hook`.
    pub fn forward_hooked<H: LayerHook>(
        &mut self,
        path: usize,
        features: &[f32],
        hook: &mut H,
    ) -> Result<&[f32], InferError> {
        self.run(path, features, hook, None)?;
        Ok(&self.logits)
    }

    /// The activation planes at the input of every binary layer the path runs, in order.
    pub fn layer_bits(
        &mut self,
        path: usize,
        features: &[f32],
    ) -> Result<Vec<LayerBits>, InferError> {
        if self.engine.precision != Precision::Binary {
            return Err(InferError::NotBinary);
        }
        let mut cap = Vec::new();
        self.run(path, features, &mut (), Some(&mut cap))?;
        Ok(cap)
    }

    /// The log-mel features of a clip (padded or cropped to the model's clip length).
    pub fn features(&mut self, samples: &[f32]) -> &[f32] {
        self.engine.logmel.compute_into(samples, &mut self.features);
        &self.features
    }

    /// Features, forward and softmax of one clip of samples in `[-1, 1]`.
    pub fn classify(&mut self, path: usize, samples: &[f32]) -> Result<Classification, InferError> {
        self.engine.logmel.compute_into(samples, &mut self.features);
        let feats = std::mem::take(&mut self.features);
        let r = self.run(path, &feats, &mut (), None);
        self.features = feats;
        r?;
        let logits = self.logits.clone();
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
        let sum: f32 = exp.iter().sum();
        let probabilities: Vec<f32> = exp.iter().map(|e| e / sum).collect();
        let index = logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        Ok(Classification {
            index,
            label: self.engine.labels.get(index).cloned().unwrap_or_default(),
            logits,
            probabilities,
        })
    }

    /// The forward pass. On x86-64 with AVX2 the whole pass (its float loops, epilogues and
    /// gathers) is compiled a second time with AVX2 enabled; without FMA the results are the
    /// same bits, only wider vectors.
    fn run<H: LayerHook>(
        &mut self,
        path: usize,
        features: &[f32],
        hook: &mut H,
        cap: Option<&mut Vec<LayerBits>>,
    ) -> Result<(), InferError> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            return unsafe { self.run_avx2(path, features, hook, cap) };
        }
        self.run_body(path, features, hook, cap)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn run_avx2<H: LayerHook>(
        &mut self,
        path: usize,
        features: &[f32],
        hook: &mut H,
        cap: Option<&mut Vec<LayerBits>>,
    ) -> Result<(), InferError> {
        self.run_body(path, features, hook, cap)
    }

    #[inline(always)]
    fn run_body<H: LayerHook>(
        &mut self,
        path: usize,
        features: &[f32],
        hook: &mut H,
        mut cap: Option<&mut Vec<LayerBits>>,
    ) -> Result<(), InferError> {
        let engine = Arc::clone(&self.engine);
        let layers = engine.path_layers(path)?;
        let p = &engine.plan;
        if features.len() != p.dims.input_len() {
            return Err(InferError::BadInput {
                what: "log-mel feature values",
                expected: p.dims.input_len(),
                got: features.len(),
            });
        }
        timed!(hook, LayerId::Conv1, self.conv1(&engine, features));
        timed!(
            hook,
            LayerId::Conv2,
            self.conv2(&engine, cap.as_deref_mut())
        );
        timed!(hook, LayerId::Fc1, {
            let d = p.dims;
            let rows = &mut self.rows_fc1;
            dense(
                &engine,
                &p.fc1,
                &p.fc1_epi,
                &self.z,
                d.t,
                rows,
                &mut self.pc,
                &mut self.yf,
                &mut self.s2,
                &mut self.x,
                None,
            );
            if let Some(cap) = cap.as_deref_mut()
                && let Dense::Bin(b) = &p.fc1
            {
                cap.push(rows_bits(
                    LayerId::Fc1,
                    rows,
                    d.t,
                    b.bin.planes,
                    &self.s2,
                    Some(&p.fc1_canon),
                ));
            }
        });
        for &j in layers {
            let l = &p.layers[j];
            let d = p.dims;
            timed!(
                hook,
                LayerId::Memory(j),
                self.memory(&engine, j, cap.as_deref_mut())
            );
            timed!(hook, LayerId::Expand(j), {
                dense(
                    &engine,
                    &l.expand,
                    &l.expand_epi,
                    &self.mem,
                    d.t,
                    &mut self.rows_m,
                    &mut self.pc,
                    &mut self.yf,
                    &mut self.s2,
                    &mut self.u,
                    None,
                );
                if let Some(cap) = cap.as_deref_mut()
                    && let Dense::Bin(b) = &l.expand
                {
                    cap.push(rows_bits(
                        LayerId::Expand(j),
                        &self.rows_m,
                        d.t,
                        b.bin.planes,
                        &self.s2,
                        None,
                    ));
                }
            });
            timed!(hook, LayerId::Project(j), {
                let epi = l.project_epi[path].as_ref().ok_or_else(|| {
                    InferError::Model(format!("layer {j} has no output affine for path {path}"))
                })?;
                dense(
                    &engine,
                    &l.project,
                    epi,
                    &self.u,
                    d.t,
                    &mut self.rows_h,
                    &mut self.pc,
                    &mut self.yf,
                    &mut self.s2,
                    &mut self.x,
                    Some(&self.mem),
                );
                if let Some(cap) = cap.as_deref_mut()
                    && let Dense::Bin(b) = &l.project
                {
                    cap.push(rows_bits(
                        LayerId::Project(j),
                        &self.rows_h,
                        d.t,
                        b.bin.planes,
                        &self.s2,
                        None,
                    ));
                }
            });
        }
        timed!(hook, LayerId::Classifier, {
            gemv(
                engine.mode,
                &self.x,
                &p.cls_wt,
                p.classes_p,
                &mut self.logits_p,
            );
            for (k, l) in self.logits.iter_mut().enumerate() {
                *l = self.logits_p[k] + p.cls_bias[k];
            }
        });
        Ok(())
    }

    #[inline(always)]
    fn conv1(&mut self, engine: &Engine, features: &[f32]) {
        let p = &engine.plan;
        let d = p.dims;
        let col = &p.conv1_col;
        col.gather_f32(features, &mut self.col1, col.patch);
        let op = p.conv1.outs_p;
        par_sgemm(
            engine.opts.threads,
            engine.mode,
            &self.col1,
            col.positions,
            col.patch,
            &p.conv1.wt,
            op,
            &mut self.yf,
        );
        let e = &p.conv1_epi;
        for pos in 0..col.positions {
            float_epilogue(
                &mut self.h1[pos * d.c1..(pos + 1) * d.c1],
                &self.yf[pos * op..],
                e,
                None,
            );
        }
    }

    #[inline(always)]
    fn conv2(&mut self, engine: &Engine, cap: Option<&mut Vec<LayerBits>>) {
        let p = &engine.plan;
        let d = p.dims;
        let col = &p.conv2_col;
        let p2 = col.positions;
        match &p.conv2 {
            Conv2::Bin(c) => {
                let isa = c.w.isa();
                let n1 = d.h1 * d.w1 * d.c1;
                let total = binarize_row(
                    isa,
                    &self.h1,
                    &c.tau0,
                    &c.tau1,
                    &mut self.h1_b1,
                    &mut self.h1_b2,
                );
                let s2 = total / n1 as f32;
                if let Some(cap) = cap {
                    let p1 = d.h1 * d.w1;
                    let bits = |w: &[u64]| {
                        (0..d.c1 * p1)
                            .map(|i| get_bit(w, (i % p1) * d.c1 + i / p1))
                            .collect()
                    };
                    cap.push(LayerBits {
                        layer: LayerId::Conv2,
                        channels: d.c1,
                        positions: p1,
                        planes: c.planes,
                        b1: bits(&self.h1_b1),
                        b2: bits(&self.h1_b2),
                        s2: vec![s2],
                    });
                }
                let po = plane_off(p2);
                let two = c.planes == 2;
                let planes: &[(&[u64], usize)] = if two {
                    &[(&self.h1_b1, 0), (&self.h1_b2, po)]
                } else {
                    &[(&self.h1_b1, 0)]
                };
                let stride = self.patches.stride();
                match &c.gather {
                    PatchGather::U16(runs) => {
                        for &(bits, off) in planes {
                            words_to_units(bits, &mut self.src16);
                            gather_runs(runs, &self.src16, &mut self.dst16, stride * 4, off);
                        }
                        units_to_words(&self.dst16, self.patches.data_mut());
                    }
                    PatchGather::U8(runs) => {
                        for &(bits, off) in planes {
                            words_to_units(bits, &mut self.src8);
                            gather_runs(runs, &self.src8, &mut self.dst8, stride * 8, off);
                        }
                        units_to_words(&self.dst8, self.patches.data_mut());
                    }
                    PatchGather::Bits => {
                        for &(bits, off) in planes {
                            col.gather_bits(bits, self.patches.data_mut(), stride, off);
                        }
                    }
                }
                let rows = if two { 2 * po } else { po };
                let op = c.w.outs_padded();
                par_popcount(
                    engine.opts.threads,
                    &self.patches,
                    Some(&c.masks),
                    &c.w,
                    rows,
                    &mut self.pc,
                );
                for pos in 0..p2 {
                    let pc2 = two.then(|| &self.pc[(po + pos) * op..]);
                    bin_epilogue(
                        &mut self.z[pos * d.c2..(pos + 1) * d.c2],
                        &self.pc[pos * op..],
                        pc2,
                        s2,
                        c.valid[pos],
                        &c.scale,
                        &c.shift[pos * d.c2..],
                        c.slope,
                        None,
                    );
                }
            }
            Conv2::F(w, e) => {
                col.gather_f32(&self.h1, &mut self.col2, col.patch);
                par_sgemm(
                    engine.opts.threads,
                    engine.mode,
                    &self.col2,
                    p2,
                    col.patch,
                    &w.wt,
                    w.outs_p,
                    &mut self.yf,
                );
                for pos in 0..p2 {
                    float_epilogue(
                        &mut self.z[pos * d.c2..(pos + 1) * d.c2],
                        &self.yf[pos * w.outs_p..],
                        e,
                        None,
                    );
                }
            }
        }
    }

    #[inline(always)]
    fn memory(&mut self, engine: &Engine, j: usize, cap: Option<&mut Vec<LayerBits>>) {
        let p = &engine.plan;
        let d = p.dims;
        let (m, t) = (d.m, d.t);
        let pad = (d.taps - 1) / 2;
        let tpad = t + d.taps - 1;
        let mb = &p.layers[j].memory;
        // Zero rows stay zero: only the middle is ever written.
        self.xp[pad * m..(pad + t) * m].copy_from_slice(&self.x);
        let e = &mb.epi;
        match &mb.bin {
            Some(b) => {
                binarize_time(
                    b,
                    &self.xp,
                    tpad,
                    m,
                    &mut self.b1f,
                    &mut self.b2f,
                    &mut self.s2m,
                );
                if let Some(cap) = cap {
                    let bits = |f: &[f32]| {
                        (0..m * tpad)
                            .map(|i| f[(i % tpad) * m + i / tpad] < 0.0)
                            .collect()
                    };
                    cap.push(LayerBits {
                        layer: LayerId::Memory(j),
                        channels: m,
                        positions: tpad,
                        planes: b.planes,
                        b1: bits(&self.b1f),
                        b2: bits(&self.b2f),
                        s2: self.s2m.clone(),
                    });
                }
                memory_fused(
                    &mb.taps,
                    d.taps,
                    &self.b1f,
                    (b.planes == 2).then_some((&self.b2f[..], &self.s2m[..])),
                    e,
                    &self.x,
                    &mut self.mem,
                    t,
                    m,
                );
            }
            None => {
                depthwise(engine.mode, &mb.taps, d.taps, &self.xp, t, m, &mut self.d1);
                for tt in 0..t {
                    let r = tt * m..(tt + 1) * m;
                    float_epilogue(
                        &mut self.mem[r.clone()],
                        &self.d1[r.clone()],
                        e,
                        Some(&self.x[r]),
                    );
                }
            }
        }
    }
}

/// Memory-block binarisation along time, vectorised across channels: `x` is `[t'][c]`; `s2`
/// per channel is the mean `|r|` over the `steps` rows, summed in row order.
#[inline(always)]
fn binarize_time(
    b: &Binariser,
    x: &[f32],
    steps: usize,
    m: usize,
    b1: &mut [f32],
    b2: &mut [f32],
    s2: &mut [f32],
) {
    let (tau0, tau1, s2) = (&b.tau0[..m], &b.tau1[..m], &mut s2[..m]);
    s2.fill(0.0);
    for t in 0..steps {
        let r = t * m..(t + 1) * m;
        let (xr, o1, o2) = (&x[r.clone()], &mut b1[r.clone()], &mut b2[r]);
        for c in 0..m {
            let s1 = if sign_bit(xr[c] - tau0[c]) { -1.0 } else { 1.0 };
            let res = (xr[c] - s1) - tau1[c];
            o1[c] = s1;
            o2[c] = if sign_bit(res) { -1.0 } else { 1.0 };
            s2[c] += res.abs();
        }
    }
    for v in s2.iter_mut() {
        *v /= steps as f32;
    }
}

/// A per-time-step binary or float product with its epilogue (fc1, expand, project).
/// `input` is `[t][k]`, `out` is `[t][outs]`; `residual` (same shape as `out`) is added last.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn dense(
    engine: &Engine,
    layer: &Dense,
    e: &Epilogue,
    input: &[f32],
    t: usize,
    rows: &mut BitRows,
    pc: &mut [u32],
    yf: &mut [f32],
    s2: &mut [f32],
    out: &mut [f32],
    residual: Option<&[f32]>,
) {
    match layer {
        Dense::Bin(b) => {
            let k = b.k;
            let po = plane_off(t);
            let isa = b.w.isa();
            binarize_rows(isa, input, &b.bin.tau0, &b.bin.tau1, rows, po, &mut s2[..t]);
            let two = b.bin.planes == 2;
            let nrows = if two { 2 * po } else { po };
            par_popcount(engine.opts.threads, rows, None, &b.w, nrows, pc);
            let op = b.w.outs_padded();
            let n = b.outs;
            for tt in 0..t {
                bin_epilogue(
                    &mut out[tt * n..(tt + 1) * n],
                    &pc[tt * op..],
                    two.then(|| &pc[(po + tt) * op..]),
                    s2[tt],
                    k as f32,
                    &e.scale,
                    &e.shift,
                    e.slope,
                    residual.map(|r| &r[tt * n..]),
                );
            }
        }
        Dense::F(w) => {
            par_sgemm(
                engine.opts.threads,
                engine.mode,
                input,
                t,
                w.k,
                &w.wt,
                w.outs_p,
                yf,
            );
            let n = w.outs;
            for tt in 0..t {
                float_epilogue(
                    &mut out[tt * n..(tt + 1) * n],
                    &yf[tt * w.outs_p..],
                    e,
                    residual.map(|r| &r[tt * n..]),
                );
            }
        }
    }
}

/// `out[c] = prelu(scale[c] * acc[c] + shift[c]) (+ residual[c])` with the binary
/// accumulator `acc = (valid - 2 pc1) + s2 (valid - 2 pc2)` (plane 2 optional). Every slice is
/// cut to `out.len()` first so that the loop has no bounds checks and vectorises.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn bin_epilogue(
    out: &mut [f32],
    pc1: &[u32],
    pc2: Option<&[u32]>,
    s2: f32,
    valid: f32,
    scale: &[f32],
    shift: &[f32],
    slope: f32,
    residual: Option<&[f32]>,
) {
    let n = out.len();
    let (pc1, scale, shift) = (&pc1[..n], &scale[..n], &shift[..n]);
    match pc2 {
        Some(pc2) => {
            let pc2 = &pc2[..n];
            for c in 0..n {
                let acc = (valid - 2.0 * pc1[c] as i32 as f32)
                    + s2 * (valid - 2.0 * pc2[c] as i32 as f32);
                out[c] = prelu(scale[c] * acc + shift[c], slope);
            }
        }
        None => {
            for c in 0..n {
                out[c] = prelu(
                    scale[c] * (valid - 2.0 * pc1[c] as i32 as f32) + shift[c],
                    slope,
                );
            }
        }
    }
    if let Some(r) = residual {
        for (o, r) in out.iter_mut().zip(&r[..n]) {
            *o += r;
        }
    }
}

/// `out[c] = prelu(scale[c] * y[c] + shift[c]) (+ residual[c])`.
#[inline(always)]
fn float_epilogue(out: &mut [f32], y: &[f32], e: &Epilogue, residual: Option<&[f32]>) {
    let n = out.len();
    let (y, scale, shift) = (&y[..n], &e.scale[..n], &e.shift[..n]);
    for c in 0..n {
        out[c] = prelu(scale[c] * y[c] + shift[c], e.slope);
    }
    if let Some(r) = residual {
        for (o, r) in out.iter_mut().zip(&r[..n]) {
            *o += r;
        }
    }
}

/// The binary memory block after binarisation, in one pass: per time step and 16 channels at a
/// time, `d_i = sum_tap sgn(W)[tap][c] * b_i[t + tap][c]` (exact: sums of ±1), then
/// `prelu(scale * (d1 + s2 * d2) + shift) + x`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn memory_fused(
    w: &[f32],
    taps: usize,
    b1: &[f32],
    plane2: Option<(&[f32], &[f32])>,
    e: &Epilogue,
    x: &[f32],
    out: &mut [f32],
    t: usize,
    m: usize,
) {
    const L: usize = crate::fp::NR;
    let (scale, shift) = (&e.scale[..m], &e.shift[..m]);
    let one = |c: usize, tt: usize| {
        let mut d1 = 0f32;
        let mut d2 = 0f32;
        for tap in 0..taps {
            d1 += w[tap * m + c] * b1[(tt + tap) * m + c];
            if let Some((b2, _)) = plane2 {
                d2 += w[tap * m + c] * b2[(tt + tap) * m + c];
            }
        }
        let acc = plane2.map_or(d1, |(_, s2)| d1 + s2[c] * d2);
        prelu(scale[c] * acc + shift[c], e.slope) + x[tt * m + c]
    };
    for tt in 0..t {
        let mut c = 0;
        while c + L <= m {
            let mut d1 = [0f32; L];
            let mut d2 = [0f32; L];
            for tap in 0..taps {
                let wr = &w[tap * m + c..tap * m + c + L];
                let r1 = &b1[(tt + tap) * m + c..(tt + tap) * m + c + L];
                for l in 0..L {
                    d1[l] += wr[l] * r1[l];
                }
                if let Some((b2, _)) = plane2 {
                    let r2 = &b2[(tt + tap) * m + c..(tt + tap) * m + c + L];
                    for l in 0..L {
                        d2[l] += wr[l] * r2[l];
                    }
                }
            }
            let o = &mut out[tt * m + c..tt * m + c + L];
            let xr = &x[tt * m + c..tt * m + c + L];
            let (sc, sh) = (&scale[c..c + L], &shift[c..c + L]);
            match plane2 {
                Some((_, s2)) => {
                    let s2 = &s2[c..c + L];
                    for l in 0..L {
                        o[l] = prelu(sc[l] * (d1[l] + s2[l] * d2[l]) + sh[l], e.slope) + xr[l];
                    }
                }
                None => {
                    for l in 0..L {
                        o[l] = prelu(sc[l] * d1[l] + sh[l], e.slope) + xr[l];
                    }
                }
            }
            c += L;
        }
        for c in c..m {
            out[tt * m + c] = one(c, tt);
        }
    }
}

/// Little-endian split of bit words into 8- or 16-bit units (unit `j` of a word holds its bits
/// `j * BITS ..`), and back.
trait Unit: Copy + Default {
    const BITS: usize;
    fn of(word: u64, j: usize) -> Self;
    fn bits(self) -> u64;
}

impl Unit for u8 {
    const BITS: usize = 8;
    fn of(word: u64, j: usize) -> Self {
        (word >> (8 * j)) as u8
    }
    fn bits(self) -> u64 {
        self as u64
    }
}

impl Unit for u16 {
    const BITS: usize = 16;
    fn of(word: u64, j: usize) -> Self {
        (word >> (16 * j)) as u16
    }
    fn bits(self) -> u64 {
        self as u64
    }
}

#[inline(always)]
fn words_to_units<T: Unit>(words: &[u64], units: &mut [T]) {
    for (w, u) in words.iter().zip(units.chunks_exact_mut(64 / T::BITS)) {
        for (j, u) in u.iter_mut().enumerate() {
            *u = T::of(*w, j);
        }
    }
}

#[inline(always)]
fn units_to_words<T: Unit>(units: &[T], words: &mut [u64]) {
    for (w, u) in words.iter_mut().zip(units.chunks_exact(64 / T::BITS)) {
        *w = u
            .iter()
            .enumerate()
            .fold(0, |acc, (j, u)| acc | (u.bits() << (T::BITS * j)));
    }
}

/// The planes of a `[t]`-row bit block as [`LayerBits`] (`canon` maps internal to canonical
/// channel order).
fn rows_bits(
    layer: LayerId,
    rows: &BitRows,
    t: usize,
    planes: u8,
    s2: &[f32],
    canon: Option<&[usize]>,
) -> LayerBits {
    let k = rows.bits();
    let po = plane_off(t);
    let mut b1 = vec![false; k * t];
    let mut b2 = vec![false; k * t];
    for tt in 0..t {
        for i in 0..k {
            let c = canon.map_or(i, |m| m[i]);
            b1[c * t + tt] = get_bit(rows.row(tt), i);
            b2[c * t + tt] = get_bit(rows.row(po + tt), i);
        }
    }
    LayerBits {
        layer,
        channels: k,
        positions: t,
        planes,
        b1,
        b2,
        s2: s2[..t].to_vec(),
    }
}

/// Products smaller than this many multiply-accumulates (or 64 bit operations for binary
/// products) run on one thread whatever `threads` says.
const PAR_MIN_WORK: usize = 1 << 22;

/// Split `rows` (whole blocks of `block`) into at most `threads` contiguous ranges and run
/// `f(range, out_rows)` on scoped threads (the first on this one); `work` sizes the product.
fn split_rows<T: Send>(
    threads: usize,
    work: usize,
    rows: usize,
    block: usize,
    row_len: usize,
    out: &mut [T],
    f: impl Fn(std::ops::Range<usize>, &mut [T]) + Sync,
) {
    let blocks = rows.div_ceil(block);
    // A scoped thread costs tens of microseconds to start: only products far bigger than that
    // are split (none of the paper-sized model's are).
    let n = if work < PAR_MIN_WORK {
        1
    } else {
        threads.min(blocks).max(1)
    };
    if n == 1 {
        f(0..rows, &mut out[..rows * row_len]);
        return;
    }
    let per = blocks.div_ceil(n) * block;
    std::thread::scope(|s| {
        let mut rest = &mut out[..rows * row_len];
        let mut start = 0;
        let f = &f;
        while start < rows {
            let end = (start + per).min(rows);
            let (head, tail) = rest.split_at_mut((end - start) * row_len);
            rest = tail;
            if end == rows {
                f(start..end, head);
            } else {
                s.spawn(move || f(start..end, head));
            }
            start = end;
        }
    });
}

fn par_popcount(
    threads: usize,
    a: &BitRows,
    masks: Option<&BitRows>,
    w: &PreparedBits,
    rows: usize,
    pc: &mut [u32],
) {
    let op = w.outs_padded();
    let work = rows * op * w.bits() / 64;
    split_rows(
        threads,
        work,
        rows,
        ROW_BLOCK,
        op,
        pc,
        |r, out| match masks {
            Some(m) => xor_popcount_masked_rows(a, m, w, r, out),
            None => xor_popcount_rows(a, w, r, out),
        },
    );
}

#[allow(clippy::too_many_arguments)]
fn par_sgemm(
    threads: usize,
    mode: FloatMode,
    x: &[f32],
    rows: usize,
    k: usize,
    wt: &[f32],
    op: usize,
    y: &mut [f32],
) {
    split_rows(threads, rows * k * op, rows, 4, op, y, |r, out| {
        let n = r.len();
        sgemm(mode, &x[r.start * k..], n, k, k, wt, op, out)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_rows_covers_every_row_once_in_blocks() {
        for (threads, rows, block) in [
            (1, 8, 4),
            (2, 8, 4),
            (3, 16, 4),
            (4, 12, 4),
            (8, 4, 4),
            (3, 10, 1),
        ] {
            let mut out = vec![0usize; rows * 3];
            split_rows(threads, usize::MAX, rows, block, 3, &mut out, |r, o| {
                assert!(r.start % block == 0, "ranges start on a block");
                assert_eq!(o.len(), r.len() * 3);
                for (i, row) in r.clone().enumerate() {
                    for v in &mut o[i * 3..(i + 1) * 3] {
                        *v += row + 1;
                    }
                }
            });
            let want: Vec<usize> = (0..rows).flat_map(|r| [r + 1; 3]).collect();
            assert_eq!(out, want, "{threads} threads, {rows} rows");
        }
    }

    #[test]
    fn threaded_products_equal_single_threaded_ones() {
        let mut g = crate::synth::SplitMix64::new(4);
        let (rows, k, op) = (64, 300, 32);
        let x = g.vec(rows * k, -1.0, 1.0);
        let wt = g.vec(k * op, -1.0, 1.0);
        let mut one = vec![0.0; rows * op];
        let mut many = vec![0.0; rows * op];
        sgemm(FloatMode::Exact, &x, rows, k, k, &wt, op, &mut one);
        split_rows(3, usize::MAX, rows, 4, op, &mut many, |r, out| {
            sgemm(
                FloatMode::Exact,
                &x[r.start * k..],
                r.len(),
                k,
                k,
                &wt,
                op,
                out,
            )
        });
        assert_eq!(one, many);
    }
}
