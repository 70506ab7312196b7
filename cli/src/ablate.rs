//! `bifsmn ablate`: train every binarizer and every BiFSMNv2 part on/off, print one table.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::data::{RootArgs, resolve_root};
use super::output::print_json;
use super::session::run_training;
use super::train::{BackendArg, SplitArg};
use bifsmn_engine::ablate::{AblationSettings, run_ablation, variants};
use bifsmn_engine::fsutil::write_atomic;

#[derive(Debug, Args)]
pub struct AblateArgs {
    #[command(flatten)]
    pub root: RootArgs,
    #[arg(long, default_value = "12")]
    pub protocol: String,
    /// Directory for every run (teacher/, bnn/, bifsmnv2/, ...). Rerunning resumes.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Reuse this teacher run instead of training one.
    #[arg(long, value_name = "RUN")]
    pub teacher: Option<PathBuf>,
    #[arg(long, default_value_t = 60)]
    pub teacher_epochs: usize,
    #[arg(long, default_value_t = 60)]
    pub epochs: usize,
    #[arg(long, default_value_t = 0.01)]
    pub teacher_lr: f64,
    #[arg(long, default_value_t = 0.01)]
    pub lr: f64,
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long)]
    pub no_augment: bool,
    #[command(flatten)]
    pub augmentation: super::train::AugmentArgs,
    /// burn backend (its default device); the GPU ones need a build with their cargo feature.
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: BackendArg,
    #[arg(long, value_name = "N")]
    pub max_train_clips: Option<usize>,
    /// Only these rows (comma-separated ids: bnn, xnor, bi-real, ir-net, react, bifsmn-v1,
    /// bifsmnv2, no-dta, no-fid, no-lpb).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Split the table reports.
    #[arg(long, value_enum, default_value = "test")]
    pub split: SplitArg,
    /// Also write the table as CSV here.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Also write the table as Markdown here.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Print JSON instead of Markdown.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: AblateArgs) -> anyhow::Result<ExitCode> {
    let known: Vec<&str> = variants().iter().map(|v| v.id).collect();
    for o in &args.only {
        if !known.contains(&o.as_str()) {
            anyhow::bail!(
                "unknown row {o:?} in --only; expected one of {}",
                known.join(", ")
            );
        }
    }
    let settings = AblationSettings {
        dataset: resolve_root(&args.root)?,
        protocol: args.protocol.clone(),
        out: args.out.clone(),
        teacher_epochs: args.teacher_epochs,
        student_epochs: args.epochs,
        teacher_lr: args.teacher_lr,
        student_lr: args.lr,
        batch_size: args.batch_size,
        seed: args.seed,
        augment: !args.no_augment,
        augmentation: args.augmentation.config()?,
        backend: args.backend.into(),
        max_train_clips: args.max_train_clips,
        teacher: args.teacher.clone(),
        only: args.only.clone(),
        split: args.split.into(),
    };
    let json = args.json;
    let table = run_ablation(
        &settings,
        &mut |config, resume| {
            if !json {
                eprintln!("{:>12} {}", "Run", config.run_dir.display());
            }
            let outcome = run_training(config, resume, true, &Default::default())?;
            anyhow::ensure!(outcome.finished, "the run was cancelled");
            Ok(())
        },
        &mut |row| {
            if !json {
                let acc: Vec<String> = row
                    .accuracy
                    .iter()
                    .map(|a| a.map_or("—".into(), |v| format!("{:.2}%", 100.0 * v)))
                    .collect();
                match &row.error {
                    None => eprintln!("{:>12} {}: {}", "Done", row.name, acc.join(" / ")),
                    Some(e) => eprintln!(
                        "{:>12} {}: {e} (going on with the others)",
                        "Failed", row.name
                    ),
                }
            }
        },
    )?;
    if let Some(p) = &args.csv {
        write_atomic(p, table.csv().as_bytes())?;
    }
    if let Some(p) = &args.markdown {
        write_atomic(p, table.markdown().as_bytes())?;
    }
    if json {
        print_json(&table)?;
    } else {
        outln!(
            "Accuracy (%) on the {} split per thin path; teacher {} epochs, students {} epochs\n",
            table.split,
            table.teacher_epochs,
            table.student_epochs
        );
        out!("{}", table.markdown());
    }
    Ok(ExitCode::SUCCESS)
}
