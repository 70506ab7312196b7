//! Evaluation of a model on a split: accuracy and loss per thin path, the confusion matrix,
//! per-class precision and recall, and every clip's prediction (so a GUI can list the clips in
//! a confusion cell).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::events::PathMetrics;
use super::loss::cross_entropy;
use super::tensors::{features_tensor, labels_tensor};
use crate::data::{BatchLoader, DataError, Dataset, Split};
use crate::model::Dfsmn;

/// One clip's outcome.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Prediction {
    /// Index into `Dataset::clips`.
    pub clip: usize,
    pub label: usize,
    pub predicted: usize,
    /// Softmax probability of the predicted class.
    pub confidence: f32,
}

/// Results of one thin path on a split.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PathEvaluation {
    pub metrics: PathMetrics,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<u32>>,
    pub predictions: Vec<Prediction>,
}

impl PathEvaluation {
    /// Nothing counted yet for thin path `path` (`layers` D-FSMN layers) over `classes` classes.
    pub fn empty(path: usize, layers: usize, classes: usize) -> PathEvaluation {
        PathEvaluation {
            metrics: PathMetrics {
                path,
                layers,
                loss: 0.0,
                accuracy: 0.0,
            },
            confusion: vec![vec![0; classes]; classes],
            predictions: Vec::new(),
        }
    }

    /// Count one clip's outcome.
    pub fn record(&mut self, prediction: Prediction) {
        self.confusion[prediction.label][prediction.predicted] += 1;
        self.predictions.push(prediction);
    }

    /// Close the evaluation: the accuracy over the clips recorded, and their mean loss.
    pub fn finish(&mut self, mean_loss: f32) {
        let correct: u32 = (0..self.confusion.len())
            .map(|c| self.confusion[c][c])
            .sum();
        self.metrics.accuracy = correct as f32 / self.predictions.len().max(1) as f32;
        self.metrics.loss = mean_loss;
    }

    /// Precision of each class (`None` when nothing was predicted as that class).
    pub fn precision(&self) -> Vec<Option<f32>> {
        let n = self.confusion.len();
        (0..n)
            .map(|c| {
                let predicted: u32 = (0..n).map(|t| self.confusion[t][c]).sum();
                (predicted > 0).then(|| self.confusion[c][c] as f32 / predicted as f32)
            })
            .collect()
    }

    /// Recall of each class (`None` when the split has no clip of that class).
    pub fn recall(&self) -> Vec<Option<f32>> {
        self.confusion
            .iter()
            .enumerate()
            .map(|(c, row)| {
                let total: u32 = row.iter().sum();
                (total > 0).then(|| row[c] as f32 / total as f32)
            })
            .collect()
    }
}

/// What a keyword spotter's user cares about, from a 12-class confusion matrix: how many
/// keywords it hears, and how often a spoken non-keyword word makes it fire.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeywordScores {
    /// Clips of a keyword class.
    pub keyword_clips: u32,
    /// Keyword clips classified as their own keyword.
    pub keyword_recall: f32,
    /// Clips of the `unknown` class (spoken words that are not keywords).
    pub negative_clips: u32,
    /// `unknown` clips classified as any keyword.
    pub false_accept_rate: f32,
}

impl PathEvaluation {
    /// Keyword recall and the non-keyword false-accept rate, for labellings with an
    /// `unknown` class (`None` otherwise, e.g. V2-35). `silence` counts as neither keyword
    /// nor negative: it is not speech.
    pub fn keyword_scores(&self, labels: &[String]) -> Option<KeywordScores> {
        let unknown = labels.iter().position(|l| l == "unknown")?;
        let is_keyword = |c: usize| labels[c] != "unknown" && labels[c] != "silence";
        let (mut keyword_clips, mut heard, mut negative_clips, mut accepted) = (0, 0, 0, 0);
        for (t, row) in self.confusion.iter().enumerate() {
            if is_keyword(t) {
                keyword_clips += row.iter().sum::<u32>();
                heard += row[t];
            } else if t == unknown {
                negative_clips += row.iter().sum::<u32>();
                accepted += (0..row.len())
                    .filter(|&p| is_keyword(p))
                    .map(|p| row[p])
                    .sum::<u32>();
            }
        }
        let ratio = |a: u32, b: u32| if b == 0 { 0.0 } else { a as f32 / b as f32 };
        Some(KeywordScores {
            keyword_clips,
            keyword_recall: ratio(heard, keyword_clips),
            negative_clips,
            false_accept_rate: ratio(accepted, negative_clips),
        })
    }
}

/// Evaluate `model` (call `.valid()` first for eval-mode BatchNorm) on `split`, for the first
/// `num_paths` thin paths. The front end runs once per batch and is shared by the paths.
pub fn evaluate(
    model: &Dfsmn,
    dataset: &Arc<Dataset>,
    split: Split,
    batch_size: usize,
    num_paths: usize,
) -> Result<Vec<PathEvaluation>, DataError> {
    let device = model.classifier_bias.val().device();
    let classes = dataset.labels.len();
    let num_paths = num_paths.clamp(1, model.num_paths());
    let paths = model.config.paths();
    let mut out: Vec<PathEvaluation> = (0..num_paths)
        .map(|p| PathEvaluation::empty(p, paths[p].len(), classes))
        .collect();
    let mut loss_sums = vec![0f64; num_paths];
    let mut seen = 0usize;
    let loader = BatchLoader::new(dataset.clone(), split, batch_size, None, 0, 0);
    for batch in loader {
        let batch = batch?;
        let b = batch.len();
        let x = features_tensor(&batch.features, b, &device);
        let y = labels_tensor(&batch.labels, &device);
        let z = model.frontend(x, 1.0, &mut None);
        for (p, eval) in out.iter_mut().enumerate() {
            let logits = model.backbone(z.clone(), p, 1.0, &mut None).logits;
            loss_sums[p] +=
                cross_entropy(logits.clone(), y.clone()).into_scalar::<f32>() as f64 * b as f64;
            let probs = burn::tensor::activation::softmax(logits, 1)
                .into_data()
                .try_into_vec::<f32>()
                .unwrap_or_default();
            for (i, (&label, &clip)) in batch.labels.iter().zip(&batch.indices).enumerate() {
                let row = &probs[i * classes..(i + 1) * classes];
                let (predicted, confidence) =
                    row.iter()
                        .copied()
                        .enumerate()
                        .fold(
                            (0, f32::MIN),
                            |best, (c, v)| if v > best.1 { (c, v) } else { best },
                        );
                eval.record(Prediction {
                    clip,
                    label,
                    predicted,
                    confidence,
                });
            }
        }
        seen += b;
    }
    for (eval, loss_sum) in out.iter_mut().zip(loss_sums) {
        eval.finish((loss_sum / seen.max(1) as f64) as f32);
    }
    Ok(out)
}

/// A packed model's evaluation, and how fast it ran.
#[derive(Clone, Debug)]
pub struct PackedEvaluation {
    /// Class names in class-index order.
    pub labels: Vec<String>,
    /// One per thin path the file holds.
    pub paths: Vec<PathEvaluation>,
    /// Clips classified (each on every path).
    pub clips: usize,
    /// Worker threads that decoded and classified them.
    pub threads: usize,
    /// Wall time of decoding, features and every path's forward for all clips, seconds.
    pub seconds: f64,
}

impl PackedEvaluation {
    /// Clips decoded and classified (on every path) per second of wall time.
    pub fn clips_per_sec(&self) -> f64 {
        self.clips as f64 / self.seconds.max(f64::MIN_POSITIVE)
    }
}

/// Evaluate a packed `.bkw` model with the bit kernels (what a board runs) on a split of
/// `dataset`, every thin path the file holds, on every core. `tick` is called after each clip.
pub fn evaluate_packed(
    model: &std::path::Path,
    dataset: &Dataset,
    split: Split,
    tick: &dyn Fn(),
) -> anyhow::Result<(Vec<String>, Vec<PathEvaluation>)> {
    let e = evaluate_packed_on(model, dataset, split, 0, tick)?;
    Ok((e.labels, e.paths))
}

/// As [`evaluate_packed`], on `threads` worker threads (0 = every core), and timed. Each worker
/// decodes a clip, classifies it on every path with its own session and takes the next clip;
/// the outcomes are recorded in clip order, so predictions, confusion matrices and losses (the
/// same sums in the same order) are identical for every `threads`. `tick` is called after each
/// clip, in clip order, on the calling thread.
pub fn evaluate_packed_on(
    model: &std::path::Path,
    dataset: &Dataset,
    split: Split,
    threads: usize,
    tick: &dyn Fn(),
) -> anyhow::Result<PackedEvaluation> {
    use anyhow::{Context, bail};
    use bifsmn_kernels::format::PackedModel;
    use bifsmn_kernels::infer::Engine;

    let packed =
        PackedModel::load(model).with_context(|| format!("reading {}", model.display()))?;
    let engine =
        Arc::new(Engine::new(&packed).with_context(|| format!("preparing {}", model.display()))?);
    if dataset.labels != engine.labels() {
        bail!(
            "{} has labels {:?}, {} was trained on {:?}",
            dataset.root.display(),
            dataset.labels,
            model.display(),
            engine.labels()
        );
    }
    let clips = dataset.indices_in(split);
    if clips.is_empty() {
        bail!("{} has no {} clips", dataset.root.display(), split.name());
    }
    let classes = dataset.labels.len();
    let paths = engine.num_paths();
    let mut evals: Vec<PathEvaluation> = (0..paths)
        .map(|p| {
            Ok(PathEvaluation::empty(
                p,
                engine.path_layers(p)?.len(),
                classes,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let threads = crate::bench::resolve_threads(threads).min(clips.len());
    let start = std::time::Instant::now();
    // Summed here, in clip order, averaged by `finish`.
    let mut loss_sums = vec![0f32; paths];
    classify_in_order(&engine, dataset, &clips, threads, |i, outcome| {
        let label = dataset.clips[i].label;
        for ((e, loss_sum), o) in evals.iter_mut().zip(&mut loss_sums).zip(outcome) {
            *loss_sum -= o.p_true.max(1e-12).ln();
            e.record(Prediction {
                clip: i,
                label,
                predicted: o.predicted,
                confidence: o.confidence,
            });
        }
        tick();
    })?;
    let seconds = start.elapsed().as_secs_f64();
    for (e, loss_sum) in evals.iter_mut().zip(loss_sums) {
        e.finish(loss_sum / clips.len() as f32);
    }
    Ok(PackedEvaluation {
        labels: dataset.labels.clone(),
        paths: evals,
        clips: clips.len(),
        threads,
        seconds,
    })
}

/// One clip's outcome on one thin path.
struct PathOutcome {
    predicted: usize,
    /// Probability of the predicted class.
    confidence: f32,
    /// Probability of the true class.
    p_true: f32,
}

/// Decode clip `i` of `dataset` and classify it on every path of the session's engine.
fn classify_clip(
    session: &mut bifsmn_kernels::infer::Session,
    dataset: &Dataset,
    i: usize,
) -> anyhow::Result<Vec<PathOutcome>> {
    use anyhow::Context;
    let clip = &dataset.clips[i];
    let samples = dataset
        .load(clip)
        .with_context(|| format!("reading {}", dataset.relative_name(clip)))?;
    (0..session.engine().num_paths())
        .map(|p| {
            let c = session.classify(p, &samples)?;
            Ok(PathOutcome {
                predicted: c.index,
                confidence: c.probabilities[c.index],
                p_true: c.probabilities.get(clip.label).copied().unwrap_or(0.0),
            })
        })
        .collect()
}

/// Classify the dataset's `clips` on `threads` workers, each with its own session and taking
/// the next clip when it finishes one, and hand each clip's outcomes to `record` in the order
/// of `clips` (on this thread). The first failing clip in that order stops the work and is
/// the error returned, as in a sequential loop: workers take clips in increasing order, so
/// every clip before a failing one was taken and finishes.
fn classify_in_order(
    engine: &Arc<bifsmn_kernels::infer::Engine>,
    dataset: &Dataset,
    clips: &[usize],
    threads: usize,
    mut record: impl FnMut(usize, Vec<PathOutcome>),
) -> anyhow::Result<()> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    type Outcome = (usize, anyhow::Result<Vec<PathOutcome>>);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = std::sync::mpsc::channel::<Outcome>();
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            let (tx, next, stop) = (tx.clone(), &next, &stop);
            let mut session = engine.session();
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let pos = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = clips.get(pos) else { break };
                    let outcome = classify_clip(&mut session, dataset, i);
                    if outcome.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    if tx.send((pos, outcome)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = std::collections::BTreeMap::new();
        let mut first_error: Option<(usize, anyhow::Error)> = None;
        let mut due = 0;
        for (pos, outcome) in rx {
            match outcome {
                Ok(o) => {
                    pending.insert(pos, o);
                }
                Err(e) if first_error.as_ref().is_none_or(|(p, _)| pos < *p) => {
                    first_error = Some((pos, e));
                }
                Err(_) => {}
            }
            while first_error.is_none()
                && let Some(o) = pending.remove(&due)
            {
                record(clips[due], o);
                due += 1;
            }
        }
        first_error.map_or(Ok(()), |(_, e)| Err(e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testutil::twelve_class_set;
    use crate::data::{ClipSource, Protocol};
    use bifsmn_kernels::format::PackedModel;
    use bifsmn_kernels::synth::SynthSpec;
    use bifsmn_kernels::weights::Precision;
    use std::cell::Cell;
    use std::path::{Path, PathBuf};

    /// 12 words x 4 speakers (36 train clips with silence) and a random paper-sized binary
    /// student with the dataset's labels, saved as a `.bkw`.
    fn dataset_and_model(dir: &Path) -> (Dataset, PathBuf) {
        let root = dir.join("set");
        let speakers = ["0a7c2a8d", "c50f55b8", "3cfc6b3a", "bb05582b"];
        twelve_class_set(&root, &speakers, &["bed"]);
        let ds = Dataset::open(&root, Protocol::Twelve).unwrap();
        let mut w = SynthSpec::paper(Precision::Binary).weights(3);
        w.labels = ds.labels.clone();
        let model = dir.join("m.bkw");
        PackedModel::from_weights(&w).unwrap().save(&model).unwrap();
        (ds, model)
    }

    #[test]
    fn packed_evaluation_is_identical_on_one_and_many_threads() {
        let tmp = tempfile::tempdir().unwrap();
        let (ds, model) = dataset_and_model(tmp.path());
        let train = ds.indices_in(Split::Train);
        let ticks = Cell::new(0);
        let tick = || ticks.set(ticks.get() + 1);
        let one = evaluate_packed_on(&model, &ds, Split::Train, 1, &tick).unwrap();
        assert_eq!((one.clips, one.threads, ticks.get()), (36, 1, 36));
        assert!(one.paths.len() > 1, "every thin path");
        let order: Vec<usize> = one.paths[0].predictions.iter().map(|p| p.clip).collect();
        assert_eq!(order, train, "recorded in clip order");
        for threads in [2, 3, 7] {
            let many = evaluate_packed_on(&model, &ds, Split::Train, threads, &|| {}).unwrap();
            assert_eq!((many.clips, many.threads), (36, threads));
            assert!(many.clips_per_sec() > 0.0);
            for (a, b) in one.paths.iter().zip(&many.paths) {
                assert_eq!(a.predictions, b.predictions, "{threads} threads");
                assert_eq!(a.confusion, b.confusion);
                assert_eq!(a.metrics.loss.to_bits(), b.metrics.loss.to_bits());
                assert_eq!(a.metrics.accuracy.to_bits(), b.metrics.accuracy.to_bits());
            }
        }
        // Every core by default, never more threads than clips.
        let all = evaluate_packed_on(&model, &ds, Split::Train, 0, &|| {}).unwrap();
        assert_eq!(all.threads, crate::bench::resolve_threads(0).min(36));
        let (labels, paths) = evaluate_packed(&model, &ds, Split::Train, &|| {}).unwrap();
        assert_eq!(labels, ds.labels);
        assert_eq!(paths[0].predictions, one.paths[0].predictions);
    }

    #[test]
    fn the_first_unreadable_clip_in_order_is_the_error_on_any_thread_count() {
        let tmp = tempfile::tempdir().unwrap();
        let (ds, model) = dataset_and_model(tmp.path());
        let files: Vec<&PathBuf> = ds
            .indices_in(Split::Train)
            .into_iter()
            .filter_map(|i| match &ds.clips[i].source {
                ClipSource::File(p) => Some(p),
                _ => None,
            })
            .collect();
        std::fs::remove_file(files[20]).unwrap();
        std::fs::remove_file(files[4]).unwrap();
        let first = files[4].strip_prefix(&ds.root).unwrap().to_string_lossy();
        for threads in [1, 4] {
            let err = evaluate_packed_on(&model, &ds, Split::Train, threads, &|| {}).unwrap_err();
            assert!(format!("{err:#}").contains(&*first), "{threads}: {err:#}");
        }
    }

    #[test]
    fn keyword_scores_count_keywords_heard_and_words_that_fired() {
        let labels: Vec<String> = ["unknown", "silence", "yes", "no"]
            .map(String::from)
            .to_vec();
        let mut e = PathEvaluation::empty(0, 8, 4);
        let mut add = |label, predicted, n| {
            for _ in 0..n {
                e.record(Prediction {
                    clip: 0,
                    label,
                    predicted,
                    confidence: 1.0,
                });
            }
        };
        add(2, 2, 8); // yes heard
        add(2, 3, 1); // yes taken for no: not heard
        add(2, 0, 1); // yes missed
        add(3, 3, 10);
        add(0, 0, 17);
        add(0, 2, 2); // a word fired "yes"
        add(0, 1, 1); // a word taken for silence: not a false accept
        add(1, 2, 5); // silence firing is not counted as a word's false accept
        let k = e.keyword_scores(&labels).unwrap();
        assert_eq!((k.keyword_clips, k.negative_clips), (20, 20));
        assert!((k.keyword_recall - 18.0 / 20.0).abs() < 1e-6);
        assert!((k.false_accept_rate - 2.0 / 20.0).abs() < 1e-6);
        let v35: Vec<String> = ["yes", "no"].map(String::from).to_vec();
        assert!(
            PathEvaluation::empty(0, 8, 2)
                .keyword_scores(&v35)
                .is_none()
        );
    }
}
