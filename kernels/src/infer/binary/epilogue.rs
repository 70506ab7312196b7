//! The epilogue of a binary product, fused with what consumes its outputs.

use crate::fp::prelu;
use crate::isa::Simd;

use super::sink::{Sink, segment};

/// One row (or row segment) of a binary product's epilogue:
/// `y[c] = prelu(scale[c] * acc[c] + shift[c]) (+ res[c])` with
/// `acc = (valid - 2 pc1) + s2 (valid - 2 pc2)` (plane 2 only when `TWO`).
pub(super) struct BinRow<'a> {
    pub(super) pc1: &'a [u32],
    pub(super) pc2: &'a [u32],
    pub(super) s2: f32,
    pub(super) valid: f32,
    pub(super) scale: &'a [f32],
    pub(super) shift: &'a [f32],
    pub(super) slope: f32,
    pub(super) res: Option<&'a [f32]>,
}

/// Compute a [`BinRow`] of `scale.len()` outputs, write them to `out` if given, and push them
/// to `sink` as elements `i0..`.
#[inline(always)]
pub(super) fn bin_row<S: Simd, K: Sink<S>, const TWO: bool>(
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
    // The popcount counts are integers below 2^24, so is `valid`: see `Simd::load_pm`.
    let valid = r.valid as i32;
    debug_assert!(
        valid as f32 == r.valid,
        "valid bit count {} is not an integer",
        r.valid
    );
    let (s2, slope) = (s.splat(r.s2), s.splat(r.slope));
    segment(
        s,
        sink,
        i0,
        n,
        // SAFETY: c + 8 <= n, inside every slice (asserted above).
        #[inline(always)]
        |c| unsafe {
            let d1 = s.load_pm(r.pc1.as_ptr().add(c), valid);
            let acc = if TWO {
                let d2 = s.load_pm(r.pc2.as_ptr().add(c), valid);
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
