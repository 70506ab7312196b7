//! `bifsmn export`: a trained run -> packed 1-bit model file, or (`--onnx`) the FP32 teacher as
//! a standard ONNX model.

use std::path::PathBuf;
use std::process::ExitCode;

use bifsmn_kernels::format::{FloatDtype, Storage};
use clap::Args;

use super::output::print_json;
use bifsmn_engine::export::export_run;
use bifsmn_engine::onnx::export_onnx;

/// A float section's storage type on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StorageArg {
    F32,
    F16,
    Q8,
}

impl From<StorageArg> for FloatDtype {
    fn from(a: StorageArg) -> Self {
        match a {
            StorageArg::F32 => FloatDtype::F32,
            StorageArg::F16 => FloatDtype::F16,
            StorageArg::Q8 => FloatDtype::Q8,
        }
    }
}

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
    #[arg(long, conflicts_with_all = ["storage", "fp_weights", "per_channel"])]
    pub onnx: bool,
    /// How every float section is stored: q8 (8-bit codes, per-channel grids; the default,
    /// over 20x smaller than the FP32 weights), f16, or f32 (the trained values exactly).
    /// See docs/FORMAT.md.
    #[arg(long, value_enum, default_value_t = StorageArg::Q8, value_name = "KIND")]
    pub storage: StorageArg,
    /// Override --storage for the float weights (first conv, classifier; every weight of a
    /// float model).
    #[arg(long, value_enum, value_name = "KIND")]
    pub fp_weights: Option<StorageArg>,
    /// Override --storage for the per-channel affines and activation thresholds.
    #[arg(long, value_enum, value_name = "KIND")]
    pub per_channel: Option<StorageArg>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ExportArgs) -> anyhow::Result<ExitCode> {
    if args.onnx {
        return run_onnx(&args);
    }
    let storage = Storage {
        fp_weights: args.fp_weights.unwrap_or(args.storage).into(),
        per_channel: args.per_channel.unwrap_or(args.storage).into(),
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
            "{:>12} checkpoint {} bytes, packed {} bytes ({:.1}x smaller; storage {}/{}), hash {}",
            "Size",
            report.checkpoint_bytes,
            report.packed_bytes,
            report.checkpoint_bytes as f64 / report.packed_bytes.max(1) as f64,
            report.storage.fp_weights.dtype().name(),
            report.storage.per_channel.dtype().name(),
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
