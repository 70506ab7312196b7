//! Driving the synthesizers: espeak-ng once per utterance (also for MBROLA's voices, which it
//! drives), Festival once per speaker (its start-up costs more than a word), all writing WAV
//! files that are decoded here.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::SynthError;
use super::speakers::{EngineKind, FESTIVAL_VOICES, MBROLA_VOICES, Speaker, TakeVoice};
use crate::audio;

/// The Debian package that provides an engine's program.
pub fn engine_package(engine: EngineKind) -> &'static str {
    match engine {
        EngineKind::Espeak => "espeak-ng",
        EngineKind::Festival => "festival",
        EngineKind::Mbrola => "mbrola",
    }
}

fn program(engine: EngineKind) -> &'static str {
    match engine {
        EngineKind::Espeak => "espeak-ng",
        EngineKind::Festival => "festival",
        EngineKind::Mbrola => "mbrola",
    }
}

/// Where Debian's MBROLA voice packages put a voice's diphone database (`mb-us1` ->
/// `/usr/share/mbrola/us1/us1`), which espeak-ng looks for.
const MBROLA_DIR: &str = "/usr/share/mbrola";

/// Check that an engine and every voice the speakers need are installed; the error names the
/// apt package to install.
pub fn check_installed(engine: EngineKind, speakers: &[Speaker]) -> Result<(), SynthError> {
    let missing = || SynthError::MissingEngine {
        engine,
        program: program(engine).into(),
        package: engine_package(engine).into(),
    };
    // `mbrola -h` prints its usage and exits 0; it has no --version.
    let probe = if engine == EngineKind::Mbrola {
        "-h"
    } else {
        "--version"
    };
    let version = Command::new(program(engine))
        .arg(probe)
        .stdin(Stdio::null())
        .output()
        .map_err(|_| missing())?;
    if !version.status.success() {
        return Err(missing());
    }
    if engine == EngineKind::Mbrola {
        // espeak-ng drives MBROLA: it must be there too.
        check_installed(EngineKind::Espeak, &[])?;
        for s in speakers {
            let database = s.voice.trim_start_matches("mb-");
            if !Path::new(MBROLA_DIR)
                .join(database)
                .join(database)
                .is_file()
            {
                return Err(missing_voice(engine, &s.voice));
            }
        }
    }
    if engine == EngineKind::Festival {
        let installed = festival_voices()?;
        for s in speakers {
            if !installed.contains(&s.voice) {
                return Err(missing_voice(engine, &s.voice));
            }
        }
    }
    Ok(())
}

/// The error for `engine`'s `voice` not being installed, naming the package it comes in.
fn missing_voice(engine: EngineKind, voice: &str) -> SynthError {
    let (voices, fallback): (&[(&str, &str)], &str) = match engine {
        EngineKind::Festival => (&FESTIVAL_VOICES, "a festvox-* package"),
        EngineKind::Mbrola => (&MBROLA_VOICES, "an mbrola-* package"),
        EngineKind::Espeak => (&[], "espeak-ng"),
    };
    SynthError::MissingVoice {
        engine,
        voice: voice.to_string(),
        package: voices
            .iter()
            .find(|(v, _)| *v == voice)
            .map_or(fallback, |(_, p)| p)
            .to_string(),
    }
}

/// The voices Festival reports.
fn festival_voices() -> Result<Vec<String>, SynthError> {
    let out = run_festival_script("(mapcar (lambda (v) (format t \"%s\\n\" v)) (voice.list))\n")?;
    Ok(out
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect())
}

fn run_festival_script(script: &str) -> Result<String, SynthError> {
    let fail = |reason: String| SynthError::Render {
        engine: EngineKind::Festival,
        voice: String::new(),
        text: String::new(),
        reason,
    };
    let mut file = tempfile::Builder::new()
        .prefix("bifsmn-festival-")
        .suffix(".scm")
        .tempfile()
        .map_err(|e| fail(e.to_string()))?;
    file.write_all(script.as_bytes())
        .map_err(|e| fail(e.to_string()))?;
    let out = Command::new("festival")
        .arg("--batch")
        .arg(file.path())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail(format!("cannot run festival: {e}")))?;
    if !out.status.success() {
        return Err(fail(format!(
            "festival exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One utterance to render.
#[derive(Clone, Debug)]
pub struct Utterance {
    pub text: String,
    pub voice: TakeVoice,
}

/// Render `utterances` with `speaker`'s voice; returns mono 16 kHz samples per utterance, in
/// order (before the speaker's vocal-tract warp). `espeak_data` is the private espeak-ng
/// data folder with the generated variants, needed by speakers with a generated timbre.
pub fn render(
    speaker: &Speaker,
    utterances: &[Utterance],
    scratch: &Path,
    espeak_data: Option<&Path>,
) -> Result<Vec<Vec<f32>>, SynthError> {
    match speaker.engine {
        EngineKind::Espeak | EngineKind::Mbrola => utterances
            .iter()
            .enumerate()
            .map(|(i, u)| {
                render_espeak(speaker, u, &scratch.join(format!("e{i}.wav")), espeak_data)
            })
            .collect(),
        EngineKind::Festival => render_festival(speaker, utterances, scratch),
    }
}

fn render_error(speaker: &Speaker, text: &str, reason: String) -> SynthError {
    SynthError::Render {
        engine: speaker.engine,
        voice: speaker.voice.clone(),
        text: text.to_string(),
        reason,
    }
}

fn render_espeak(
    speaker: &Speaker,
    u: &Utterance,
    wav: &Path,
    espeak_data: Option<&Path>,
) -> Result<Vec<f32>, SynthError> {
    let mut command = Command::new("espeak-ng");
    if let (Some(_), Some(data)) = (&speaker.timbre, espeak_data) {
        command.arg(format!("--path={}", data.display()));
    }
    let out = command
        .args(["-v", &speaker.voice])
        .args(["-p", &format!("{:.0}", u.voice.pitch)])
        .args(["-s", &format!("{:.0}", u.voice.rate)])
        // 70 instead of 100 keeps the loud klatt voices from clipping.
        .args(["-a", "70"])
        .arg("-w")
        .arg(wav)
        .arg("--")
        .arg(&u.text)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| render_error(speaker, &u.text, format!("cannot run espeak-ng: {e}")))?;
    if !out.status.success() {
        return Err(render_error(
            speaker,
            &u.text,
            format!(
                "espeak-ng exited with {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    if speaker.engine == EngineKind::Mbrola && lacks_diphones(&out.stderr) {
        // The voice has no recording of a diphone the word needs (mb-us3 has no `O2`, the
        // vowel of "on" and "off") and MBROLA put silence in its place: what is left is not
        // the word. An empty render is dropped like any render without speech.
        let _ = std::fs::remove_file(wav);
        return Ok(Vec::new());
    }
    read_render(speaker, &u.text, wav)
}

/// Whether MBROLA's messages say it replaced a missing diphone with silence
/// ("mbrola: Warning: _-O2 unknown, replaced with _-_").
fn lacks_diphones(stderr: &[u8]) -> bool {
    String::from_utf8_lossy(stderr).contains("unknown, replaced with")
}

fn read_render(speaker: &Speaker, text: &str, wav: &Path) -> Result<Vec<f32>, SynthError> {
    let samples =
        audio::load_mono_16k(wav).map_err(|e| render_error(speaker, text, e.to_string()))?;
    let _ = std::fs::remove_file(wav);
    Ok(samples)
}

/// One Festival process renders every utterance of a speaker: a Scheme script selects the
/// voice, then sets pitch and speed per utterance and saves each wave.
fn render_festival(
    speaker: &Speaker,
    utterances: &[Utterance],
    scratch: &Path,
) -> Result<Vec<Vec<f32>>, SynthError> {
    let files: Vec<PathBuf> = (0..utterances.len())
        .map(|i| scratch.join(format!("f{i}.wav")))
        .collect();
    let script = festival_script(speaker, utterances, &files);
    run_festival_script(&script).map_err(|e| match e {
        SynthError::Render { reason, .. } => render_error(speaker, "", reason),
        other => other,
    })?;
    utterances
        .iter()
        .zip(&files)
        .map(|(u, f)| read_render(speaker, &u.text, f))
        .collect()
}

fn festival_script(speaker: &Speaker, utterances: &[Utterance], files: &[PathBuf]) -> String {
    let hts = !speaker.voice.ends_with("_diphone");
    let mut s = format!("(voice_{})\n", speaker.voice);
    if hts {
        s.push_str("(set! bifsmn_hts_base hts_engine_params)\n");
    }
    for (u, file) in utterances.iter().zip(files) {
        if hts {
            // hts_engine's -r is a speed factor; this build ignores pitch options.
            s.push_str(&format!(
                "(set! hts_engine_params (append bifsmn_hts_base (list '(\"-r\" {:.3}))))\n",
                u.voice.rate
            ));
        } else {
            // The diphone voices take their F0 targets from int_lr_params and their timing
            // from Duration_Stretch (> 1 is slower).
            s.push_str(&format!(
                "(set! int_lr_params '((target_f0_mean {:.1}) (target_f0_std {:.1}) \
                 (model_f0_mean 170) (model_f0_std 34)))\n(Parameter.set 'Duration_Stretch {:.3})\n",
                u.voice.pitch,
                u.voice.pitch * 0.18,
                1.0 / u.voice.rate
            ));
        }
        s.push_str(&format!(
            "(utt.save.wave (utt.synth (Utterance Text \"{}\")) \"{}\" 'riff)\n",
            scheme_escape(&u.text),
            scheme_escape(&file.to_string_lossy())
        ));
    }
    s
}

fn scheme_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Phonemes of each word (espeak-ng, American English), one per word, in order: one process
/// for the whole list. Words are sent one per sentence so each gets its own output line.
pub fn phonemes(words: &[String]) -> Result<Vec<String>, SynthError> {
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let missing = || SynthError::MissingEngine {
        engine: EngineKind::Espeak,
        program: "espeak-ng".into(),
        package: "espeak-ng".into(),
    };
    let mut child = Command::new("espeak-ng")
        .args(["-q", "-x", "-v", "en-us"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|_| missing())?;
    let input: String = words.iter().map(|w| format!("{w}.\n")).collect();
    let mut stdin = child.stdin.take().ok_or_else(missing)?;
    // Write on a thread: espeak answers while it reads, and a full pipe would block both.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().map_err(|_| missing())?;
    let _ = writer.join();
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    if lines.len() != words.len() {
        return Err(SynthError::Render {
            engine: EngineKind::Espeak,
            voice: "en-us".into(),
            text: format!("{} words", words.len()),
            reason: format!(
                "espeak-ng -x gave {} phoneme lines for {} words",
                lines.len(),
                words.len()
            ),
        });
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Split;

    fn festival_speaker(voice: &str) -> Speaker {
        Speaker {
            id: "00000000".into(),
            engine: EngineKind::Festival,
            voice: voice.into(),
            pitch: 120.0,
            rate: 1.25,
            warp_hz: 16000,
            split: Split::Train,
            timbre: None,
        }
    }

    #[test]
    fn festival_scripts_set_pitch_and_speed_per_utterance_and_escape_text() {
        let u = Utterance {
            text: "say \"hi\"".into(),
            voice: TakeVoice {
                pitch: 120.0,
                rate: 1.25,
            },
        };
        let files = [PathBuf::from("/tmp/a b.wav")];
        let diphone = festival_script(
            &festival_speaker("kal_diphone"),
            std::slice::from_ref(&u),
            &files,
        );
        assert!(diphone.starts_with("(voice_kal_diphone)\n"));
        assert!(diphone.contains("(target_f0_mean 120.0)"));
        assert!(diphone.contains("Duration_Stretch 0.800"));
        assert!(diphone.contains("(Utterance Text \"say \\\"hi\\\"\")"));
        assert!(diphone.contains("\"/tmp/a b.wav\" 'riff"));
        let hts = festival_script(&festival_speaker("cmu_us_slt_arctic_hts"), &[u], &files);
        assert!(hts.contains("'(\"-r\" 1.250)"));
        assert!(!hts.contains("int_lr_params"));
    }

    #[test]
    fn a_missing_voice_names_its_own_package() {
        let package = |engine, voice| match missing_voice(engine, voice) {
            SynthError::MissingVoice { package, .. } => package,
            other => panic!("{other}"),
        };
        assert_eq!(package(EngineKind::Mbrola, "mb-us3"), "mbrola-us3");
        assert_eq!(
            package(EngineKind::Festival, "ked_diphone"),
            "festvox-kdlpc16k"
        );
        assert_eq!(
            package(EngineKind::Festival, "rab_diphone"),
            "a festvox-* package"
        );
    }

    #[test]
    fn a_diphone_mbrola_lacks_is_noticed() {
        assert!(lacks_diphones(
            b"mbrola: Warning: _-O2 unknown, replaced with _-_\nALSA lib ..."
        ));
        assert!(!lacks_diphones(b"ALSA lib pcm.c: Unknown PCM default"));
    }

    #[test]
    fn a_missing_program_names_its_package() {
        let err = SynthError::MissingEngine {
            engine: EngineKind::Festival,
            program: "festival".into(),
            package: "festival".into(),
        };
        assert!(err.to_string().contains("apt install festival"), "{err}");
        assert!(!err.to_string().contains("non-free"), "{err}");
        let err = SynthError::MissingVoice {
            engine: EngineKind::Mbrola,
            voice: "mb-us2".into(),
            package: "mbrola-us2".into(),
        };
        let text = err.to_string();
        assert!(text.contains("apt install mbrola-us2"), "{text}");
        assert!(text.contains("contrib non-free"), "{text}");
    }
}
