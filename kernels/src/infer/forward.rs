//! The forward pass: preallocated buffers and one function per layer type. Binary models run
//! the fused pass of [`super::binary`]; this file runs float models (the FP32 baseline) and
//! holds what both share.

use std::sync::Arc;
use std::time::Instant;

use crate::fp::{FloatMode, Rows, depthwise, gemv, prelu, sgemm};
use crate::isa::{Portable, run_portable};
use crate::network::LayerId;
use crate::weights::Precision;

use super::binary::{self, BinState};
use super::plan::{Conv2, Dense, Epilogue};
use super::{Classification, Engine, InferError, LayerBits, LayerHook};

/// Per-clip state and buffers; create one per thread with [`Engine::session`].
pub struct Session {
    engine: Arc<Engine>,
    /// Float models only (empty for binary ones).
    f: FloatBufs,
    /// Binary models only.
    bin: Option<BinState>,
    logits_p: Vec<f32>,
    logits: Vec<f32>,
    features: Vec<f32>,
}

/// The buffers of a float forward pass.
#[derive(Default)]
struct FloatBufs {
    col1: Vec<f32>,
    /// Float product outputs (padded rows), shared by every float layer.
    yf: Vec<f32>,
    h1: Vec<f32>,
    col2: Vec<f32>,
    z: Vec<f32>,
    x: Vec<f32>,
    mem: Vec<f32>,
    u: Vec<f32>,
    xp: Vec<f32>,
    d1: Vec<f32>,
}

impl Session {
    /// Allocate every buffer for `engine`'s model.
    pub fn new(engine: Arc<Engine>) -> Session {
        let p = &engine.plan;
        let d = p.dims;
        let (f, bin) = match engine.precision {
            Precision::Binary => (FloatBufs::default(), Some(BinState::new(p))),
            Precision::Float => {
                let p1 = d.h1 * d.w1;
                let p2 = p.conv2_col.positions;
                let patch = p.conv2_col.patch;
                let widest = [d.c2, d.m, d.hidden, d.c1].into_iter().max().unwrap_or(1);
                let outs_p = widest.next_multiple_of(crate::fp::NR);
                let rows_max = p1.max(p2).max(d.t).next_multiple_of(4);
                let tpad = d.t + d.taps - 1;
                let f = FloatBufs {
                    col1: vec![0.0; p.conv1_col.positions * p.conv1_col.patch],
                    yf: vec![0.0; rows_max * outs_p],
                    h1: vec![0.0; p1 * d.c1],
                    col2: vec![0.0; p2 * patch],
                    z: vec![0.0; d.t * d.fc1_in],
                    x: vec![0.0; d.t * d.m],
                    mem: vec![0.0; d.t * d.m],
                    u: vec![0.0; d.t * d.hidden],
                    xp: vec![0.0; tpad * d.m],
                    d1: vec![0.0; d.t * d.m],
                };
                (f, None)
            }
        };
        Session {
            f,
            bin,
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

    /// The forward pass: checks, then the binary pass of [`super::binary`] or the float one.
    fn run<H: LayerHook>(
        &mut self,
        path: usize,
        features: &[f32],
        hook: &mut H,
        cap: Option<&mut Vec<LayerBits>>,
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
        if let Some(bin) = &mut self.bin {
            return binary::run(binary::Forward {
                state: bin,
                pass: binary::Pass {
                    engine: &engine,
                    layers,
                    path,
                    features,
                    hook,
                    cap,
                },
                logits_p: &mut self.logits_p,
                logits: &mut self.logits,
            });
        }
        // The float pass is compiled once more with AVX2 where the CPU has it (never fused:
        // the kernels it calls choose fusion by `engine.mode` themselves).
        run_portable(
            FloatMode::Exact,
            FloatPass {
                session: self,
                engine: &engine,
                layers,
                path,
                features,
                hook,
            },
        )
    }

    #[inline(always)]
    fn run_float<H: LayerHook>(
        &mut self,
        engine: &Engine,
        layers: &[usize],
        path: usize,
        features: &[f32],
        hook: &mut H,
    ) -> Result<(), InferError> {
        let p = &engine.plan;
        let d = p.dims;
        let mode = engine.mode;
        let threads = engine.opts.threads;
        let f = &mut self.f;
        timed!(hook, LayerId::Conv1, f.conv1(engine, features));
        timed!(hook, LayerId::Conv2, f.conv2(engine));
        timed!(hook, LayerId::Fc1, {
            let step = FloatStep {
                layer: &p.fc1,
                epi: &p.fc1_epi,
                input: &f.z,
                t: d.t,
                residual: None,
            };
            dense(threads, mode, step, &mut f.yf, &mut f.x);
        });
        for &j in layers {
            let l = &p.layers[j];
            timed!(hook, LayerId::Memory(j), f.memory(engine, j));
            timed!(hook, LayerId::Expand(j), {
                let step = FloatStep {
                    layer: &l.expand,
                    epi: &l.expand_epi,
                    input: &f.mem,
                    t: d.t,
                    residual: None,
                };
                dense(threads, mode, step, &mut f.yf, &mut f.u);
            });
            timed!(hook, LayerId::Project(j), {
                let epi = l.project_epi[path].as_ref().ok_or_else(|| {
                    InferError::Model(format!("layer {j} has no output affine for path {path}"))
                })?;
                let step = FloatStep {
                    layer: &l.project,
                    epi,
                    input: &f.u,
                    t: d.t,
                    residual: Some(&f.mem),
                };
                dense(threads, mode, step, &mut f.yf, &mut f.x);
            });
        }
        timed!(hook, LayerId::Classifier, {
            gemv(mode, &f.x, &p.cls_wt, p.classes_p, &mut self.logits_p);
            for (k, l) in self.logits.iter_mut().enumerate() {
                *l = self.logits_p[k] + p.cls_bias[k];
            }
        });
        Ok(())
    }
}

impl FloatBufs {
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
            Rows::dense(&self.col1, col.positions, col.patch),
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
    fn conv2(&mut self, engine: &Engine) {
        let p = &engine.plan;
        let d = p.dims;
        let col = &p.conv2_col;
        let p2 = col.positions;
        let Conv2::F(w, e) = &p.conv2 else {
            return;
        };
        col.gather_f32(&self.h1, &mut self.col2, col.patch);
        par_sgemm(
            engine.opts.threads,
            engine.mode,
            Rows::dense(&self.col2, p2, col.patch),
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

    #[inline(always)]
    fn memory(&mut self, engine: &Engine, j: usize) {
        let p = &engine.plan;
        let d = p.dims;
        let (m, t) = (d.m, d.t);
        let pad = (d.taps - 1) / 2;
        let mb = &p.layers[j].memory;
        // Zero rows stay zero: only the middle is ever written.
        self.xp[pad * m..(pad + t) * m].copy_from_slice(&self.x);
        let e = &mb.epi;
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

/// The float forward pass's arguments, run by [`run_portable`].
struct FloatPass<'a, H> {
    session: &'a mut Session,
    engine: &'a Engine,
    layers: &'a [usize],
    path: usize,
    features: &'a [f32],
    hook: &'a mut H,
}

impl<H: LayerHook> Portable for FloatPass<'_, H> {
    type Out = Result<(), InferError>;
    #[inline(always)]
    fn run<const FUSED: bool>(self) -> Self::Out {
        let FloatPass {
            session,
            engine,
            layers,
            path,
            features,
            hook,
        } = self;
        session.run_float(engine, layers, path, features, hook)
    }
}

/// A per-time-step float product (fc1, expand, project) and its epilogue.
struct FloatStep<'a> {
    layer: &'a Dense,
    epi: &'a Epilogue,
    /// `[t][k]`.
    input: &'a [f32],
    /// Time steps.
    t: usize,
    /// Added last, `[t][outs]`.
    residual: Option<&'a [f32]>,
}

/// A [`FloatStep`] on `threads` with `mode`: the product into `yf`, the epilogue into `out`
/// (`[t][outs]`).
#[inline(always)]
fn dense(threads: usize, mode: FloatMode, step: FloatStep<'_>, yf: &mut [f32], out: &mut [f32]) {
    let FloatStep {
        layer,
        epi: e,
        input,
        t,
        residual,
    } = step;
    let Dense::F(w) = layer else {
        return;
    };
    par_sgemm(
        threads,
        mode,
        Rows::dense(input, t, w.k),
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

/// Products smaller than this many multiply-accumulates (or 64 bit operations for binary
/// products) run on one thread whatever `threads` says.
const PAR_MIN_WORK: usize = 1 << 22;

/// Split `rows` (whole blocks of `block`) into at most `threads` contiguous ranges and run
/// `f(range, out_rows)` on scoped threads (the first on this one); `work` sizes the product.
pub(super) fn split_rows<T: Send>(
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

/// [`sgemm`] of contiguous rows `x`, split by [`split_rows`].
fn par_sgemm(threads: usize, mode: FloatMode, x: Rows<'_>, wt: &[f32], op: usize, y: &mut [f32]) {
    let (rows, k) = (x.rows, x.k);
    split_rows(threads, rows * k * op, rows, 4, op, y, |r, out| {
        let n = r.len();
        sgemm(mode, Rows::dense(&x.data[r.start * k..], n, k), wt, op, out)
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
        sgemm(
            FloatMode::Exact,
            Rows::dense(&x, rows, k),
            &wt,
            op,
            &mut one,
        );
        split_rows(3, usize::MAX, rows, 4, op, &mut many, |r, out| {
            let x = Rows::dense(&x[r.start * k..], r.len(), k);
            sgemm(FloatMode::Exact, x, &wt, op, out)
        });
        assert_eq!(one, many);
    }
}
