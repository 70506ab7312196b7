//! Portable reference kernel: canonical row-major weights, `u64::count_ones`.
//!
//! On x86-64 builds without `popcnt` in the baseline this compiles to a bit-twiddling popcount,
//! which is why it is the reference and never the production choice when SIMD exists.

use crate::isa::kernel::PopcountJob;

/// Row-major weights: `w[o * stride + j]`.
pub(crate) fn run(job: &PopcountJob<'_>, out: &mut [u32]) {
    let s = job.stride;
    for r in 0..job.rows {
        let a = &job.a[r * s..r * s + job.words];
        let m = job.mask.map(|m| &m[r * s..r * s + job.words]);
        let dst = &mut out[r * job.outs_padded..(r + 1) * job.outs_padded];
        for (o, d) in dst.iter_mut().enumerate() {
            let w = &job.w[o * s..o * s + job.words];
            *d = match m {
                None => a.iter().zip(w).map(|(x, y)| (x ^ y).count_ones()).sum(),
                Some(m) => a
                    .iter()
                    .zip(w)
                    .zip(m)
                    .map(|((x, y), k)| ((x ^ y) & k).count_ones())
                    .sum(),
            };
        }
    }
}
