//! Profiling harness for the whole-model forward (not a benchmark: criterion is the measure).
//!
//! `cargo run --release -p bifsmn-kernels --example forward_profile -- [binary|fp32] [path] [seconds]`
//!
//! Prints the per-layer medians of hooked runs (the hooks read the clock around each layer, so
//! they add a little per layer), then loops plain forwards for `seconds` so that
//! `perf record` has something steady to sample.

#![allow(clippy::print_stdout)] // A profiling tool whose output is its report.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bifsmn_kernels::format::PackedModel;
use bifsmn_kernels::infer::Engine;
use bifsmn_kernels::network::LayerId;
use bifsmn_kernels::synth::{SynthSpec, random_features};
use bifsmn_kernels::weights::Precision;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let precision = match args.first().map(String::as_str) {
        Some("fp32") => Precision::Float,
        _ => Precision::Binary,
    };
    let path: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let seconds: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let w = SynthSpec::paper(precision).weights(1);
    let feats = random_features(&w.features, 1);
    let e = Arc::new(Engine::new(&PackedModel::from_weights(&w).expect("model")).expect("engine"));
    let mut s = e.session();
    for _ in 0..2000 {
        black_box(s.forward(path, black_box(&feats)).expect("forward"));
    }
    // Per-layer medians (layers of the same kind summed per run).
    let mut per: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    let mut totals = Vec::new();
    for _ in 0..3000 {
        let mut times: Vec<(LayerId, Duration)> = Vec::new();
        s.forward_hooked(path, black_box(&feats), &mut times)
            .expect("forward");
        let mut run: BTreeMap<String, Duration> = BTreeMap::new();
        for (id, d) in &times {
            let key = match id {
                LayerId::Memory(_) => "memory (all)".to_string(),
                LayerId::Expand(_) => "expand (all)".to_string(),
                LayerId::Project(_) => "project (all)".to_string(),
                other => other.to_string(),
            };
            *run.entry(key).or_default() += *d;
        }
        for (k, d) in run {
            per.entry(k).or_default().push(d);
        }
        let t0 = Instant::now();
        black_box(s.forward(path, black_box(&feats)).expect("forward"));
        totals.push(t0.elapsed());
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    println!("{} path {path}, isa {}", precision_name(precision), e.isa());
    for (k, mut v) in per {
        println!("  {k:>16}: {:8.2} us", median(&mut v).as_secs_f64() * 1e6);
    }
    println!(
        "  {:>16}: {:8.2} us",
        "forward",
        median(&mut totals).as_secs_f64() * 1e6
    );
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let mut n = 0u64;
    while Instant::now() < end {
        for _ in 0..100 {
            black_box(s.forward(path, black_box(&feats)).expect("forward"));
        }
        n += 100;
    }
    println!("  {n} forwards in the profiling loop");
}

fn precision_name(p: Precision) -> &'static str {
    match p {
        Precision::Binary => "binary",
        Precision::Float => "fp32",
    }
}
