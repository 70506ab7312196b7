//! Float kernels: the FP parts of the binary model (conv1, classifier) and the whole FP32
//! baseline.
//!
//! They are portable Rust written so that the compiler vectorises them (fixed-size register
//! blocks, unit-stride inner loops over outputs) and compiled once more with AVX2 (+FMA) enabled
//! for x86 CPUs that have it (by `crate::isa::run_portable`). Every output is one sequential
//! accumulation chain over the reduction index, so the vector width never changes the result:
//! with [`FloatMode::Exact`] (separate multiply and add, used by the binary model) the output is
//! bit-identical on every CPU and on both architectures. [`FloatMode::Fused`] (the FP32
//! baseline) uses FMA where the hardware has it (x86 FMA3, always on aarch64), which is the fair
//! speed baseline but rounds differently from the unfused form.

use crate::isa::{Portable, run_portable};

/// Output columns per register block; weight matrices are padded to a multiple of this.
pub const NR: usize = 16;
/// Rows per register block.
const MR: usize = 4;
/// Independent partial sums of [`gemv`] (hides the add latency of a single long chain).
const SPLIT: usize = 4;

/// How float products are accumulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatMode {
    /// `acc + a * b` rounded twice: identical on every CPU.
    Exact,
    /// `fma(a, b, acc)` where the CPU has FMA, otherwise as `Exact`.
    Fused,
}

#[inline(always)]
fn madd<const F: bool>(a: f32, b: f32, c: f32) -> f32 {
    if F { a.mul_add(b, c) } else { a * b + c }
}

/// PReLU: `v` if `v >= 0`, else `a * v`.
///
/// Written as `v * (1 or a)`, which is the same value bit for bit (`v * 1 = v`), so that the
/// compiler emits a compare and a blend instead of a branch on the sign of every activation
/// (a branch mispredicts about half the time on real activations).
#[inline(always)]
pub fn prelu(v: f32, a: f32) -> f32 {
    v * if v >= 0.0 { 1.0 } else { a }
}

/// The left operand of [`sgemm`]: `rows` rows of `k` floats, `stride` apart in `data`.
#[derive(Clone, Copy, Debug)]
pub struct Rows<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub k: usize,
    pub stride: usize,
}

impl<'a> Rows<'a> {
    /// `rows` contiguous rows of `k` floats.
    pub fn dense(data: &'a [f32], rows: usize, k: usize) -> Self {
        Rows {
            data,
            rows,
            k,
            stride: k,
        }
    }
}

/// `y[r][o] = sum_k x[r][k] * wt[k][o]` for `r < x.rows`, `o < outs_p` (`outs_p` a multiple of
/// [`NR`]); `y` rows are `outs_p` apart. Accumulates over `k` in order, starting from zero.
pub fn sgemm(mode: FloatMode, x: Rows<'_>, wt: &[f32], outs_p: usize, y: &mut [f32]) {
    let Rows {
        data: x,
        rows,
        k,
        stride: x_stride,
    } = x;
    assert!(
        outs_p.is_multiple_of(NR),
        "output width must be padded to {NR}"
    );
    assert!(
        wt.len() >= k * outs_p && y.len() >= rows * outs_p,
        "sgemm buffer sizes"
    );
    assert!(
        rows == 0 || x.len() >= (rows - 1) * x_stride + k,
        "sgemm input size"
    );
    run_portable(
        mode,
        Sgemm {
            x,
            rows,
            k,
            xs: x_stride,
            wt,
            op: outs_p,
            y,
        },
    )
}

/// The arguments of [`sgemm`], run by [`run_portable`].
struct Sgemm<'a> {
    x: &'a [f32],
    rows: usize,
    k: usize,
    xs: usize,
    wt: &'a [f32],
    op: usize,
    y: &'a mut [f32],
}

impl Portable for Sgemm<'_> {
    type Out = ();
    #[inline(always)]
    fn run<const F: bool>(self) {
        sgemm_body::<F, MR>(self.x, self.rows, self.k, self.xs, self.wt, self.op, self.y)
    }
}

#[inline(always)]
fn block<const F: bool, const R: usize>(
    xr: [&[f32]; R],
    wt: &[f32],
    op: usize,
    o0: usize,
    k: usize,
) -> [[f32; NR]; R] {
    let mut acc = [[0f32; NR]; R];
    for kk in 0..k {
        let w: &[f32; NR] = wt[kk * op + o0..kk * op + o0 + NR]
            .try_into()
            .expect("NR-wide slice");
        for i in 0..R {
            let xv = xr[i][kk];
            for l in 0..NR {
                acc[i][l] = madd::<F>(xv, w[l], acc[i][l]);
            }
        }
    }
    acc
}

#[inline(always)]
fn sgemm_body<const F: bool, const R: usize>(
    x: &[f32],
    rows: usize,
    k: usize,
    xs: usize,
    wt: &[f32],
    op: usize,
    y: &mut [f32],
) {
    let mut r = 0;
    while r + R <= rows {
        let xr: [&[f32]; R] = std::array::from_fn(|i| &x[(r + i) * xs..(r + i) * xs + k]);
        for o0 in (0..op).step_by(NR) {
            let acc = block::<F, R>(xr, wt, op, o0, k);
            for (i, a) in acc.iter().enumerate() {
                y[(r + i) * op + o0..(r + i) * op + o0 + NR].copy_from_slice(a);
            }
        }
        r += R;
    }
    while r < rows {
        let xr = [&x[r * xs..r * xs + k]];
        for o0 in (0..op).step_by(NR) {
            let acc = block::<F, 1>(xr, wt, op, o0, k);
            y[r * op + o0..r * op + o0 + NR].copy_from_slice(&acc[0]);
        }
        r += 1;
    }
}

/// One row: `y[o] = sum_k x[k] * wt[k][o]`, accumulated as 4 interleaved partial sums
/// (`k % SPLIT`) combined as `(s0 + s1) + (s2 + s3)`. For long reductions with few outputs
/// (the classifier), where a single chain would be latency-bound.
pub fn gemv(mode: FloatMode, x: &[f32], wt: &[f32], outs_p: usize, y: &mut [f32]) {
    assert!(
        outs_p.is_multiple_of(NR) && wt.len() >= x.len() * outs_p && y.len() >= outs_p,
        "gemv buffer sizes"
    );
    run_portable(
        mode,
        Gemv {
            x,
            wt,
            op: outs_p,
            y,
        },
    )
}

/// The arguments of [`gemv`], run by [`run_portable`].
struct Gemv<'a> {
    x: &'a [f32],
    wt: &'a [f32],
    op: usize,
    y: &'a mut [f32],
}

impl Portable for Gemv<'_> {
    type Out = ();
    #[inline(always)]
    fn run<const F: bool>(self) {
        gemv_body::<F>(self.x, self.wt, self.op, self.y)
    }
}

#[inline(always)]
fn gemv_body<const F: bool>(x: &[f32], wt: &[f32], op: usize, y: &mut [f32]) {
    let k = x.len();
    for o0 in (0..op).step_by(NR) {
        let mut acc = [[0f32; NR]; SPLIT];
        let step = |kk: usize, s: usize, acc: &mut [[f32; NR]; SPLIT]| {
            let w: &[f32; NR] = wt[kk * op + o0..kk * op + o0 + NR]
                .try_into()
                .expect("NR-wide slice");
            for l in 0..NR {
                acc[s][l] = madd::<F>(x[kk], w[l], acc[s][l]);
            }
        };
        // Unrolled by SPLIT so that the partial sum of element kk is always kk % SPLIT.
        let mut kk = 0;
        while kk + SPLIT <= k {
            for s in 0..SPLIT {
                step(kk + s, s, &mut acc);
            }
            kk += SPLIT;
        }
        for s in 0..k - kk {
            step(kk + s, s, &mut acc);
        }
        for l in 0..NR {
            y[o0 + l] = (acc[0][l] + acc[1][l]) + (acc[2][l] + acc[3][l]);
        }
    }
}

/// Depthwise 1-D convolution over time, vectorised across channels:
/// `out[t][c] = sum_tap w[tap][c] * xp[t + tap][c]` for `t < steps` (`xp` has
/// `steps + taps - 1` rows of `m` channels; the sum runs over taps in order from zero).
pub fn depthwise(
    mode: FloatMode,
    w: &[f32],
    taps: usize,
    xp: &[f32],
    steps: usize,
    m: usize,
    out: &mut [f32],
) {
    assert!(
        w.len() >= taps * m
            && xp.len() >= (steps + taps).saturating_sub(1) * m
            && out.len() >= steps * m,
        "depthwise buffer sizes"
    );
    run_portable(
        mode,
        Depthwise {
            w,
            taps,
            xp,
            steps,
            m,
            out,
        },
    )
}

/// The arguments of [`depthwise`], run by [`run_portable`].
struct Depthwise<'a> {
    w: &'a [f32],
    taps: usize,
    xp: &'a [f32],
    steps: usize,
    m: usize,
    out: &'a mut [f32],
}

impl Portable for Depthwise<'_> {
    type Out = ();
    #[inline(always)]
    fn run<const F: bool>(self) {
        depthwise_body::<F>(self.w, self.taps, self.xp, self.steps, self.m, self.out)
    }
}

#[inline(always)]
fn depthwise_body<const F: bool>(
    w: &[f32],
    taps: usize,
    xp: &[f32],
    steps: usize,
    m: usize,
    out: &mut [f32],
) {
    for t in 0..steps {
        // NR channels at a time in registers, then the remainder one by one; the order of the
        // sum over taps is the same either way.
        let mut c = 0;
        while c + NR <= m {
            let mut acc = [0f32; NR];
            for tap in 0..taps {
                let wr: &[f32; NR] = w[tap * m + c..tap * m + c + NR]
                    .try_into()
                    .expect("NR-wide slice");
                let xr: &[f32; NR] = xp[(t + tap) * m + c..(t + tap) * m + c + NR]
                    .try_into()
                    .expect("NR-wide slice");
                for l in 0..NR {
                    acc[l] = madd::<F>(wr[l], xr[l], acc[l]);
                }
            }
            out[t * m + c..t * m + c + NR].copy_from_slice(&acc);
            c += NR;
        }
        while c < m {
            let mut acc = 0f32;
            for tap in 0..taps {
                acc = madd::<F>(w[tap * m + c], xp[(t + tap) * m + c], acc);
            }
            out[t * m + c] = acc;
            c += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::SplitMix64;

    fn naive(x: &[f32], rows: usize, k: usize, wt: &[f32], op: usize) -> Vec<f64> {
        let mut y = vec![0.0; rows * op];
        for r in 0..rows {
            for o in 0..op {
                y[r * op + o] = (0..k)
                    .map(|i| x[r * k + i] as f64 * wt[i * op + o] as f64)
                    .sum();
            }
        }
        y
    }

    #[test]
    fn sgemm_matches_f64_and_is_one_chain_per_output() {
        let mut g = SplitMix64::new(1);
        for (rows, k, op) in [
            (1, 1, 16),
            (3, 7, 16),
            (8, 128, 256),
            (9, 25, 32),
            (64, 400, 32),
        ] {
            let x = g.vec(rows * k, -1.0, 1.0);
            let wt = g.vec(k * op, -1.0, 1.0);
            let want = naive(&x, rows, k, &wt, op);
            for mode in [FloatMode::Exact, FloatMode::Fused] {
                let mut y = vec![f32::NAN; rows * op];
                sgemm(mode, Rows::dense(&x, rows, k), &wt, op, &mut y);
                for (a, b) in y.iter().zip(&want) {
                    assert!(
                        (*a as f64 - b).abs() < 1e-4 * (k as f64).sqrt(),
                        "{a} vs {b}"
                    );
                }
                if mode == FloatMode::Exact {
                    // The exact mode is the literal sequential chain, bit for bit.
                    for r in 0..rows {
                        for o in 0..op {
                            let mut acc = 0f32;
                            for i in 0..k {
                                acc += x[r * k + i] * wt[i * op + o];
                            }
                            assert_eq!(acc.to_bits(), y[r * op + o].to_bits());
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn prelu_is_the_definition_bit_for_bit() {
        for v in [
            0.0f32,
            -0.0,
            1.5,
            -1.5,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e-40,
            -1e-40,
        ] {
            for a in [0.0f32, 0.25, -0.5] {
                let want = if v >= 0.0 { v } else { a * v };
                assert_eq!(prelu(v, a).to_bits(), want.to_bits(), "prelu({v}, {a})");
            }
        }
        assert!(prelu(f32::NAN, 0.25).is_nan());
    }

    #[test]
    fn depthwise_is_one_chain_per_output() {
        let mut g = SplitMix64::new(3);
        for (taps, steps, m) in [(5, 8, 128), (3, 3, 19), (1, 1, 1)] {
            let w = g.vec(taps * m, -1.0, 1.0);
            let xp = g.vec((steps + taps - 1) * m, -1.0, 1.0);
            let mut out = vec![0.0; steps * m];
            depthwise(FloatMode::Exact, &w, taps, &xp, steps, m, &mut out);
            for t in 0..steps {
                for c in 0..m {
                    let mut acc = 0f32;
                    for k in 0..taps {
                        acc += w[k * m + c] * xp[(t + k) * m + c];
                    }
                    assert_eq!(acc.to_bits(), out[t * m + c].to_bits());
                }
            }
        }
    }

    #[test]
    fn gemv_matches_its_definition_bit_for_bit() {
        let mut g = SplitMix64::new(2);
        let (k, op) = (1027, 16);
        let x = g.vec(k, -1.0, 1.0);
        let wt = g.vec(k * op, -1.0, 1.0);
        let mut y = vec![0.0; op];
        gemv(FloatMode::Exact, &x, &wt, op, &mut y);
        for o in 0..op {
            let mut s = [0f32; SPLIT];
            for i in 0..k {
                s[i % SPLIT] += x[i] * wt[i * op + o];
            }
            assert_eq!(((s[0] + s[1]) + (s[2] + s[3])).to_bits(), y[o].to_bits());
        }
    }
}
