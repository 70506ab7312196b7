//! `bifsmn train finetune`: teach a trained student the user's own voice from a few takes
//! (see [`bifsmn_engine::train::finetune`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use super::session::run_training;
use bifsmn_engine::train::finetune::{self, FinetuneConfig, FinetuneReport};

/// `train finetune` options.
#[derive(Debug, Args)]
pub struct FinetuneArgs {
    /// The student to start from: a run folder, or a .bkw with its run folder beside it
    /// (assets/models/demo-student.bkw and assets/models/demo-student/).
    #[arg(long, value_name = "RUN_OR_BKW")]
    pub model: PathBuf,
    /// The takes: <keyword>/<take>.wav (any audio format), e.g. a folder recorded in the Test
    /// panel's "Teach it my voice". The last take of each keyword is held back to compare.
    #[arg(long, value_name = "DIR")]
    pub add: PathBuf,
    /// The new run's folder (must not exist yet; the base model is never written to).
    #[arg(long, value_name = "DIR")]
    pub run_dir: PathBuf,
    /// Corpus replayed with the takes so other voices are not forgotten [default: the demo
    /// set].
    #[arg(long, value_name = "DIR")]
    pub replay: Option<PathBuf>,
    /// FP teacher to distil from [default: the base run's own, or the shipped demo teacher].
    #[arg(long, value_name = "RUN")]
    pub teacher: Option<PathBuf>,
    #[arg(long, default_value_t = 6)]
    pub epochs: usize,
    #[arg(long, default_value_t = 0.005)]
    pub lr: f64,
    /// Replay clips mixed in.
    #[arg(long, value_name = "N", default_value_t = 400)]
    pub replay_clips: usize,
    /// Copies of each take per epoch (each augmented differently).
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub take_copies: usize,
    /// Takes of each keyword held back for the before/after comparison.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub held_back: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print one JSON object per epoch, then the report.
    #[arg(long)]
    pub json: bool,
}

/// Run `bifsmn train finetune`.
pub fn run(args: FinetuneArgs) -> anyhow::Result<ExitCode> {
    let replay = match &args.replay {
        Some(r) => r.clone(),
        None => {
            bifsmn_engine::data::demo_root().context("no --replay given and no demo set found")?
        }
    };
    let mut config = FinetuneConfig::new(
        args.model.clone(),
        args.add.clone(),
        replay,
        args.run_dir.clone(),
    );
    config.teacher = args.teacher.clone();
    config.epochs = args.epochs;
    config.lr = args.lr;
    config.replay_clips = args.replay_clips;
    config.take_copies = args.take_copies;
    config.held_back = args.held_back;
    config.seed = args.seed;
    let prepared = finetune::prepare(&config)?;
    if !args.json {
        eprintln!(
            "{:>12} {} takes ({} held back) with {} replay clips, from {}{}",
            "Fine-tuning",
            prepared.train_takes,
            prepared.held_back.len(),
            prepared.replay_clips,
            prepared.base_run.display(),
            prepared
                .train
                .teacher
                .as_ref()
                .map(|t| format!(", distilled from {}", t.display()))
                .unwrap_or_default()
        );
    }
    let started = Instant::now();
    let outcome = run_training(
        prepared.train.clone(),
        false,
        args.json,
        &Default::default(),
    )?;
    if !outcome.finished {
        return Ok(ExitCode::FAILURE);
    }
    let report = finetune::finish(&prepared, started.elapsed().as_secs_f64())?;
    if args.json {
        outln!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(r: &FinetuneReport) {
    let pct = |v: f32| format!("{:.1}%", 100.0 * v);
    outln!(
        "{:>12} {} ({:.0} s of training)",
        "Wrote",
        r.model.display(),
        r.seconds_training
    );
    outln!("\n  held-back takes    before   after");
    for k in &r.per_keyword {
        outln!(
            "  {:<16} {:>3}/{:<3}  {:>3}/{:<3}",
            k.keyword,
            k.before,
            k.takes,
            k.after,
            k.takes
        );
    }
    let paths = |v: &[f32]| v.iter().map(|a| pct(*a)).collect::<Vec<_>>().join(" / ");
    outln!(
        "\n  held-back takes, per path:      {} -> {}",
        paths(&r.held_back.before),
        paths(&r.held_back.after)
    );
    outln!(
        "  base corpus test split, per path: {} -> {}",
        paths(&r.base_test.before),
        paths(&r.base_test.after)
    );
    outln!(
        "  stream ({:.0} min, threshold {}): {:.1} -> {:.1} false accepts/hour, false rejects {} -> {}",
        r.stream.minutes,
        r.stream.threshold,
        r.stream.fa_per_hour.0,
        r.stream.fa_per_hour.1,
        pct(r.stream.frr.0 as f32),
        pct(r.stream.frr.1 as f32)
    );
}
