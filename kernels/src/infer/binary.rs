//! The binary model's forward pass, with the float work fused around the popcounts.
//!
//! Every layer's epilogue (`prelu(scale * acc + shift)`, plus the residual) also *binarises its
//! output for the next binary layer* while the values are in registers: it writes the two bit
//! planes (or, for the memory block, the ±1 planes along time) and accumulates the `|r|` sums
//! of `s2`. No float activation is written unless a later layer reads it as a float (the
//! D-FSMN state `x`, used by the memory block's residual and the classifier, and the memory
//! output `m`, the project's residual), and no buffer is read twice:
//!
//! ```text
//! conv1 (direct, register-blocked) -> epilogue -> conv2's planes + sum |r|
//! conv2 patches -> masked popcount -> epilogue -> fc1's planes + s2 per time step
//! fc1 popcount -> epilogue -> x, memory planes (±1 along time) + sum |r| per channel
//! per layer: memory (depthwise on ±1) -> epilogue (+ x) -> m, expand's planes + s2
//!            expand popcount -> epilogue -> project's planes + s2
//!            project popcount -> epilogue (+ m) -> x, next memory's planes + sum |r|
//! classifier (float)
//! ```
//!
//! The arithmetic is exactly the unfused definition, operation for operation (separate
//! multiply and add, the `s2` sums in the canonical 8-lane order of [`crate::bitpack`]), so the
//! logits are the same bits as binarising each layer's stored output, on every backend of
//! [`Simd`].

use std::time::Instant;

use crate::arch::LayerId;
use crate::bitpack::{BitRows, ROW_BLOCK, get_bit, reduce8, sign_bit, words_for};
use crate::fp::{FloatMode, gemv, prelu};
use crate::gemm::{PreparedBits, xor_popcount_masked_rows, xor_popcount_rows};
use crate::isa::{Simd, SimdTask, run_simd};

use super::forward::split_rows;
use super::im2col::gather_runs;
use super::plan::{
    Binariser, Conv2, Conv2Bin, Dense, DenseBin, Epilogue, Memory, PatchGather, Plan,
};
use super::{Engine, InferError, LayerBits, LayerHook};

/// Rows of plane 1 occupy `0..n`, plane 2 `plane_off(n)..` (whole blocks each).
pub(super) fn plane_off(rows: usize) -> usize {
    rows.next_multiple_of(ROW_BLOCK)
}

/// Every buffer of a binary forward pass.
#[derive(Debug)]
pub(crate) struct BinState {
    /// conv1's input with its zero padding (`(n_mels + 2p) x (frames + 2p)`).
    xpad: Vec<f32>,
    /// conv1 accumulators of one register block (`[position][channel]`).
    ybuf: Vec<f32>,
    /// `sum |r|` of conv1's output (conv2's `s2` times the input size).
    conv1_total: f32,
    /// conv1 output planes, bit `pos * c1 + c`.
    h1_b1: Vec<u64>,
    h1_b2: Vec<u64>,
    /// conv1 output bits as gather units, and the gathered patch rows (see `PatchGather`).
    src16: Vec<u16>,
    dst16: Vec<u16>,
    src8: Vec<u8>,
    dst8: Vec<u8>,
    patches: BitRows,
    /// Popcount outputs, shared by every binary layer.
    pc: Vec<u32>,
    rows_fc1: BitRows,
    rows_m: BitRows,
    rows_h: BitRows,
    /// `s2` of the fc1, expand and project inputs, per time step.
    s2_fc1: Vec<f32>,
    s2_m: Vec<f32>,
    s2_h: Vec<f32>,
    /// D-FSMN state and memory output, `[t][m]`.
    pub(super) x: Vec<f32>,
    mem: Vec<f32>,
    /// The memory block's planes as ±1, `[t + taps - 1][m]`, and `s2` per channel.
    b1f: Vec<f32>,
    b2f: Vec<f32>,
    s2m: Vec<f32>,
}

impl BinState {
    pub(super) fn new(p: &Plan) -> BinState {
        let d = p.dims;
        let p1 = d.h1 * d.w1;
        let p2 = p.conv2_col.positions;
        let patch = p.conv2_col.patch;
        let po = plane_off(p2);
        let patches = BitRows::new(2 * po, patch);
        let tpo = plane_off(d.t);
        let widest = [d.c2, d.m, d.hidden].into_iter().max().unwrap_or(1);
        let outs_p = widest.next_multiple_of(crate::gemm::OUT_BLOCK);
        let rows_max = (2 * po).max(2 * tpo);
        let tpad = d.t + d.taps - 1;
        let pad1 = 2 * d.hyper.conv1_padding;
        BinState {
            xpad: vec![0.0; (d.n_mels + pad1) * (d.frames + pad1)],
            ybuf: vec![0.0; CONV1_BLOCK * p.conv1.outs_p],
            conv1_total: 0.0,
            h1_b1: vec![0; words_for(p1 * d.c1)],
            h1_b2: vec![0; words_for(p1 * d.c1)],
            src16: vec![0; 4 * words_for(p1 * d.c1)],
            dst16: vec![0; patches.data().len() * 4],
            src8: vec![0; 8 * words_for(p1 * d.c1)],
            dst8: vec![0; patches.data().len() * 8],
            patches,
            pc: vec![0; rows_max * outs_p],
            rows_fc1: BitRows::new(2 * tpo, d.fc1_in),
            rows_m: BitRows::new(2 * tpo, d.m),
            rows_h: BitRows::new(2 * tpo, d.hidden),
            s2_fc1: vec![0.0; d.t],
            s2_m: vec![0.0; d.t],
            s2_h: vec![0.0; d.t],
            x: vec![0.0; d.t * d.m],
            mem: vec![0.0; d.t * d.m],
            b1f: vec![0.0; tpad * d.m],
            b2f: vec![0.0; tpad * d.m],
            s2m: vec![0.0; d.m],
        }
    }

    /// The forward pass up to the classifier's input (`self.x`), on the float backend `s`
    /// (the bit kernels follow the engine's ISA). Gives the hook back for the classifier.
    #[inline(always)]
    pub(super) fn run<'a, S: Simd, H: LayerHook>(
        &mut self,
        s: S,
        pass: Pass<'a, H>,
    ) -> Result<&'a mut H, InferError> {
        let Pass {
            engine,
            layers,
            path,
            features,
            hook,
            mut cap,
        } = pass;
        let p = &engine.plan;
        let (Conv2::Bin(c2), Dense::Bin(fc1)) = (&p.conv2, &p.fc1) else {
            return Err(InferError::Model("not a binary model".into()));
        };
        let threads = engine.opts.threads;
        let d = p.dims;
        let t = d.t;
        timed!(hook, LayerId::Conv1, self.conv1(s, p, c2, features));
        timed!(
            hook,
            LayerId::Conv2,
            self.conv2(s, p, c2, fc1, threads, cap.as_deref_mut())
        );
        let first = layers.first().map(|&j| &p.layers[j].memory);
        timed!(hook, LayerId::Fc1, {
            if let Some(cap) = cap.as_deref_mut() {
                cap.push(rows_bits(
                    LayerId::Fc1,
                    &self.rows_fc1,
                    t,
                    fc1.bin.planes,
                    &self.s2_fc1,
                    Some(&p.fc1_canon),
                ));
            }
            let x = &mut self.x;
            let st = Time::begin(
                first,
                &mut self.b1f,
                &mut self.b2f,
                &mut self.s2m,
                d.m,
                d.taps,
            );
            dense_layer(
                s,
                threads,
                fc1,
                &p.fc1_epi,
                &self.rows_fc1,
                &self.s2_fc1,
                t,
                &mut self.pc,
                None,
                Some(x),
                st.into(),
            );
        });
        for (n, &j) in layers.iter().enumerate() {
            let l = &p.layers[j];
            let (Dense::Bin(expand), Dense::Bin(project)) = (&l.expand, &l.project) else {
                return Err(InferError::Model(format!("layer {j} is not binary")));
            };
            timed!(
                hook,
                LayerId::Memory(j),
                self.memory(s, p, j, expand, cap.as_deref_mut())
            );
            timed!(hook, LayerId::Expand(j), {
                if let Some(cap) = cap.as_deref_mut() {
                    cap.push(rows_bits(
                        LayerId::Expand(j),
                        &self.rows_m,
                        t,
                        expand.bin.planes,
                        &self.s2_m,
                        None,
                    ));
                }
                let next = Next::Rows {
                    bin: &project.bin,
                    rows: &mut self.rows_h,
                    s2: &mut self.s2_h,
                };
                dense_layer(
                    s,
                    threads,
                    expand,
                    &l.expand_epi,
                    &self.rows_m,
                    &self.s2_m,
                    t,
                    &mut self.pc,
                    None,
                    None,
                    next,
                );
            });
            timed!(hook, LayerId::Project(j), {
                let epi = l.project_epi[path].as_ref().ok_or_else(|| {
                    InferError::Model(format!("layer {j} has no output affine for path {path}"))
                })?;
                if let Some(cap) = cap.as_deref_mut() {
                    cap.push(rows_bits(
                        LayerId::Project(j),
                        &self.rows_h,
                        t,
                        project.bin.planes,
                        &self.s2_h,
                        None,
                    ));
                }
                let following = layers.get(n + 1).map(|&j| &p.layers[j].memory);
                let st = Time::begin(
                    following,
                    &mut self.b1f,
                    &mut self.b2f,
                    &mut self.s2m,
                    d.m,
                    d.taps,
                );
                dense_layer(
                    s,
                    threads,
                    project,
                    epi,
                    &self.rows_h,
                    &self.s2_h,
                    t,
                    &mut self.pc,
                    Some(&self.mem),
                    Some(&mut self.x),
                    st.into(),
                );
            });
        }
        Ok(hook)
    }

    /// conv1 as a direct convolution over the zero-padded input, `CONV1_BLOCK` output
    /// positions x 16 channels per register block; its epilogue binarises for conv2.
    #[inline(always)]
    fn conv1<S: Simd>(&mut self, s: S, p: &Plan, c2: &Conv2Bin, features: &[f32]) {
        let d = p.dims;
        let (k, st, pd) = (
            d.hyper.conv1_kernel,
            d.hyper.conv1_stride,
            d.hyper.conv1_padding,
        );
        let wp = d.frames + 2 * pd;
        for (y, row) in features.chunks_exact(d.frames).enumerate() {
            self.xpad[(y + pd) * wp + pd..][..d.frames].copy_from_slice(row);
        }
        let (op, c1) = (p.conv1.outs_p, d.c1);
        let wt = &p.conv1.wt[..k * k * op];
        let e = &p.conv1_epi;
        let mut sink = RowSink::new(
            s,
            &c2.tau0,
            &c2.tau1,
            &mut self.h1_b1[..],
            &mut self.h1_b2[..],
        );
        for oy in 0..d.h1 {
            let mut ox = 0;
            while ox < d.w1 {
                let r = (d.w1 - ox).min(CONV1_BLOCK);
                // The window of the block's first position starts at xpad[oy * st][ox * st].
                let x0 = &self.xpad[(oy * st) * wp + ox * st..];
                // Every tap of the block must be inside xpad.
                assert!(x0.len() > (k - 1) * wp + (r - 1) * st + (k - 1));
                let ybuf = &mut self.ybuf[..CONV1_BLOCK * op];
                // SAFETY: bounds asserted just above; wt has k * k rows of op (a multiple of 16).
                unsafe {
                    if r == CONV1_BLOCK {
                        conv1_block::<S, CONV1_BLOCK>(s, x0, wp, st, k, wt, op, ybuf);
                    } else {
                        for i in 0..r {
                            conv1_block::<S, 1>(
                                s,
                                &x0[i * st..],
                                wp,
                                st,
                                k,
                                wt,
                                op,
                                &mut ybuf[i * op..],
                            );
                        }
                    }
                }
                for i in 0..r {
                    let pos = oy * d.w1 + ox + i;
                    let acc = &self.ybuf[i * op..i * op + c1];
                    let (scale, shift) = (&e.scale[..c1], &e.shift[..c1]);
                    let (vs, slope) = (s.splat(e.slope), e.slope);
                    segment(
                        s,
                        &mut sink,
                        pos * c1,
                        c1,
                        // SAFETY: segment passes c + 8 <= c1, inside every slice.
                        #[inline(always)]
                        |c| unsafe {
                            let y = s.add(
                                s.mul(s.load(scale.as_ptr().add(c)), s.load(acc.as_ptr().add(c))),
                                s.load(shift.as_ptr().add(c)),
                            );
                            s.prelu(y, vs)
                        },
                        |c| prelu(scale[c] * acc[c] + shift[c], slope),
                    );
                }
                ox += r;
            }
        }
        self.conv1_total = sink.finish();
    }

    #[inline(always)]
    fn conv2<S: Simd>(
        &mut self,
        s: S,
        p: &Plan,
        c: &Conv2Bin,
        fc1: &DenseBin,
        threads: usize,
        cap: Option<&mut Vec<LayerBits>>,
    ) {
        let d = p.dims;
        let col = &p.conv2_col;
        let p2 = col.positions;
        let n1 = d.h1 * d.w1 * d.c1;
        // The conv1 epilogue left sum |r| of the whole input in the sink's lanes.
        let s2 = self.conv1_total / n1 as f32;
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
            threads,
            &self.patches,
            Some(&c.masks),
            &c.w,
            rows,
            &mut self.pc,
        );
        // Output position t * h2 + f is fc1's input row t, features f * c2 + c.
        let tpo = plane_off(d.t);
        let k = d.fc1_in as f32;
        for t in 0..d.t {
            let (r1, r2) = self.rows_fc1.row_pair_mut(t, tpo + t);
            let mut sink = RowSink::new(s, &fc1.bin.tau0, &fc1.bin.tau1, r1, r2);
            for f in 0..d.h2 {
                let pos = t * d.h2 + f;
                let row = BinRow {
                    pc1: &self.pc[pos * op..pos * op + d.c2],
                    pc2: &self.pc[(po + pos) * op..(po + pos) * op + d.c2],
                    s2,
                    valid: c.valid[pos],
                    scale: &c.scale[..d.c2],
                    shift: &c.shift[pos * d.c2..(pos + 1) * d.c2],
                    slope: c.slope,
                    res: None,
                };
                if two {
                    bin_row::<S, _, true>(s, &mut sink, f * d.c2, &row, None);
                } else {
                    bin_row::<S, _, false>(s, &mut sink, f * d.c2, &row, None);
                }
            }
            self.s2_fc1[t] = sink.finish() / k;
        }
    }

    /// The memory block of layer `j` on the planes the previous layer left, its residual, and
    /// the binarisation of its output for `expand`.
    #[inline(always)]
    fn memory<S: Simd>(
        &mut self,
        s: S,
        p: &Plan,
        j: usize,
        expand: &DenseBin,
        cap: Option<&mut Vec<LayerBits>>,
    ) {
        let d = p.dims;
        let (m, t, taps) = (d.m, d.t, d.taps);
        let tpad = t + taps - 1;
        let mb: &Memory = &p.layers[j].memory;
        let (Some(bin), Some(pad)) = (&mb.bin, &mb.pad) else {
            return;
        };
        // Trailing pads, then the mean: the order of the unfused sum over the padded steps.
        for (v, a) in self.s2m.iter_mut().zip(&pad.abs) {
            for _ in 0..(taps - 1) / 2 {
                *v += a;
            }
            *v /= tpad as f32;
        }
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
                planes: bin.planes,
                b1: bits(&self.b1f),
                b2: bits(&self.b2f),
                s2: self.s2m.clone(),
            });
        }
        // The depthwise conv is linear in its input, so the two planes are combined once per
        // input element, `a = b1 + s2 * b2` (the model's two-plane activation, in the order
        // burn computes it), instead of once per tap in each output: half the multiply-adds.
        // The planes were captured above; the next layer rewrites them.
        if bin.planes == 2 {
            let (b1f, b2f, s2m) = (
                &mut self.b1f[..tpad * m],
                &self.b2f[..tpad * m],
                &self.s2m[..m],
            );
            for (a1, a2) in b1f.chunks_exact_mut(m).zip(b2f.chunks_exact(m)) {
                let a1p = a1.as_mut_ptr();
                segment(
                    s,
                    &mut NoSink,
                    0,
                    m,
                    // SAFETY: c + 8 <= m, inside every row.
                    #[inline(always)]
                    |c| unsafe {
                        let a = s.add(
                            s.load(a1p.add(c)),
                            s.mul(s.load(s2m.as_ptr().add(c)), s.load(a2.as_ptr().add(c))),
                        );
                        s.store(a1p.add(c), a);
                        a
                    },
                    #[inline(always)]
                    |c| {
                        // SAFETY: c < m = a1.len().
                        unsafe { *a1p.add(c) += s2m[c] * a2[c] };
                        0.0
                    },
                );
            }
        }
        let e = &mb.epi;
        let tpo = plane_off(t);
        let k = m as f32;
        let (w, act) = (&mb.taps[..taps * m], &self.b1f[..tpad * m]);
        let (scale, shift) = (&e.scale[..m], &e.shift[..m]);
        for tt in 0..t {
            let (r1, r2) = self.rows_m.row_pair_mut(tt, tpo + tt);
            let mut sink = RowSink::new(s, &expand.bin.tau0, &expand.bin.tau1, r1, r2);
            let xr = &self.x[tt * m..(tt + 1) * m];
            let out = &mut self.mem[tt * m..(tt + 1) * m];
            let (vs, slope) = (s.splat(e.slope), e.slope);
            let op = out.as_mut_ptr();
            segment(
                s,
                &mut sink,
                0,
                m,
                // SAFETY: c + 8 <= m; rows tt..tt + taps of the [tpad][m] planes exist.
                #[inline(always)]
                |c| unsafe {
                    let mut acc = s.splat(0.0);
                    for tap in 0..taps {
                        let wv = s.load(w.as_ptr().add(tap * m + c));
                        let o = (tt + tap) * m + c;
                        acc = s.add(acc, s.mul(wv, s.load(act.as_ptr().add(o))));
                    }
                    let y = s.add(
                        s.mul(s.load(scale.as_ptr().add(c)), acc),
                        s.load(shift.as_ptr().add(c)),
                    );
                    let y = s.add(s.prelu(y, vs), s.load(xr.as_ptr().add(c)));
                    s.store(op.add(c), y);
                    y
                },
                #[inline(always)]
                |c| {
                    let mut acc = 0f32;
                    for tap in 0..taps {
                        acc += w[tap * m + c] * act[(tt + tap) * m + c];
                    }
                    let y = prelu(scale[c] * acc + shift[c], slope) + xr[c];
                    // SAFETY: c < m = out.len().
                    unsafe { *op.add(c) = y };
                    y
                },
            );
            self.s2_m[tt] = sink.finish() / k;
        }
    }
}

/// Output positions per conv1 register block.
const CONV1_BLOCK: usize = 4;

/// `R` output positions (`st` apart along x, the first window at `x0`, rows `wp` apart) x all
/// `op` channels, 16 at a time: `acc = x * w + acc` over the taps in `(ky, kx)` order from zero,
/// exactly the chain of [`crate::fp::sgemm`] on im2col patches (pad taps multiply zeros).
///
/// # Safety
/// Every tap `x0[ky * wp + i * st + kx]` (`i < R`, `ky, kx < k`) must exist, `wt` must hold
/// `k * k` rows of `op` floats with `op` a multiple of 16, and `ybuf` `R * op` floats.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn conv1_block<S: Simd, const R: usize>(
    s: S,
    x0: &[f32],
    wp: usize,
    st: usize,
    k: usize,
    wt: &[f32],
    op: usize,
    ybuf: &mut [f32],
) {
    let (x, w, y) = (x0.as_ptr(), wt.as_ptr(), ybuf.as_mut_ptr());
    let mut c0 = 0;
    while c0 < op {
        let mut acc = [[s.splat(0.0); 2]; R];
        for ky in 0..k {
            for kx in 0..k {
                // SAFETY: the caller's bounds.
                unsafe {
                    let wr = w.add((ky * k + kx) * op + c0);
                    let (w0, w1) = (s.load(wr), s.load(wr.add(8)));
                    for (i, a) in acc.iter_mut().enumerate() {
                        let xv = s.splat(*x.add(ky * wp + i * st + kx));
                        a[0] = s.add(s.mul(xv, w0), a[0]);
                        a[1] = s.add(s.mul(xv, w1), a[1]);
                    }
                }
            }
        }
        for (i, a) in acc.iter().enumerate() {
            // SAFETY: i * op + c0 + 16 <= R * op.
            unsafe {
                s.store(y.add(i * op + c0), a[0]);
                s.store(y.add(i * op + c0 + 8), a[1]);
            }
        }
        c0 += 16;
    }
}

/// One row (or row segment) of a binary product's epilogue:
/// `y[c] = prelu(scale[c] * acc[c] + shift[c]) (+ res[c])` with
/// `acc = (valid - 2 pc1) + s2 (valid - 2 pc2)` (plane 2 only when `TWO`).
struct BinRow<'a> {
    pc1: &'a [u32],
    pc2: &'a [u32],
    s2: f32,
    valid: f32,
    scale: &'a [f32],
    shift: &'a [f32],
    slope: f32,
    res: Option<&'a [f32]>,
}

/// Compute a [`BinRow`] of `scale.len()` outputs, write them to `out` if given, and push them
/// to `sink` as elements `i0..`.
#[inline(always)]
fn bin_row<S: Simd, K: Sink<S>, const TWO: bool>(
    s: S,
    sink: &mut K,
    i0: usize,
    r: &BinRow<'_>,
    out: Option<&mut [f32]>,
) {
    let n = r.scale.len();
    assert!(
        r.pc1.len() >= n
            && (!TWO || r.pc2.len() >= n)
            && r.shift.len() >= n
            && r.res.is_none_or(|x| x.len() >= n)
            && out.as_ref().is_none_or(|o| o.len() >= n),
        "epilogue row sizes"
    );
    let out = out.map(|o| o.as_mut_ptr());
    let (valid, two, s2, slope) = (
        s.splat(r.valid),
        s.splat(2.0),
        s.splat(r.s2),
        s.splat(r.slope),
    );
    segment(
        s,
        sink,
        i0,
        n,
        // SAFETY: c + 8 <= n, inside every slice (asserted above).
        #[inline(always)]
        |c| unsafe {
            let d1 = s.sub(valid, s.mul(two, s.load_u32(r.pc1.as_ptr().add(c))));
            let acc = if TWO {
                let d2 = s.sub(valid, s.mul(two, s.load_u32(r.pc2.as_ptr().add(c))));
                s.add(d1, s.mul(s2, d2))
            } else {
                d1
            };
            let y = s.add(
                s.mul(s.load(r.scale.as_ptr().add(c)), acc),
                s.load(r.shift.as_ptr().add(c)),
            );
            let mut y = s.prelu(y, slope);
            if let Some(res) = r.res {
                y = s.add(y, s.load(res.as_ptr().add(c)));
            }
            if let Some(o) = out {
                s.store(o.add(c), y);
            }
            y
        },
        #[inline(always)]
        |c| {
            let d1 = r.valid - 2.0 * r.pc1[c] as i32 as f32;
            let acc = if TWO {
                d1 + r.s2 * (r.valid - 2.0 * r.pc2[c] as i32 as f32)
            } else {
                d1
            };
            let mut y = prelu(r.scale[c] * acc + r.shift[c], r.slope);
            if let Some(res) = r.res {
                y += res[c];
            }
            if let Some(o) = out {
                // SAFETY: c < n <= out.len().
                unsafe { *o.add(c) = y };
            }
            y
        },
    );
}

/// Where a layer's outputs go after its epilogue.
trait Sink<S: Simd> {
    /// Elements the sink takes (`i < len`).
    fn len(&self) -> usize;
    /// Elements `i .. i + 8` (`i` a multiple of 8).
    ///
    /// # Safety
    /// `i + 8 <= self.len()`.
    unsafe fn push(&mut self, s: S, i: usize, y: S::V);
    /// Element `i`.
    ///
    /// # Safety
    /// `i < self.len()`.
    unsafe fn push1(&mut self, s: S, i: usize, y: f32);
}

/// Feed elements `i0 .. i0 + n` to `sink`: 8 at a time where `i0 + c` is a multiple of 8
/// (`vec(c)`, `c + 8 <= n`), one at a time elsewhere (`one(c)`, `c < n`), in increasing order.
#[inline(always)]
fn segment<S: Simd, K: Sink<S>>(
    s: S,
    sink: &mut K,
    i0: usize,
    n: usize,
    mut vec: impl FnMut(usize) -> S::V,
    mut one: impl FnMut(usize) -> f32,
) {
    assert!(i0 + n <= sink.len(), "sink too short");
    let mut c = 0;
    // SAFETY (all pushes): i0 + c (+ 8) <= i0 + n <= sink.len().
    while c < n && !(i0 + c).is_multiple_of(8) {
        unsafe { sink.push1(s, i0 + c, one(c)) };
        c += 1;
    }
    while c + 8 <= n {
        unsafe { sink.push(s, i0 + c, vec(c)) };
        c += 8;
    }
    while c < n {
        unsafe { sink.push1(s, i0 + c, one(c)) };
        c += 1;
    }
}

/// Nowhere (the last layer before the classifier).
struct NoSink;

impl<S: Simd> Sink<S> for NoSink {
    fn len(&self) -> usize {
        usize::MAX
    }
    #[inline(always)]
    unsafe fn push(&mut self, _: S, _: usize, _: S::V) {}
    #[inline(always)]
    unsafe fn push1(&mut self, _: S, _: usize, _: f32) {}
}

/// `(b1 as ±1, r)` of one element: `b1 = sgn(y - tau0)`, `r = (y - b1) - tau1`.
#[inline(always)]
fn binarize1(y: f32, t0: f32, t1: f32) -> (f32, f32) {
    let s1 = if sign_bit(y - t0) { -1.0 } else { 1.0 };
    (s1, (y - s1) - t1)
}

/// The same on 8 lanes: `(mask of b1 = -1, b1 as ±1, r)`.
#[inline(always)]
fn binarize8<S: Simd>(s: S, y: S::V, t0: S::V, t1: S::V) -> (S::M, S::V, S::V) {
    let m1 = s.nge0(s.sub(y, t0));
    let s1 = s.select(m1, s.splat(-1.0), s.splat(1.0));
    (m1, s1, s.sub(s.sub(y, s1), t1))
}

/// Binarisation of one row into two bit rows, with `sum |r|` in the canonical lanes (element
/// `i` in lane `i % 8`, each lane summed in increasing `i`, combined by [`reduce8`]): exactly
/// [`crate::bitpack::binarize_row`]. Elements must arrive in increasing order without gaps;
/// every word of the row is written (no zeroing needed).
struct RowSink<'a, S: Simd> {
    s: S,
    t0: &'a [f32],
    t1: &'a [f32],
    b1: &'a mut [u64],
    b2: &'a mut [u64],
    /// The lane sums live in `acc` (after vector pushes) or `lanes` (after single pushes).
    acc: S::V,
    lanes: [f32; 8],
    in_vec: bool,
    word: usize,
    cur1: u64,
    cur2: u64,
}

impl<'a, S: Simd> RowSink<'a, S> {
    #[inline(always)]
    fn new(s: S, t0: &'a [f32], t1: &'a [f32], b1: &'a mut [u64], b2: &'a mut [u64]) -> Self {
        let n = t0.len();
        assert!(
            t1.len() == n && b1.len() >= words_for(n) && b2.len() >= words_for(n),
            "binariser sizes"
        );
        Self {
            s,
            t0,
            t1,
            b1,
            b2,
            acc: s.splat(0.0),
            lanes: [0.0; 8],
            in_vec: true,
            word: 0,
            cur1: 0,
            cur2: 0,
        }
    }

    #[inline(always)]
    fn bits(&mut self, i: usize, m1: u64, m2: u64) {
        let w = i / 64;
        if w != self.word {
            self.b1[self.word] = self.cur1;
            self.b2[self.word] = self.cur2;
            self.word = w;
            self.cur1 = 0;
            self.cur2 = 0;
        }
        self.cur1 |= m1 << (i % 64);
        self.cur2 |= m2 << (i % 64);
    }

    /// Store the last word and return `sum |r|` over the row.
    #[inline(always)]
    fn finish(mut self) -> f32 {
        if !self.t0.is_empty() {
            self.b1[self.word] = self.cur1;
            self.b2[self.word] = self.cur2;
        }
        if self.in_vec {
            self.lanes = self.s.to_array(self.acc);
        }
        reduce8(self.lanes)
    }
}

impl<S: Simd> Sink<S> for RowSink<'_, S> {
    fn len(&self) -> usize {
        self.t0.len()
    }

    #[inline(always)]
    unsafe fn push(&mut self, s: S, i: usize, y: S::V) {
        debug_assert!(i.is_multiple_of(8) && i + 8 <= self.t0.len());
        if !self.in_vec {
            // SAFETY: 8 floats.
            self.acc = unsafe { s.load(self.lanes.as_ptr()) };
            self.in_vec = true;
        }
        // SAFETY: i + 8 <= len (the caller's contract).
        let (t0, t1) = unsafe {
            (
                s.load(self.t0.as_ptr().add(i)),
                s.load(self.t1.as_ptr().add(i)),
            )
        };
        let (m1, _, r) = binarize8(s, y, t0, t1);
        self.acc = s.add(self.acc, s.abs(r));
        self.bits(i, s.bits(m1), s.bits(s.nge0(r)));
    }

    #[inline(always)]
    unsafe fn push1(&mut self, s: S, i: usize, y: f32) {
        if self.in_vec {
            self.lanes = s.to_array(self.acc);
            self.in_vec = false;
        }
        // SAFETY: i < len (the caller's contract).
        let (t0, t1) = unsafe { (*self.t0.get_unchecked(i), *self.t1.get_unchecked(i)) };
        let (s1, r) = binarize1(y, t0, t1);
        self.lanes[i % 8] += r.abs();
        self.bits(i, (s1 < 0.0) as u64, sign_bit(r) as u64);
    }
}

/// The next memory block's binarisation along time: its planes as ±1 in `[t + taps - 1][m]`
/// (the zero pads are constants of the layer) and `sum |r|` per channel, added in time order:
/// exactly the unfused binarisation of the padded input.
struct Time<'a> {
    t0: &'a [f32],
    t1: &'a [f32],
    b1f: &'a mut [f32],
    b2f: &'a mut [f32],
    s2m: &'a mut [f32],
    /// Leading pad rows.
    lead: usize,
}

impl<'a> Time<'a> {
    /// Prepare the planes of memory block `mem` (none for a float block or the classifier):
    /// write its pad rows and start the sums with the leading pads.
    fn begin(
        mem: Option<&'a Memory>,
        b1f: &'a mut [f32],
        b2f: &'a mut [f32],
        s2m: &'a mut [f32],
        m: usize,
        taps: usize,
    ) -> Option<Time<'a>> {
        let mem = mem?;
        let (bin, pad) = (mem.bin.as_ref()?, mem.pad.as_ref()?);
        let lead = (taps - 1) / 2;
        let rows = b1f.len() / m;
        for r in (0..lead).chain(rows - lead..rows) {
            b1f[r * m..(r + 1) * m].copy_from_slice(&pad.b1);
            b2f[r * m..(r + 1) * m].copy_from_slice(&pad.b2);
        }
        s2m.copy_from_slice(&pad.lead);
        Some(Time {
            t0: &bin.tau0,
            t1: &bin.tau1,
            b1f,
            b2f,
            s2m,
            lead,
        })
    }

    /// The sink of time step `tt`.
    fn row(&mut self, tt: usize) -> TimeSink<'_> {
        let m = self.s2m.len();
        let r = (self.lead + tt) * m..(self.lead + tt + 1) * m;
        TimeSink {
            t0: &self.t0[..m],
            t1: &self.t1[..m],
            b1: &mut self.b1f[r.clone()],
            b2: &mut self.b2f[r],
            s2m: &mut self.s2m[..],
        }
    }
}

/// One time step of [`Time`] (all slices `m` long).
struct TimeSink<'a> {
    t0: &'a [f32],
    t1: &'a [f32],
    b1: &'a mut [f32],
    b2: &'a mut [f32],
    s2m: &'a mut [f32],
}

impl<S: Simd> Sink<S> for TimeSink<'_> {
    fn len(&self) -> usize {
        self.t0.len()
    }

    #[inline(always)]
    unsafe fn push(&mut self, s: S, c: usize, y: S::V) {
        // SAFETY: c + 8 <= m, the length of every slice.
        unsafe {
            let (t0, t1) = (
                s.load(self.t0.as_ptr().add(c)),
                s.load(self.t1.as_ptr().add(c)),
            );
            let (_, s1, r) = binarize8(s, y, t0, t1);
            let b2 = s.select(s.nge0(r), s.splat(-1.0), s.splat(1.0));
            s.store(self.b1.as_mut_ptr().add(c), s1);
            s.store(self.b2.as_mut_ptr().add(c), b2);
            let acc = self.s2m.as_mut_ptr().add(c);
            s.store(acc, s.add(s.load(acc), s.abs(r)));
        }
    }

    #[inline(always)]
    unsafe fn push1(&mut self, _: S, c: usize, y: f32) {
        let (s1, r) = binarize1(y, self.t0[c], self.t1[c]);
        self.b1[c] = s1;
        self.b2[c] = if sign_bit(r) { -1.0 } else { 1.0 };
        self.s2m[c] += r.abs();
    }
}

/// Where a dense layer's outputs go next.
enum Next<'a> {
    /// The classifier (only the float output is kept).
    Nothing,
    /// A per-time-step binarisation (expand's and project's inputs): plane 1 in row `tt`,
    /// plane 2 in row `plane_off(t) + tt`, `s2[tt]` the mean `|r|`.
    Rows {
        bin: &'a Binariser,
        rows: &'a mut BitRows,
        s2: &'a mut [f32],
    },
    /// A memory block.
    Time(Time<'a>),
}

impl<'a> From<Option<Time<'a>>> for Next<'a> {
    fn from(t: Option<Time<'a>>) -> Self {
        t.map_or(Next::Nothing, Next::Time)
    }
}

/// A per-time-step binary product (fc1, expand, project): the popcounts of its input planes,
/// then per time step the epilogue (`+ res`, into `out` if given) fused with `next`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn dense_layer<S: Simd>(
    s: S,
    threads: usize,
    layer: &DenseBin,
    e: &Epilogue,
    input: &BitRows,
    s2: &[f32],
    t: usize,
    pc: &mut [u32],
    res: Option<&[f32]>,
    out: Option<&mut [f32]>,
    next: Next<'_>,
) {
    let po = plane_off(t);
    let two = layer.bin.planes == 2;
    par_popcount(
        threads,
        input,
        None,
        &layer.w,
        if two { 2 * po } else { po },
        pc,
    );
    if two {
        dense_epilogue::<S, true>(s, layer, e, s2, t, pc, res, out, next)
    } else {
        dense_epilogue::<S, false>(s, layer, e, s2, t, pc, res, out, next)
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn dense_epilogue<S: Simd, const TWO: bool>(
    s: S,
    layer: &DenseBin,
    e: &Epilogue,
    s2: &[f32],
    t: usize,
    pc: &[u32],
    res: Option<&[f32]>,
    mut out: Option<&mut [f32]>,
    next: Next<'_>,
) {
    let po = plane_off(t);
    let op = layer.w.outs_padded();
    let n = layer.outs;
    let row = |tt: usize| BinRow {
        pc1: &pc[tt * op..tt * op + n],
        pc2: &pc[(po + tt) * op..(po + tt) * op + n],
        s2: s2[tt],
        valid: layer.k as f32,
        scale: &e.scale[..n],
        shift: &e.shift[..n],
        slope: e.slope,
        res: res.map(|r| &r[tt * n..(tt + 1) * n]),
    };
    match next {
        Next::Nothing => {
            for tt in 0..t {
                let o = out.as_deref_mut().map(|o| &mut o[tt * n..(tt + 1) * n]);
                bin_row::<S, _, TWO>(s, &mut NoSink, 0, &row(tt), o);
            }
        }
        Next::Rows { bin, rows, s2 } => {
            let k = bin.tau0.len() as f32;
            for tt in 0..t {
                let (r1, r2) = rows.row_pair_mut(tt, po + tt);
                let mut sink = RowSink::new(s, &bin.tau0, &bin.tau1, r1, r2);
                let o = out.as_deref_mut().map(|o| &mut o[tt * n..(tt + 1) * n]);
                bin_row::<S, _, TWO>(s, &mut sink, 0, &row(tt), o);
                s2[tt] = sink.finish() / k;
            }
        }
        Next::Time(mut time) => {
            for tt in 0..t {
                let o = out.as_deref_mut().map(|o| &mut o[tt * n..(tt + 1) * n]);
                bin_row::<S, _, TWO>(s, &mut time.row(tt), 0, &row(tt), o);
            }
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

/// What one binary forward pass reads, and where it reports.
pub(super) struct Pass<'a, H> {
    pub engine: &'a Engine,
    /// The layers of the thin path `path`.
    pub layers: &'a [usize],
    pub path: usize,
    pub features: &'a [f32],
    pub hook: &'a mut H,
    /// Where [`super::Session::layer_bits`] collects each binary layer's planes.
    pub cap: Option<&'a mut Vec<LayerBits>>,
}

/// One binary forward: the pass, the session's buffers, and its logits (padded for
/// [`gemv`], and final).
pub(super) struct Forward<'a, H> {
    pub state: &'a mut BinState,
    pub pass: Pass<'a, H>,
    pub logits_p: &'a mut [f32],
    pub logits: &'a mut [f32],
}

impl<H: LayerHook> SimdTask for Forward<'_, H> {
    type Out = Result<(), InferError>;

    /// The whole binary forward on backend `s`.
    #[inline(always)]
    fn run<S: Simd>(self, s: S) -> Self::Out {
        let Forward {
            state,
            pass,
            logits_p,
            logits,
        } = self;
        let engine = pass.engine;
        let hook = state.run(s, pass)?;
        let p = &engine.plan;
        timed!(hook, LayerId::Classifier, {
            gemv(FloatMode::Exact, &state.x, &p.cls_wt, p.classes_p, logits_p);
            for (k, l) in logits.iter_mut().enumerate() {
                *l = logits_p[k] + p.cls_bias[k];
            }
        });
        Ok(())
    }
}

/// The binary forward, on the float backend that matches the engine's ISA: the scalar
/// reference for [`crate::isa::Isa::Scalar`], AVX2 for the x86 ISAs, NEON on aarch64.
pub(super) fn run<H: LayerHook>(forward: Forward<'_, H>) -> Result<(), InferError> {
    let isa = forward.pass.engine.opts.isa;
    run_simd(isa, forward).ok_or(InferError::UnsupportedIsa(isa))?
}
