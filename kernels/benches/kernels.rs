//! Criterion benchmarks: the micro-kernels on every ISA this CPU supports, and the whole model
//! (binary student per thin path against the FP32 teacher). Short runs on purpose: the numbers
//! are for comparing implementations side by side, not for publication.
//!
//! `cargo bench -p bifsmn-kernels` (filter with e.g. `-- forward`).

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use bifsmn_kernels::bitpack::{BitRows, binarize_row, words_for};
use bifsmn_kernels::format::PackedModel;
use bifsmn_kernels::gemm::{PreparedBits, xor_popcount, xor_popcount_masked};
use bifsmn_kernels::infer::Engine;
use bifsmn_kernels::isa::Isa;
use bifsmn_kernels::synth::{SplitMix64, SynthSpec, random_features};
use bifsmn_kernels::weights::Precision;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn random_words(g: &mut SplitMix64, n: usize) -> Vec<u64> {
    (0..n).map(|_| g.next_u64()).collect()
}

fn binarize(c: &mut Criterion) {
    let mut group = c.benchmark_group("binarize");
    let mut g = SplitMix64::new(1);
    for k in [128usize, 256, 4096] {
        let x = g.vec(k, -2.0, 2.0);
        let t0 = g.vec(k, -0.3, 0.3);
        let t1 = g.vec(k, -0.3, 0.3);
        let (mut b1, mut b2) = (vec![0u64; words_for(k)], vec![0u64; words_for(k)]);
        group.throughput(Throughput::Elements(k as u64));
        for isa in Isa::available() {
            group.bench_function(BenchmarkId::new(isa.name(), k), |b| {
                b.iter(|| binarize_row(isa, black_box(&x), &t0, &t1, &mut b1, &mut b2))
            });
        }
    }
    group.finish();
}

fn popcount(c: &mut Criterion) {
    let mut group = c.benchmark_group("xor_popcount");
    let mut g = SplitMix64::new(2);
    // (name, rows, outputs, bits, masked): the expand and project 1x1 products and fc1 of one
    // clip (2 planes x 8 time steps), and conv2's 400-bit masked patches (2 planes x 64).
    for (name, rows, outs, bits, masked) in [
        ("expand_16x256x128", 16, 256, 128, false),
        ("project_16x128x256", 16, 128, 256, false),
        ("conv2_128x32x400_masked", 128, 32, 400, true),
    ] {
        let a = BitRows::from_rows(rows, bits, &random_words(&mut g, rows * words_for(bits)));
        let mut m = BitRows::from_rows(rows, bits, &vec![u64::MAX; rows * words_for(bits)]);
        m.clear_padding_bits();
        let w = random_words(&mut g, outs * words_for(bits));
        group.throughput(Throughput::Elements((rows * outs * bits) as u64));
        for isa in Isa::available() {
            let pw = PreparedBits::new(isa, &w, outs, bits);
            let mut out = vec![0u32; a.rows_padded() * pw.outs_padded()];
            group.bench_function(BenchmarkId::new(isa.name(), name), |b| {
                b.iter(|| {
                    if masked {
                        xor_popcount_masked(black_box(&a), &m, &pw, &mut out)
                    } else {
                        xor_popcount(black_box(&a), &pw, &mut out)
                    }
                })
            });
        }
    }
    group.finish();
}

fn forward(c: &mut Criterion) {
    let mut group = c.benchmark_group("forward");
    let binary = SynthSpec::paper(Precision::Binary).weights(1);
    let float = SynthSpec::paper(Precision::Float).weights(1);
    let feats = random_features(&binary.features, 1);
    let eb = Arc::new(
        Engine::new(&PackedModel::from_weights(&binary).expect("binary model")).expect("engine"),
    );
    let ef = Arc::new(
        Engine::new(&PackedModel::from_weights(&float).expect("float model")).expect("engine"),
    );
    let mut sf = ef.session();
    group.bench_function(BenchmarkId::new("fp32", "path0"), |b| {
        b.iter(|| sf.forward(0, black_box(&feats)).map(|l| l[0]))
    });
    let mut sb = eb.session();
    for path in 0..eb.num_paths() {
        group.bench_function(
            BenchmarkId::new(format!("binary_{}", eb.isa()), format!("path{path}")),
            |b| b.iter(|| sb.forward(path, black_box(&feats)).map(|l| l[0])),
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500));
    targets = binarize, popcount, forward
}
criterion_main!(benches);
