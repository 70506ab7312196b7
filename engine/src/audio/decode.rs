//! symphonia-based decoding of a whole file into interleaved f32 samples.

use std::io::Cursor;
use std::path::Path;

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use super::{AudioError, AudioErrorKind, SAMPLE_RATE, downmix, resample};

/// A decoded file at its native rate and channel count.
#[derive(Clone, Debug)]
pub struct DecodedAudio {
    pub sample_rate: u32,
    pub channels: usize,
    /// Interleaved samples in [-1, 1].
    pub interleaved: Vec<f32>,
    /// Short description of the container/codec, e.g. "wav/pcm_s24le".
    pub format: String,
}

impl DecodedAudio {
    /// Frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.interleaved.len() / self.channels.max(1)
    }

    /// Duration in seconds.
    pub fn seconds(&self) -> f32 {
        self.frames() as f32 / self.sample_rate.max(1) as f32
    }

    /// Downmix to mono and resample to 16 kHz. `path` only labels errors.
    pub fn into_mono_16k(self, path: &Path) -> Result<Vec<f32>, AudioError> {
        let mono = downmix(&self.interleaved, self.channels);
        resample(&mono, self.sample_rate, SAMPLE_RATE).map_err(|reason| {
            AudioError::new(
                path,
                AudioErrorKind::Resample {
                    from: self.sample_rate,
                    reason,
                },
            )
        })
    }
}

/// Decode a file. The extension is only a hint; the content decides the format.
pub fn decode_file(path: &Path) -> Result<DecodedAudio, AudioError> {
    let bytes = std::fs::read(path).map_err(|e| AudioError::new(path, AudioErrorKind::Io(e)))?;
    decode_bytes(&bytes, path)
}

/// Decode an in-memory file. `path` names it in errors and gives the extension hint.
pub fn decode_bytes(bytes: &[u8], path: &Path) -> Result<DecodedAudio, AudioError> {
    let err = |kind| AudioError::new(path, kind);
    if bytes.is_empty() {
        return Err(err(AudioErrorKind::Empty));
    }
    let mss = MediaSourceStream::new(Box::new(Cursor::new(bytes.to_vec())), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymError::Unsupported(_) => err(AudioErrorKind::Unsupported(
                "no decoder recognises its content".into(),
            )),
            SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                err(AudioErrorKind::Malformed("header ends early".into()))
            }
            other => err(AudioErrorKind::Malformed(other.to_string())),
        })?;

    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| err(AudioErrorKind::NoAudioTrack))?;
    let track_id = track.id;
    // Streamed WAVs (written to a pipe) carry 0xFFFFFFFF as their data size; such a length is
    // unknown, not a promise, so reaching the end of the file early is normal for them.
    let declared_frames = track.num_frames.filter(|&n| n < (u32::MAX / 8) as u64);
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| err(AudioErrorKind::NoAudioTrack))?
        .clone();
    let format_name = format!("{}/{:?}", format.format_info().short_name, params.codec);
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| err(AudioErrorKind::Unsupported(format!("codec: {e}"))))?;

    let mut sample_rate = params.sample_rate;
    let mut channels = params.channels.as_ref().map(|c| c.count());
    let mut interleaved: Vec<f32> = Vec::new();
    let mut chunk: Vec<f32> = Vec::new();
    // Lossy decoders may recover from a bad packet; a few are tolerated, a stream of them is not.
    let mut decode_errors = 0usize;
    let mut packets = 0usize;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(SymError::IoError(io)) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                match declared_frames {
                    Some(declared) => {
                        return Err(err(AudioErrorKind::Truncated {
                            decoded: (interleaved.len() / channels.unwrap_or(1).max(1)) as u64,
                            declared,
                        }));
                    }
                    None => break,
                }
            }
            Err(SymError::ResetRequired) => {
                return Err(err(AudioErrorKind::Unsupported(
                    "stream changes format mid-file".into(),
                )));
            }
            Err(e) => return Err(err(AudioErrorKind::Malformed(e.to_string()))),
        };
        if packet.track_id != track_id {
            continue;
        }
        packets += 1;
        match decoder.decode(&packet) {
            Ok(buf) => {
                let spec = buf.spec();
                sample_rate.get_or_insert(spec.rate());
                let ch = *channels.get_or_insert(spec.channels().count());
                if spec.channels().count() != ch {
                    return Err(err(AudioErrorKind::Unsupported(
                        "channel count changes mid-file".into(),
                    )));
                }
                chunk.clear();
                buf.copy_to_vec_interleaved(&mut chunk);
                interleaved.extend_from_slice(&chunk);
            }
            Err(SymError::DecodeError(msg)) => {
                decode_errors += 1;
                if decode_errors > 8 && decode_errors * 2 > packets {
                    return Err(err(AudioErrorKind::Malformed(msg.to_string())));
                }
            }
            Err(SymError::IoError(io)) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                match declared_frames {
                    Some(declared) => {
                        return Err(err(AudioErrorKind::Truncated {
                            decoded: (interleaved.len() / channels.unwrap_or(1).max(1)) as u64,
                            declared,
                        }));
                    }
                    // The last packet of a stream of unknown length was cut short: keep
                    // what decoded.
                    None => break,
                }
            }
            Err(e) => return Err(err(AudioErrorKind::Malformed(e.to_string()))),
        }
    }

    let channels = channels.unwrap_or(1).max(1);
    let sample_rate = sample_rate.ok_or_else(|| {
        err(AudioErrorKind::Malformed(
            "the stream does not state its sample rate".into(),
        ))
    })?;
    let frames = (interleaved.len() / channels) as u64;
    if let Some(declared) = declared_frames {
        // Lossy codecs state an approximate length (encoder delay and padding); lossless
        // containers state it exactly, so a shortfall there means the file was cut off.
        let lossless = matches!(format_name.split('/').next(), Some("wav" | "wave" | "flac"));
        if lossless && frames < declared {
            return Err(err(AudioErrorKind::Truncated {
                decoded: frames,
                declared,
            }));
        }
    }
    if frames == 0 {
        return Err(err(AudioErrorKind::NoSamples));
    }
    if interleaved.iter().any(|s| !s.is_finite()) {
        return Err(err(AudioErrorKind::Malformed(
            "samples are not finite numbers".into(),
        )));
    }
    Ok(DecodedAudio {
        sample_rate,
        channels,
        interleaved,
        format: format_name,
    })
}
