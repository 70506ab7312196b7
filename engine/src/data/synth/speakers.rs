//! Synthetic speakers: which engine and voice, and how it is bent into a person.
//!
//! A speaker is a distinct combination of voice, base pitch, speaking rate and vocal-tract
//! length. The vocal tract is changed after rendering, by reading the engine's samples as if
//! they had been recorded at `16 kHz x warp` (a longer tract for `warp < 1`: lower formants and
//! pitch, slower; shorter above 1). Each take then jitters pitch and rate around the speaker's
//! own values, so no two takes are identical.
//!
//! Splits are speaker-disjoint. For espeak-ng they are also voice-disjoint: a voice variant
//! (the timbre preset) belongs to one split, so validation and test hear timbres that training
//! never heard; accents recur. Festival has only three English voices, so its speakers are
//! split by speaker: the same voice appears in several splits with other pitch, rate and
//! tract settings.

use std::fmt;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use super::seed_bytes;
use super::timbre::Timbre;
use crate::data::Split;

/// A speech synthesizer the generator can drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineKind {
    /// espeak-ng, formant synthesis, with its voice variants and English accents.
    Espeak,
    /// The Festival Speech Synthesis System with Debian's English voices (diphone and HTS).
    Festival,
    /// MBROLA's English diphone voices, cut from recordings of people, driven by espeak-ng
    /// (`-v mb-us1` etc.): espeak-ng's phonemes and prosody, MBROLA's waveforms. Debian ships
    /// them in its contrib and non-free components.
    Mbrola,
}

impl EngineKind {
    /// Every engine, in the order a corpus interleaves them.
    pub const ALL: [EngineKind; 3] = [Self::Espeak, Self::Festival, Self::Mbrola];

    /// The engines a corpus uses unless told otherwise: those in Debian's main component,
    /// which the bootstrap installs.
    pub const DEFAULT: [EngineKind; 2] = [Self::Espeak, Self::Festival];

    /// Name on the command line and in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Self::Espeak => "espeak",
            Self::Festival => "festival",
            Self::Mbrola => "mbrola",
        }
    }

    /// What to add to an `apt install` hint: the MBROLA packages are outside Debian's main
    /// component, which is all a default sources list has.
    pub fn apt_component_hint(self) -> &'static str {
        match self {
            Self::Mbrola => {
                " (Debian's contrib and non-free components: add `contrib non-free` to the \
                 Components of /etc/apt/sources.list.d/debian.sources, then apt update)"
            }
            _ => "",
        }
    }

    /// Parse a command-line name.
    pub fn from_name(name: &str) -> Option<EngineKind> {
        match name.trim().to_ascii_lowercase().as_str() {
            "espeak" | "espeak-ng" => Some(Self::Espeak),
            "festival" => Some(Self::Festival),
            "mbrola" => Some(Self::Mbrola),
            _ => None,
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// espeak-ng voice variants that sound like a person (robots, the "demonic" and announcer
/// presets and the fast test voice are left out; klatt6 renders as klatt).
pub const ESPEAK_VARIANTS: [&str; 76] = [
    "Alex",
    "Alicia",
    "Andrea",
    "Andy",
    "Annie",
    "AnxiousAndy",
    "Denis",
    "Diogo",
    "Gene",
    "Gene2",
    "Henrique",
    "Hugo",
    "Jacky",
    "Lee",
    "Marco",
    "Mario",
    "Michael",
    "Mike",
    "Nguyen",
    "RicishayMax",
    "RicishayMax2",
    "RicishayMax3",
    "Storm",
    "Tweaky",
    "adam",
    "anika",
    "antonio",
    "aunty",
    "belinda",
    "benjamin",
    "boris",
    "caleb",
    "croak",
    "david",
    "ed",
    "edward",
    "edward2",
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "grandma",
    "grandpa",
    "gustave",
    "iven",
    "iven2",
    "iven3",
    "iven4",
    "john",
    "kaukovalta",
    "klatt",
    "klatt2",
    "klatt3",
    "klatt4",
    "klatt5",
    "linda",
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "m8",
    "marcelo",
    "max",
    "michel",
    "miguel",
    "norbert",
    "pablo",
    "paul",
    "pedro",
    "quincy",
    "steph",
    "whisper",
];

/// espeak-ng's English accents (its MBROLA voices are the engine [`EngineKind::Mbrola`]).
pub const ESPEAK_ACCENTS: [&str; 9] = [
    "en",
    "en-us",
    "en-us-nyc",
    "en-gb-x-rp",
    "en-gb-scotland",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-gb",
];

/// Festival's English voices in Debian, and the package each comes in.
pub const FESTIVAL_VOICES: [(&str, &str); 3] = [
    ("kal_diphone", "festvox-kallpc16k"),
    ("ked_diphone", "festvox-kdlpc16k"),
    ("cmu_us_slt_arctic_hts", "festvox-us-slt-hts"),
];

/// MBROLA's English voices as espeak-ng names them, and the package each comes in (Debian
/// non-free; the `mbrola` program is in contrib).
pub const MBROLA_VOICES: [(&str, &str); 4] = [
    ("mb-us1", "mbrola-us1"),
    ("mb-us2", "mbrola-us2"),
    ("mb-us3", "mbrola-us3"),
    ("mb-en1", "mbrola-en1"),
];

/// Vocal-tract warps come from a grid of 200 Hz steps of the assumed recording rate, so the
/// resampler's rate ratio always has a small denominator (`16000 x warp / 16000`).
const WARP_STEP_HZ: u32 = 200;

/// One synthetic speaker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Speaker {
    /// First 8 hex digits of the SHA-1 of [`Speaker::describe`].
    pub id: String,
    pub engine: EngineKind,
    /// espeak-ng `accent+variant`, or a Festival voice name.
    pub voice: String,
    /// espeak-ng `-p` (0-99), or a Festival diphone voice's mean F0 in Hz (the HTS voice
    /// ignores it; its pitch moves with the warp).
    pub pitch: f32,
    /// espeak-ng words per minute, or Festival's speed factor (> 1 is faster).
    pub rate: f32,
    /// Assumed recording rate of the engine's output, Hz: 16000 is the voice as it is.
    pub warp_hz: u32,
    pub split: Split,
    /// A generated espeak-ng variant (the `voice` then names it), or `None` for a voice as
    /// installed.
    #[serde(default)]
    pub timbre: Option<Timbre>,
}

impl Speaker {
    /// A one-line description: engine, voice and settings. Its hash is the speaker id.
    pub fn describe(&self) -> String {
        format!(
            "{} voice={} pitch={} rate={} warp={}",
            self.engine, self.voice, self.pitch, self.rate, self.warp_hz
        )
    }

    /// The vocal-tract factor (1 = unchanged).
    pub fn warp(&self) -> f32 {
        self.warp_hz as f32 / 16000.0
    }
}

fn speaker_id(description: &str) -> String {
    hex::encode(&Sha1::digest(description.as_bytes())[..4])
}

/// `count` speakers of `engine`, split speaker-disjointly with the given fractions, seeded.
/// `timbres` is the fraction of espeak-ng speakers with a generated voice variant instead of
/// an installed one (see [`Timbre`]).
pub fn speakers(
    engine: EngineKind,
    count: usize,
    fractions: (f64, f64),
    timbres: f64,
    seed: u64,
) -> Vec<Speaker> {
    let mut out = Vec::with_capacity(count);
    let mut rng = ChaCha8Rng::from_seed(seed_bytes(seed, &["speakers", engine.name()]));
    let mut seen = std::collections::HashSet::new();
    let mut attempts = 0;
    while out.len() < count && attempts < count * 20 + 100 {
        attempts += 1;
        let index = out.len();
        let mut s = match engine {
            EngineKind::Espeak => espeak_speaker(index, fractions, timbres, seed, &mut rng),
            EngineKind::Festival => festival_speaker(index, &mut rng),
            EngineKind::Mbrola => mbrola_speaker(index, &mut rng),
        };
        s.id = speaker_id(&s.describe());
        if !seen.insert(s.id.clone()) {
            continue;
        }
        // Installed espeak-ng variants are split by variant (voice-disjoint); a generated
        // timbre, a Festival or an MBROLA speaker is a voice of its own.
        if engine != EngineKind::Espeak || s.timbre.is_some() {
            s.split = super::fraction_split(seed, "speaker-split", &s.id, fractions);
        }
        out.push(s);
    }
    out
}

fn espeak_speaker(
    index: usize,
    fractions: (f64, f64),
    timbres: f64,
    seed: u64,
    rng: &mut ChaCha8Rng,
) -> Speaker {
    // Walk the variants in a seeded order so every variant is used before any repeats.
    let order = variant_order(seed);
    let variant = ESPEAK_VARIANTS[order[index % order.len()]];
    let accent = ESPEAK_ACCENTS[rng.random_range(0..ESPEAK_ACCENTS.len())];
    let timbre = rng
        .random_bool(timbres.clamp(0.0, 1.0))
        .then(|| Timbre::random(rng));
    let voice = match &timbre {
        Some(t) => format!("{accent}+{}", t.name()),
        None => format!("{accent}+{variant}"),
    };
    Speaker {
        id: String::new(),
        engine: EngineKind::Espeak,
        voice,
        pitch: rng.random_range(25..=75) as f32,
        rate: rng.random_range(130..=200) as f32,
        warp_hz: warp(rng, 0.92, 1.08),
        split: super::fraction_split(seed, "speaker-split", variant, fractions),
        timbre,
    }
}

fn festival_speaker(index: usize, rng: &mut ChaCha8Rng) -> Speaker {
    let (voice, _) = FESTIVAL_VOICES[index % FESTIVAL_VOICES.len()];
    let diphone = voice.ends_with("_diphone");
    Speaker {
        id: String::new(),
        engine: EngineKind::Festival,
        voice: voice.to_string(),
        // kal and ked speak around 105 Hz by default.
        pitch: if diphone {
            rng.random_range(80..=150) as f32
        } else {
            0.0
        },
        rate: (rng.random_range(80..=125) as f32) / 100.0,
        // Only three voices: a wider tract range than espeak's makes them more people.
        warp_hz: warp(rng, 0.86, 1.14),
        split: Split::Train,
        timbre: None,
    }
}

fn mbrola_speaker(index: usize, rng: &mut ChaCha8Rng) -> Speaker {
    let (voice, _) = MBROLA_VOICES[index % MBROLA_VOICES.len()];
    Speaker {
        id: String::new(),
        engine: EngineKind::Mbrola,
        voice: voice.to_string(),
        // espeak-ng's pitch and rate settings, which it hands on to MBROLA.
        pitch: rng.random_range(25..=75) as f32,
        rate: rng.random_range(130..=200) as f32,
        // Four voices: the tract range of Festival's three.
        warp_hz: warp(rng, 0.86, 1.14),
        split: Split::Train,
        timbre: None,
    }
}

fn warp(rng: &mut ChaCha8Rng, lo: f32, hi: f32) -> u32 {
    let lo = (16000.0 * lo / WARP_STEP_HZ as f32).ceil() as u32;
    let hi = (16000.0 * hi / WARP_STEP_HZ as f32).floor() as u32;
    rng.random_range(lo..=hi) * WARP_STEP_HZ
}

fn variant_order(seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..ESPEAK_VARIANTS.len()).collect();
    order.sort_by_key(|&i| seed_bytes(seed, &["variant-order", ESPEAK_VARIANTS[i]]));
    order
}

/// Jitter of one take around its speaker.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TakeVoice {
    pub pitch: f32,
    pub rate: f32,
}

impl Speaker {
    /// A take's pitch and rate: within a few steps of the speaker's own, faster on retries
    /// (a render too long for a 1 s clip is tried again faster).
    pub fn take_voice(&self, rng: &mut ChaCha8Rng, attempt: u32) -> TakeVoice {
        let speedup = 1.15f32.powi(attempt as i32);
        match self.engine {
            EngineKind::Espeak | EngineKind::Mbrola => TakeVoice {
                pitch: (self.pitch + rng.random_range(-6..=6) as f32).clamp(0.0, 99.0),
                rate: ((self.rate * rng.random_range(0.92..1.08)) * speedup).min(450.0),
            },
            EngineKind::Festival => TakeVoice {
                pitch: if self.pitch > 0.0 {
                    self.pitch * rng.random_range(0.93..1.07)
                } else {
                    0.0
                },
                rate: self.rate * rng.random_range(0.93..1.07) * speedup,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speakers_are_distinct_seeded_and_split() {
        for engine in EngineKind::ALL {
            let a = speakers(engine, 120, (0.1, 0.1), 0.5, 5);
            assert_eq!(a.len(), 120);
            assert_eq!(a, speakers(engine, 120, (0.1, 0.1), 0.5, 5));
            assert_ne!(a, speakers(engine, 120, (0.1, 0.1), 0.5, 6));
            let ids: std::collections::HashSet<_> = a.iter().map(|s| &s.id).collect();
            assert_eq!(ids.len(), 120, "{engine}: ids are unique");
            for split in Split::ALL {
                let n = a.iter().filter(|s| s.split == split).count();
                assert!(n > 0, "{engine}: no speaker in {split}");
            }
            for s in &a {
                assert_eq!(s.id, speaker_id(&s.describe()));
                assert_eq!(s.id.len(), 8);
                assert_eq!(s.warp_hz % WARP_STEP_HZ, 0);
            }
        }
    }

    #[test]
    fn espeak_splits_are_voice_disjoint_and_festival_uses_every_voice() {
        let a = speakers(EngineKind::Espeak, 200, (0.15, 0.15), 0.0, 1);
        let variant = |s: &Speaker| s.voice.split('+').nth(1).unwrap().to_string();
        for s in &a {
            for t in &a {
                if variant(s) == variant(t) {
                    assert_eq!(s.split, t.split, "{} / {}", s.voice, t.voice);
                }
            }
        }
        let f = speakers(EngineKind::Festival, 30, (0.1, 0.1), 0.5, 1);
        for (voice, _) in FESTIVAL_VOICES {
            assert_eq!(f.iter().filter(|s| s.voice == voice).count(), 10);
        }
        assert!(f.iter().all(|s| (0.86..=1.14).contains(&s.warp())));
    }

    #[test]
    fn retries_speak_faster() {
        let s = &speakers(EngineKind::Espeak, 1, (0.0, 0.0), 0.5, 2)[0];
        let rate = |attempt| {
            s.take_voice(&mut ChaCha8Rng::seed_from_u64(3), attempt)
                .rate
        };
        assert!(rate(2) > rate(1) && rate(1) > rate(0));
    }
}
