//! A decoded clip as the Data panel shows it: waveform, log-mel image and playback.
//!
//! Decoding and the log-mel front end run on a worker thread ([`load_file`], [`load_clip`]);
//! the UI thread only turns the finished numbers into a texture ([`ClipView::new`]).

use std::path::Path;
use std::sync::Arc;

use bifsmn_engine::audio::{self, AudioError, CLIP_SAMPLES, SAMPLE_RATE};
use bifsmn_engine::data::{Clip, DataError, Dataset};
use bifsmn_engine::features::{FeatureParams, LogMel};
use egui::Ui;

use crate::playback::Player;
use crate::widgets::heatmap::{Axis, Heatmap, Scale};
use crate::widgets::waveform::Envelope;

/// Samples and features of one clip or file.
pub(crate) struct LoadedAudio {
    /// Display name (relative path in the dataset, or the file name).
    pub name: String,
    /// Mono 16 kHz samples, full length.
    pub samples: Arc<Vec<f32>>,
    /// Log-mel of the first second (`[mel][frame]`), what the model sees.
    pub logmel: Vec<f32>,
    pub params: FeatureParams,
    /// Source format, rate, channels and duration, when decoded from a file.
    pub info: String,
}

fn logmel_of(samples: &[f32]) -> (Vec<f32>, FeatureParams) {
    let params = FeatureParams::default();
    let clip = audio::fix_length(samples.to_vec(), CLIP_SAMPLES);
    (LogMel::new(params).compute(&clip), params)
}

/// Decode any audio file (blocking).
pub(crate) fn load_file(path: &Path) -> Result<LoadedAudio, AudioError> {
    let decoded = audio::decode_file(path)?;
    let info = format!(
        "{} · {} Hz · {} channel{} · {:.2} s",
        decoded.format,
        decoded.sample_rate,
        decoded.channels,
        if decoded.channels == 1 { "" } else { "s" },
        decoded.seconds()
    );
    let samples = decoded.into_mono_16k(path)?;
    let (logmel, params) = logmel_of(&samples);
    Ok(LoadedAudio {
        name: path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        samples: Arc::new(samples),
        logmel,
        params,
        info,
    })
}

/// Load a dataset clip (blocking): exactly one second, as training sees it.
pub(crate) fn load_clip(dataset: &Dataset, clip: &Clip) -> Result<LoadedAudio, DataError> {
    let samples = dataset.load(clip)?;
    let (logmel, params) = logmel_of(&samples);
    Ok(LoadedAudio {
        name: dataset.relative_name(clip),
        samples: Arc::new(samples),
        logmel,
        params,
        info: String::new(),
    })
}

/// A loaded clip with its textures.
pub(crate) struct ClipView {
    pub audio: LoadedAudio,
    /// Playback id (unique per view).
    pub id: u64,
    envelope: Envelope,
    logmel: Heatmap,
}

impl ClipView {
    pub(crate) fn new(ctx: &egui::Context, audio: LoadedAudio, id: u64) -> Self {
        let envelope = Envelope::new(&audio.samples, SAMPLE_RATE);
        let p = audio.params;
        let frames = p.frames();
        let max = audio
            .logmel
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(f32::MIN, f32::max);
        // An 80 dB window below the loudest bin, the usual spectrogram dynamic range.
        let hi = if max > f32::MIN { max } else { 0.0 };
        let logmel = Heatmap::new(
            ctx,
            &format!("logmel-{id}"),
            &audio.logmel,
            p.n_mels,
            frames,
            Scale::Sequential { lo: hi - 80.0, hi },
            "dB",
        );
        Self {
            audio,
            id,
            envelope,
            logmel,
        }
    }

    /// Play/stop button.
    pub(crate) fn play_button(&self, ui: &mut Ui, player: &Player) {
        let playing = player.is_playing(self.id);
        let text = if playing { "Stop" } else { "Play" };
        if ui
            .button(text)
            .on_hover_text("Play or stop this clip (Space)")
            .clicked()
        {
            self.toggle(player);
        }
    }

    /// Start or stop playback.
    pub(crate) fn toggle(&self, player: &Player) {
        if player.is_playing(self.id) {
            player.stop();
        } else {
            player.play(self.id, self.audio.samples.clone(), SAMPLE_RATE);
        }
    }

    /// Waveform over the full width.
    pub(crate) fn show_waveform(&self, ui: &mut Ui, player: &Player, height: f32) {
        self.envelope.show(
            ui,
            &format!("waveform-{}", self.id),
            height,
            player.playhead(self.id),
        );
    }

    /// The log-mel image with axes; `side` is the image's side in points.
    pub(crate) fn show_logmel(&self, ui: &mut Ui, side: f32) {
        let p = self.audio.params;
        self.logmel.show(
            ui,
            egui::vec2(side, side),
            &format!("log-mel spectrogram of {}", self.audio.name),
            &Axis::new(
                "time (s)",
                0.0,
                p.hop as f32 / p.sample_rate as f32,
                p.frames(),
            )
            .ticks(4),
            &Axis::new("mel bin", 0.0, 1.0, p.n_mels).ticks(4),
        );
    }
}
