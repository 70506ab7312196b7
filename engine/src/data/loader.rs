//! Batches for training, produced off the training thread.
//!
//! A producer thread walks the split in order (shuffled per epoch for training), computes each
//! batch's clips in parallel with rayon and sends finished batches through a bounded channel,
//! so a few batches are ready while the trainer works. Dropping the loader stops the producer.
//!
//! Un-augmented batches (validation, test, or training with augmentation off) come from the
//! [`FeatureCache`]. Augmented batches start from the waveform, kept in a bounded in-memory
//! [`WaveformCache`] (as i16) so each file is decoded once per process while memory allows.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, bounded};
use rand::RngExt;
use rand::seq::SliceRandom;
use rayon::prelude::*;

use super::augment::{Augmenter, clip_rng, epoch_rng};
use super::{Clip, ClipSource, DataError, Dataset, FeatureCache, Split};
use crate::audio::{self, CLIP_SAMPLES};
use crate::features::{FeatureParams, LogMel};

/// One batch: features of `B` clips back to back (`B x n_mels x frames`, row-major), their
/// labels, and their indices into [`Dataset::clips`].
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub features: Vec<f32>,
    pub labels: Vec<usize>,
    pub indices: Vec<usize>,
}

impl Batch {
    /// Clips in the batch.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the batch has no clips (never produced by [`BatchLoader`]).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Decoded clips kept in memory as 16-bit samples, up to a byte budget. Entries are never
/// evicted: with shuffled access a fixed resident set hits as often as LRU would, without churn.
/// Every waveform goes through the same i16 rounding whether or not it was cached, so results
/// never depend on what happened to be in memory.
#[derive(Debug)]
pub struct WaveformCache {
    budget_bytes: usize,
    used_bytes: AtomicUsize,
    clips: Mutex<HashMap<PathBuf, Arc<[i16]>>>,
}

impl WaveformCache {
    /// Default budget: 512 MiB, about 16 000 one-second clips.
    pub const DEFAULT_BUDGET: usize = 512 << 20;

    /// An empty cache holding at most `budget_bytes` of samples.
    pub fn new(budget_bytes: usize) -> Self {
        Self {
            budget_bytes,
            used_bytes: AtomicUsize::new(0),
            clips: Mutex::new(HashMap::new()),
        }
    }

    /// The process-wide cache used by [`LoaderOptions::default`], so consecutive epochs share it.
    pub fn shared() -> Arc<WaveformCache> {
        static SHARED: OnceLock<Arc<WaveformCache>> = OnceLock::new();
        SHARED
            .get_or_init(|| Arc::new(WaveformCache::new(Self::DEFAULT_BUDGET)))
            .clone()
    }

    /// Bytes of samples held.
    pub fn bytes_used(&self) -> usize {
        self.used_bytes.load(Ordering::Relaxed)
    }

    /// Clips held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A clip's 16000 samples: silence is zeros, files come from memory or are decoded (and
    /// kept if the budget allows); an excerpt is its window of the (cached) recording.
    pub fn load(&self, clip: &Clip) -> Result<Vec<f32>, DataError> {
        self.load_at(clip, None)
    }

    /// [`WaveformCache::load`] with an excerpt's window moved to `start` (ignored for other
    /// clips): training draws a new window of a long recording every epoch.
    pub fn load_at(&self, clip: &Clip, start: Option<usize>) -> Result<Vec<f32>, DataError> {
        match &clip.source {
            ClipSource::Silence => Ok(vec![0.0; CLIP_SAMPLES]),
            ClipSource::File(path) => Ok(dequantize(&self.recording(path, false)?)),
            ClipSource::Excerpt {
                path, start: own, ..
            } => {
                let samples = dequantize(&self.recording(path, true)?);
                Ok(super::speech_commands::window(
                    &samples,
                    start.unwrap_or(*own),
                ))
            }
        }
    }

    /// A file's samples as i16: one clip (fixed to 16000 samples) or, for `whole`, the whole
    /// recording.
    fn recording(&self, path: &PathBuf, whole: bool) -> Result<Arc<[i16]>, DataError> {
        if let Some(samples) = self.lock().get(path).cloned() {
            return Ok(samples);
        }
        let decoded = if whole {
            audio::load_mono_16k(path)?
        } else {
            audio::load_clip(path)?
        };
        let samples: Arc<[i16]> = quantize(&decoded).into();
        let bytes = samples.len() * 2;
        // Reserve before inserting so concurrent loaders cannot overshoot the budget.
        let reserved = self
            .used_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                (used + bytes <= self.budget_bytes).then_some(used + bytes)
            })
            .is_ok();
        if reserved && self.lock().insert(path.clone(), samples.clone()).is_some() {
            // Another thread stored it first; give the reservation back.
            self.used_bytes.fetch_sub(bytes, Ordering::Relaxed);
        }
        Ok(samples)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Arc<[i16]>>> {
        // A panic while holding the lock leaves the map consistent (single insert/get calls).
        self.clips.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn quantize(x: &[f32]) -> Vec<i16> {
    x.iter()
        .map(|v| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

fn dequantize(x: &[i16]) -> Vec<f32> {
    // Exact inverse for 16-bit sources, which decode to k / 32768.
    x.iter().map(|&v| v as f32 / 32768.0).collect()
}

/// Tuning knobs of a [`BatchLoader`].
#[derive(Clone, Debug)]
pub struct LoaderOptions {
    /// Finished batches waiting in the channel (2-4 is plenty).
    pub prefetch: usize,
    /// Shuffle the split; `None` means "shuffle the training split only".
    pub shuffle: Option<bool>,
    /// Front-end parameters.
    pub feature_params: FeatureParams,
    /// Feature cache for un-augmented clips; used only if its parameters match
    /// `feature_params`. `None` computes features without caching.
    pub features: Option<Arc<FeatureCache>>,
    /// In-memory waveforms for augmented clips.
    pub waveforms: Arc<WaveformCache>,
}

impl Default for LoaderOptions {
    fn default() -> Self {
        static DEFAULT_CACHE: OnceLock<Option<Arc<FeatureCache>>> = OnceLock::new();
        let params = FeatureParams::default();
        Self {
            prefetch: 3,
            shuffle: None,
            feature_params: params,
            features: DEFAULT_CACHE
                .get_or_init(|| FeatureCache::at_default_location(params).map(Arc::new))
                .clone(),
            waveforms: WaveformCache::shared(),
        }
    }
}

/// An iterator of batches over one split for one epoch, computed by a background thread.
/// Yields `Err` once (then ends) if a clip cannot be loaded.
pub struct BatchLoader {
    receiver: Option<Receiver<Result<Batch, DataError>>>,
    cancel: Arc<AtomicBool>,
    producer: Option<JoinHandle<()>>,
    batches: usize,
    clips: usize,
}

impl BatchLoader {
    /// Start loading `split` in batches of `batch_size` (at least 1; the last batch may be
    /// smaller). Training batches are shuffled by (`seed`, `epoch`); `augment` is applied with a
    /// per-(seed, epoch, clip) RNG, so the same seed always gives the same batches.
    pub fn new(
        dataset: Arc<Dataset>,
        split: Split,
        batch_size: usize,
        augment: Option<Arc<Augmenter>>,
        seed: u64,
        epoch: u64,
    ) -> Self {
        Self::with_options(
            dataset,
            split,
            batch_size,
            augment,
            seed,
            epoch,
            LoaderOptions::default(),
        )
    }

    /// [`BatchLoader::new`] with explicit caches, prefetch depth and shuffling.
    pub fn with_options(
        dataset: Arc<Dataset>,
        split: Split,
        batch_size: usize,
        augment: Option<Arc<Augmenter>>,
        seed: u64,
        epoch: u64,
        options: LoaderOptions,
    ) -> Self {
        let batch_size = batch_size.max(1);
        let mut order = dataset.indices_in(split);
        if options.shuffle.unwrap_or(split == Split::Train) {
            order.shuffle(&mut epoch_rng(seed, epoch));
        }
        let clips = order.len();
        let batches = clips.div_ceil(batch_size);
        let (sender, receiver) = bounded(options.prefetch.max(1));
        let cancel = Arc::new(AtomicBool::new(false));
        let job = Job {
            dataset,
            augment,
            seed,
            epoch,
            logmel: LogMel::new(options.feature_params),
            features: options
                .features
                .filter(|c| *c.params() == options.feature_params),
            waveforms: options.waveforms,
            cancel: cancel.clone(),
        };
        let producer = std::thread::Builder::new()
            .name("bifsmn-batches".into())
            .spawn(move || {
                for chunk in order.chunks(batch_size) {
                    let batch = match job.batch(chunk) {
                        Err(DataError::Cancelled) => return,
                        other => other,
                    };
                    let failed = batch.is_err();
                    // A send fails only when the loader was dropped: stop quietly.
                    if sender.send(batch).is_err() || failed {
                        return;
                    }
                }
            })
            .expect("spawning the batch producer thread");
        Self {
            receiver: Some(receiver),
            cancel,
            producer: Some(producer),
            batches,
            clips,
        }
    }

    /// Batches this epoch yields in total.
    pub fn num_batches(&self) -> usize {
        self.batches
    }

    /// Clips this epoch yields in total.
    pub fn num_clips(&self) -> usize {
        self.clips
    }

    /// Ask the producer to stop after the clips in flight; the iterator then ends early.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

impl Iterator for BatchLoader {
    type Item = Result<Batch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.receiver.as_ref()?.recv().ok()
    }
}

impl Drop for BatchLoader {
    fn drop(&mut self) {
        self.cancel();
        // Dropping the receiver unblocks a producer waiting to send.
        self.receiver = None;
        if let Some(handle) = self.producer.take() {
            // Joining from inside a rayon worker could deadlock (the producer needs the pool
            // to finish its batch); there the producer is left to notice the cancel on its own.
            if rayon::current_thread_index().is_none() {
                let _ = handle.join();
            }
        }
    }
}

/// What the producer thread needs to compute a batch.
struct Job {
    dataset: Arc<Dataset>,
    augment: Option<Arc<Augmenter>>,
    seed: u64,
    epoch: u64,
    logmel: LogMel,
    features: Option<Arc<FeatureCache>>,
    waveforms: Arc<WaveformCache>,
    cancel: Arc<AtomicBool>,
}

impl Job {
    fn batch(&self, indices: &[usize]) -> Result<Batch, DataError> {
        let per_clip: Vec<Vec<f32>> = indices
            .par_iter()
            .map(|&i| self.clip_features(i))
            .collect::<Result<_, _>>()?;
        Ok(Batch {
            features: per_clip.concat(),
            labels: indices
                .iter()
                .map(|&i| self.dataset.clips[i].label)
                .collect(),
            indices: indices.to_vec(),
        })
    }

    fn clip_features(&self, index: usize) -> Result<Vec<f32>, DataError> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(DataError::Cancelled);
        }
        let clip = &self.dataset.clips[index];
        match (&self.augment, &self.features) {
            (None, Some(cache)) => cache.features(clip),
            (None, None) => Ok(self.logmel.compute(&self.waveforms.load(clip)?)),
            (Some(augmenter), _) => {
                let start = self.window_start(clip, index);
                let mut rng = clip_rng(self.seed, self.epoch, index as u64);
                let samples = augmenter.apply(self.waveforms.load_at(clip, start)?, &mut rng);
                let mut features = self.logmel.compute(&samples);
                let params = self.logmel.params();
                augmenter.spec_augment_features(
                    &mut features,
                    params.n_mels,
                    params.frames(),
                    &mut rng,
                );
                Ok(features)
            }
        }
    }

    /// A fresh window of a long recording for this epoch, from an RNG of its own so the
    /// augmentation's draws do not move.
    fn window_start(&self, clip: &Clip, index: usize) -> Option<usize> {
        match clip.source {
            ClipSource::Excerpt { len, .. } if len > CLIP_SAMPLES => {
                let mut rng = clip_rng(self.seed ^ WINDOW_DOMAIN, self.epoch, index as u64);
                Some(rng.random_range(0..=len - CLIP_SAMPLES))
            }
            _ => None,
        }
    }
}

/// Keeps the window draws of [`Job::window_start`] apart from the augmentation's stream.
const WINDOW_DOMAIN: u64 = 0x7769_6e64_6f77_3031; // "window01"

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testutil::twelve_class_set;
    use crate::data::{AugmentConfig, Protocol};

    /// 12 words x 4 speakers; without lists the hash puts `0a7c2a8d`/`c50f55b8`/`3cfc6b3a` in
    /// train and `bb05582b` in test.
    fn dataset() -> (tempfile::TempDir, Arc<Dataset>) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("set");
        twelve_class_set(
            &root,
            &["0a7c2a8d", "c50f55b8", "3cfc6b3a", "bb05582b"],
            &["bed"],
        );
        let ds = Dataset::open(&root, Protocol::Twelve).unwrap();
        (tmp, Arc::new(ds))
    }

    fn options(tmp: &tempfile::TempDir) -> LoaderOptions {
        LoaderOptions {
            features: Some(Arc::new(FeatureCache::new(
                tmp.path().join("cache"),
                FeatureParams::default(),
            ))),
            waveforms: Arc::new(WaveformCache::new(WaveformCache::DEFAULT_BUDGET)),
            ..LoaderOptions::default()
        }
    }

    fn collect(loader: BatchLoader) -> Vec<Batch> {
        loader.map(|b| b.unwrap()).collect()
    }

    #[test]
    fn every_clip_once_with_the_last_partial_batch_kept() {
        let (tmp, ds) = dataset();
        let n = ds.indices_in(Split::Train).len();
        assert_eq!(n, 33 + 3, "3 speakers x 11 words + 3 silence");
        let loader =
            BatchLoader::with_options(ds.clone(), Split::Train, 8, None, 1, 0, options(&tmp));
        assert_eq!((loader.num_batches(), loader.num_clips()), (5, 36));
        let batches = collect(loader);
        let sizes: Vec<usize> = batches.iter().map(Batch::len).collect();
        assert_eq!(sizes, vec![8, 8, 8, 8, 4]);
        let mut seen: Vec<usize> = batches.iter().flat_map(|b| b.indices.clone()).collect();
        for b in &batches {
            assert_eq!(b.features.len(), b.len() * 1024);
            for (label, &i) in b.labels.iter().zip(&b.indices) {
                assert_eq!(*label, ds.clips[i].label);
            }
        }
        seen.sort();
        assert_eq!(seen, ds.indices_in(Split::Train));
    }

    #[test]
    fn training_order_is_seeded_and_evaluation_is_in_order() {
        let (tmp, ds) = dataset();
        let order = |seed, epoch| -> Vec<usize> {
            let loader = BatchLoader::with_options(
                ds.clone(),
                Split::Train,
                5,
                None,
                seed,
                epoch,
                options(&tmp),
            );
            collect(loader)
                .into_iter()
                .flat_map(|b| b.indices)
                .collect()
        };
        assert_eq!(order(7, 0), order(7, 0));
        assert_ne!(order(7, 0), order(7, 1));
        assert_ne!(order(7, 0), order(8, 0));
        assert_ne!(order(7, 0), ds.indices_in(Split::Train));

        let test = BatchLoader::with_options(ds.clone(), Split::Test, 5, None, 7, 3, options(&tmp));
        let indices: Vec<usize> = collect(test).into_iter().flat_map(|b| b.indices).collect();
        assert_eq!(indices, ds.indices_in(Split::Test));
    }

    #[test]
    fn augmented_batches_are_reproducible_and_match_the_augmenter() {
        let (tmp, ds) = dataset();
        let aug = Arc::new(Augmenter::new(
            AugmentConfig::default(),
            vec![vec![0.1; 20000]],
        ));
        let run = |seed| {
            let loader = BatchLoader::with_options(
                ds.clone(),
                Split::Train,
                4,
                Some(aug.clone()),
                seed,
                2,
                options(&tmp),
            );
            collect(loader)
        };
        let a = run(11);
        assert_eq!(a, run(11), "same seed, same batches");
        assert_ne!(a, run(12));

        // Each clip's features are exactly what the augmenter gives with that clip's RNG.
        let logmel = LogMel::new(FeatureParams::default());
        let first = &a[0];
        for (k, &i) in first.indices.iter().enumerate() {
            let wave = ds.load(&ds.clips[i]).unwrap();
            let expected = logmel.compute(&aug.apply(wave, &mut clip_rng(11, 2, i as u64)));
            assert_eq!(&first.features[k * 1024..(k + 1) * 1024], &expected[..]);
        }
    }

    #[test]
    fn evaluation_uses_the_feature_cache() {
        let (tmp, ds) = dataset();
        let opts = options(&tmp);
        let cache = opts.features.clone().unwrap();
        let files = ds
            .clips_in(Split::Test)
            .filter(|c| c.source != ClipSource::Silence)
            .count() as u64;
        let first = collect(BatchLoader::with_options(
            ds.clone(),
            Split::Test,
            4,
            None,
            0,
            0,
            opts.clone(),
        ));
        assert_eq!(cache.stats().misses, files);
        let second = collect(BatchLoader::with_options(
            ds.clone(),
            Split::Test,
            4,
            None,
            0,
            1,
            opts,
        ));
        assert_eq!(cache.stats().hits, files);
        assert_eq!(first, second);
    }

    #[test]
    fn waveform_cache_respects_its_budget_without_changing_results() {
        let (_tmp, ds) = dataset();
        let files: Vec<&Clip> = ds.clips.iter().filter(|c| c.path().is_some()).collect();
        let small = WaveformCache::new(2 * CLIP_SAMPLES * 2);
        let big = WaveformCache::new(WaveformCache::DEFAULT_BUDGET);
        for c in &files {
            assert_eq!(small.load(c).unwrap(), big.load(c).unwrap());
        }
        assert_eq!(small.len(), 2);
        assert_eq!(small.bytes_used(), 2 * CLIP_SAMPLES * 2);
        assert_eq!(big.len(), files.len());
        // Cached and uncached reads agree, and 16-bit sources survive the i16 round trip.
        for c in &files {
            let from_disk = ds.load(c).unwrap();
            assert_eq!(small.load(c).unwrap(), from_disk);
            assert_eq!(big.load(c).unwrap(), from_disk);
        }
    }

    #[test]
    fn a_bad_clip_ends_the_epoch_with_an_error_naming_it() {
        let (tmp, ds) = dataset();
        let victim = ds
            .clips_in(Split::Train)
            .find_map(|c| c.path())
            .unwrap()
            .to_path_buf();
        std::fs::write(&victim, b"RIFF garbage").unwrap();
        let aug = Arc::new(Augmenter::new(AugmentConfig::none(), vec![]));
        let loader =
            BatchLoader::with_options(ds.clone(), Split::Train, 4, Some(aug), 0, 0, options(&tmp));
        let results: Vec<_> = loader.collect();
        let err = results.last().unwrap().as_ref().unwrap_err();
        let name = victim.file_name().unwrap().to_string_lossy().into_owned();
        assert!(err.to_string().contains(&name), "{err}");
        assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
    }

    #[test]
    fn dropping_or_cancelling_stops_the_producer() {
        let (tmp, ds) = dataset();
        let mut loader = BatchLoader::with_options(
            ds.clone(),
            Split::Train,
            1,
            None,
            0,
            0,
            LoaderOptions {
                prefetch: 1,
                ..options(&tmp)
            },
        );
        assert!(loader.next().is_some());
        // Drop joins the producer: this returns only once the thread has ended.
        drop(loader);

        let mut loader = BatchLoader::with_options(
            ds.clone(),
            Split::Train,
            1,
            None,
            0,
            0,
            LoaderOptions {
                prefetch: 1,
                ..options(&tmp)
            },
        );
        assert!(loader.next().is_some());
        loader.cancel();
        let rest = loader.by_ref().count();
        // At most the batches already queued or in flight arrive after cancelling.
        assert!(rest <= 2, "{rest} batches after cancel");
    }
}
