//! What scores a window: the [`Scorer`] trait and the packed-model implementation.

use std::path::Path;
use std::sync::Arc;

use bifsmn_kernels::format::PackedModel;
use bifsmn_kernels::infer::{Engine, Session};

use super::StreamError;

/// One window of samples in, one posterior per class out.
///
/// `Send` so that a detector can run on its own thread.
pub trait Scorer: Send {
    /// Class names in output order.
    fn labels(&self) -> &[String];
    /// Sample rate the windows are at.
    fn sample_rate(&self) -> u32;
    /// Samples per window (the model's clip length).
    fn window_len(&self) -> usize;
    /// Write the posteriors of `window` (`window_len` samples) into `out` (one per label,
    /// summing to 1).
    fn score(&mut self, window: &[f32], out: &mut [f32]) -> Result<(), StreamError>;
}

impl<S: Scorer + ?Sized> Scorer for Box<S> {
    fn labels(&self) -> &[String] {
        (**self).labels()
    }
    fn sample_rate(&self) -> u32 {
        (**self).sample_rate()
    }
    fn window_len(&self) -> usize {
        (**self).window_len()
    }
    fn score(&mut self, window: &[f32], out: &mut [f32]) -> Result<(), StreamError> {
        (**self).score(window, out)
    }
}

/// Classes that may fire by default: every label except the non-keywords (`unknown`,
/// `silence`, and their Speech Commands spellings `_unknown_`, `_silence_`).
pub fn default_keywords(labels: &[String]) -> Vec<bool> {
    labels
        .iter()
        .map(|l| {
            let l = l.trim_matches('_').to_ascii_lowercase();
            !matches!(l.as_str(), "unknown" | "silence" | "background_noise")
        })
        .collect()
}

/// The packed `.bkw` model on one thin path: log-mel front end and forward pass of
/// `bifsmn_kernels::infer`, then softmax. No allocation per window.
pub struct ModelScorer {
    session: Session,
    path: usize,
    features: Vec<f32>,
    labels: Vec<String>,
    rate: u32,
    window: usize,
}

impl std::fmt::Debug for ModelScorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelScorer")
            .field("path", &self.path)
            .field("labels", &self.labels)
            .finish_non_exhaustive()
    }
}

impl ModelScorer {
    /// Score with `engine` on thin path `path` (0 = the full network).
    pub fn new(engine: Arc<Engine>, path: usize) -> Result<ModelScorer, StreamError> {
        engine
            .path_layers(path)
            .map_err(|e| StreamError::Config(e.to_string()))?;
        let fp = *engine.feature_params();
        Ok(ModelScorer {
            features: vec![0.0; engine.input_len()],
            labels: engine.labels().to_vec(),
            rate: fp.sample_rate,
            window: fp.clip_samples,
            session: engine.session(),
            path,
        })
    }

    /// Load a `.bkw` file and prepare it for this CPU.
    pub fn load(file: &Path, path: usize) -> Result<ModelScorer, StreamError> {
        let model = PackedModel::load(file).map_err(|e| StreamError::Model {
            path: file.to_path_buf(),
            reason: e.to_string(),
        })?;
        Self::from_model(&model, path).map_err(|e| match e {
            StreamError::Score(reason) | StreamError::Config(reason) => StreamError::Model {
                path: file.to_path_buf(),
                reason,
            },
            other => other,
        })
    }

    /// Prepare an in-memory model.
    pub fn from_model(model: &PackedModel, path: usize) -> Result<ModelScorer, StreamError> {
        let engine = Engine::new(model).map_err(|e| StreamError::Score(e.to_string()))?;
        Self::new(Arc::new(engine), path)
    }

    /// The engine (ISA, dimensions, thin paths).
    pub fn engine(&self) -> &Arc<Engine> {
        self.session.engine()
    }

    /// The thin path being scored.
    pub fn path(&self) -> usize {
        self.path
    }
}

impl Scorer for ModelScorer {
    fn labels(&self) -> &[String] {
        &self.labels
    }
    fn sample_rate(&self) -> u32 {
        self.rate
    }
    fn window_len(&self) -> usize {
        self.window
    }
    fn score(&mut self, window: &[f32], out: &mut [f32]) -> Result<(), StreamError> {
        self.features.copy_from_slice(self.session.features(window));
        let logits = self
            .session
            .forward(self.path, &self.features)
            .map_err(|e| StreamError::Score(e.to_string()))?;
        softmax(logits, out);
        Ok(())
    }
}

/// Numerically stable softmax of `logits` into `out`.
pub(crate) fn softmax(logits: &[f32], out: &mut [f32]) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for (o, l) in out.iter_mut().zip(logits) {
        *o = (l - max).exp();
        sum += *o;
    }
    out.iter_mut().for_each(|o| *o /= sum);
}

#[cfg(test)]
mod tests {
    use super::*;
    use bifsmn_kernels::synth::{SynthSpec, random_clip};
    use bifsmn_kernels::weights::Precision;

    #[test]
    fn default_keywords_skip_unknown_and_silence() {
        let labels: Vec<String> = ["unknown", "_silence_", "yes", "_unknown_", "no"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            default_keywords(&labels),
            vec![false, false, true, false, true]
        );
    }

    #[test]
    fn the_model_scorer_matches_classify() {
        let model =
            PackedModel::from_weights(&SynthSpec::paper(Precision::Binary).weights(5)).unwrap();
        let mut scorer = ModelScorer::from_model(&model, 0).unwrap();
        assert_eq!(
            (scorer.sample_rate(), scorer.window_len()),
            (16_000, 16_000)
        );
        let clip = random_clip(&model.features, 9);
        let mut p = vec![0.0; scorer.labels().len()];
        scorer.score(&clip, &mut p).unwrap();
        let engine = Arc::clone(scorer.engine());
        let want = engine.session().classify(0, &clip).unwrap();
        assert_eq!(p, want.probabilities);
        assert!(ModelScorer::from_model(&model, 99).is_err());
    }
}
