//! The layers that are not a plain per-time-step product: conv1 (direct float convolution),
//! conv2 (patch gather and masked popcount) and the memory block (depthwise on ±1 planes).

use crate::bitpack::get_bit;
use crate::fp::prelu;
use crate::isa::Simd;
use crate::network::LayerId;

use super::bits::plane_off;
use super::bits::{units_to_words, words_to_units};
use super::dense::par_popcount;
use super::epilogue::{BinRow, bin_row};
use super::sink::{NoSink, RowSink, segment};
use super::state::{BinState, CONV1_BLOCK};
use crate::infer::LayerBits;
use crate::infer::im2col::gather_runs;
use crate::infer::plan::{Conv2Bin, DenseBin, Memory, PatchGather, Plan};

impl BinState {
    /// conv1 as a direct convolution over the zero-padded input, `CONV1_BLOCK` output
    /// positions x 16 channels per register block; its epilogue binarises for conv2.
    #[inline(always)]
    pub(super) fn conv1<S: Simd>(&mut self, s: S, p: &Plan, c2: &Conv2Bin, features: &[f32]) {
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
        let shape = Conv1Shape { wp, st, k, op };
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
                        conv1_block::<S, CONV1_BLOCK>(s, x0, shape, wt, ybuf);
                    } else {
                        for i in 0..r {
                            conv1_block::<S, 1>(s, &x0[i * st..], shape, wt, &mut ybuf[i * op..]);
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
    pub(super) fn conv2<S: Simd>(
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
    pub(super) fn memory<S: Simd>(
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
        // Lane-wise per channel, so the vector and scalar forms give the same bits.
        let (s2m, pad_abs) = (&mut self.s2m[..m], &pad.abs[..m]);
        let (trailing, n) = ((taps - 1) / 2, tpad as f32);
        let mut c = 0;
        while c + 8 <= m {
            // SAFETY: c + 8 <= m, the length of both slices.
            unsafe {
                let (vp, a) = (s2m.as_mut_ptr().add(c), s.load(pad_abs.as_ptr().add(c)));
                let mut v = s.load(vp);
                for _ in 0..trailing {
                    v = s.add(v, a);
                }
                s.store(vp, s.div(v, s.splat(n)));
            }
            c += 8;
        }
        for (v, a) in s2m[c..].iter_mut().zip(&pad_abs[c..]) {
            for _ in 0..trailing {
                *v += a;
            }
            *v /= n;
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

/// conv1's geometry as [`conv1_block`] reads it.
#[derive(Clone, Copy)]
struct Conv1Shape {
    /// Row width of the zero-padded input.
    wp: usize,
    /// Stride.
    st: usize,
    /// Kernel size (`k x k` taps).
    k: usize,
    /// Output channels padded to a multiple of 16 (the weight row length).
    op: usize,
}

/// `R` output positions (`st` apart along x, the first window at `x0`, rows `wp` apart) x all
/// `op` channels, 16 at a time: `acc = x * w + acc` over the taps in `(ky, kx)` order from zero,
/// exactly the chain of [`crate::fp::sgemm`] on im2col patches (pad taps multiply zeros).
///
/// # Safety
/// Every tap `x0[ky * wp + i * st + kx]` (`i < R`, `ky, kx < k`) must exist, `wt` must hold
/// `k * k` rows of `op` floats with `op` a multiple of 16, and `ybuf` `R * op` floats.
#[inline(always)]
unsafe fn conv1_block<S: Simd, const R: usize>(
    s: S,
    x0: &[f32],
    shape: Conv1Shape,
    wt: &[f32],
    ybuf: &mut [f32],
) {
    let Conv1Shape { wp, st, k, op } = shape;
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
