//! `bifsmn export`: a trained run -> packed 1-bit model file, or (`--onnx`) the FP32 teacher as
//! a standard ONNX model.

use std::path::PathBuf;
use std::process::ExitCode;

use bifsmn_kernels::format::{FloatDtype, Storage};
use clap::Args;

use super::output::print_json;
use bifsmn_engine::export::export_run;
use bifsmn_engine::onnx::export_onnx;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Run directory (its best model), sidecar .json or .bpk.
    #[arg(long, value_name = "RUN")]
    pub model: PathBuf,
    /// Output file (.bkw, or .onnx with --onnx), written atomically.
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
    /// Write the FP32 teacher as a standard ONNX model (opset 13; input "features"
    /// [batch, 1, 32, 32], output "logits") instead of a packed file, for ONNX Runtime, tract or
    /// Netron. Binary students are refused: their 1-bit layers run on the bit kernels.
    #[arg(long, conflicts_with_all = ["f16_weights", "f16_all"])]
    pub onnx: bool,
    /// Store the float weights (first conv, classifier) as f16: smaller, slightly different
    /// logits.
    #[arg(long)]
    pub f16_weights: bool,
    /// Also store per-channel affines as f16 (thresholds always stay exact).
    #[arg(long)]
    pub f16_all: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    if args.onnx {
        return run_onnx(&args);
    }
    let storage = Storage {
        fp_weights: if args.f16_weights || args.f16_all {
            FloatDtype::F16
        } else {
            FloatDtype::F32
        },
        per_channel: if args.f16_all {
            FloatDtype::F16
        } else {
            FloatDtype::F32
        },
    };
    let report = export_run(&args.model, &args.out, storage)?;
    if args.json {
        print_json(&report)?;
    } else {
        outln!(
            "{:>12} {} ({} model, {} thin path{}) -> {}",
            "Exported",
            report.model,
            report.precision,
            report.paths,
            if report.paths == 1 { "" } else { "s" },
            report.output
        );
        outln!(
            "{:>12} checkpoint {} bytes, packed {} bytes ({:.1}x smaller), hash {}",
            "Size",
            report.checkpoint_bytes,
            report.packed_bytes,
            report.checkpoint_bytes as f64 / report.packed_bytes.max(1) as f64,
            report.hash
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `--onnx`: the FP32 teacher as ONNX.
fn run_onnx(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let report = export_onnx(&args.model, &args.out)?;
    if args.json {
        print_json(&report)?;
    } else {
        outln!(
            "{:>12} {} (FP32 teacher) -> {} (ONNX opset {})",
            "Exported",
            report.model,
            report.output,
            report.opset
        );
        outln!(
            "{:>12} input \"{}\" [{}], output \"{}\" [{}]; {} bytes",
            "Graph",
            report.input,
            report.input_shape.join(", "),
            report.output_name,
            report.output_shape.join(", "),
            report.onnx_bytes
        );
    }
    Ok(ExitCode::SUCCESS)
}
