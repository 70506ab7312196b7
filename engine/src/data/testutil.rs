//! Tiny generated datasets for the data module's tests.

use std::path::Path;

/// Write a 16-bit 16 kHz mono WAV with a sine at `freq` Hz, `n` samples long.
pub(crate) fn write_tone(path: &Path, freq: f32, n: usize) {
    let samples: Vec<f32> = (0..n)
        .map(|i| 0.5 * (2.0 * std::f32::consts::PI * freq * i as f32 / 16000.0).sin())
        .collect();
    write_wav(path, &samples);
}

/// Write samples as a 16-bit 16 kHz mono WAV (parent folders created), with the dataset writer.
pub(crate) fn write_wav(path: &Path, samples: &[f32]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    crate::audio::write_wav_mono_16k(path, samples).unwrap();
}

/// Write `<root>/<word>/<speaker>_nohash_<n>.wav` for each entry, each a short tone whose
/// pitch depends on word, speaker and index, so no two files have the same bytes (the feature
/// cache is keyed by content). Returns the relative paths.
pub(crate) fn write_clips(root: &Path, clips: &[(&str, &str, usize)]) -> Vec<String> {
    clips
        .iter()
        .map(|(word, speaker, n)| {
            let rel = format!("{word}/{speaker}_nohash_{n}.wav");
            let id = rel
                .bytes()
                .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
            let freq = 200.0 + (id % 3000) as f32;
            let mut samples: Vec<f32> = (0..4000)
                .map(|i| 0.5 * (2.0 * std::f32::consts::PI * freq * i as f32 / 16000.0).sin())
                .collect();
            // 30 bits of the path hash in the first two samples: every file differs.
            samples[0] = (id & 0x7fff) as f32 / 32768.0;
            samples[1] = ((id >> 15) & 0x7fff) as f32 / 32768.0;
            write_wav(&root.join(&rel), &samples);
            rel
        })
        .collect()
}

/// The ten command words, each with one clip per speaker in `speakers`, plus `extra` unknown
/// words with the same speakers.
pub(crate) fn twelve_class_set(root: &Path, speakers: &[&str], extra: &[&str]) -> Vec<String> {
    let words: Vec<&str> = crate::data::speech_commands::COMMAND_WORDS
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .collect();
    let spec: Vec<(&str, &str, usize)> = words
        .iter()
        .flat_map(|w| speakers.iter().map(move |s| (*w, *s, 0)))
        .collect();
    write_clips(root, &spec)
}
