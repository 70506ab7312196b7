//! `bifsmn data synth`: a keyword corpus from text (see [`bifsmn_engine::data::synth`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use anyhow::bail;
use clap::Args;

use super::output::{print_json, progress};
use bifsmn_engine::data::synth::{self, EngineKind, SynthConfig};

/// `data synth` options. The defaults make the corpus the shipped demo models use.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Output folder (created; an interrupted run in it is resumed with the same options).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Keywords: words or short phrases, comma-separated [default: the ten Speech Commands
    /// commands].
    #[arg(long, value_delimiter = ',', value_name = "WORDS")]
    pub keywords: Option<Vec<String>>,
    /// Engines, comma-separated: espeak (espeak-ng variants and English accents), festival
    /// (every English Festival voice in Debian), mbrola (MBROLA's four English voices through
    /// espeak-ng; Debian contrib and non-free, not installed by the bootstrap).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "ENGINES",
        default_value = "espeak,festival"
    )]
    pub engines: Vec<String>,
    /// Speakers per engine.
    #[arg(long, value_name = "N", default_value_t = SynthConfig::default().speakers_per_engine)]
    pub speakers: usize,
    /// Takes of every keyword per speaker.
    #[arg(long, value_name = "N", default_value_t = SynthConfig::default().takes)]
    pub takes: usize,
    /// Distinct negative words per speaker.
    #[arg(long, value_name = "N", default_value_t = SynthConfig::default().negatives_per_speaker)]
    pub negatives_per_speaker: usize,
    /// Size of the negative vocabulary (split by word: test speakers say words no training
    /// speaker says).
    #[arg(long, value_name = "N", default_value_t = SynthConfig::default().negative_words)]
    pub negative_words: usize,
    /// Sentences of negative words per speaker (long-form negatives).
    #[arg(long, value_name = "N", default_value_t = SynthConfig::default().sentences_per_speaker)]
    pub sentences: usize,
    /// Fraction of espeak-ng speakers with a voice variant generated for them (own formants,
    /// voice source, breathiness) instead of an installed variant.
    #[arg(long, value_name = "F", default_value_t = SynthConfig::default().espeak_timbres)]
    pub espeak_timbres: f64,
    /// Fraction of speakers (and negative words) in the validation split.
    #[arg(long, value_name = "F", default_value_t = SynthConfig::default().validation_fraction)]
    pub validation: f64,
    /// Fraction of speakers (and negative words) in the test split.
    #[arg(long, value_name = "F", default_value_t = SynthConfig::default().test_fraction)]
    pub test: f64,
    /// Seed of every random choice: the same options give the same corpus.
    #[arg(long, default_value_t = SynthConfig::default().seed)]
    pub seed: u64,
    /// Word list for the negatives (one word per line).
    #[arg(long, value_name = "FILE", default_value = synth::DEFAULT_WORDLIST)]
    pub wordlist: PathBuf,
    /// Print the report as JSON (no progress bar).
    #[arg(long)]
    pub json: bool,
}

impl SynthArgs {
    fn config(&self) -> anyhow::Result<SynthConfig> {
        let mut engines = Vec::new();
        for name in &self.engines {
            match EngineKind::from_name(name) {
                Some(e) if !engines.contains(&e) => engines.push(e),
                Some(_) => {}
                None => {
                    bail!("--engines: unknown engine `{name}` (expected espeak, festival, mbrola)")
                }
            }
        }
        Ok(SynthConfig {
            keywords: self
                .keywords
                .clone()
                .unwrap_or_else(|| SynthConfig::default().keywords),
            engines,
            speakers_per_engine: self.speakers,
            takes: self.takes,
            negatives_per_speaker: self.negatives_per_speaker,
            negative_words: self.negative_words,
            sentences_per_speaker: self.sentences,
            espeak_timbres: self.espeak_timbres,
            validation_fraction: self.validation,
            test_fraction: self.test,
            seed: self.seed,
            wordlist: self.wordlist.clone(),
        })
    }
}

/// Run `bifsmn data synth`.
pub fn run(args: SynthArgs) -> anyhow::Result<ExitCode> {
    let config = args.config()?;
    let planned = synth::plan(&config)?;
    let bar = progress(planned.items() as u64, "Synthesizing", args.json);
    let report = synth::synthesize(
        &config,
        &args.out,
        &|p| bar.set_position(p.done as u64),
        &AtomicBool::new(false),
    )?;
    bar.finish_and_clear();
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{:>12} {} ({} rendered, {} already there, {} dropped) in {:.0} s",
        "Finished",
        report.root.display(),
        report.rendered,
        report.reused,
        report.dropped.len(),
        report.seconds
    );
    outln!("{:>12} {}", "Keywords", report.keywords.join(", "));
    for (split, engines) in &report.speakers {
        let speakers: Vec<String> = engines.iter().map(|(e, n)| format!("{n} {e}")).collect();
        let files: Vec<String> = report
            .files
            .get(split)
            .map(|kinds| kinds.iter().map(|(k, n)| format!("{n} {k}")).collect())
            .unwrap_or_default();
        outln!(
            "{:>12} speakers: {}; files: {}; negative words: {}",
            split,
            speakers.join(", "),
            files.join(", "),
            report.negative_words.get(split).copied().unwrap_or(0)
        );
    }
    for d in report.dropped.iter().take(10) {
        outln!("{:>12} {}: {}", "Dropped", d.rel, d.reason);
    }
    Ok(ExitCode::SUCCESS)
}
