//! XOR-popcount products of bit rows: the core of every binary layer.
//!
//! For activation rows `a[r]` (a [`BitRows`]) and weight rows `w[o]` (a [`PreparedBits`]) the
//! kernels compute `out[r][o] = popcount(a[r] ^ w[o])` over all words, or, masked,
//! `popcount((a[r] ^ w[o]) & m[r])` with a per-row mask (conv2's 400-bit patches, whose taps
//! that fall outside the input contribute 0). The dot product of the ±1 vectors is then
//! `valid_bits - 2 * out` (bit = 1 means -1, see [`crate::bitpack`]).
//!
//! Outputs are written for every padded row and every padded output (`rows_padded` x
//! `outs_padded`, row-major); padding weight rows are zero, so padded outputs are harmless.
//!
//! The kernels live in the ISA folders of [`crate::isa`] (`gemm.rs` in each):
//! * `scalar`: the reference (`u64::count_ones`), canonical row-major weights;
//! * `x86_64`: AVX2, AVX-512BW and AVX-512 VPOPCNTDQ on an out-interleaved weight layout
//!   (`[group of 8 outputs][word][8]`) so that one broadcast activation word meets 8 outputs
//!   per vector and no horizontal reduction is needed;
//! * `aarch64`: row-major weights, 4 rows x 4 outputs per block, `eor`/`cnt`/`uadalp` per
//!   128-bit chunk and one `addp` tree per block (ARMv8.0 only).

use crate::bitpack::{BitRows, ROW_BLOCK, stride_for, words_for};
use crate::isa::{Isa, PopcountJob};

/// Output rows are padded to this many (the x86 kernels' output vector width).
pub const OUT_BLOCK: usize = 8;

/// Weight rows laid out for one [`Isa`]'s kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedBits {
    isa: Isa,
    outs: usize,
    outs_padded: usize,
    bits: usize,
    data: Vec<u64>,
}

impl PreparedBits {
    /// Lay out `outs` canonical weight rows of `bits` bits (`outs` x `words_for(bits)` words,
    /// row-major, padding bits zero) for `isa`.
    pub fn new(isa: Isa, canonical: &[u64], outs: usize, bits: usize) -> Self {
        let words = words_for(bits);
        assert_eq!(canonical.len(), outs * words, "canonical weight length");
        let outs_padded = outs.next_multiple_of(OUT_BLOCK).max(OUT_BLOCK);
        let data = match isa {
            Isa::Avx2 | Isa::Avx512Bw | Isa::Avx512Vpopcnt => {
                // [group][word][lane]: word j of outputs g*8 .. g*8+8 side by side.
                let groups = outs_padded / OUT_BLOCK;
                let mut d = vec![0u64; groups * words * OUT_BLOCK];
                for o in 0..outs {
                    let (g, l) = (o / OUT_BLOCK, o % OUT_BLOCK);
                    for j in 0..words {
                        d[(g * words + j) * OUT_BLOCK + l] = canonical[o * words + j];
                    }
                }
                d
            }
            Isa::Scalar | Isa::Neon => {
                let stride = stride_for(bits).max(2);
                let mut d = vec![0u64; outs_padded * stride];
                for o in 0..outs {
                    d[o * stride..o * stride + words]
                        .copy_from_slice(&canonical[o * words..(o + 1) * words]);
                }
                d
            }
        };
        Self {
            isa,
            outs,
            outs_padded,
            bits,
            data,
        }
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }
    pub fn outs(&self) -> usize {
        self.outs
    }
    /// Row stride of the output matrix.
    pub fn outs_padded(&self) -> usize {
        self.outs_padded
    }
    pub fn bits(&self) -> usize {
        self.bits
    }
    /// Bytes of the laid-out weights.
    pub fn bytes(&self) -> usize {
        self.data.len() * 8
    }
}

fn check(a: &BitRows, w: &PreparedBits, rows: std::ops::Range<usize>, out: &[u32]) {
    assert_eq!(
        a.bits(),
        w.bits,
        "activation and weight rows differ in length"
    );
    assert!(
        rows.start.is_multiple_of(ROW_BLOCK)
            && rows.end.is_multiple_of(ROW_BLOCK)
            && rows.end <= a.rows_padded(),
        "row range must be whole blocks inside the padded rows"
    );
    assert_eq!(out.len(), rows.len() * w.outs_padded, "output length");
    assert!(
        w.isa.is_supported(),
        "{} is not supported on this CPU",
        w.isa
    );
}

/// `out[r][o] = popcount(a[r] ^ w[o])` for all padded rows (`out` is `rows_padded x
/// outs_padded`). The implementation is `w.isa()`.
pub fn xor_popcount(a: &BitRows, w: &PreparedBits, out: &mut [u32]) {
    xor_popcount_rows(a, w, 0..a.rows_padded(), out);
}

/// As [`xor_popcount`] for the row block range `rows` only (`out` holds those rows); lets
/// callers split one product across threads.
pub fn xor_popcount_rows(
    a: &BitRows,
    w: &PreparedBits,
    rows: std::ops::Range<usize>,
    out: &mut [u32],
) {
    check(a, w, rows.clone(), out);
    let a_data = &a.data()[rows.start * a.stride()..rows.end * a.stride()];
    let job = PopcountJob {
        a: a_data,
        mask: None,
        rows: rows.len(),
        stride: a.stride(),
        words: a.words(),
        w: &w.data,
        outs_padded: w.outs_padded,
    };
    dispatch(w.isa, &job, out);
}

/// `out[r][o] = popcount((a[r] ^ w[o]) & m[r])`; `masks` has the same shape as `a`.
pub fn xor_popcount_masked(a: &BitRows, masks: &BitRows, w: &PreparedBits, out: &mut [u32]) {
    xor_popcount_masked_rows(a, masks, w, 0..a.rows_padded(), out);
}

/// As [`xor_popcount_masked`] for a row block range.
pub fn xor_popcount_masked_rows(
    a: &BitRows,
    masks: &BitRows,
    w: &PreparedBits,
    rows: std::ops::Range<usize>,
    out: &mut [u32],
) {
    check(a, w, rows.clone(), out);
    assert!(
        masks.bits() == a.bits() && masks.rows_padded() == a.rows_padded(),
        "mask shape differs from the activations"
    );
    let range = rows.start * a.stride()..rows.end * a.stride();
    let job = PopcountJob {
        a: &a.data()[range.clone()],
        mask: Some(&masks.data()[range]),
        rows: rows.len(),
        stride: a.stride(),
        words: a.words(),
        w: &w.data,
        outs_padded: w.outs_padded,
    };
    dispatch(w.isa, &job, out);
}

/// Run the kernel of `isa` on a job whose shapes [`check`] validated.
fn dispatch(isa: Isa, job: &PopcountJob<'_>, out: &mut [u32]) {
    // SAFETY: support was checked in `check`; slice shapes were validated there too.
    unsafe { crate::isa::xor_popcount(isa, job, out) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random_rows(rng: &mut ChaCha8Rng, rows: usize, bits: usize, density: f64) -> Vec<u64> {
        let words = words_for(bits);
        let mut v = vec![0u64; rows * words];
        for r in 0..rows {
            for i in 0..bits {
                if rng.random_bool(density) {
                    v[r * words + i / 64] |= 1 << (i % 64);
                }
            }
        }
        v
    }

    /// The literal definition, independent of every kernel.
    fn naive(
        a: &[u64],
        m: Option<&[u64]>,
        w: &[u64],
        rows: usize,
        outs: usize,
        words: usize,
    ) -> Vec<u32> {
        let mut out = vec![0; rows * outs];
        for r in 0..rows {
            for o in 0..outs {
                out[r * outs + o] = (0..words)
                    .map(|j| {
                        let x = a[r * words + j] ^ w[o * words + j];
                        let x = m.map_or(x, |m| x & m[r * words + j]);
                        x.count_ones()
                    })
                    .sum();
            }
        }
        out
    }

    fn check_shape(rng: &mut ChaCha8Rng, rows: usize, outs: usize, bits: usize, density: f64) {
        let words = words_for(bits);
        let a = random_rows(rng, rows, bits, density);
        let m = random_rows(rng, rows, bits, 0.8);
        let w = random_rows(rng, outs, bits, density);
        let want = naive(&a, None, &w, rows, outs, words);
        let want_m = naive(&a, Some(&m), &w, rows, outs, words);
        let ab = BitRows::from_rows(rows, bits, &a);
        let mb = BitRows::from_rows(rows, bits, &m);
        for isa in Isa::available() {
            let pw = PreparedBits::new(isa, &w, outs, bits);
            let op = pw.outs_padded();
            let mut out = vec![u32::MAX; ab.rows_padded() * op];
            xor_popcount(&ab, &pw, &mut out);
            let mut out_m = vec![u32::MAX; ab.rows_padded() * op];
            xor_popcount_masked(&ab, &mb, &pw, &mut out_m);
            for r in 0..rows {
                for o in 0..outs {
                    assert_eq!(
                        out[r * op + o],
                        want[r * outs + o],
                        "{isa} {rows}x{outs}x{bits} r{r} o{o}"
                    );
                    assert_eq!(
                        out_m[r * op + o],
                        want_m[r * outs + o],
                        "{isa} masked {rows}x{outs}x{bits} r{r} o{o}"
                    );
                }
            }
            // The padded rows and outputs agree with the scalar kernel too (all-zero rows).
            let ps = PreparedBits::new(Isa::Scalar, &w, outs, bits);
            let mut out_s = vec![0; ab.rows_padded() * op];
            xor_popcount(&ab, &ps, &mut out_s);
            assert_eq!(out, out_s, "{isa} padded outputs");
        }
    }

    #[test]
    fn every_isa_matches_the_definition_on_model_shapes() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for (rows, outs, bits) in [
            (16, 256, 128),
            (16, 128, 256),
            (128, 32, 400),
            (8, 128, 256),
        ] {
            check_shape(&mut rng, rows, outs, bits, 0.5);
        }
    }

    #[test]
    fn every_isa_matches_on_odd_shapes_and_edge_densities() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        for (rows, outs, bits) in [
            (1, 1, 1),
            (3, 5, 63),
            (5, 9, 64),
            (7, 17, 65),
            (4, 8, 127),
            (9, 3, 129),
            (2, 33, 1000),
            (6, 7, 64 * 40 + 3), // more than 31 words: the byte-counter flush path
            (4, 8, 64 * 70),
        ] {
            for density in [0.0, 1.0, 0.5, 0.03] {
                check_shape(&mut rng, rows, outs, bits, density);
            }
        }
    }

    #[test]
    fn row_ranges_compute_the_same_rows() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let (rows, outs, bits) = (16, 24, 256);
        let a = BitRows::from_rows(rows, bits, &random_rows(&mut rng, rows, bits, 0.5));
        let w = random_rows(&mut rng, outs, bits, 0.5);
        for isa in Isa::available() {
            let pw = PreparedBits::new(isa, &w, outs, bits);
            let op = pw.outs_padded();
            let mut full = vec![0; 16 * op];
            xor_popcount(&a, &pw, &mut full);
            let mut part = vec![0; 8 * op];
            xor_popcount_rows(&a, &pw, 4..12, &mut part);
            assert_eq!(&part[..], &full[4 * op..12 * op]);
        }
    }
}
