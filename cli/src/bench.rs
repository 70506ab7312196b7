//! `bifsmn bench`: binary vs FP32 (kernels and burn), per layer and end to end, in one run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::output::print_json;
use bifsmn_engine::bench::{BatchOptions, run_bench};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Trained binary student (run directory, sidecar or .bpk).
    #[arg(long, value_name = "RUN")]
    pub student: PathBuf,
    /// Trained FP32 teacher (run directory, sidecar or .bpk).
    #[arg(long, value_name = "RUN")]
    pub teacher: PathBuf,
    /// Timed runs per column (medians are reported).
    #[arg(long, default_value_t = 200)]
    pub runs: usize,
    #[arg(long, default_value_t = 20)]
    pub warmup: usize,
    /// Clips per call of the throughput table [default: 1]. With --batch or --threads the
    /// bench also reports clips per second.
    #[arg(long, value_name = "N", value_parser = clips_per_call)]
    pub batch: Option<usize>,
    /// Worker threads of the throughput table, each with its own session; 0 = every core
    /// [default: 1].
    #[arg(long, value_name = "T")]
    pub threads: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `--batch`: a count of clips, at least 1.
fn clips_per_call(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("a call needs at least 1 clip".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.runs > 0, "--runs must be at least 1");
    let batch = (args.batch.is_some() || args.threads.is_some()).then(|| BatchOptions {
        batch: args.batch.unwrap_or(1),
        threads: args.threads.unwrap_or(1),
    });
    if !args.json {
        eprintln!(
            "{:>12} measuring (binary paths, FP32 kernels, burn flex, burn ndarray, tract)...",
            "Bench"
        );
    }
    let report = run_bench(&args.student, &args.teacher, args.runs, args.warmup, batch)?;
    if args.json {
        print_json(&report)?;
    } else {
        out!("{}", report.table());
    }
    Ok(ExitCode::SUCCESS)
}
