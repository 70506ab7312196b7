//! `bifsmn listen`: live keyword detection from the microphone (or a file) in the terminal.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use crossbeam_channel::RecvTimeoutError;
use serde::Serialize;

use super::output::print_json;
use bifsmn_engine::capture::{CaptureConfig, CaptureStats, Level, SampleKind, list_input_devices};
use bifsmn_engine::stream::live::{LiveDetector, LiveMessage};
use bifsmn_engine::stream::{
    DetectorConfig, DetectorStats, FileSource, KeywordEvent, Latency, MicSource, ModelScorer,
    SampleSource,
};

/// `listen` options.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Packed model (.bkw) that scores the audio.
    #[arg(long, value_name = "M.bkw", required_unless_present = "list_devices")]
    pub model: Option<PathBuf>,
    /// Input device: its id or name, or a unique part of either (see --list-devices).
    /// Default: the system's default input.
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    /// List the input devices with their native formats and exit.
    #[arg(long)]
    pub list_devices: bool,
    /// Detect in an audio file instead of the microphone (any format; processed as fast as
    /// possible, followed by 1 s of silence so that a keyword at the very end is scored).
    #[arg(long, value_name = "FILE", conflicts_with = "device")]
    pub file: Option<PathBuf>,
    /// Smoothed posterior at which a keyword fires (0..1).
    #[arg(long, default_value_t = 0.7)]
    pub threshold: f32,
    /// Thin path of the model (0 = the full network).
    #[arg(long, default_value_t = 0)]
    pub path: usize,
    /// Distance between the 1 s analysis windows, in ms.
    #[arg(long, value_name = "MS", default_value_t = 100.0)]
    pub hop_ms: f32,
    /// Windows in the moving average of the posteriors.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub smoothing: usize,
    /// Quiet time after each detection, in ms.
    #[arg(long, value_name = "MS", default_value_t = 1000.0)]
    pub refractory_ms: f32,
    /// Only these labels fire (comma-separated); default: every class but unknown/silence.
    #[arg(long, value_delimiter = ',', value_name = "WORDS")]
    pub keywords: Option<Vec<String>>,
    /// Stop after this many seconds (default: until Ctrl-C, or the end of --file).
    #[arg(long, value_name = "S")]
    pub seconds: Option<f32>,
    /// Force the capture sample rate (default: the device's).
    #[arg(long, value_name = "HZ")]
    pub sample_rate: Option<u32>,
    /// Force the capture channel count (default: the device's).
    #[arg(long, value_name = "N")]
    pub channels: Option<u16>,
    /// Force the capture sample format: i8, i16, i24, i32, u8, u16, u24, u32, f32, f64.
    #[arg(long, value_name = "FMT")]
    pub format: Option<SampleKind>,
    /// JSON lines on stdout: one object per event, then a summary; no level meter.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum JsonLine<'a> {
    Event(&'a KeywordEvent),
    Summary(&'a Summary),
}

#[derive(Debug, Serialize)]
struct Summary {
    source: String,
    events: usize,
    audio_seconds: f64,
    detector: Option<DetectorStats>,
    latency: Option<Latency>,
    capture: Option<CaptureStats>,
}

/// Run `bifsmn listen`.
pub fn run(args: ListenArgs) -> anyhow::Result<ExitCode> {
    if args.list_devices {
        return list_devices(args.json);
    }
    let model = args.model.as_ref().context("--model is required")?;
    let scorer = ModelScorer::load(model, args.path)?;
    let config = DetectorConfig {
        hop_ms: args.hop_ms,
        smoothing: args.smoothing,
        threshold: args.threshold,
        refractory_ms: args.refractory_ms,
        keywords: args.keywords.clone(),
        ..DetectorConfig::default()
    };
    let source: Box<dyn SampleSource> = match &args.file {
        Some(file) => Box::new(FileSource::open(file)?),
        None => {
            let capture = CaptureConfig {
                device: args.device.clone(),
                sample_rate: args.sample_rate,
                channels: args.channels,
                format: args.format,
                ..CaptureConfig::default()
            };
            let mic = MicSource::open(&capture)?;
            if !args.json {
                let info = mic.info();
                eprintln!(
                    "listening on {} ({}, converted to 16 kHz mono); Ctrl-C to stop",
                    info.device, info.native
                );
            }
            Box::new(mic)
        }
    };
    let source_name = source.describe();
    let live = LiveDetector::spawn(source, scorer, config)?;
    let labels = live.labels().to_vec();
    let meter = !args.json && std::io::stderr().is_terminal();
    let deadline = args
        .seconds
        .map(|s| Instant::now() + Duration::from_secs_f32(s.max(0.0)));

    let mut events = 0usize;
    let mut stats: Option<(DetectorStats, Latency, Option<CaptureStats>)> = None;
    let mut level: Option<Level> = None;
    let mut top: Option<(usize, f32)> = None;
    let mut position = 0u64;
    let mut failure = None;
    let mut stopping = false;
    loop {
        if !stopping && deadline.is_some_and(|d| Instant::now() >= d) {
            // Let the thread finish: its last messages carry the final counters.
            live.request_stop();
            stopping = true;
        }
        let msg = match live.messages().recv_timeout(Duration::from_millis(100)) {
            Ok(m) => m,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match msg {
            LiveMessage::Event(ev) => {
                events += 1;
                if args.json {
                    outln!("{}", serde_json::to_string(&JsonLine::Event(&ev))?);
                } else {
                    if meter {
                        eprint!("\r\x1b[2K");
                    }
                    outln!("{:>9.2} s  {:<12} {:.3}", ev.time_s, ev.label, ev.score);
                }
            }
            LiveMessage::Scores { sample, smoothed } => {
                position = sample;
                top = smoothed
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map(|(i, s)| (i, *s));
            }
            LiveMessage::Level(l) => level = Some(l),
            LiveMessage::Stats {
                detector,
                latency,
                capture,
            } => stats = Some((detector, latency, capture)),
            LiveMessage::Error(e) => failure = Some(e),
            LiveMessage::Stopped { position: p } => {
                position = p;
                break;
            }
        }
        if meter {
            let overruns = stats
                .as_ref()
                .and_then(|s| s.2)
                .map_or(0, |c| c.overrun_frames);
            let top = top
                .map(|(i, s)| format!("{} {:.2}", labels.get(i).map_or("?", |l| l.as_str()), s))
                .unwrap_or_default();
            eprint!(
                "\r\x1b[2K{}  top {}  overruns {}",
                meter_line(level),
                top,
                overruns
            );
            let _ = std::io::stderr().flush();
        }
    }
    if meter {
        eprintln!();
    }
    live.stop();
    if let Some(e) = failure {
        bail!("{e}");
    }
    let summary = Summary {
        source: source_name,
        events,
        audio_seconds: position as f64 / bifsmn_engine::audio::SAMPLE_RATE as f64,
        detector: stats.as_ref().map(|s| s.0),
        latency: stats.as_ref().map(|s| s.1),
        capture: stats.and_then(|s| s.2),
    };
    if args.json {
        outln!("{}", serde_json::to_string(&JsonLine::Summary(&summary))?);
    } else {
        eprintln!(
            "{} event{} in {:.1} s of audio{}",
            summary.events,
            if summary.events == 1 { "" } else { "s" },
            summary.audio_seconds,
            summary
                .detector
                .map(|d| format!(", real-time factor {:.4}", d.real_time_factor))
                .unwrap_or_default()
        );
        if let Some(c) = summary.capture
            && (c.overrun_frames > 0 || c.device_xruns > 0)
        {
            eprintln!(
                "warning: {} frames dropped (reader too slow), {} device overruns",
                c.overrun_frames, c.device_xruns
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `level [##########..........]  -23.1 dBFS peak  -35.0 dBFS rms`, -60..0 dBFS.
fn meter_line(level: Option<Level>) -> String {
    const WIDTH: usize = 30;
    let Some(l) = level else {
        return format!("level [{}]", ".".repeat(WIDTH));
    };
    let frac = ((l.peak_dbfs + 60.0) / 60.0).clamp(0.0, 1.0);
    let filled = (frac * WIDTH as f32).round() as usize;
    let fmt = |v: f32| {
        if v.is_finite() {
            format!("{v:6.1}")
        } else {
            "  -inf".into()
        }
    };
    format!(
        "level [{}{}] {} dBFS peak {} dBFS rms",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        fmt(l.peak_dbfs),
        fmt(l.rms_dbfs)
    )
}

fn list_devices(json: bool) -> anyhow::Result<ExitCode> {
    let devices = list_input_devices()?;
    if json {
        print_json(&devices)?;
        return Ok(ExitCode::SUCCESS);
    }
    if devices.is_empty() {
        outln!("no input devices");
        return Ok(ExitCode::SUCCESS);
    }
    for d in &devices {
        let config = match (&d.default_config, &d.config_error) {
            (Some(c), _) => c.to_string(),
            (None, Some(e)) => format!("unavailable: {e}"),
            (None, None) => "unknown format".into(),
        };
        outln!(
            "{} {:<24} {}\n    {}",
            if d.is_default { "*" } else { " " },
            d.id,
            d.name,
            config
        );
    }
    outln!("(* = default input; pass the id or the name to --device)");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meter_spans_minus_60_to_0_dbfs() {
        let line = meter_line(Some(Level {
            peak_dbfs: -30.0,
            rms_dbfs: f32::NEG_INFINITY,
        }));
        assert!(line.starts_with(&format!("level [{}{}]", "#".repeat(15), ".".repeat(15))));
        assert!(line.contains("-inf dBFS rms"), "{line}");
        assert!(meter_line(None).contains(&".".repeat(30)));
    }
}
