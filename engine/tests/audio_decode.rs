//! Decoding every promised format into 16 kHz mono clips, and clear errors for bad files.
//! Fixtures: `tests/fixtures/audio/` (made by `make_audio_fixtures.sh`): a 0.25 s stereo tone,
//! 440 Hz left and 660 Hz right, at 22.05 kHz.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

use std::path::{Path, PathBuf};

use bifsmn_engine::audio::{self, AudioErrorKind, CLIP_SAMPLES};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/audio")
        .join(name)
}

/// Dominant frequency by counting upward zero crossings.
fn crossings_per_second(x: &[f32], rate: f32) -> f32 {
    let n = x.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
    n as f32 * rate / x.len() as f32
}

#[test]
fn every_format_decodes_to_the_same_16k_mono_signal() {
    for name in [
        "pcm_u8.wav",
        "pcm_s16.wav",
        "pcm_s24.wav",
        "pcm_s32.wav",
        "float32.wav",
        "tone.flac",
        "tone.ogg",
        "tone.mp3",
    ] {
        let path = fixture(name);
        let decoded = audio::decode_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(decoded.sample_rate, 22_050, "{name}");
        assert_eq!(decoded.channels, 2, "{name}");
        // MP3 and Vorbis add encoder delay and padding; PCM and FLAC are exact.
        let exact = name.ends_with(".wav") || name.ends_with(".flac");
        let frames = decoded.frames() as i64;
        if exact {
            assert_eq!(frames, 5512, "{name}");
        } else {
            assert!((frames - 5512).abs() < 3000, "{name}: {frames} frames");
        }
        let mono = audio::load_mono_16k(&path).unwrap();
        let expect_len = (frames as f64 * 16_000.0 / 22_050.0).round() as i64;
        assert!(
            (mono.len() as i64 - expect_len).abs() <= 2,
            "{name}: {}",
            mono.len()
        );
        // Downmixed, 440 + 660 Hz is a 550 Hz carrier under a 110 Hz envelope: about 550
        // upward zero crossings a second.
        let mid = &mono[mono.len() / 4..3 * mono.len() / 4];
        let f = crossings_per_second(mid, 16_000.0);
        assert!((400.0..700.0).contains(&f), "{name}: {f} crossings/s");
        let (peak, _) = audio::levels_dbfs(mid);
        assert!(peak > -12.0 && peak < 0.5, "{name}: peak {peak} dBFS");
        let clip = audio::load_clip(&path).unwrap();
        assert_eq!(clip.len(), CLIP_SAMPLES);
        assert!(
            clip[CLIP_SAMPLES - 100..].iter().all(|&v| v == 0.0),
            "{name}: padded with zeros"
        );
    }
}

#[test]
fn bad_files_name_the_file_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.path().join("notes.wav");
    std::fs::write(&text, b"this is not audio at all, just text\n").unwrap();
    let truncated = dir.path().join("cut.wav");
    let bytes = std::fs::read(fixture("pcm_s16.wav")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let header_only = dir.path().join("header.flac");
    let flac = std::fs::read(fixture("tone.flac")).unwrap();
    std::fs::write(&header_only, &flac[..20]).unwrap();
    let missing = dir.path().join("missing.wav");

    let err = |p: &Path| audio::load_clip(p).expect_err("must fail");
    let e = err(&empty);
    assert!(matches!(e.kind, AudioErrorKind::Empty), "{e}");
    assert!(e.to_string().contains("empty.wav"), "{e}");
    let e = err(&text);
    assert!(matches!(e.kind, AudioErrorKind::Unsupported(_)), "{e}");
    assert!(e.to_string().contains("notes.wav"));
    let e = err(&truncated);
    assert!(matches!(e.kind, AudioErrorKind::Truncated { .. }), "{e}");
    assert!(e.to_string().contains("cut.wav") && e.to_string().contains("truncated"));
    let e = err(&header_only);
    assert!(e.to_string().contains("header.flac"), "{e}");
    let e = err(&missing);
    assert!(matches!(e.kind, AudioErrorKind::Io(_)), "{e}");
    assert!(e.to_string().contains("missing.wav"));
}

#[test]
fn a_streamed_wav_with_unknown_length_decodes() {
    // A WAV written to a pipe carries 0xFFFFFFFF as its RIFF and data sizes.
    let mut bytes = std::fs::read(fixture("pcm_s16.wav")).unwrap();
    let data = bytes.windows(4).position(|w| w == b"data").unwrap();
    bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    bytes[data + 4..data + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("stream.wav");
    std::fs::write(&p, &bytes).unwrap();
    let d = audio::decode_file(&p).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.frames(), 5512);
}

#[test]
fn written_clips_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sub/clip.wav");
    let x: Vec<f32> = (0..16_000).map(|i| 0.5 * (i as f32 * 0.05).sin()).collect();
    audio::write_wav_mono_16k(&p, &x).unwrap();
    let y = audio::load_clip(&p).unwrap();
    let err = x
        .iter()
        .zip(&y)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(err < 1.0 / 16_000.0, "max error {err}");
}
