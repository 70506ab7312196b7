//! The `bifsmn` command line: one module per command group, cargo-style conventions
//! (`--help` everywhere, progress bars on long work, `--json` on every command that reports).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod data;
pub mod model;
pub mod output;
pub mod train;

/// BiFSMN Workbench: train, inspect, test and deploy 1-bit keyword-spotting networks.
#[derive(Debug, Parser)]
#[command(name = "bifsmn", version = crate::version::LONG, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Datasets: counts per class and split, integrity check, features, download.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Train the FP teacher or the binary student, with live progress and checkpoints.
    #[command(subcommand)]
    Train(train::TrainCommand),
    /// Accuracy per thin path, per-class precision/recall and the confusion matrix.
    Eval(train::EvalArgs),
    /// Model information.
    #[command(subcommand)]
    Model(model::ModelCommand),
}

/// Parse the arguments, run the command, print errors cargo-style and map them to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Data(cmd) => data::run(cmd),
        Command::Train(cmd) => train::run(cmd),
        Command::Eval(args) => train::eval(args),
        Command::Model(cmd) => model::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            output::print_error(&e);
            ExitCode::FAILURE
        }
    }
}
