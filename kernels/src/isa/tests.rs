//! One test suite for every kernel, written once and instantiated (by [`bit_kernel_suite`] and
//! [`simd_suite`]) for each implementation compiled for this architecture. An implementation
//! the CPU cannot run is skipped with a note; each one that runs must equal the scalar
//! reference bit for bit.

use super::kernel::BitKernels;
use super::scalar::{Scalar, ScalarBits};
use super::*;
use crate::bitpack::{BitRows, get_bit, sign_bit, words_for};
use crate::gemm::{PreparedBits, xor_popcount, xor_popcount_masked};
use crate::synth::SplitMix64;

// ---- Detection -------------------------------------------------------------------------------

#[test]
fn scalar_is_always_available_and_best_is_supported() {
    let av = Isa::available();
    assert_eq!(av[0], Isa::Scalar);
    assert!(Isa::best().is_supported());
    assert!(av.contains(&Isa::best()));
}

#[test]
fn names_round_trip() {
    for isa in Isa::ALL {
        assert_eq!(Isa::from_name(isa.name()), Some(isa));
        let json = serde_json::to_string(&isa).unwrap();
        assert_eq!(json, format!("\"{}\"", isa.name()));
        assert_eq!(serde_json::from_str::<Isa>(&json).unwrap(), isa);
    }
    assert_eq!(Isa::from_name("sse9"), None);
}

#[test]
fn the_native_simd_family_is_detected() {
    #[cfg(target_arch = "aarch64")]
    assert!(Isa::available().contains(&Isa::Neon));
    #[cfg(target_arch = "x86_64")]
    assert!(!Isa::available().contains(&Isa::Neon));
}

// ---- Bit kernels -----------------------------------------------------------------------------

/// Random canonical rows (`rows x words_for(bits)` words, padding bits zero).
fn random_rows(g: &mut SplitMix64, rows: usize, bits: usize, density: f32) -> Vec<u64> {
    let words = words_for(bits);
    let mut v = vec![0u64; rows * words];
    for r in 0..rows {
        for i in 0..bits {
            if g.uniform(0.0, 1.0) < density {
                v[r * words + i / 64] |= 1 << (i % 64);
            }
        }
    }
    v
}

/// The popcount kernels of `K` (plain and masked, every padded output) equal the scalar ones.
fn check_popcount<K: BitKernels>(g: &mut SplitMix64) {
    for (rows, outs, bits) in [
        (16, 256, 128),
        (128, 32, 400),
        (3, 5, 63),
        (7, 17, 65),
        (9, 3, 129),
        (6, 7, 64 * 40 + 3),
    ] {
        for density in [0.0, 1.0, 0.5, 0.03] {
            let a = BitRows::from_rows(rows, bits, &random_rows(g, rows, bits, density));
            let m = BitRows::from_rows(rows, bits, &random_rows(g, rows, bits, 0.8));
            let w = random_rows(g, outs, bits, density);
            let run = |isa: Isa| {
                let pw = PreparedBits::new(isa, &w, outs, bits);
                let mut plain = vec![u32::MAX; a.rows_padded() * pw.outs_padded()];
                let mut masked = plain.clone();
                xor_popcount(&a, &pw, &mut plain);
                xor_popcount_masked(&a, &m, &pw, &mut masked);
                (plain, masked)
            };
            assert_eq!(
                run(K::ISA),
                run(Isa::Scalar),
                "{} {rows}x{outs}x{bits}",
                K::ISA
            );
        }
    }
}

/// Awkward binariser inputs of length `n`: random values with ties, signed zeros, NaN and
/// infinities mixed in.
fn binariser_input(g: &mut SplitMix64, n: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let t0 = g.vec(n, -0.5, 0.5);
    let t1 = g.vec(n, -0.5, 0.5);
    let x = (0..n)
        .map(|i| match i % 7 {
            0 => f32::NAN,
            1 => f32::INFINITY,
            2 => -0.0,
            3 => t0[i],
            _ => g.uniform(-3.0, 3.0),
        })
        .collect();
    (x, t0, t1)
}

/// [`BitKernels::binarize_row`] as a value.
type RowKernel = unsafe fn(&[f32], &[f32], &[f32], &mut [u64], &mut [u64]) -> f32;
/// [`BitKernels::binarize_rows`] as a value.
type RowsKernel = unsafe fn(&[f32], &[f32], &[f32], &mut BitRows, usize, &mut [f32]);

/// `K`'s single-row and batched binarisers equal the scalar ones (both planes and `sum |r|`).
fn check_binarise<K: BitKernels>(g: &mut SplitMix64) {
    for n in [
        0usize, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 100, 128, 200, 400,
    ] {
        let (x, t0, t1) = binariser_input(g, n);
        let w = words_for(n).max(1);
        let run = |f: RowKernel| {
            let (mut b1, mut b2) = (vec![0u64; w], vec![0u64; w]);
            // SAFETY: the CPU supports `K::ISA` (checked by the caller), the thresholds are as
            // long as `x` and the zeroed planes hold `words_for(n)` words.
            let s = unsafe { f(&x, &t0, &t1, &mut b1, &mut b2) };
            (b1, b2, s.to_bits())
        };
        let want = run(ScalarBits::binarize_row);
        assert_eq!(run(K::binarize_row), want, "{} row, n = {n}", K::ISA);
        // The reference against the literal definition.
        for i in 0..n {
            let s1 = if sign_bit(x[i] - t0[i]) { -1.0 } else { 1.0 };
            assert_eq!(get_bit(&want.0, i), s1 < 0.0);
            assert_eq!(get_bit(&want.1, i), sign_bit(x[i] - s1 - t1[i]));
        }
    }
    for k in [1usize, 100, 128, 256] {
        let rows = 8;
        let x = g.vec(rows * k, -2.0, 2.0);
        let (t0, t1) = (g.vec(k, -0.3, 0.3), g.vec(k, -0.3, 0.3));
        let run = |f: RowsKernel| {
            let mut out = BitRows::new(2 * rows, k);
            out.data_mut().fill(!0);
            let mut s2 = vec![0.0f32; rows];
            // SAFETY: the CPU supports `K::ISA`; `x` holds `rows` rows of `k`, the output has
            // `2 * rows` rows of `k` bits and plane 2 starts at row `rows`.
            unsafe { f(&x, &t0, &t1, &mut out, rows, &mut s2) };
            (out, s2.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
        };
        assert_eq!(
            run(K::binarize_rows),
            run(ScalarBits::binarize_rows),
            "{} rows, k = {k}",
            K::ISA
        );
    }
}

/// The whole bit-kernel suite for `K`, skipped where the CPU lacks its ISA.
fn check_bit_kernels<K: BitKernels>() {
    if !K::ISA.is_supported() {
        eprintln!("note: {} is not supported on this CPU; skipped", K::ISA);
        return;
    }
    let mut g = SplitMix64::new(0x15a);
    check_popcount::<K>(&mut g);
    check_binarise::<K>(&mut g);
}

/// One `#[test]` per [`BitKernels`] type.
macro_rules! bit_kernel_suite {
    ($($name:ident: $kernels:ty),* $(,)?) => {$(
        #[test]
        fn $name() {
            check_bit_kernels::<$kernels>();
        }
    )*};
}

bit_kernel_suite!(scalar_bit_kernels_match_the_reference: ScalarBits);
#[cfg(target_arch = "x86_64")]
bit_kernel_suite!(
    avx2_bit_kernels_match_scalar: x86_64::Avx2Bits,
    avx512bw_bit_kernels_match_scalar: x86_64::Avx512BwBits,
    avx512vpopcnt_bit_kernels_match_scalar: x86_64::Avx512VpopcntBits,
);
#[cfg(target_arch = "aarch64")]
bit_kernel_suite!(neon_bit_kernels_match_scalar: aarch64::NeonBits);

/// Every ISA of this architecture has a [`BitKernels`] type in the suite above.
#[test]
fn every_native_isa_has_its_own_kernels() {
    #[cfg(target_arch = "x86_64")]
    let native = [
        x86_64::Avx2Bits::ISA,
        x86_64::Avx512BwBits::ISA,
        x86_64::Avx512VpopcntBits::ISA,
    ];
    #[cfg(target_arch = "aarch64")]
    let native = [aarch64::NeonBits::ISA];
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let native: [Isa; 0] = [];
    for isa in Isa::ALL {
        let compiled = isa == ScalarBits::ISA || native.contains(&isa);
        assert!(
            compiled || !isa.is_supported(),
            "{isa} runs here but has no kernels"
        );
    }
}

// ---- Simd backends ---------------------------------------------------------------------------

/// Awkward values: signed zeros, ties with the thresholds, subnormals, infinities, NaN.
fn edge_values(g: &mut SplitMix64, n: usize) -> Vec<f32> {
    let special = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        f32::MIN_POSITIVE / 4.0,
        -f32::MIN_POSITIVE / 4.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1e30,
        -1e30,
        0.25,
    ];
    (0..n)
        .map(|i| {
            if i % 3 == 0 {
                special[(g.next_u64() % special.len() as u64) as usize]
            } else {
                g.uniform(-3.0, 3.0)
            }
        })
        .collect()
}

fn same(a: [f32; 8], b: [f32; 8]) -> bool {
    a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Every operation of backend `s` equals the scalar reference bit for bit.
fn check_backend<S: Simd>(s: S) {
    let r = Scalar;
    let mut g = SplitMix64::new(42);
    for _ in 0..2000 {
        let a = edge_values(&mut g, 8);
        let b = edge_values(&mut g, 8);
        let c = edge_values(&mut g, 8);
        let u: Vec<u32> = (0..8)
            .map(|i| match i {
                0 => 0,
                1 => u32::MAX,
                _ => (g.next_u64() % 70_000) as u32,
            })
            .collect();
        // SAFETY: every slice has 8 elements.
        let (va, vb, vc, ra, rb, rc) = unsafe {
            (
                s.load(a.as_ptr()),
                s.load(b.as_ptr()),
                s.load(c.as_ptr()),
                r.load(a.as_ptr()),
                r.load(b.as_ptr()),
                r.load(c.as_ptr()),
            )
        };
        let t = |v: S::V| s.to_array(v);
        assert!(same(t(s.add(va, vb)), r.add(ra, rb)));
        assert!(same(t(s.sub(va, vb)), r.sub(ra, rb)));
        assert!(same(t(s.mul(va, vb)), r.mul(ra, rb)));
        assert!(same(t(s.div(va, vb)), r.div(ra, rb)));
        assert!(same(t(s.abs(va)), r.abs(ra)));
        assert!(same(t(s.prelu(va, vb)), r.prelu(ra, rb)));
        assert_eq!(s.bits(s.nge0(va)), r.bits(r.nge0(ra)));
        assert!(same(
            t(s.select(s.nge0(vc), va, vb)),
            r.select(r.nge0(rc), ra, rb)
        ));
        assert!(same(t(s.splat(a[3])), r.splat(a[3])));
        // SAFETY: 8 u32 each; 8 floats of room.
        unsafe {
            assert!(same(t(s.load_u32(u.as_ptr())), r.load_u32(u.as_ptr())));
            // load_pm's contract: counts and `valid` below 2^24.
            let pc: Vec<u32> = u.iter().map(|&x| x % 70_000).collect();
            let valid = (g.next_u64() % 140_000) as i32;
            let want = r.sub(
                r.splat(valid as f32),
                r.mul(r.splat(2.0), r.load_u32(pc.as_ptr())),
            );
            assert!(same(t(s.load_pm(pc.as_ptr(), valid)), want));
            let mut out = [0f32; 8];
            s.store(out.as_mut_ptr(), va);
            assert!(same(out, ra));
        }
    }
    // The scalar reference is the literal definition.
    for v in edge_values(&mut g, 64) {
        let lane = r.to_array(r.prelu(r.splat(v), r.splat(0.25)))[0];
        assert_eq!(lane.to_bits(), crate::fp::prelu(v, 0.25).to_bits());
    }
}

/// One `#[test]` per [`Simd`] backend; `$token` is `Option<backend>` (`None`: not on this CPU).
macro_rules! simd_suite {
    ($($name:ident: $token:expr),* $(,)?) => {$(
        #[test]
        fn $name() {
            match $token {
                Some(s) => check_backend(s),
                None => eprintln!("note: {} has no such backend; skipped", stringify!($name)),
            }
        }
    )*};
}

simd_suite!(scalar_reference_is_the_definition: Some(Scalar));
#[cfg(target_arch = "x86_64")]
simd_suite!(avx2_matches_the_scalar_reference: x86_64::Avx2::new());
#[cfg(target_arch = "x86_64")]
simd_suite!(avx512_matches_the_scalar_reference: x86_64::Avx512::new());
#[cfg(target_arch = "aarch64")]
simd_suite!(neon_matches_the_scalar_reference: aarch64::Neon::new());
