//! `bifsmn model summary`: parameters and compute per layer.

use std::process::ExitCode;

use burn::prelude::Device;
use clap::{Args, Subcommand};

use super::output::print_json;
use bifsmn_engine::model::DfsmnConfig;
use bifsmn_engine::model::summary::summarize;

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Parameters, multiply-accumulates and binary/float per layer of the default networks.
    Summary(SummaryArgs),
}

#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// Summarize the binary student instead of the FP teacher.
    #[arg(long)]
    pub student: bool,
    /// Number of output classes.
    #[arg(long, default_value_t = 12)]
    pub classes: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: ModelCommand) -> anyhow::Result<ExitCode> {
    let ModelCommand::Summary(args) = cmd;
    let config = if args.student {
        DfsmnConfig::student(args.classes)
    } else {
        DfsmnConfig::teacher(args.classes)
    };
    let model = config.init(&Device::flex());
    let s = summarize(&model);
    if args.json {
        print_json(&s)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{} ({} classes)",
        if args.student {
            "BiFSMNv2 student"
        } else {
            "FP32 D-FSMN teacher"
        },
        args.classes
    );
    outln!(
        "{:<11} {:<60} {:>10} {:>10} {:>10} {:>7}",
        "layer",
        "type",
        "output",
        "params",
        "MACs",
        "binary"
    );
    for r in &s.rows {
        outln!(
            "{:<11} {:<60} {:>10} {:>10} {:>10} {:>7}",
            r.name,
            r.kind,
            r.output,
            r.params,
            r.macs,
            if r.binary { "yes" } else { "no" }
        );
    }
    outln!("total trainable parameters: {}", s.total_params);
    outln!("Conv/Linear weights:        {}", s.weight_params);
    outln!("BatchNorm running stats:    {}", s.running_stats);
    outln!("binary MACs per clip:       {}", s.binary_macs);
    outln!("float MACs per clip:        {}", s.float_macs);
    for (p, m) in s.path_macs.iter().enumerate() {
        outln!("path {p} MACs per clip:       {m}");
    }
    Ok(ExitCode::SUCCESS)
}
