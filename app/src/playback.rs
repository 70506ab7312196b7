//! Clip playback through the default output device.
//!
//! A dedicated player thread owns the cpal stream (streams are not `Send` on every platform).
//! For each clip it resamples to the device rate once, with the engine's resampler, then hands
//! the samples to the audio callback by moving them into it. The callback only copies from
//! that buffer and updates an atomic position: it never allocates, locks or blocks.
//!
//! Without a sound card the device lookup fails cleanly; the error comes back as a
//! [`PlayerEvent::Unavailable`] for the UI to show next to the play button.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SizedSample};
use crossbeam_channel::{Receiver, Sender};

/// What the UI asks the player thread.
enum Command {
    /// Play these 16 kHz mono samples (replacing whatever plays); the id names the clip.
    Play {
        id: u64,
        samples: Arc<Vec<f32>>,
        rate: u32,
    },
    Stop,
}

/// What the player reports back.
#[derive(Clone, Debug, PartialEq)]
pub enum PlayerEvent {
    /// Playback cannot happen; the text says why.
    Unavailable(String),
}

/// State the callback shares with the UI, lock-free.
#[derive(Default)]
struct Shared {
    playing: AtomicBool,
    /// Id of the clip that is (or was last) playing.
    id: AtomicU64,
    /// Position and length in source (clip) samples.
    position: AtomicU64,
    length: AtomicU64,
    /// Source sample rate of the current clip.
    rate: AtomicU64,
}

/// Handle to the player thread.
pub struct Player {
    commands: Sender<Command>,
    events: Receiver<PlayerEvent>,
    shared: Arc<Shared>,
}

impl Default for Player {
    fn default() -> Self {
        Self::new()
    }
}

impl Player {
    /// Start the player thread (the audio device is opened on the first `play`).
    pub(crate) fn new() -> Self {
        let (ctx_tx, ctx_rx) = crossbeam_channel::unbounded();
        let (ev_tx, ev_rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared::default());
        let thread_shared = shared.clone();
        std::thread::Builder::new()
            .name("bifsmn-player".into())
            .spawn(move || player_thread(ctx_rx, ev_tx, thread_shared))
            .expect("spawning the player thread");
        Self {
            commands: ctx_tx,
            events: ev_rx,
            shared,
        }
    }

    /// Play `samples` (mono at `rate` Hz) as clip `id`.
    pub(crate) fn play(&self, id: u64, samples: Arc<Vec<f32>>, rate: u32) {
        self.shared.id.store(id, Ordering::Relaxed);
        self.shared.position.store(0, Ordering::Relaxed);
        self.shared
            .length
            .store(samples.len() as u64, Ordering::Relaxed);
        self.shared.rate.store(rate as u64, Ordering::Relaxed);
        self.shared.playing.store(true, Ordering::Relaxed);
        let _ = self.commands.send(Command::Play { id, samples, rate });
    }

    pub(crate) fn stop(&self) {
        self.shared.playing.store(false, Ordering::Relaxed);
        let _ = self.commands.send(Command::Stop);
    }

    /// Whether clip `id` is playing.
    pub(crate) fn is_playing(&self, id: u64) -> bool {
        self.shared.playing.load(Ordering::Relaxed) && self.shared.id.load(Ordering::Relaxed) == id
    }

    pub fn is_playing_any(&self) -> bool {
        self.shared.playing.load(Ordering::Relaxed)
    }

    /// Playhead of clip `id` in seconds, while it plays.
    pub(crate) fn playhead(&self, id: u64) -> Option<f64> {
        if !self.is_playing(id) {
            return None;
        }
        let rate = self.shared.rate.load(Ordering::Relaxed).max(1) as f64;
        Some(self.shared.position.load(Ordering::Relaxed) as f64 / rate)
    }

    /// Events since the last call.
    pub(crate) fn poll(&self) -> Option<PlayerEvent> {
        let ev = self.events.try_recv().ok();
        if ev.is_some() {
            self.shared.playing.store(false, Ordering::Relaxed);
        }
        ev
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
    }
}

fn player_thread(commands: Receiver<Command>, events: Sender<PlayerEvent>, shared: Arc<Shared>) {
    // The device is looked up lazily and kept; the stream of the clip playing lives here.
    let mut device: Option<cpal::Device> = None;
    let mut stream: Option<cpal::Stream> = None;
    while let Ok(cmd) = commands.recv() {
        match cmd {
            Command::Stop => stream = None,
            Command::Play { id, samples, rate } => {
                stream = None;
                if device.is_none() {
                    device = cpal::default_host().default_output_device();
                }
                let Some(dev) = device.as_ref() else {
                    let _ = events.send(PlayerEvent::Unavailable(
                        "no audio output device was found".into(),
                    ));
                    continue;
                };
                match start_stream(dev, id, &samples, rate, shared.clone()) {
                    Ok(s) => stream = Some(s),
                    Err(e) => {
                        // Forget the device: it may come back (USB headset plugged in).
                        device = None;
                        let _ = events.send(PlayerEvent::Unavailable(e));
                    }
                }
            }
        }
    }
    drop(stream);
}

/// Build and start an output stream playing `samples` once.
fn start_stream(
    device: &cpal::Device,
    id: u64,
    samples: &[f32],
    rate: u32,
    shared: Arc<Shared>,
) -> Result<cpal::Stream, String> {
    let supported = device
        .default_output_config()
        .map_err(|e| format!("the audio output device is not usable: {e}"))?;
    let format = supported.sample_format();
    let config: cpal::StreamConfig = supported.into();
    let out_rate = config.sample_rate;
    // Resample here, on the player thread, so the callback only copies.
    let data = bifsmn_engine::audio::resample(samples, rate, out_rate)
        .map_err(|e| format!("resampling for playback failed: {e}"))?;
    let ratio = rate as f64 / out_rate.max(1) as f64;
    macro_rules! build {
        ($t:ty) => {
            build_stream::<$t>(device, config, data, ratio, id, shared)
        };
    }
    let stream = match format {
        cpal::SampleFormat::F32 => build!(f32),
        cpal::SampleFormat::F64 => build!(f64),
        cpal::SampleFormat::I16 => build!(i16),
        cpal::SampleFormat::I32 => build!(i32),
        cpal::SampleFormat::U16 => build!(u16),
        cpal::SampleFormat::U8 => build!(u8),
        cpal::SampleFormat::I8 => build!(i8),
        other => return Err(format!("unsupported output sample format {other}")),
    }?;
    stream
        .play()
        .map_err(|e| format!("could not start playback: {e}"))?;
    Ok(stream)
}

fn build_stream<T: SizedSample + FromSample<f32>>(
    device: &cpal::Device,
    config: cpal::StreamConfig,
    data: Vec<f32>,
    ratio: f64,
    id: u64,
    shared: Arc<Shared>,
) -> Result<cpal::Stream, String> {
    let channels = config.channels.max(1) as usize;
    let mut next = 0usize;
    let callback = move |out: &mut [T], _: &cpal::OutputCallbackInfo| {
        // A newer clip took over: stay silent until this stream is dropped.
        let current = shared.id.load(Ordering::Relaxed) == id;
        for frame in out.chunks_mut(channels) {
            let s = if current && next < data.len() {
                let v = data[next];
                next += 1;
                v
            } else {
                0.0
            };
            let v = T::from_sample(s);
            for o in frame.iter_mut() {
                *o = v;
            }
        }
        if current {
            shared
                .position
                .store((next as f64 * ratio) as u64, Ordering::Relaxed);
            if next >= data.len() {
                shared.playing.store(false, Ordering::Relaxed);
            }
        }
    };
    device
        .build_output_stream(
            config,
            callback,
            |e| eprintln!("bifsmn-workbench: audio output error: {e}"),
            None,
        )
        .map_err(|e| format!("could not open an audio output stream: {e}"))
}
