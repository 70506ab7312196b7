//! Bit packing: weights to sign bits, activations to the two dual-scale bit planes.
//!
//! Convention everywhere (file, kernels, inspection): **bit = 1 means -1**, bit = 0 means +1,
//! i.e. the bit is the sign bit of `sgn(u)` with `sgn(u) = +1 if u >= 0 else -1` (NaN counts as
//! -1, the same as `!(u >= 0)`). Element `i` of a row lives in word `i / 64`, bit `i % 64`
//! (least significant bit first); padding bits past the end of a row are always 0 so that
//! XOR-popcount products need no masking except where a layer pads with *zeros* (conv2).
//!
//! [`binarize_row`] is the activation micro-kernel: one threshold compare for plane 1
//! (`b1 = sgn(x - tau0)`), the residual `r = (x - b1) - tau1`, a second compare for plane 2
//! (`b2 = sgn(r)`), and the sum of `|r|` for the dual scale `s2`. That sum uses one fixed order
//! on every ISA (eight lane sums, lane `i % 8`, combined by [`reduce8`]) so that the whole binary
//! forward is bit-identical across scalar, AVX2, AVX-512 and NEON. The kernels themselves live
//! in the ISA folders of [`crate::isa`].

use crate::isa::Isa;

/// Rows of [`BitRows`] are allocated in multiples of this (the kernels' register block).
pub const ROW_BLOCK: usize = 4;

/// Words needed for `bits` bits.
pub const fn words_for(bits: usize) -> usize {
    bits.div_ceil(64)
}

/// Row stride in words: rounded up to 128 bits so that NEON/SSE loads never split a word pair.
pub const fn stride_for(bits: usize) -> usize {
    words_for(bits).next_multiple_of(2)
}

/// The sign bit of `sgn(v)`: true (bit 1) when `sgn(v) = -1`.
#[inline(always)]
#[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(v >= 0)` is true for NaN, unlike `v < 0`.
pub fn sign_bit(v: f32) -> bool {
    !(v >= 0.0)
}

/// Read bit `i` of a little-endian word array.
#[inline]
pub fn get_bit(words: &[u64], i: usize) -> bool {
    (words[i / 64] >> (i % 64)) & 1 == 1
}

/// Set bit `i` of a little-endian word array to `v`.
#[inline]
pub fn set_bit(words: &mut [u64], i: usize, v: bool) {
    let m = 1u64 << (i % 64);
    if v {
        words[i / 64] |= m;
    } else {
        words[i / 64] &= !m;
    }
}

/// Pack the signs of `values` into a flat bit stream (`bit = 1` where `sgn(v) = -1`).
pub fn pack_signs(values: &[f32]) -> Vec<u64> {
    let mut out = vec![0u64; words_for(values.len())];
    for (i, &v) in values.iter().enumerate() {
        if sign_bit(v) {
            out[i / 64] |= 1 << (i % 64);
        }
    }
    out
}

/// Copy `len` bits starting at bit `src_off` of `src` into `dst` starting at bit `dst_off`
/// (bits of `dst` outside the range are kept).
pub fn copy_bits(src: &[u64], src_off: usize, dst: &mut [u64], dst_off: usize, len: usize) {
    let mut done = 0;
    while done < len {
        let s = src_off + done;
        let d = dst_off + done;
        // Largest run that stays inside one source word and one destination word.
        let n = (len - done).min(64 - s % 64).min(64 - d % 64);
        let field = (src[s / 64] >> (s % 64)) & low_mask(n);
        let dm = low_mask(n) << (d % 64);
        dst[d / 64] = (dst[d / 64] & !dm) | (field << (d % 64));
        done += n;
    }
}

#[inline(always)]
fn low_mask(n: usize) -> u64 {
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}

/// A block of bit rows as the XOR-popcount kernels read them: `rows_padded` rows (a multiple of
/// [`ROW_BLOCK`]) of `stride` words each, zero-initialised. Rows past `rows` stay zero.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitRows {
    rows: usize,
    rows_padded: usize,
    bits: usize,
    stride: usize,
    data: Vec<u64>,
}

impl BitRows {
    /// `rows` rows of `bits` bits each, all zero.
    pub fn new(rows: usize, bits: usize) -> Self {
        let rows_padded = rows.next_multiple_of(ROW_BLOCK).max(ROW_BLOCK);
        let stride = stride_for(bits).max(2);
        Self {
            rows,
            rows_padded,
            bits,
            stride,
            data: vec![0; rows_padded * stride],
        }
    }

    /// Build from canonical rows (`rows` x `words_for(bits)` words, row-major).
    pub fn from_rows(rows: usize, bits: usize, words: &[u64]) -> Self {
        let mut out = Self::new(rows, bits);
        let w = words_for(bits);
        assert_eq!(
            words.len(),
            rows * w,
            "canonical row data has the wrong length"
        );
        for r in 0..rows {
            out.row_mut(r)[..w].copy_from_slice(&words[r * w..(r + 1) * w]);
        }
        out.clear_padding_bits();
        out
    }

    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn rows_padded(&self) -> usize {
        self.rows_padded
    }
    /// Meaningful bits per row.
    pub fn bits(&self) -> usize {
        self.bits
    }
    /// Words holding meaningful bits.
    pub fn words(&self) -> usize {
        words_for(self.bits)
    }
    /// Words per row in memory.
    pub fn stride(&self) -> usize {
        self.stride
    }
    pub fn data(&self) -> &[u64] {
        &self.data
    }
    pub fn data_mut(&mut self) -> &mut [u64] {
        &mut self.data
    }
    pub fn row(&self, r: usize) -> &[u64] {
        &self.data[r * self.stride..(r + 1) * self.stride]
    }
    pub fn row_mut(&mut self, r: usize) -> &mut [u64] {
        &mut self.data[r * self.stride..(r + 1) * self.stride]
    }

    /// Two distinct rows mutably (`a < b`), e.g. the two planes of one activation row.
    pub fn row_pair_mut(&mut self, a: usize, b: usize) -> (&mut [u64], &mut [u64]) {
        assert!(a < b, "row_pair_mut needs a < b");
        let s = self.stride;
        let (head, tail) = self.data.split_at_mut(b * s);
        (&mut head[a * s..(a + 1) * s], &mut tail[..s])
    }

    /// Zero the bits past `bits` in every row (the kernels rely on that).
    pub fn clear_padding_bits(&mut self) {
        let words = self.words();
        let rem = self.bits % 64;
        for r in 0..self.rows_padded {
            let row = &mut self.data[r * self.stride..(r + 1) * self.stride];
            if rem != 0 {
                row[words - 1] &= low_mask(rem);
            }
            row[words..].fill(0);
        }
    }
}

/// The canonical combination of eight lane sums: `((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7))`
/// (the natural AVX2 horizontal add; NEON and scalar reproduce it exactly).
#[inline(always)]
pub fn reduce8(l: [f32; 8]) -> f32 {
    let a = [l[0] + l[4], l[1] + l[5], l[2] + l[6], l[3] + l[7]];
    (a[0] + a[2]) + (a[1] + a[3])
}

/// Binarise one row into both planes and return `sum |r|` (see the module docs).
///
/// Writes exactly `words_for(x.len())` words of `b1` and `b2` (padding bits zero).
/// Panics if the slices disagree in length: the callers size them from the model once.
pub fn binarize_row(
    isa: Isa,
    x: &[f32],
    tau0: &[f32],
    tau1: &[f32],
    b1: &mut [u64],
    b2: &mut [u64],
) -> f32 {
    let n = x.len();
    assert!(
        tau0.len() == n && tau1.len() == n,
        "threshold length mismatch"
    );
    let words = words_for(n);
    assert!(
        b1.len() >= words && b2.len() >= words,
        "bit buffer too short"
    );
    b1[..words].fill(0);
    b2[..words].fill(0);
    assert!(isa.is_supported(), "{isa} is not supported on this CPU");
    // SAFETY: the CPU supports `isa` and the lengths are checked above.
    unsafe { crate::isa::binarize_row(isa, x, tau0, tau1, b1, b2) }
}

/// Binarise `n` rows of `x` (each `tau0.len()` values, one reduction group each): row `r` goes
/// to row `r` (plane 1) and row `plane2 + r` (plane 2) of `out`, and `s2[r]` becomes that row's
/// mean `|r|`. Same results as [`binarize_row`] per row, with one dispatch for all rows.
pub fn binarize_rows(
    isa: Isa,
    x: &[f32],
    tau0: &[f32],
    tau1: &[f32],
    out: &mut BitRows,
    plane2: usize,
    s2: &mut [f32],
) {
    let k = tau0.len();
    let n = s2.len();
    assert!(
        tau1.len() == k && x.len() >= n * k,
        "binarize_rows input sizes"
    );
    assert!(
        out.bits() == k && plane2 >= n && plane2 + n <= out.rows_padded(),
        "binarize_rows output rows"
    );
    assert!(isa.is_supported(), "{isa} is not supported on this CPU");
    // SAFETY: the CPU supports `isa` and the sizes are checked above.
    unsafe { crate::isa::binarize_rows(isa, x, tau0, tau1, out, plane2, s2) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn sign_bit_follows_the_model_convention() {
        assert!(!sign_bit(0.0));
        assert!(!sign_bit(-0.0)); // -0.0 >= 0 is true
        assert!(!sign_bit(1e-30));
        assert!(sign_bit(-1e-30));
        assert!(sign_bit(f32::NAN));
    }

    #[test]
    fn pack_signs_is_lsb_first() {
        let v = [1.0, -1.0, 0.0, -2.0];
        assert_eq!(pack_signs(&v), vec![0b1010]);
        let mut long = vec![1.0f32; 70];
        long[64] = -1.0;
        long[69] = -1.0;
        assert_eq!(pack_signs(&long), vec![0, 0b100001]);
    }

    #[test]
    fn copy_bits_matches_bit_by_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..200 {
            let src: Vec<u64> = (0..4).map(|_| rng.random()).collect();
            let orig: Vec<u64> = (0..4).map(|_| rng.random()).collect();
            let len = rng.random_range(0..100);
            let so = rng.random_range(0..(256 - len));
            let d_o = rng.random_range(0..(256 - len));
            let mut dst = orig.clone();
            copy_bits(&src, so, &mut dst, d_o, len);
            for i in 0..256 {
                let want = if i >= d_o && i < d_o + len {
                    get_bit(&src, so + i - d_o)
                } else {
                    get_bit(&orig, i)
                };
                assert_eq!(get_bit(&dst, i), want);
            }
        }
    }

    #[test]
    fn bit_rows_pad_to_the_block() {
        let b = BitRows::new(5, 400);
        assert_eq!(b.rows_padded(), 8);
        assert_eq!(b.words(), 7);
        assert_eq!(b.stride(), 8);
        let words: Vec<u64> = vec![u64::MAX; 5 * 7];
        let b = BitRows::from_rows(5, 400, &words);
        assert_eq!(b.row(0)[6], (1u64 << 16) - 1);
        assert_eq!(b.row(0)[7], 0);
        assert!(b.row(5).iter().all(|&w| w == 0));
    }

    fn check_all_isas(x: &[f32], t0: &[f32], t1: &[f32]) {
        let n = x.len();
        let w = words_for(n).max(1);
        let (mut r1, mut r2) = (vec![!0u64; w], vec![!0u64; w]);
        let rs = binarize_row(Isa::Scalar, x, t0, t1, &mut r1, &mut r2);
        // The scalar reference against the literal definition.
        for i in 0..n {
            let s1 = if sign_bit(x[i] - t0[i]) { -1.0 } else { 1.0 };
            assert_eq!(get_bit(&r1, i), s1 < 0.0);
            assert_eq!(get_bit(&r2, i), sign_bit(x[i] - s1 - t1[i]));
        }
        for i in n..words_for(n) * 64 {
            assert!(!get_bit(&r1, i) && !get_bit(&r2, i), "padding bit {i} set");
        }
        for isa in Isa::available() {
            let (mut s1, mut s2) = (vec![!0u64; w], vec![!0u64; w]);
            let s = binarize_row(isa, x, t0, t1, &mut s1, &mut s2);
            assert_eq!(s1, r1, "{isa} plane 1, n = {n}");
            assert_eq!(s2, r2, "{isa} plane 2, n = {n}");
            assert_eq!(s.to_bits(), rs.to_bits(), "{isa} sum |r|, n = {n}");
        }
    }

    #[test]
    fn batched_rows_equal_single_rows() {
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        for k in [1usize, 100, 128, 256] {
            let n = 8;
            let x: Vec<f32> = (0..n * k).map(|_| rng.random_range(-2.0..2.0)).collect();
            let t0: Vec<f32> = (0..k).map(|_| rng.random_range(-0.3..0.3)).collect();
            let t1: Vec<f32> = (0..k).map(|_| rng.random_range(-0.3..0.3)).collect();
            for isa in Isa::available() {
                let mut rows = BitRows::new(16, k);
                rows.data_mut().fill(!0);
                let mut s2 = vec![0.0; n];
                binarize_rows(isa, &x, &t0, &t1, &mut rows, 8, &mut s2);
                for r in 0..n {
                    let (mut b1, mut b2) = (vec![0u64; words_for(k)], vec![0u64; words_for(k)]);
                    let sum = binarize_row(
                        Isa::Scalar,
                        &x[r * k..(r + 1) * k],
                        &t0,
                        &t1,
                        &mut b1,
                        &mut b2,
                    );
                    assert_eq!(&rows.row(r)[..words_for(k)], &b1[..], "{isa} k{k} r{r}");
                    assert_eq!(&rows.row(8 + r)[..words_for(k)], &b2[..]);
                    assert_eq!(s2[r].to_bits(), (sum / k as f32).to_bits());
                }
            }
        }
    }

    #[test]
    fn simd_binarisation_is_bit_exact() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for n in [
            0usize, 1, 7, 8, 9, 15, 16, 17, 31, 63, 64, 65, 100, 128, 200, 256, 400,
        ] {
            let x: Vec<f32> = (0..n).map(|_| rng.random_range(-3.0..3.0)).collect();
            let t0: Vec<f32> = (0..n).map(|_| rng.random_range(-0.5..0.5)).collect();
            let t1: Vec<f32> = (0..n).map(|_| rng.random_range(-0.5..0.5)).collect();
            check_all_isas(&x, &t0, &t1);
            // Edge cases: exact ties (u = 0 counts as +1), all negative, NaN, infinities.
            check_all_isas(&t0, &t0, &t1);
            let neg: Vec<f32> = (0..n).map(|_| -5.0).collect();
            check_all_isas(&neg, &t0, &t1);
            let mut odd = x.clone();
            for (i, v) in odd.iter_mut().enumerate() {
                match i % 5 {
                    0 => *v = f32::NAN,
                    1 => *v = f32::INFINITY,
                    2 => *v = -0.0,
                    _ => {}
                }
            }
            check_all_isas(&odd, &t0, &t1);
        }
    }
}
