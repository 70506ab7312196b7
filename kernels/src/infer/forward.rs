//! The forward pass: preallocated buffers and one function per layer type.

use std::sync::Arc;
use std::time::Instant;

use crate::arch::LayerId;
use crate::bitpack::{BitRows, ROW_BLOCK, binarize_row, get_bit, sign_bit, words_for};
use crate::fp::{FloatMode, depthwise, gemv, prelu, sgemm};
use crate::gemm::{PreparedBits, xor_popcount_masked_rows, xor_popcount_rows};
use crate::weights::Precision;

use super::plan::{Binariser, Conv2, Dense, Epilogue};
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
    src1: Vec<u8>,
    src2: Vec<u8>,
    patch_bytes: Vec<u8>,
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
    d2: Vec<f32>,
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
            src1: vec![0; 8 * words_for(p1 * d.c1)],
            src2: vec![0; 8 * words_for(p1 * d.c1)],
            patch_bytes: vec![0; patches.data().len() * 8],
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
            d2: vec![0.0; d.t * d.m],
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

    fn run<H: LayerHook>(
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
            let y = &self.yf[pos * op..pos * op + d.c1];
            let h = &mut self.h1[pos * d.c1..(pos + 1) * d.c1];
            for c in 0..d.c1 {
                h[c] = prelu(e.scale[c] * y[c] + e.shift[c], e.slope);
            }
        }
    }

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
                if col.byte_aligned() {
                    let rb = self.patches.stride() * 8;
                    for (w, b) in self.h1_b1.iter().zip(self.src1.chunks_exact_mut(8)) {
                        b.copy_from_slice(&w.to_le_bytes());
                    }
                    col.gather_bytes(&self.src1, &mut self.patch_bytes, rb, 0);
                    if two {
                        for (w, b) in self.h1_b2.iter().zip(self.src2.chunks_exact_mut(8)) {
                            b.copy_from_slice(&w.to_le_bytes());
                        }
                        col.gather_bytes(&self.src2, &mut self.patch_bytes, rb, po);
                    }
                    for (w, b) in self
                        .patches
                        .data_mut()
                        .iter_mut()
                        .zip(self.patch_bytes.chunks_exact(8))
                    {
                        *w = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                    }
                } else {
                    let rw = self.patches.stride();
                    col.gather_bits(&self.h1_b1, self.patches.data_mut(), rw, 0);
                    if two {
                        col.gather_bits(&self.h1_b2, self.patches.data_mut(), rw, po);
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
                    let v = c.valid[pos];
                    let z = &mut self.z[pos * d.c2..(pos + 1) * d.c2];
                    let pc1 = &self.pc[pos * op..pos * op + d.c2];
                    let sh = &c.shift[pos * d.c2..(pos + 1) * d.c2];
                    if two {
                        let pc2 = &self.pc[(po + pos) * op..(po + pos) * op + d.c2];
                        for o in 0..d.c2 {
                            let acc = (v - 2.0 * pc1[o] as f32) + s2 * (v - 2.0 * pc2[o] as f32);
                            z[o] = prelu(c.scale[o] * acc + sh[o], c.slope);
                        }
                    } else {
                        for o in 0..d.c2 {
                            z[o] = prelu(c.scale[o] * (v - 2.0 * pc1[o] as f32) + sh[o], c.slope);
                        }
                    }
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
                    let y = &self.yf[pos * w.outs_p..pos * w.outs_p + d.c2];
                    let z = &mut self.z[pos * d.c2..(pos + 1) * d.c2];
                    for o in 0..d.c2 {
                        z[o] = prelu(e.scale[o] * y[o] + e.shift[o], e.slope);
                    }
                }
            }
        }
    }

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
                // ±1 products: exact integer sums, whatever the order.
                depthwise(
                    FloatMode::Exact,
                    &mb.taps,
                    d.taps,
                    &self.b1f,
                    t,
                    m,
                    &mut self.d1,
                );
                let two = b.planes == 2;
                if two {
                    depthwise(
                        FloatMode::Exact,
                        &mb.taps,
                        d.taps,
                        &self.b2f,
                        t,
                        m,
                        &mut self.d2,
                    );
                }
                for tt in 0..t {
                    let r = tt * m..(tt + 1) * m;
                    let (d1, d2, x, out) = (
                        &self.d1[r.clone()],
                        &self.d2[r.clone()],
                        &self.x[r.clone()],
                        &mut self.mem[r],
                    );
                    for c in 0..m {
                        let acc = if two {
                            d1[c] + self.s2m[c] * d2[c]
                        } else {
                            d1[c]
                        };
                        out[c] = prelu(e.scale[c] * acc + e.shift[c], e.slope) + x[c];
                    }
                }
            }
            None => {
                depthwise(engine.mode, &mb.taps, d.taps, &self.xp, t, m, &mut self.d1);
                for c in 0..t * m {
                    let ch = c % m;
                    self.mem[c] =
                        prelu(e.scale[ch] * self.d1[c] + e.shift[ch], e.slope) + self.x[c];
                }
            }
        }
    }
}

/// Memory-block binarisation along time, vectorised across channels: `x` is `[t'][c]`; `s2`
/// per channel is the mean `|r|` over the `steps` rows, summed in row order.
fn binarize_time(
    b: &Binariser,
    x: &[f32],
    steps: usize,
    m: usize,
    b1: &mut [f32],
    b2: &mut [f32],
    s2: &mut [f32],
) {
    s2[..m].fill(0.0);
    for t in 0..steps {
        let r = t * m..(t + 1) * m;
        let (xr, o1, o2) = (&x[r.clone()], &mut b1[r.clone()], &mut b2[r]);
        for c in 0..m {
            let s1 = if sign_bit(xr[c] - b.tau0[c]) {
                -1.0
            } else {
                1.0
            };
            let res = (xr[c] - s1) - b.tau1[c];
            o1[c] = s1;
            o2[c] = if sign_bit(res) { -1.0 } else { 1.0 };
            s2[c] += res.abs();
        }
    }
    for v in &mut s2[..m] {
        *v /= steps as f32;
    }
}

/// A per-time-step binary or float product with its epilogue (fc1, expand, project).
/// `input` is `[t][k]`, `out` is `[t][outs]`; `residual` (same shape as `out`) is added last.
#[allow(clippy::too_many_arguments)]
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
    let add = |i: usize| residual.map_or(0.0, |r| r[i]);
    match layer {
        Dense::Bin(b) => {
            let k = b.k;
            let po = plane_off(t);
            let isa = b.w.isa();
            for tt in 0..t {
                let (r1, r2) = rows.row_pair_mut(tt, po + tt);
                let sum = binarize_row(
                    isa,
                    &input[tt * k..(tt + 1) * k],
                    &b.bin.tau0,
                    &b.bin.tau1,
                    r1,
                    r2,
                );
                s2[tt] = sum / k as f32;
            }
            let two = b.bin.planes == 2;
            let nrows = if two { 2 * po } else { po };
            par_popcount(engine.opts.threads, rows, None, &b.w, nrows, pc);
            let op = b.w.outs_padded();
            let kf = k as f32;
            for tt in 0..t {
                let pc1 = &pc[tt * op..tt * op + b.outs];
                let o = &mut out[tt * b.outs..(tt + 1) * b.outs];
                if two {
                    let pc2 = &pc[(po + tt) * op..(po + tt) * op + b.outs];
                    let s = s2[tt];
                    for c in 0..b.outs {
                        let acc = (kf - 2.0 * pc1[c] as f32) + s * (kf - 2.0 * pc2[c] as f32);
                        o[c] = prelu(e.scale[c] * acc + e.shift[c], e.slope) + add(tt * b.outs + c);
                    }
                } else {
                    for c in 0..b.outs {
                        let acc = kf - 2.0 * pc1[c] as f32;
                        o[c] = prelu(e.scale[c] * acc + e.shift[c], e.slope) + add(tt * b.outs + c);
                    }
                }
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
            for tt in 0..t {
                let y = &yf[tt * w.outs_p..tt * w.outs_p + w.outs];
                let o = &mut out[tt * w.outs..(tt + 1) * w.outs];
                for c in 0..w.outs {
                    o[c] = prelu(e.scale[c] * y[c] + e.shift[c], e.slope) + add(tt * w.outs + c);
                }
            }
        }
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

/// Split `rows` (whole blocks of `block`) into at most `threads` contiguous ranges and run
/// `f(range, out_rows)` on scoped threads (the first on this one).
fn split_rows<T: Send>(
    threads: usize,
    rows: usize,
    block: usize,
    row_len: usize,
    out: &mut [T],
    f: impl Fn(std::ops::Range<usize>, &mut [T]) + Sync,
) {
    let blocks = rows.div_ceil(block);
    let n = threads.min(blocks).max(1);
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
    split_rows(threads, rows, ROW_BLOCK, op, pc, |r, out| match masks {
        Some(m) => xor_popcount_masked_rows(a, m, w, r, out),
        None => xor_popcount_rows(a, w, r, out),
    });
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
    split_rows(threads, rows, 4, op, y, |r, out| {
        let n = r.len();
        sgemm(mode, &x[r.start * k..], n, k, k, wt, op, out)
    });
}
