//! Capture through the real cpal/ALSA code without a sound card.
//!
//! ALSA's `file` PCM plugin can read capture data from a raw file (`infile`) on top of the
//! `null` device. A test-only ALSA configuration (the system one plus two such PCMs) is
//! passed through `ALSA_CONFIG_PATH` to a child process running this test binary again, so
//! the environment of the other tests is untouched. The `null` device is not rate-limited:
//! audio arrives as fast as the CPU allows, which also exercises the overrun counting. Past
//! the end of the file the plugin does not deliver silence (it appears to start over), so the
//! checks only use the first file-length of each stream.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bifsmn_engine::audio::{self, write_wav_interleaved};
use bifsmn_engine::capture::record::{SaveOptions, save_clip};
use bifsmn_engine::capture::{
    Capture, CaptureConfig, CaptureError, SampleKind, ToMono16k, list_input_devices,
};

const CHILD_DIR: &str = "BIFSMN_CAPTURE_TEST_DIR";

#[test]
fn a_device_that_does_not_exist_is_a_clear_error() {
    let err = Capture::open(&CaptureConfig::device("no-such-microphone")).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("no-such-microphone"), "{msg}");
    assert!(
        matches!(err, CaptureError::DeviceNotFound { .. }),
        "unexpected error: {err:?}"
    );
    // The rest of the program keeps working: listing still answers.
    let _ = list_input_devices().unwrap();
}

#[test]
fn the_default_device_either_works_or_fails_with_a_message_naming_it() {
    // On this build machine (no /dev/snd) ALSA's "default" has no configuration; on a laptop
    // it is the microphone. Either way: no panic, and an error says which device.
    match Capture::open(&CaptureConfig::default()) {
        Ok(mut c) => {
            let mut out = Vec::new();
            let _ = c.read(&mut out);
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                matches!(e, CaptureError::NoInputDevice) || msg.contains("Default"),
                "{msg}"
            );
        }
    }
}

fn tone(rate: u32, channels: usize, secs: f32) -> Vec<f32> {
    let frames = (rate as f32 * secs) as usize;
    let mut x = Vec::with_capacity(frames * channels);
    for i in 0..frames {
        let t = i as f32 / rate as f32;
        let v = 0.4 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()
            + 0.2 * (2.0 * std::f32::consts::PI * 1234.0 * t).sin();
        for c in 0..channels {
            // Channels differ, so the downmix is checked too.
            x.push(if c == 0 { v } else { 0.5 * v });
        }
    }
    x
}

/// Write `samples` (interleaved) as a 16-bit WAV, then its data as the raw capture file;
/// returns the samples as read back from the WAV (what the capture must reproduce).
fn wav_and_raw(dir: &Path, name: &str, samples: &[f32], rate: u32, channels: u16) -> Vec<f32> {
    let wav = dir.join(format!("{name}.wav"));
    write_wav_interleaved(&wav, samples, rate, channels).unwrap();
    let ints: Vec<i16> = hound::WavReader::open(&wav)
        .unwrap()
        .into_samples::<i16>()
        .map(Result::unwrap)
        .collect();
    let raw: Vec<u8> = ints.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(dir.join(format!("{name}.raw")), raw).unwrap();
    ints.iter().map(|&v| v as f32 / 32768.0).collect()
}

#[test]
fn capture_reads_a_wav_through_an_alsa_file_pcm() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    wav_and_raw(d, "mono16", &tone(16_000, 1, 1.0), 16_000, 1);
    wav_and_raw(d, "stereo44", &tone(44_100, 2, 1.0), 44_100, 2);
    // A "word": 0.5 s of silence, 0.5 s of tone, 0.5 s of silence.
    let mut word = vec![0.0f32; 8000];
    word.extend(tone(16_000, 1, 0.5));
    word.extend(vec![0.0f32; 8000]);
    wav_and_raw(d, "word", &word, 16_000, 1);
    let pcm = |name: &str, what: &str| {
        format!(
            "pcm.bifsmn_{name} {{\n  type file\n  slave.pcm null\n  file \"/dev/null\"\n  \
             infile \"{}\"\n  format \"raw\"\n  hint {{ show on description \"{what}\" }}\n}}\n",
            d.join(format!("{name}.raw")).display()
        )
    };
    let conf = d.join("asound.conf");
    std::fs::write(
        &conf,
        format!(
            "</usr/share/alsa/alsa.conf>\n{}{}{}",
            pcm("mono16", "bifsmn test input 16 kHz mono"),
            pcm("stereo44", "bifsmn test input 44.1 kHz stereo"),
            pcm("word", "bifsmn test input, one word")
        ),
    )
    .unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "alsa_file_pcm_child", "--nocapture"])
        .env("ALSA_CONFIG_PATH", &conf)
        .env(CHILD_DIR, d)
        .output()
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(out.status.success(), "child failed:\n{text}");
    assert!(
        text.contains("1 passed"),
        "the child test did not run:\n{text}"
    );
}

/// Run by [`capture_reads_a_wav_through_an_alsa_file_pcm`] with the test ALSA configuration.
#[test]
#[ignore = "runs in a child process with a test-only ALSA configuration"]
fn alsa_file_pcm_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        eprintln!("{CHILD_DIR} not set: nothing to do");
        return;
    };
    let dir = Path::new(&dir);

    let devices = list_input_devices().unwrap();
    let ids: Vec<&str> = devices.iter().map(|d| d.id.as_str()).collect();
    assert!(ids.contains(&"bifsmn_mono16"), "{ids:?}");
    let listed = devices.iter().find(|d| d.id == "bifsmn_mono16").unwrap();
    assert_eq!(listed.name, "bifsmn test input 16 kHz mono");

    // 16 kHz mono i16: no conversion but the scaling, so the capture equals the WAV exactly.
    let want: Vec<f32> = read_back(&dir.join("mono16.wav"));
    let mut cap = Capture::open(&CaptureConfig {
        device: Some("bifsmn_mono16".into()),
        sample_rate: Some(16_000),
        channels: Some(1),
        format: Some(SampleKind::I16),
        ring_seconds: 10.0,
    })
    .unwrap();
    assert_eq!(cap.info().native.to_string(), "16000 Hz, 1 ch, i16");
    let mut got = Vec::new();
    cap.read_exact(want.len(), &mut got, Duration::from_secs(5))
        .unwrap();
    assert_eq!(got, want);
    drop(cap);

    // 44.1 kHz stereo i16 by a unique part of the name: downmixed and resampled by the
    // streaming converter; equal to converting the WAV in one go (over the whole chunks), and
    // close to the offline resampler.
    let interleaved = read_back(&dir.join("stereo44.wav"));
    let mut reference = Vec::new();
    ToMono16k::new(44_100, 2)
        .unwrap()
        .push(&interleaved, &mut reference)
        .unwrap();
    let mut cap = Capture::open(&CaptureConfig {
        device: Some("44.1 kHz stereo".into()),
        sample_rate: Some(44_100),
        channels: Some(2),
        format: Some(SampleKind::I16),
        ring_seconds: 10.0,
    })
    .unwrap();
    let mut got = Vec::new();
    cap.read_exact(reference.len(), &mut got, Duration::from_secs(5))
        .unwrap();
    assert_eq!(got, reference);
    let offline = audio::resample(&audio::downmix(&interleaved, 2), 44_100, 16_000).unwrap();
    let (a, b) = (
        &got[800..reference.len() - 800],
        &offline[800..reference.len() - 800],
    );
    let err: f32 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
    let sig: f32 = b.iter().map(|y| y * y).sum();
    let snr = 10.0 * (sig / err).log10();
    assert!(snr > 30.0, "streaming vs offline resampling: {snr:.1} dB");
    println!("streaming vs offline resampler agreement: {snr:.1} dB");
    let level = cap.level();
    assert!(level.peak_dbfs <= 0.0);
    drop(cap);

    // A ring of ~1024 frames that nobody reads: the unthrottled null device overruns it,
    // and the drops are counted; the oldest audio is kept.
    let mut cap = Capture::open(&CaptureConfig {
        device: Some("bifsmn_mono16".into()),
        sample_rate: Some(16_000),
        channels: Some(1),
        format: Some(SampleKind::I16),
        ring_seconds: 0.05,
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let stats = cap.stats();
    assert!(
        stats.overrun_frames > 0 && stats.overrun_blocks > 0,
        "{stats:?}"
    );
    let mut got = Vec::new();
    cap.read(&mut got).unwrap();
    assert_eq!(got.len(), cap.info().ring_frames);
    assert_eq!(got[..], want[..got.len()]);
    println!("overrun: {stats:?}");
    drop(cap);

    // Recording a clip into a dataset through the same path: a 0.5 s "word" in the middle
    // of a 1.5 s recording, trimmed and centred into a 1 s clip. (`Capture::record` discards
    // what was buffered before the call; on this unthrottled device the word would already be
    // gone, so the recording is read from the start of the stream.)
    let mut cap = Capture::open(&CaptureConfig {
        device: Some("bifsmn_word".into()),
        sample_rate: Some(16_000),
        channels: Some(1),
        format: Some(SampleKind::I16),
        ring_seconds: 10.0,
    })
    .unwrap();
    let mut recording = Vec::new();
    cap.read_exact(24_000, &mut recording, Duration::from_secs(5))
        .unwrap();
    drop(cap);
    let root = dir.join("recorded");
    let opts = SaveOptions {
        trim: true,
        ..SaveOptions::new(&root, "tone", "Test Speaker")
    };
    let saved = save_clip(&opts, &recording).unwrap();
    assert_eq!(
        saved.relative,
        format!("tone/{}_nohash_0.wav", saved.speaker_id)
    );
    let span = saved.speech.unwrap();
    assert!(
        (7000..=8000).contains(&span.start) && (16_000..=17_000).contains(&span.end),
        "{span:?}"
    );
    let clip = audio::load_mono_16k(&saved.path).unwrap();
    assert_eq!(clip.len(), 16_000);
    // Centred: the tone occupies the middle half of the clip.
    let loud = |r: std::ops::Range<usize>| clip[r].iter().any(|v| v.abs() > 0.1);
    assert!(loud(4200..11_800) && !loud(0..3500) && !loud(12_500..16_000));
    println!("recorded: {saved:?}");

    // A format the device does not support is an error naming the device, the request and
    // what it supports. (ALSA's null device takes almost anything, even 1 Hz with 64
    // channels; cpal reports at most 64 channels, so 65 is refused.)
    match Capture::open(&CaptureConfig {
        device: Some("bifsmn_mono16".into()),
        sample_rate: Some(16_000),
        channels: Some(65),
        format: Some(SampleKind::F64),
        ring_seconds: 1.0,
    }) {
        Err(e @ CaptureError::UnsupportedConfig { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("bifsmn_mono16") && msg.contains("16000 Hz, 65 ch, f64"),
                "{msg}"
            );
            println!("refused: {}", &msg[..msg.len().min(300)]);
        }
        Err(e) => panic!("expected UnsupportedConfig, got {e:?}"),
        Ok(c) => panic!("65 channels accepted: {:?}", c.info()),
    }
}

fn read_back(wav: &Path) -> Vec<f32> {
    hound::WavReader::open(wav)
        .unwrap()
        .into_samples::<i16>()
        .map(|s| s.unwrap() as f32 / 32768.0)
        .collect()
}
