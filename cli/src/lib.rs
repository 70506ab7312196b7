//! The `bifsmn` command line: one module per command group, cargo-style conventions
//! (`--help` everywhere, progress bars on long work, `--json` on every command that reports).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `print!` for command output: a closed pipe ends the command quietly ([`output::write_stdout`]).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!($($arg)*))
    };
}

/// `println!` for command output: a closed pipe ends the command quietly
/// ([`output::write_stdout`]).
macro_rules! outln {
    () => {
        $crate::output::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub mod ablate;
pub mod bench;
pub mod completions;
pub mod data;
pub mod deploy;
pub mod devices;
pub mod export;
pub mod finetune;
pub mod listen;
pub mod model;
pub mod output;
pub mod record;
pub mod run_files;
pub mod session;
pub mod stream_eval;
pub mod synth;
pub mod train;
pub mod train_remote;

/// BiFSMN Workbench: train, inspect, test and deploy 1-bit keyword-spotting networks.
#[derive(Debug, Parser)]
#[command(name = "bifsmn", version = bifsmn_engine::version::LONG, about, long_about = None)]
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
    /// Pack a trained model into a 1-bit .bkw file for the bit kernels and the board runner,
    /// or (--onnx) write the FP32 teacher as a standard ONNX model.
    Export(export::ExportArgs),
    /// Train every binarizer and each BiFSMNv2 part on/off; print one accuracy table.
    Ablate(ablate::AblateArgs),
    /// Binary vs FP32 (kernels, burn flex, burn ndarray) latency per layer, storage, peak use.
    Bench(bench::BenchArgs),
    /// Board profiles for deploy: add, list, test (connect, host key, arch), remove.
    #[command(subcommand)]
    Boards(deploy::BoardsCommand),
    /// Upload the runner and a packed model to boards over SSH, run bench/classify there and
    /// print the timings; several boards at once.
    Deploy(deploy::DeployArgs),
    /// Live keyword detection from the microphone (or a file) with a level meter.
    Listen(listen::ListenArgs),
    /// Record keyword clips from the microphone into a dataset folder.
    Record(record::RecordArgs),
    /// False accepts per hour and false-reject rate on a long generated test stream, per
    /// threshold (DET points).
    StreamEval(stream_eval::StreamEvalArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(completions::CompletionsArgs),
    /// The devices training can use (`train --backend B --device N`), and the GPU backends
    /// this build lacks.
    Devices(devices::DevicesArgs),
}

/// Parse the arguments, run the command, print errors cargo-style and map them to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Data(cmd) => data::run(cmd),
        Command::Train(cmd) => train::run(cmd),
        Command::Eval(args) => train::eval(args),
        Command::Model(cmd) => model::run(cmd),
        Command::Export(args) => export::run(args),
        Command::Ablate(args) => ablate::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Boards(cmd) => deploy::run_boards(cmd),
        Command::Deploy(args) => deploy::run_deploy(args),
        Command::Listen(args) => listen::run(args),
        Command::Record(args) => record::run(args),
        Command::StreamEval(args) => stream_eval::run(args),
        Command::Completions(args) => completions::run(args),
        Command::Devices(args) => devices::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            output::print_error(&e);
            ExitCode::FAILURE
        }
    }
}
