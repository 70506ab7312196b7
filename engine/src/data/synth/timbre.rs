//! espeak-ng voices made up per speaker: a voice variant file with its own formants (the
//! vocal tract), pitch range, voice source (espeak's own or one of its Klatt sources),
//! breathiness, roughness and consonant strength.
//!
//! espeak-ng ships 76 usable variants, all on one formant engine; a model trained on them
//! learns their few tracts. Drawing the tract per speaker gives as many tracts as speakers.
//! The files go into a private copy of espeak-ng's data folder (symbolic links to the
//! installed one plus the generated variants), passed to espeak-ng with `--path`, so nothing
//! is installed and no root is needed.

use std::path::{Path, PathBuf};

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use super::SynthError;

/// Formants espeak-ng lets a variant set (0 is the low nasal resonance, 1-5 the vocal tract).
const FORMANTS: usize = 6;

/// A generated espeak-ng voice variant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timbre {
    /// Klatt voice source 1-4, or 0 for espeak's own.
    pub klatt: u8,
    /// Pitch base and top, Hz.
    pub pitch_hz: (u16, u16),
    /// Per formant: frequency, strength and width, percent of espeak's defaults.
    pub formants: [(u16, u16, u16); FORMANTS],
    /// Breath noise added to formants 1-8 (0 = none).
    pub breath: u8,
    pub roughness: u8,
    /// Consonant strength, percent.
    pub consonants: u16,
}

impl Timbre {
    /// A random speaker: the pitch decides roughly how long the tract is (higher voices
    /// have shorter tracts and higher formants), and each formant then moves on its own.
    pub fn random(rng: &mut ChaCha8Rng) -> Timbre {
        let base = rng.random_range(75u16..=230);
        let top = base + rng.random_range(30u16..=base.max(31));
        let tract = 0.86 + 0.26 * f32::from(base - 75) / 155.0 + rng.random_range(-0.05f32..0.05);
        let mut formants = [(100, 100, 100); FORMANTS];
        for (k, f) in formants.iter_mut().enumerate().skip(1) {
            let own = rng.random_range(0.94f32..1.06);
            // Higher formants follow the tract length less closely.
            let scale = 1.0 + (tract - 1.0) * (1.0 - 0.1 * k as f32);
            *f = (
                (100.0 * scale * own).round() as u16,
                rng.random_range(75u16..=115),
                rng.random_range(80u16..=170),
            );
        }
        Timbre {
            klatt: if rng.random_bool(0.3) {
                rng.random_range(1u8..=4)
            } else {
                0
            },
            pitch_hz: (base, top),
            formants,
            breath: if rng.random_bool(0.3) {
                rng.random_range(1u8..=4)
            } else {
                0
            },
            roughness: rng.random_range(0u8..=3),
            consonants: rng.random_range(80u16..=130),
        }
    }

    /// The variant's name: a hash of its settings.
    pub fn name(&self) -> String {
        let text = self.variant_file("");
        format!("bx{}", hex::encode(&Sha1::digest(text.as_bytes())[..4]))
    }

    /// The espeak-ng voice variant file.
    pub fn variant_file(&self, name: &str) -> String {
        let mut s = format!(
            "language variant\nname {name}\npitch {} {}\n",
            self.pitch_hz.0, self.pitch_hz.1
        );
        for (k, (f, a, w)) in self.formants.iter().enumerate() {
            s.push_str(&format!("formant {k} {f} {a} {w}\n"));
        }
        if self.breath > 0 {
            let b = self.breath;
            s.push_str(&format!("breath 0 {b} {b} {b} {b} {b} {b} {b}\n"));
        }
        s.push_str(&format!(
            "roughness {}\nconsonants {}\n",
            self.roughness, self.consonants
        ));
        if self.klatt > 0 {
            s.push_str(&format!("klatt {}\n", self.klatt));
        }
        s
    }
}

/// Private espeak-ng data folders, one per generated variant: the installed data linked in,
/// with the voice variants folder holding only that variant. (espeak-ng lists at most 350
/// voices, so hundreds of generated variants cannot share one folder.)
pub struct EspeakData {
    dir: tempfile::TempDir,
}

impl EspeakData {
    /// The folder to pass to `espeak-ng --path` for a speaker with this generated `timbre`
    /// (it holds `espeak-ng-data`), or `None` for a speaker with an installed variant.
    pub fn path_for(&self, timbre: Option<&Timbre>) -> Option<PathBuf> {
        timbre.map(|t| self.dir.path().join(t.name()))
    }

    /// Build the folders for every generated timbre; `None` if there is none.
    pub fn prepare(timbres: &[&Timbre]) -> Result<Option<EspeakData>, SynthError> {
        if timbres.is_empty() {
            return Ok(None);
        }
        let installed = installed_data()?;
        let dir = tempfile::Builder::new()
            .prefix("bifsmn-espeak-")
            .tempdir()
            .map_err(|e| io(&std::env::temp_dir(), e))?;
        for t in timbres {
            let name = t.name();
            let data = dir.path().join(&name).join("espeak-ng-data");
            let variants = data.join("voices").join("!v");
            std::fs::create_dir_all(&variants).map_err(|e| io(&variants, e))?;
            link_all(&installed, &data, &["voices"])?;
            link_all(&installed.join("voices"), &data.join("voices"), &["!v"])?;
            let file = variants.join(&name);
            std::fs::write(&file, t.variant_file(&name)).map_err(|e| io(&file, e))?;
        }
        Ok(Some(EspeakData { dir }))
    }
}

fn io(path: &Path, source: std::io::Error) -> SynthError {
    SynthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Link every entry of `from` into `to`, except `skip`.
fn link_all(from: &Path, to: &Path, skip: &[&str]) -> Result<(), SynthError> {
    for entry in std::fs::read_dir(from).map_err(|e| io(from, e))? {
        let entry = entry.map_err(|e| io(from, e))?;
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let target = to.join(&name);
        std::os::unix::fs::symlink(entry.path(), &target).map_err(|e| io(&target, e))?;
    }
    Ok(())
}

/// Where espeak-ng's data is installed, as `espeak-ng --version` reports it.
fn installed_data() -> Result<PathBuf, SynthError> {
    let missing = || SynthError::MissingEngine {
        engine: super::EngineKind::Espeak,
        program: "espeak-ng".into(),
        package: "espeak-ng".into(),
    };
    let out = std::process::Command::new("espeak-ng")
        .arg("--version")
        .output()
        .map_err(|_| missing())?;
    // "eSpeak NG text-to-speech: 1.51  Data at: /usr/lib/x86_64-linux-gnu/espeak-ng-data"
    let text = String::from_utf8_lossy(&out.stdout);
    let path = text
        .split("Data at:")
        .nth(1)
        .map(|p| PathBuf::from(p.trim()))
        .filter(|p| p.join("voices").is_dir())
        .ok_or_else(missing)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn timbres_are_varied_and_written_as_variant_files() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let timbres: Vec<Timbre> = (0..200).map(|_| Timbre::random(&mut rng)).collect();
        let f1: Vec<u16> = timbres.iter().map(|t| t.formants[1].0).collect();
        let (lo, hi) = (f1.iter().min().unwrap(), f1.iter().max().unwrap());
        assert!(*lo < 88 && *hi > 112, "F1 scale {lo}..{hi}");
        assert!(timbres.iter().any(|t| t.klatt > 0) && timbres.iter().any(|t| t.klatt == 0));
        let names: std::collections::HashSet<String> = timbres.iter().map(Timbre::name).collect();
        assert_eq!(names.len(), 200);
        let file = timbres[0].variant_file("bx1");
        assert!(file.starts_with("language variant\nname bx1\npitch "));
        assert_eq!(file.matches("\nformant ").count(), FORMANTS);
    }
}
