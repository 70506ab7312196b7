//! On-disk cache of un-augmented clip features (validation, test, and training without
//! augmentation), so each file is decoded and transformed once per feature configuration.
//!
//! Key: SHA-256 over a format tag, the serialized [`FeatureParams`] and the file's bytes, so an
//! edited file or a changed front end simply misses. Entries are small files written
//! atomically; an entry that fails any check (size, magic, version, length, checksum, finite
//! values) is treated as a miss, recomputed and overwritten.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Clip, ClipSource, DataError, Dataset};
use crate::audio::{self, CLIP_SAMPLES};
use crate::features::{FeatureParams, LogMel};
use crate::fsutil::write_atomic;

const MAGIC: &[u8; 4] = b"BFMC";
const HEADER: usize = 12;
const CHECKSUM: usize = 16;

/// Counters for tests and the UI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Valid entries served.
    pub hits: u64,
    /// Keys with no entry (computed and stored).
    pub misses: u64,
    /// Entries present but invalid (recomputed and overwritten).
    pub rejected: u64,
    /// Entries that could not be written (the features were still returned).
    pub write_errors: u64,
}

/// What [`FeatureCache::fill`] did.
#[derive(Clone, Debug, Serialize)]
pub struct FillReport {
    /// The cache directory.
    pub dir: PathBuf,
    /// Clips with an entry (every recorded clip and excerpt of the dataset).
    pub clips: usize,
    /// Entries computed by this run.
    pub computed: u64,
    /// Valid entries found.
    pub reused: u64,
    /// Entries that could not be written (the disk is full or read-only).
    pub write_errors: u64,
    /// Bytes of this dataset's entries on disk.
    pub entry_bytes: u64,
    pub seconds: f64,
}

/// Clips per parallel chunk of [`FeatureCache::fill`] (one progress report and cancellation
/// check each).
const FILL_CHUNK: usize = 512;

/// Features of un-augmented clips, cached on disk under one directory.
#[derive(Debug)]
pub struct FeatureCache {
    dir: PathBuf,
    params: FeatureParams,
    params_json: String,
    logmel: LogMel,
    silence: OnceLock<Vec<f32>>,
    hits: AtomicU64,
    misses: AtomicU64,
    rejected: AtomicU64,
    write_errors: AtomicU64,
}

impl FeatureCache {
    /// Bump when decoding, resampling or the entry layout changes: old entries then miss.
    pub const FORMAT_VERSION: u32 = 1;

    /// A cache in `dir` (created on first write) for features computed with `params`.
    pub fn new(dir: impl Into<PathBuf>, params: FeatureParams) -> Self {
        Self {
            dir: dir.into(),
            params_json: serde_json::to_string(&params).expect("FeatureParams serializes"),
            logmel: LogMel::new(params),
            params,
            silence: OnceLock::new(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
        }
    }

    /// `<user cache dir>/bifsmn-workbench/features` (e.g. `~/.cache/...` on Linux).
    pub fn default_dir() -> Option<PathBuf> {
        directories::BaseDirs::new()
            .map(|d| d.cache_dir().join("bifsmn-workbench").join("features"))
    }

    /// A cache at [`FeatureCache::default_dir`], if the platform has a cache directory.
    pub fn at_default_location(params: FeatureParams) -> Option<Self> {
        Self::default_dir().map(|dir| Self::new(dir, params))
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The feature parameters entries are computed with.
    pub fn params(&self) -> &FeatureParams {
        &self.params
    }

    /// Hit/miss counters since creation.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            write_errors: self.write_errors.load(Ordering::Relaxed),
        }
    }

    /// The key (hex SHA-256) of a file with these bytes under this cache's parameters.
    pub fn key(&self, content: &[u8]) -> String {
        let mut h = Sha256::new();
        h.update(format!("bifsmn feature cache v{}\n", Self::FORMAT_VERSION).as_bytes());
        h.update(self.params_json.as_bytes());
        h.update(b"\n");
        h.update(content);
        hex::encode(h.finalize())
    }

    /// Where the entry for `key` lives (two-character fan-out keeps directories small).
    pub fn entry_path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2]).join(format!("{key}.f32"))
    }

    /// A clip's features (`n_mels x frames`, row-major), from the cache or computed and stored.
    /// Silence is computed once in memory; it has no file to key on.
    pub fn features(&self, clip: &Clip) -> Result<Vec<f32>, DataError> {
        match &clip.source {
            ClipSource::File(path) => self.features_of_file(path),
            ClipSource::Excerpt { path, start, .. } => self.features_of_excerpt(path, *start),
            ClipSource::Silence => Ok(self
                .silence
                .get_or_init(|| self.logmel.compute(&vec![0.0; CLIP_SAMPLES]))
                .clone()),
        }
    }

    /// Compute the entries of every recorded clip of `ds` that has none yet, on all cores.
    /// `progress(done, total)` runs on this thread after every chunk; `cancel` stops between
    /// chunks with [`DataError::Cancelled`] (the entries written so far stay valid).
    pub fn fill(
        &self,
        ds: &Dataset,
        cancel: &AtomicBool,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<FillReport, DataError> {
        let t0 = Instant::now();
        let before = self.stats();
        let clips: Vec<&Clip> = ds
            .clips
            .iter()
            .filter(|c| !matches!(c.source, ClipSource::Silence))
            .collect();
        let mut done = 0;
        for chunk in clips.chunks(FILL_CHUNK) {
            if cancel.load(Ordering::Relaxed) {
                return Err(DataError::Cancelled);
            }
            chunk
                .par_iter()
                .try_for_each(|c| self.features(c).map(|_| ()))?;
            done += chunk.len();
            progress(done, clips.len());
        }
        let after = self.stats();
        let entry = self.entry_len() as u64;
        let write_errors = after.write_errors - before.write_errors;
        Ok(FillReport {
            dir: self.dir.clone(),
            clips: clips.len(),
            computed: (after.misses + after.rejected) - (before.misses + before.rejected),
            reused: after.hits - before.hits,
            write_errors,
            entry_bytes: entry * (clips.len() as u64).saturating_sub(write_errors),
            seconds: t0.elapsed().as_secs_f64(),
        })
    }

    /// Features of an audio file, through the cache.
    pub fn features_of_file(&self, path: &Path) -> Result<Vec<f32>, DataError> {
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        self.through_cache(&self.key(&bytes), || {
            let samples = audio::decode_bytes(&bytes, path)?.into_mono_16k(path)?;
            Ok(audio::fix_length(samples, self.params.clip_samples))
        })
    }

    /// Features of the 1 s window at `start` of a long recording, through the cache (keyed on
    /// the file's bytes and the window's start).
    pub fn features_of_excerpt(&self, path: &Path, start: usize) -> Result<Vec<f32>, DataError> {
        let mut keyed = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        let file_len = keyed.len();
        keyed.extend_from_slice(format!("\nexcerpt at {start}").as_bytes());
        self.through_cache(&self.key(&keyed), || {
            let samples = audio::decode_bytes(&keyed[..file_len], path)?.into_mono_16k(path)?;
            Ok(super::speech_commands::window(&samples, start))
        })
    }

    /// The stored features under `key`, or the features of the samples `decode` gives,
    /// stored for next time.
    fn through_cache(
        &self,
        key: &str,
        decode: impl FnOnce() -> Result<Vec<f32>, DataError>,
    ) -> Result<Vec<f32>, DataError> {
        let entry = self.entry_path(key);
        match std::fs::read(&entry) {
            Ok(stored) => match self.parse(&stored) {
                Some(features) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(features);
                }
                None => {
                    self.rejected.fetch_add(1, Ordering::Relaxed);
                }
            },
            Err(_) => {
                self.misses.fetch_add(1, Ordering::Relaxed);
            }
        }
        let features = self.logmel.compute(&decode()?);
        if write_atomic(&entry, &self.encode(&features)).is_err() {
            // The cache only saves time; a read-only or full disk must not stop training.
            self.write_errors.fetch_add(1, Ordering::Relaxed);
        }
        Ok(features)
    }

    /// Bytes of one entry: header, the features as f32, checksum.
    fn entry_len(&self) -> usize {
        HEADER + self.params.len() * 4 + CHECKSUM
    }

    fn encode(&self, features: &[f32]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entry_len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&Self::FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(features.len() as u32).to_le_bytes());
        for v in features {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum[..CHECKSUM]);
        out
    }

    /// Decode an entry, or `None` if anything about it is off.
    fn parse(&self, stored: &[u8]) -> Option<Vec<f32>> {
        let n = self.params.len();
        if stored.len() != self.entry_len() {
            return None;
        }
        let (body, sum) = stored.split_at(stored.len() - CHECKSUM);
        if &body[..4] != MAGIC
            || body[4..8] != Self::FORMAT_VERSION.to_le_bytes()
            || body[8..12] != (n as u32).to_le_bytes()
            || Sha256::digest(body)[..CHECKSUM] != *sum
        {
            return None;
        }
        let values: Vec<f32> = body[HEADER..]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        values.iter().all(|v| v.is_finite()).then_some(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Split;
    use crate::data::testutil::write_tone;

    fn clip(path: &Path) -> Clip {
        Clip {
            source: ClipSource::File(path.to_path_buf()),
            label: 2,
            split: Split::Validation,
            speaker: "s".into(),
            word: "yes".into(),
        }
    }

    fn direct(path: &Path) -> Vec<f32> {
        LogMel::new(FeatureParams::default()).compute(&audio::load_clip(path).unwrap())
    }

    #[test]
    fn fill_computes_each_entry_once_and_reports_it() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("set");
        crate::data::testutil::twelve_class_set(&root, &["0a7c2a8d", "bb05582b"], &["bed"]);
        let ds = Dataset::open(&root, crate::data::Protocol::Twelve).unwrap();
        let recorded = ds.clips.iter().filter(|c| c.path().is_some()).count();
        let cache = FeatureCache::new(tmp.path().join("cache"), FeatureParams::default());
        let mut reports = Vec::new();
        let first = cache
            .fill(&ds, &AtomicBool::new(false), |d, t| reports.push((d, t)))
            .unwrap();
        assert_eq!(
            (first.clips, first.computed, first.reused),
            (recorded, recorded as u64, 0)
        );
        assert_eq!(reports.last(), Some(&(recorded, recorded)));
        let on_disk: u64 = walk_sizes(&tmp.path().join("cache"));
        assert_eq!(first.entry_bytes, on_disk);
        let again = cache.fill(&ds, &AtomicBool::new(false), |_, _| {}).unwrap();
        assert_eq!((again.computed, again.reused), (0, recorded as u64));
        // The entries are what the loader reads.
        let c = ds.clips.iter().find(|c| c.path().is_some()).unwrap();
        assert_eq!(cache.features(c).unwrap(), direct(c.path().unwrap()));
        assert!(matches!(
            cache.fill(&ds, &AtomicBool::new(true), |_, _| {}),
            Err(DataError::Cancelled)
        ));
    }

    fn walk_sizes(dir: &Path) -> u64 {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk_sizes(&p)
                } else {
                    std::fs::metadata(&p).unwrap().len()
                }
            })
            .sum()
    }

    #[test]
    fn miss_then_hit_with_the_same_features() {
        let tmp = tempfile::tempdir().unwrap();
        let wav = tmp.path().join("a.wav");
        write_tone(&wav, 440.0, 16000);
        let cache = FeatureCache::new(tmp.path().join("cache"), FeatureParams::default());
        let first = cache.features(&clip(&wav)).unwrap();
        assert_eq!(cache.stats().misses, 1);
        let second = cache.features(&clip(&wav)).unwrap();
        assert_eq!(cache.stats().hits, 1);
        assert_eq!(first, second);
        assert_eq!(first, direct(&wav));
        assert_eq!(first.len(), 1024);

        // A second cache object over the same directory finds the entry too.
        let again = FeatureCache::new(tmp.path().join("cache"), FeatureParams::default());
        assert_eq!(again.features(&clip(&wav)).unwrap(), first);
        assert_eq!(again.stats().hits, 1);
    }

    #[test]
    fn changed_content_or_params_change_the_key() {
        let tmp = tempfile::tempdir().unwrap();
        let wav = tmp.path().join("a.wav");
        write_tone(&wav, 440.0, 16000);
        let cache = FeatureCache::new(tmp.path().join("cache"), FeatureParams::default());
        let before = cache.features(&clip(&wav)).unwrap();
        let key_before = cache.key(&std::fs::read(&wav).unwrap());

        write_tone(&wav, 1000.0, 16000);
        let key_after = cache.key(&std::fs::read(&wav).unwrap());
        assert_ne!(key_before, key_after);
        let after = cache.features(&clip(&wav)).unwrap();
        assert_eq!(cache.stats().misses, 2);
        assert_ne!(before, after);
        assert_eq!(after, direct(&wav));

        let other = FeatureParams {
            f_max: 7000.0,
            ..FeatureParams::default()
        };
        let other_cache = FeatureCache::new(tmp.path().join("cache"), other);
        assert_ne!(other_cache.key(&std::fs::read(&wav).unwrap()), key_after);
        other_cache.features(&clip(&wav)).unwrap();
        assert_eq!(other_cache.stats().misses, 1);
        assert_eq!(other_cache.stats().hits, 0);
    }

    #[test]
    fn corrupt_or_short_entries_are_recomputed_and_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let wav = tmp.path().join("a.wav");
        write_tone(&wav, 440.0, 16000);
        let cache = FeatureCache::new(tmp.path().join("cache"), FeatureParams::default());
        let good = cache.features(&clip(&wav)).unwrap();
        let entry = cache.entry_path(&cache.key(&std::fs::read(&wav).unwrap()));

        // One flipped bit in a value: right size, bad checksum.
        let mut bytes = std::fs::read(&entry).unwrap();
        bytes[HEADER + 40] ^= 0x01;
        std::fs::write(&entry, &bytes).unwrap();
        assert_eq!(cache.features(&clip(&wav)).unwrap(), good);
        assert_eq!(cache.stats().rejected, 1);

        // Truncated entry.
        let bytes = std::fs::read(&entry).unwrap();
        std::fs::write(&entry, &bytes[..100]).unwrap();
        assert_eq!(cache.features(&clip(&wav)).unwrap(), good);
        assert_eq!(cache.stats().rejected, 2);

        // Garbage of the right length (valid checksum is impossible to hit by accident).
        std::fs::write(&entry, vec![0xffu8; bytes.len()]).unwrap();
        assert_eq!(cache.features(&clip(&wav)).unwrap(), good);
        assert_eq!(cache.stats().rejected, 3);

        // Each time the entry was rewritten: now it is served again.
        assert_eq!(cache.features(&clip(&wav)).unwrap(), good);
        assert_eq!(cache.stats().hits, 1);
    }

    #[test]
    fn silence_needs_no_file_and_a_bad_file_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = FeatureCache::new(tmp.path().join("cache"), FeatureParams::default());
        let silence = Clip {
            source: ClipSource::Silence,
            ..clip(Path::new("x"))
        };
        let f = cache.features(&silence).unwrap();
        assert!(f.iter().all(|&v| v == -100.0), "pure zeros are -100 dB");

        let bad = tmp.path().join("bad.wav");
        std::fs::write(&bad, b"not audio at all").unwrap();
        let err = cache.features(&clip(&bad)).unwrap_err();
        assert!(err.to_string().contains("bad.wav"), "{err}");
    }
}
