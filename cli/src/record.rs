//! `bifsmn record`: record keyword clips from the microphone into a dataset folder.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use serde::Serialize;

use super::output::print_json;
use bifsmn_engine::capture::record::{RecordError, SaveOptions, SavedClip, plan, save_clip};
use bifsmn_engine::capture::{Capture, CaptureConfig, CaptureStats};

/// `record` options.
#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Dataset folder (Speech Commands layout; created if missing).
    #[arg(long, value_name = "DIR")]
    pub root: PathBuf,
    /// The word being recorded: the clips go to DIR/WORD/.
    #[arg(long, value_name = "WORD")]
    pub label: String,
    /// Your name (any text). Files carry an 8-hex-digit id derived from it, and all clips of
    /// one speaker stay in one split (train, validation or test).
    #[arg(long, value_name = "NAME")]
    pub speaker: String,
    /// Length of each recording in seconds (default 1, or 2 with --trim).
    #[arg(long, value_name = "S")]
    pub seconds: Option<f32>,
    /// Number of clips to record.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub count: u32,
    /// Cut each recording to the spoken part (energy VAD) centred in a 1 s clip.
    #[arg(long)]
    pub trim: bool,
    /// Input device: its id or name, or a unique part of either (see `bifsmn listen
    /// --list-devices`). Default: the system's default input.
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    /// Pause before each clip, in seconds (time to get ready).
    #[arg(long, value_name = "S", default_value_t = 1.0)]
    pub pause: f32,
    /// Print the saved clips as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Report {
    speaker_id: String,
    split: bifsmn_engine::data::Split,
    saved: Vec<SavedClip>,
    failed: Vec<String>,
    capture: CaptureStats,
}

/// Run `bifsmn record`.
pub fn run(args: RecordArgs) -> anyhow::Result<ExitCode> {
    let seconds = args.seconds.unwrap_or(if args.trim { 2.0 } else { 1.0 });
    if !(seconds > 0.0 && seconds <= 60.0) {
        bail!("--seconds must be in (0, 60], got {seconds}");
    }
    // Check the label, speaker and lists before touching the microphone.
    let p = plan(&args.root, &args.label, &args.speaker)?;
    let mut capture = Capture::open(&CaptureConfig {
        device: args.device.clone(),
        ..CaptureConfig::default()
    })?;
    if !args.json {
        eprintln!(
            "recording {} clip(s) of \"{}\" for speaker {} (id {}, {} split) from {}",
            args.count,
            args.label,
            args.speaker.trim(),
            p.speaker_id,
            p.split,
            capture.info().device
        );
    }
    let opts = SaveOptions {
        trim: args.trim,
        ..SaveOptions::new(&args.root, &args.label, &args.speaker)
    };
    let mut saved = Vec::new();
    let mut failed = Vec::new();
    for i in 1..=args.count {
        if !args.json {
            eprintln!("[{i}/{}] get ready...", args.count);
        }
        // Keep draining while waiting, so a long pause does not overrun the ring buffer.
        let until = Instant::now() + Duration::from_secs_f32(args.pause.max(0.0));
        while Instant::now() < until {
            capture.discard()?;
            std::thread::sleep(Duration::from_millis(20));
        }
        if !args.json {
            eprintln!("[{i}/{}] speak now ({seconds:.1} s)", args.count);
        }
        let samples = capture.record(seconds)?;
        match save_clip(&opts, &samples) {
            Ok(clip) => {
                if !args.json {
                    eprintln!(
                        "[{i}/{}] saved {} ({:.2} s, peak {:.1} dBFS){}",
                        args.count,
                        clip.path.display(),
                        clip.seconds,
                        clip.peak_dbfs,
                        level_hint(clip.peak_dbfs)
                    );
                }
                saved.push(clip);
            }
            // Nothing was written for this clip; the next one may work.
            Err(e @ RecordError::NoSpeech { .. }) => {
                if !args.json {
                    eprintln!("[{i}/{}] not saved: {e}", args.count);
                }
                failed.push(e.to_string());
            }
            Err(e) => return Err(e.into()),
        }
    }
    let stats = capture.stats();
    if !args.json && stats.overrun_frames > 0 {
        eprintln!(
            "warning: {} frames were dropped while recording",
            stats.overrun_frames
        );
    }
    let ok = !saved.is_empty() || args.count == 0;
    if args.json {
        print_json(&Report {
            speaker_id: p.speaker_id,
            split: p.split,
            saved,
            failed,
            capture: stats,
        })?;
    } else {
        eprintln!("{} of {} clips saved", saved.len(), args.count);
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn level_hint(peak_dbfs: f32) -> &'static str {
    if peak_dbfs >= -0.1 {
        " - clipped, move back from the microphone"
    } else if peak_dbfs < -40.0 {
        " - very quiet, check the microphone"
    } else {
        ""
    }
}
