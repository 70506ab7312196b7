//! x86-64 kernels on the out-interleaved layout `w[(g * words + j) * 8 + l]` (word `j` of
//! output `g * 8 + l`).
//!
//! One activation word is broadcast to every lane and XORed with word `j` of 8 outputs at once,
//! so the popcounts accumulate per lane and the 8 results come out in one vector: no horizontal
//! reduction. Register block: 4 activation rows x 8 (AVX2) or 16 (AVX-512) outputs.
//!
//! AVX2 and AVX-512BW have no vector popcount: bytes are counted with a 16-entry nibble table
//! (`vpshufb`), summed as bytes for up to 31 words (31 * 8 = 248 < 256 cannot overflow), then
//! folded into 64-bit lanes with `vpsadbw`. VPOPCNTDQ counts 64-bit lanes directly.

use crate::bitpack::ROW_BLOCK;
use crate::gemm::OUT_BLOCK;
use crate::isa::kernel::PopcountJob;
use std::arch::x86_64::*;

/// Words summed as bytes before `vpsadbw` folds them (each byte grows by at most 8 per word).
const BYTE_WORDS: usize = 31;

const NIBBLE_POPCOUNT: [i8; 16] = [0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4];

/// # Safety
/// AVX2 is available.
#[inline(always)]
unsafe fn popcnt8_256(x: __m256i, lut: __m256i, low: __m256i) -> __m256i {
    // SAFETY: register-only AVX2 operations; the caller runs with AVX2 enabled.
    unsafe {
        let lo = _mm256_and_si256(x, low);
        let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(x), low);
        _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi))
    }
}

/// Two vectors of four u64 (each < 2^32) to eight u32 in order.
///
/// # Safety
/// AVX2 is available.
#[inline(always)]
unsafe fn narrow_256(lo: __m256i, hi: __m256i) -> __m256i {
    // SAFETY: register-only AVX2 operations.
    unsafe {
        // Per 128-bit lane: [lo0, lo1, hi0, hi1] | [lo2, lo3, hi2, hi3] ...
        let s =
            _mm256_shuffle_ps::<0b10_00_10_00>(_mm256_castsi256_ps(lo), _mm256_castsi256_ps(hi));
        // ... then reorder the 64-bit pairs to [lo0 lo1 lo2 lo3 hi0 hi1 hi2 hi3].
        _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_castps_si256(s))
    }
}

/// # Safety
/// AVX2; rows `r0..r0 + 4` and output group `g` exist in the job, and `out` holds
/// rows `r0..r0 + 4` of `outs_padded` values.
#[inline(always)]
unsafe fn avx2_block<const MASKED: bool>(
    job: &PopcountJob<'_>,
    r0: usize,
    g: usize,
    out: &mut [u32],
) {
    let words = job.words;
    let s = job.stride;
    // SAFETY: every pointer below stays inside `job.a`, `job.mask`, `job.w` and `out`, whose
    // shapes `crate::gemm::check` validated (rows r0..r0+4 exist, group g exists,
    // j < words <= stride).
    unsafe {
        let lut = _mm256_loadu_si256([NIBBLE_POPCOUNT, NIBBLE_POPCOUNT].as_ptr() as *const __m256i);
        let low = _mm256_set1_epi8(0x0f);
        let zero = _mm256_setzero_si256();
        let a = job.a.as_ptr().add(r0 * s);
        let m = job
            .mask
            .map_or(std::ptr::null(), |m| m.as_ptr().add(r0 * s));
        let w = job.w.as_ptr().add(g * words * OUT_BLOCK);
        let mut acc = [[zero; 2]; ROW_BLOCK];
        let mut j0 = 0;
        while j0 < words {
            let j1 = (j0 + BYTE_WORDS).min(words);
            let mut bytes = [[zero; 2]; ROW_BLOCK];
            for j in j0..j1 {
                let w0 = _mm256_loadu_si256(w.add(j * OUT_BLOCK) as *const __m256i);
                let w1 = _mm256_loadu_si256(w.add(j * OUT_BLOCK + 4) as *const __m256i);
                for (i, bytes) in bytes.iter_mut().enumerate() {
                    let av = _mm256_set1_epi64x(*a.add(i * s + j) as i64);
                    let mut x0 = _mm256_xor_si256(av, w0);
                    let mut x1 = _mm256_xor_si256(av, w1);
                    if MASKED {
                        let mv = _mm256_set1_epi64x(*m.add(i * s + j) as i64);
                        x0 = _mm256_and_si256(x0, mv);
                        x1 = _mm256_and_si256(x1, mv);
                    }
                    bytes[0] = _mm256_add_epi8(bytes[0], popcnt8_256(x0, lut, low));
                    bytes[1] = _mm256_add_epi8(bytes[1], popcnt8_256(x1, lut, low));
                }
            }
            for i in 0..ROW_BLOCK {
                for h in 0..2 {
                    acc[i][h] = _mm256_add_epi64(acc[i][h], _mm256_sad_epu8(bytes[i][h], zero));
                }
            }
            j0 = j1;
        }
        for (i, acc) in acc.iter().enumerate() {
            let dst = out
                .as_mut_ptr()
                .add((r0 + i) * job.outs_padded + g * OUT_BLOCK);
            _mm256_storeu_si256(dst as *mut __m256i, narrow_256(acc[0], acc[1]));
        }
    }
}

/// # Safety
/// The CPU has the features this function enables; the job's slices have the shapes their
/// fields state (validated by `crate::gemm`), with `w` in this ISA's layout.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn avx2(job: &PopcountJob<'_>, out: &mut [u32]) {
    let groups = job.outs_padded / OUT_BLOCK;
    for r0 in (0..job.rows).step_by(ROW_BLOCK) {
        for g in 0..groups {
            // SAFETY: shapes validated by `crate::gemm::check`; AVX2 enabled on this function.
            unsafe {
                if job.mask.is_some() {
                    avx2_block::<true>(job, r0, g, out)
                } else {
                    avx2_block::<false>(job, r0, g, out)
                }
            }
        }
    }
}

/// How the 512-bit kernels count a vector of XORed words.
#[derive(Clone, Copy)]
enum Counter {
    /// Nibble lookup into byte counters, folded by `vpsadbw` (AVX-512BW).
    Bytes,
    /// `vpopcntq` straight into 64-bit lanes (AVX-512 VPOPCNTDQ).
    Qwords,
}

/// # Safety
/// AVX-512F, AVX2 and (for `VPOPCNT`) VPOPCNTDQ, else AVX-512BW; rows `r0..r0 + 4` and
/// output groups `g0..g0 + NG` exist in the job, and `out` holds rows `r0..r0 + 4`.
#[inline(always)]
unsafe fn avx512_block<const NG: usize, const MASKED: bool, const VPOPCNT: bool>(
    job: &PopcountJob<'_>,
    r0: usize,
    g0: usize,
    out: &mut [u32],
) {
    let words = job.words;
    let s = job.stride;
    let counter = if VPOPCNT {
        Counter::Qwords
    } else {
        Counter::Bytes
    };
    // SAFETY: as in `avx2_block`: rows r0..r0+4 and groups g0..g0+NG exist, j < words.
    unsafe {
        let lut =
            _mm512_broadcast_i32x4(_mm_loadu_si128(NIBBLE_POPCOUNT.as_ptr() as *const __m128i));
        let low = _mm512_set1_epi8(0x0f);
        let zero = _mm512_setzero_si512();
        let a = job.a.as_ptr().add(r0 * s);
        let m = job
            .mask
            .map_or(std::ptr::null(), |m| m.as_ptr().add(r0 * s));
        let w = job.w.as_ptr().add(g0 * words * OUT_BLOCK);
        let mut acc = [[zero; NG]; ROW_BLOCK];
        let mut j0 = 0;
        while j0 < words {
            let j1 = match counter {
                Counter::Bytes => (j0 + BYTE_WORDS).min(words),
                Counter::Qwords => words,
            };
            let mut bytes = [[zero; NG]; ROW_BLOCK];
            for j in j0..j1 {
                let mut wv = [zero; NG];
                for (k, wv) in wv.iter_mut().enumerate() {
                    *wv = _mm512_loadu_si512(w.add((k * words + j) * OUT_BLOCK) as *const __m512i);
                }
                for i in 0..ROW_BLOCK {
                    let av = _mm512_set1_epi64(*a.add(i * s + j) as i64);
                    let mv = if MASKED {
                        _mm512_set1_epi64(*m.add(i * s + j) as i64)
                    } else {
                        zero
                    };
                    for k in 0..NG {
                        let x = if MASKED {
                            // (a ^ w) & m: truth table (0xF0 ^ 0xCC) & 0xAA = 0x28.
                            _mm512_ternarylogic_epi64::<0x28>(av, wv[k], mv)
                        } else {
                            _mm512_xor_si512(av, wv[k])
                        };
                        match counter {
                            Counter::Qwords => {
                                acc[i][k] = _mm512_add_epi64(acc[i][k], _mm512_popcnt_epi64(x))
                            }
                            Counter::Bytes => {
                                let lo = _mm512_and_si512(x, low);
                                let hi = _mm512_and_si512(_mm512_srli_epi16::<4>(x), low);
                                let c = _mm512_add_epi8(
                                    _mm512_shuffle_epi8(lut, lo),
                                    _mm512_shuffle_epi8(lut, hi),
                                );
                                bytes[i][k] = _mm512_add_epi8(bytes[i][k], c);
                            }
                        }
                    }
                }
            }
            if let Counter::Bytes = counter {
                for i in 0..ROW_BLOCK {
                    for k in 0..NG {
                        acc[i][k] = _mm512_add_epi64(acc[i][k], _mm512_sad_epu8(bytes[i][k], zero));
                    }
                }
            }
            j0 = j1;
        }
        for (i, acc) in acc.iter().enumerate() {
            for (k, acc) in acc.iter().enumerate() {
                let dst = out
                    .as_mut_ptr()
                    .add((r0 + i) * job.outs_padded + (g0 + k) * OUT_BLOCK);
                _mm256_storeu_si256(dst as *mut __m256i, _mm512_cvtepi64_epi32(*acc));
            }
        }
    }
}

/// # Safety
/// As [`avx512_block`] for the whole job (validated by `crate::gemm`).
#[inline(always)]
unsafe fn avx512_all<const VPOPCNT: bool>(job: &PopcountJob<'_>, out: &mut [u32]) {
    let groups = job.outs_padded / OUT_BLOCK;
    let masked = job.mask.is_some();
    for r0 in (0..job.rows).step_by(ROW_BLOCK) {
        let mut g = 0;
        // SAFETY: shapes validated by `crate::gemm::check`; the callers enable the needed features.
        unsafe {
            while g + 2 <= groups {
                if masked {
                    avx512_block::<2, true, VPOPCNT>(job, r0, g, out)
                } else {
                    avx512_block::<2, false, VPOPCNT>(job, r0, g, out)
                }
                g += 2;
            }
            if g < groups {
                if masked {
                    avx512_block::<1, true, VPOPCNT>(job, r0, g, out)
                } else {
                    avx512_block::<1, false, VPOPCNT>(job, r0, g, out)
                }
            }
        }
    }
}

/// # Safety
/// The CPU has the features this function enables; the job's slices have the shapes their
/// fields state (validated by `crate::gemm`), with `w` in this ISA's layout.
#[target_feature(enable = "avx512f,avx512bw,avx2")]
pub(super) unsafe fn avx512bw(job: &PopcountJob<'_>, out: &mut [u32]) {
    // SAFETY: features enabled on this function; shapes validated by `crate::gemm::check`.
    unsafe { avx512_all::<false>(job, out) }
}

/// # Safety
/// The CPU has the features this function enables; the job's slices have the shapes their
/// fields state (validated by `crate::gemm`), with `w` in this ISA's layout.
#[target_feature(enable = "avx512f,avx512vpopcntdq,avx2")]
pub(super) unsafe fn avx512vpopcnt(job: &PopcountJob<'_>, out: &mut [u32]) {
    // SAFETY: features enabled on this function; shapes validated by `crate::gemm::check`.
    unsafe { avx512_all::<true>(job, out) }
}
