//! [`Capture`]: an open input stream, read as 16 kHz mono from any thread.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{ErrorKind, FromSample, SizedSample, StreamConfig};
use crossbeam_channel::{Receiver, Sender, bounded};
use serde::Serialize;

use super::callback::{Shared, on_block};
use super::convert::ToMono16k;
use super::device::{
    FoundDevice, Request, choose_config, find_input_device, supported_descriptions,
};
use super::{CaptureError, CaptureStats, Level, LevelMeter, NativeConfig, SampleKind};
use crate::audio::SAMPLE_RATE;

/// How to open the input.
#[derive(Clone, Debug, PartialEq)]
pub struct CaptureConfig {
    /// Device id or name (see [`super::list_input_devices`]); `None` = the default input.
    pub device: Option<String>,
    /// Force a sample rate; `None` = the device's preference.
    pub sample_rate: Option<u32>,
    /// Force a channel count; `None` = the device's preference.
    pub channels: Option<u16>,
    /// Force a sample format; `None` = the device's preference.
    pub format: Option<SampleKind>,
    /// Ring buffer length in seconds of native audio: how long the reader may stall before
    /// audio is dropped (and counted as overrun).
    pub ring_seconds: f32,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        Self {
            device: None,
            sample_rate: None,
            channels: None,
            format: None,
            ring_seconds: 2.0,
        }
    }
}

impl CaptureConfig {
    /// The default input with default settings.
    pub fn default_device() -> Self {
        Self::default()
    }

    /// A named device with default settings.
    pub fn device(name: impl Into<String>) -> Self {
        Self {
            device: Some(name.into()),
            ..Self::default()
        }
    }
}

/// What was opened.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CaptureInfo {
    /// `name (id)` of the device.
    pub device: String,
    /// The format the device delivers (converted to 16 kHz mono by [`Capture::read`]).
    pub native: NativeConfig,
    /// Ring buffer capacity in native frames.
    pub ring_frames: usize,
}

/// An open input stream. Dropping it stops capture.
///
/// `Capture` is `Send`: open it where errors can be shown (e.g. the GUI thread), then move it
/// to the thread that reads it.
pub struct Capture {
    // Field order matters on drop: the stream (and its callback, which owns the producer)
    // goes first.
    _stream: cpal::Stream,
    consumer: rtrb::Consumer<f32>,
    shared: Arc<Shared>,
    errors: Receiver<String>,
    converter: ToMono16k,
    info: CaptureInfo,
    failure: Option<String>,
    scratch: Vec<f32>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl Capture {
    /// Find the device, choose the format, start the stream.
    pub fn open(config: &CaptureConfig) -> Result<Capture, CaptureError> {
        let found = find_input_device(config.device.as_deref())?;
        let request = Request {
            sample_rate: config.sample_rate,
            channels: config.channels,
            format: config.format,
        };
        let (stream_config, native) = choose_config(&found, request)?;
        let ring_frames =
            ((config.ring_seconds.max(0.05) * native.sample_rate as f32) as usize).max(1024);
        let (producer, consumer) =
            rtrb::RingBuffer::<f32>::new(ring_frames * native.channels as usize);
        let shared = Arc::new(Shared::default());
        // Errors are rare and the error callback may run on the audio thread: a bounded
        // channel's `try_send` neither blocks nor allocates.
        let (err_tx, err_rx) = bounded::<String>(16);
        let stream = build(
            &found,
            stream_config,
            native,
            producer,
            Arc::clone(&shared),
            err_tx,
        )?;
        stream.play().map_err(|e| CaptureError::Start {
            device: found.label(),
            reason: e.to_string(),
        })?;
        Ok(Capture {
            _stream: stream,
            consumer,
            shared,
            errors: err_rx,
            converter: ToMono16k::new(native.sample_rate, native.channels)?,
            info: CaptureInfo {
                device: found.label(),
                native,
                ring_frames,
            },
            failure: None,
            scratch: Vec::new(),
        })
    }

    /// The device and format.
    pub fn info(&self) -> &CaptureInfo {
        &self.info
    }

    /// Peak and RMS of the last block the device delivered.
    pub fn level(&self) -> Level {
        self.shared.level()
    }

    /// A handle for reading the level and counters from another thread.
    pub fn meter(&self) -> LevelMeter {
        LevelMeter(Arc::clone(&self.shared))
    }

    /// Counters since the stream started.
    pub fn stats(&self) -> CaptureStats {
        self.shared.stats()
    }

    /// Append the 16 kHz mono samples captured since the last call to `out`, without waiting.
    /// Returns how many were appended. After the device failed (unplugged, backend error) the
    /// audio still buffered is returned first, then [`CaptureError::StreamFailed`].
    pub fn read(&mut self, out: &mut Vec<f32>) -> Result<usize, CaptureError> {
        self.poll_errors();
        let available = self.consumer.slots();
        let channels = self.info.native.channels as usize;
        let take = available - available % channels;
        if take == 0 {
            if let Some(reason) = &self.failure {
                return Err(CaptureError::StreamFailed {
                    device: self.info.device.clone(),
                    reason: reason.clone(),
                });
            }
            return Ok(0);
        }
        self.scratch.clear();
        if let Ok(chunk) = self.consumer.read_chunk(take) {
            let (a, b) = chunk.as_slices();
            self.scratch.extend_from_slice(a);
            self.scratch.extend_from_slice(b);
            chunk.commit_all();
        }
        self.converter.push(&self.scratch, out)
    }

    /// Block until `samples` 16 kHz samples were appended to `out` (polling every 5 ms).
    /// Fails with [`CaptureError::NoAudio`] when nothing arrives for `idle_timeout`.
    pub fn read_exact(
        &mut self,
        samples: usize,
        out: &mut Vec<f32>,
        idle_timeout: Duration,
    ) -> Result<(), CaptureError> {
        let target = out.len() + samples;
        let mut last_progress = Instant::now();
        while out.len() < target {
            let before = out.len();
            self.read(out)?;
            if out.len() > before {
                last_progress = Instant::now();
            } else if last_progress.elapsed() > idle_timeout {
                return Err(CaptureError::NoAudio {
                    device: self.info.device.clone(),
                    waited_ms: idle_timeout.as_millis() as u64,
                });
            } else {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        out.truncate(target);
        Ok(())
    }

    /// Record `seconds` of 16 kHz mono audio, starting now (audio buffered before the call is
    /// discarded).
    pub fn record(&mut self, seconds: f32) -> Result<Vec<f32>, CaptureError> {
        self.discard()?;
        let n = (seconds.max(0.0) * SAMPLE_RATE as f32).round() as usize;
        let mut out = Vec::with_capacity(n);
        self.read_exact(n, &mut out, Duration::from_secs(2))?;
        Ok(out)
    }

    /// Drop everything buffered so far (e.g. before recording the next clip).
    pub fn discard(&mut self) -> Result<(), CaptureError> {
        let mut sink = Vec::new();
        self.read(&mut sink).map(|_| ())
    }

    /// Whether the device has failed (the buffered audio may still be readable).
    pub fn failed(&self) -> bool {
        self.shared.failed.load(Ordering::Acquire)
    }

    fn poll_errors(&mut self) {
        while let Ok(reason) = self.errors.try_recv() {
            self.failure.get_or_insert(reason);
        }
        if self.failure.is_none() && self.failed() {
            self.failure = Some("the audio backend reported an error".into());
        }
    }
}

/// Build the input stream for the native format. Each arm instantiates the callback for one
/// sample type; the conversion to `f32` happens inside it (cheap arithmetic, no allocation).
fn build(
    found: &FoundDevice,
    config: StreamConfig,
    native: NativeConfig,
    producer: rtrb::Producer<f32>,
    shared: Arc<Shared>,
    errors: Sender<String>,
) -> Result<cpal::Stream, CaptureError> {
    use cpal::{I24, U24};
    let args = (found, config, producer, shared, errors);
    let result = match native.format {
        SampleKind::I8 => build_typed::<i8>(args),
        SampleKind::I16 => build_typed::<i16>(args),
        SampleKind::I24 => build_typed::<I24>(args),
        SampleKind::I32 => build_typed::<i32>(args),
        SampleKind::U8 => build_typed::<u8>(args),
        SampleKind::U16 => build_typed::<u16>(args),
        SampleKind::U24 => build_typed::<U24>(args),
        SampleKind::U32 => build_typed::<u32>(args),
        SampleKind::F32 => build_typed::<f32>(args),
        SampleKind::F64 => build_typed::<f64>(args),
    };
    result.map_err(|e| {
        if matches!(
            e.kind(),
            ErrorKind::UnsupportedConfig | ErrorKind::InvalidInput
        ) {
            CaptureError::UnsupportedConfig {
                device: found.label(),
                requested: native.to_string(),
                reason: e.to_string(),
                supported: supported_descriptions(found),
            }
        } else {
            CaptureError::Start {
                device: found.label(),
                reason: e.to_string(),
            }
        }
    })
}

type BuildArgs<'a> = (
    &'a FoundDevice,
    StreamConfig,
    rtrb::Producer<f32>,
    Arc<Shared>,
    Sender<String>,
);

fn build_typed<T>(
    (found, config, mut producer, shared, errors): BuildArgs<'_>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + Send + 'static,
    f32: FromSample<T>,
{
    let channels = config.channels as usize;
    let data_shared = Arc::clone(&shared);
    found.device.build_input_stream::<T, _, _>(
        config,
        // The real-time callback: see `callback::on_block` for what it may and may not do.
        move |data: &[T], _info| on_block(data, channels, &mut producer, &data_shared),
        move |err| error_callback(&shared, &errors, err),
        None,
    )
}

/// The error callback (cpal may call it on the audio thread, so it only touches atomics and
/// a bounded channel). Device overruns are counted; anything else ends the stream, the
/// reader sees [`CaptureError::StreamFailed`] once the buffered audio is consumed.
fn error_callback(shared: &Shared, errors: &Sender<String>, err: cpal::Error) {
    match err.kind() {
        ErrorKind::Xrun => {
            shared.device_xruns.fetch_add(1, Ordering::Relaxed);
        }
        // Informational: the stream was rerouted or runs without real-time priority.
        ErrorKind::DeviceChanged | ErrorKind::RealtimeDenied => {}
        _ => {
            // Formatting allocates; errors end the stream, so this is off the steady path.
            // The message goes first so a reader that sees the flag also finds the reason.
            let _ = errors.try_send(describe_failure(&err));
            shared.failed.store(true, Ordering::Release);
        }
    }
}

fn describe_failure(err: &cpal::Error) -> String {
    match err.kind() {
        ErrorKind::DeviceNotAvailable => format!("the device was disconnected ({err})"),
        _ => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_errors_end_the_stream_and_overruns_are_only_counted() {
        let shared = Shared::default();
        let (tx, rx) = bounded(16);
        error_callback(&shared, &tx, cpal::Error::new(ErrorKind::Xrun));
        assert_eq!(shared.stats().device_xruns, 1);
        assert!(!shared.failed.load(Ordering::Relaxed));
        assert!(rx.try_recv().is_err());

        error_callback(
            &shared,
            &tx,
            cpal::Error::new(ErrorKind::DeviceNotAvailable),
        );
        assert!(shared.failed.load(Ordering::Relaxed));
        let msg = rx.try_recv().unwrap();
        assert!(msg.contains("disconnected"), "{msg}");
    }
}
