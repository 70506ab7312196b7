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

/// Evaluate a packed `.bkw` model with the bit kernels (what a board runs) on a split of
/// `dataset`, every thin path the file holds. `tick` is called after each clip.
pub fn evaluate_packed(
    model: &std::path::Path,
    dataset: &Dataset,
    split: Split,
    tick: &dyn Fn(),
) -> anyhow::Result<(Vec<String>, Vec<PathEvaluation>)> {
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
    let mut session = engine.session();
    let mut evals: Vec<PathEvaluation> = (0..paths)
        .map(|p| {
            Ok(PathEvaluation::empty(
                p,
                engine.path_layers(p)?.len(),
                classes,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    // Summed here, averaged by `finish`.
    let mut loss_sums = vec![0f32; paths];
    for &i in &clips {
        let clip = &dataset.clips[i];
        let samples = dataset
            .load(clip)
            .with_context(|| format!("reading {}", dataset.relative_name(clip)))?;
        for (e, loss_sum) in evals.iter_mut().zip(&mut loss_sums) {
            let c = session.classify(e.metrics.path, &samples)?;
            let p_true = c.probabilities.get(clip.label).copied().unwrap_or(0.0);
            *loss_sum -= p_true.max(1e-12).ln();
            e.record(Prediction {
                clip: i,
                label: clip.label,
                predicted: c.index,
                confidence: c.probabilities[c.index],
            });
        }
        tick();
    }
    for (e, loss_sum) in evals.iter_mut().zip(loss_sums) {
        e.finish(loss_sum / clips.len() as f32);
    }
    Ok((dataset.labels.clone(), evals))
}

#[cfg(test)]
mod tests {
    use super::*;

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
