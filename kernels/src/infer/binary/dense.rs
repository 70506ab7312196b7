//! The per-time-step binary products (fc1, expand, project): popcounts, then the fused
//! epilogue into the next layer's input.

use crate::bitpack::{BitRows, ROW_BLOCK};
use crate::gemm::{PreparedBits, xor_popcount_masked_rows, xor_popcount_rows};
use crate::isa::Simd;

use super::bits::plane_off;
use super::epilogue::{BinRow, bin_row};
use super::sink::{NoSink, RowSink, Time};
use crate::infer::forward::split_rows;
use crate::infer::plan::{Binariser, DenseBin, Epilogue};

/// Where a dense layer's outputs go next.
pub(super) enum Next<'a> {
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

/// One per-time-step binary product (fc1, expand, project) and where its outputs go as floats.
pub(super) struct DenseStep<'a> {
    pub(super) layer: &'a DenseBin,
    pub(super) epi: &'a Epilogue,
    /// The input planes (plane 1 in rows `0..t`, plane 2 from `plane_off(t)`).
    pub(super) input: &'a BitRows,
    /// `s2` of the input, per time step.
    pub(super) s2: &'a [f32],
    /// Time steps.
    pub(super) t: usize,
    /// The residual added after the activation, `[t][outs]`.
    pub(super) res: Option<&'a [f32]>,
    /// Where the float outputs are kept, `[t][outs]` (only where a later layer reads them).
    pub(super) out: Option<&'a mut [f32]>,
}

/// A binary product: the popcounts of its input planes into `pc`, then per time step the
/// epilogue (`+ res`, into `out` if given) fused with `next`.
#[inline(always)]
pub(super) fn dense_layer<S: Simd>(
    s: S,
    threads: usize,
    step: DenseStep<'_>,
    pc: &mut [u32],
    next: Next<'_>,
) {
    let po = plane_off(step.t);
    let layer = step.layer;
    let two = layer.bin.planes == 2;
    par_popcount(
        threads,
        step.input,
        None,
        &layer.w,
        if two { 2 * po } else { po },
        pc,
    );
    if two {
        dense_epilogue::<S, true>(s, step, pc, next)
    } else {
        dense_epilogue::<S, false>(s, step, pc, next)
    }
}

#[inline(always)]
fn dense_epilogue<S: Simd, const TWO: bool>(s: S, step: DenseStep<'_>, pc: &[u32], next: Next<'_>) {
    let DenseStep {
        layer,
        epi: e,
        input: _,
        s2,
        t,
        res,
        mut out,
    } = step;
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

pub(super) fn par_popcount(
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
