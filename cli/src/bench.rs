//! `bifsmn bench`: binary vs FP32 (kernels and burn), per layer and end to end, in one run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::output::print_json;
use bifsmn_engine::bench::run_bench;

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
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.runs > 0, "--runs must be at least 1");
    if !args.json {
        eprintln!(
            "{:>12} measuring (binary paths, FP32 kernels, burn flex, burn ndarray)...",
            "Bench"
        );
    }
    let report = run_bench(&args.student, &args.teacher, args.runs, args.warmup)?;
    if args.json {
        print_json(&report)?;
    } else {
        out!("{}", report.table());
    }
    Ok(ExitCode::SUCCESS)
}
