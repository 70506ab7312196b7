//! The microphone thread: opens the input device, keeps its ring buffer drained (so the level
//! meter moves and nothing overruns), records clips into the dataset on request, and hands
//! the open capture to live detection.
//!
//! The UI never touches the device: it sends [`MicCmd`]s and drains [`MicMsg`]s once per
//! frame, and reads the level through the capture's lock-free [`LevelMeter`].

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bifsmn_engine::capture::record::{RecordPlan, SaveOptions, SavedClip, plan, save_clip};
use bifsmn_engine::capture::{Capture, CaptureConfig, CaptureError, CaptureInfo, LevelMeter};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, unbounded};

/// A recording session: `count` clips of `seconds` each, with a pause before each.
#[derive(Clone, Debug)]
pub(crate) struct RecordJob {
    pub root: PathBuf,
    pub label: String,
    pub speaker: String,
    pub seconds: f32,
    pub trim: bool,
    pub count: usize,
    pub pause: Duration,
}

/// What the UI asks the microphone thread.
pub(crate) enum MicCmd {
    Record(RecordJob),
    /// Stop the recording session after the clip being recorded.
    CancelRecording,
    /// Send the open capture back ([`MicMsg::Handover`]) and end.
    Handover,
    /// Close the device and end.
    Stop,
}

/// Where a recording session is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum RecordPhase {
    /// Waiting before clip `clip` (1-based) until `until`.
    GetReady {
        clip: usize,
        count: usize,
        until: Instant,
    },
    /// Recording clip `clip` until `until`.
    Speak {
        clip: usize,
        count: usize,
        until: Instant,
    },
}

/// What the microphone thread reports.
pub(crate) enum MicMsg {
    Opened {
        info: CaptureInfo,
        meter: LevelMeter,
    },
    /// The session's speaker id, split and first index.
    Planned(RecordPlan),
    Phase(RecordPhase),
    Saved(SavedClip),
    /// A clip was not saved (no speech found, unwritable folder...); the session goes on
    /// unless the error is about the folder.
    NotSaved(String),
    RecordDone {
        saved: usize,
        failed: usize,
    },
    /// The capture, for live detection; the thread has ended.
    Handover(Box<Capture>),
    /// Opening or reading the device failed; the thread has ended.
    Failed(CaptureError),
}

/// Handle on the microphone thread. Dropping it closes the device (without waiting).
pub(crate) struct Mic {
    commands: Sender<MicCmd>,
    messages: Receiver<MicMsg>,
}

impl Mic {
    /// Start the thread; the device is opened on it (opening can take a moment on ALSA).
    pub(crate) fn start(device: Option<String>, ctx: &egui::Context) -> Mic {
        let (cmd_tx, cmd_rx) = unbounded();
        let (msg_tx, msg_rx) = unbounded();
        let config = CaptureConfig {
            device,
            ..CaptureConfig::default()
        };
        let ctx = ctx.clone();
        std::thread::Builder::new()
            .name("bifsmn-app-mic".into())
            .spawn(move || {
                run(&config, &cmd_rx, &msg_tx, &ctx);
                ctx.request_repaint();
            })
            .expect("spawning the microphone thread");
        Mic {
            commands: cmd_tx,
            messages: msg_rx,
        }
    }

    pub(crate) fn send(&self, cmd: MicCmd) {
        let _ = self.commands.send(cmd);
    }

    /// Messages since the last call.
    pub(crate) fn drain(&self) -> Vec<MicMsg> {
        self.messages.try_iter().collect()
    }
}

impl Drop for Mic {
    fn drop(&mut self) {
        let _ = self.commands.send(MicCmd::Stop);
    }
}

fn run(
    config: &CaptureConfig,
    commands: &Receiver<MicCmd>,
    out: &Sender<MicMsg>,
    ctx: &egui::Context,
) {
    let mut capture = match Capture::open(config) {
        Ok(c) => c,
        Err(e) => {
            let _ = out.send(MicMsg::Failed(e));
            return;
        }
    };
    let _ = out.send(MicMsg::Opened {
        info: capture.info().clone(),
        meter: capture.meter(),
    });
    ctx.request_repaint();
    loop {
        match commands.recv_timeout(Duration::from_millis(20)) {
            Ok(MicCmd::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(MicCmd::Handover) => {
                let _ = out.send(MicMsg::Handover(Box::new(capture)));
                return;
            }
            Ok(MicCmd::Record(job)) => match record(&mut capture, &job, commands, out, ctx) {
                Ok(true) => {}
                // Stopped (or asked for the capture) in the middle of the session.
                Ok(false) => return,
                Err(e) => {
                    let _ = out.send(MicMsg::Failed(e));
                    return;
                }
            },
            Ok(MicCmd::CancelRecording) | Err(RecvTimeoutError::Timeout) => {}
        }
        if let Err(e) = capture.discard() {
            let _ = out.send(MicMsg::Failed(e));
            return;
        }
    }
}

/// One recording session. Returns whether the thread goes on (false: stopped meanwhile), or a
/// device error; clip errors are reported and skipped.
fn record(
    capture: &mut Capture,
    job: &RecordJob,
    commands: &Receiver<MicCmd>,
    out: &Sender<MicMsg>,
    ctx: &egui::Context,
) -> Result<bool, CaptureError> {
    let opts = SaveOptions {
        trim: job.trim,
        ..SaveOptions::new(&job.root, &job.label, &job.speaker)
    };
    // Check the label, speaker and split lists before the first clip (reads the folder).
    match plan(&job.root, &job.label, &job.speaker) {
        Ok(p) => {
            let _ = out.send(MicMsg::Planned(p));
        }
        Err(e) => {
            let _ = out.send(MicMsg::NotSaved(e.to_string()));
            let _ = out.send(MicMsg::RecordDone {
                saved: 0,
                failed: 0,
            });
            return Ok(true);
        }
    }
    let (mut saved, mut failed) = (0, 0);
    'clips: for clip in 1..=job.count {
        let until = Instant::now() + job.pause;
        let _ = out.send(MicMsg::Phase(RecordPhase::GetReady {
            clip,
            count: job.count,
            until,
        }));
        ctx.request_repaint();
        // Keep draining while waiting, so the pause does not overrun the ring buffer.
        while Instant::now() < until {
            capture.discard()?;
            match commands.try_recv() {
                Ok(MicCmd::CancelRecording) => break 'clips,
                // The UI asks for the capture only between sessions: both end the thread.
                Ok(MicCmd::Stop | MicCmd::Handover) => {
                    let _ = out.send(MicMsg::RecordDone { saved, failed });
                    return Ok(false);
                }
                Ok(MicCmd::Record(_)) => {}
                Err(_) => {}
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = out.send(MicMsg::Phase(RecordPhase::Speak {
            clip,
            count: job.count,
            until: Instant::now() + Duration::from_secs_f32(job.seconds),
        }));
        ctx.request_repaint();
        let samples = capture.record(job.seconds)?;
        match save_clip(&opts, &samples) {
            Ok(c) => {
                saved += 1;
                let _ = out.send(MicMsg::Saved(c));
            }
            Err(e) => {
                failed += 1;
                let fatal = !matches!(
                    e,
                    bifsmn_engine::capture::record::RecordError::NoSpeech { .. }
                );
                let _ = out.send(MicMsg::NotSaved(e.to_string()));
                if fatal {
                    break;
                }
            }
        }
        ctx.request_repaint();
    }
    let _ = out.send(MicMsg::RecordDone { saved, failed });
    ctx.request_repaint();
    Ok(true)
}
