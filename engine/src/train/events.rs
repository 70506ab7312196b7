//! What a running [`super::Trainer`] reports: plain data (no burn types), so the GUI and the
//! CLI can draw it without touching tensors; and the [`EventSink`] a run sends it through.

use crossbeam_channel::{Sender, TrySendError};
use serde::{Deserialize, Serialize};

/// Loss and accuracy of one thin path.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PathMetrics {
    /// Index of the thin path (0 = all layers).
    pub path: usize,
    /// Number of D-FSMN layers it runs.
    pub layers: usize,
    pub loss: f32,
    pub accuracy: f32,
}

/// One optimizer step (rate-limited).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepMetrics {
    pub epoch: usize,
    /// Step within the epoch (1-based).
    pub step: usize,
    pub steps_per_epoch: usize,
    /// Steps since the start of the run.
    pub global_step: usize,
    /// Running mean over the epoch so far, per trained path.
    pub paths: Vec<PathMetrics>,
    pub lr: f64,
    pub clips_per_sec: f32,
}

/// End-of-epoch summary.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    pub train: Vec<PathMetrics>,
    pub validation: Vec<PathMetrics>,
    pub lr: f64,
    pub seconds: f32,
    pub clips_per_sec: f32,
    /// Where the epoch's training time went (absent in runs saved before it was recorded).
    #[serde(default)]
    pub phases: StepPhases,
}

/// Wall-clock seconds an epoch's training steps spent in each phase: the step's profile
/// (`docs/SCALE.md`). Every phase but `teacher` is time on the training thread, so together
/// they make up the epoch's training time. On the CPU backends every op runs when it is called,
/// so each phase holds its own work; a GPU backend runs work queued earlier whenever a phase
/// reads a result, so there the split is only indicative.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StepPhases {
    /// Waiting for the next batch: the loader and the teacher ahead of the step (zero when
    /// both keep up).
    pub data: f32,
    /// The teacher's forward passes for the distillation targets, on their own thread beside
    /// the step: time that overlaps the other phases (what the step waited for is in `data`).
    pub teacher: f32,
    /// The student's forward pass and every trained path's loss.
    pub forward: f32,
    /// Backpropagation, and reading the internals' gradients when they are on.
    pub backward: f32,
    /// The gradient health check and the optimiser's update.
    pub update: f32,
    /// Everything else: commands, events, the internals' snapshots.
    pub other: f32,
}

impl StepPhases {
    /// The training thread's phases as `(name, seconds)`, in step order (all but `teacher`).
    pub fn on_training_thread(&self) -> [(&'static str, f32); 5] {
        [
            ("data", self.data),
            ("forward", self.forward),
            ("backward", self.backward),
            ("update", self.update),
            ("other", self.other),
        ]
    }

    /// "forward 49 %, backward 45 %, ...": the training thread's phases by their share of
    /// its time, largest first, leaving out those under 1 %; `None` when nothing was timed.
    pub fn shares(&self) -> Option<String> {
        let mut phases = self.on_training_thread();
        let total: f32 = phases.iter().map(|(_, s)| s).sum();
        if total <= 0.0 {
            return None;
        }
        phases.sort_by(|a, b| b.1.total_cmp(&a.1));
        let parts: Vec<String> = phases
            .iter()
            .map(|(name, s)| (name, 100.0 * s / total))
            .filter(|(_, pct)| *pct >= 1.0)
            .map(|(name, pct)| format!("{name} {pct:.0} %"))
            .collect();
        Some(parts.join(", "))
    }

    /// Add another epoch's phases.
    pub fn add(&mut self, other: &StepPhases) {
        self.data += other.data;
        self.teacher += other.teacher;
        self.forward += other.forward;
        self.backward += other.backward;
        self.update += other.update;
        self.other += other.other;
    }
}

/// A 2-D map, row-major `[rows][cols]` (channels x time for the distillation maps).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Map2d {
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f32>,
}

/// Frequency Independent Distillation state of one D-FSMN layer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LayerDistill {
    pub layer: usize,
    /// `R(high(S), high(T))` averaged over the recent steps of path 0.
    pub high_loss: f32,
    /// `R(low(S), low(T))`.
    pub low_loss: f32,
    /// Maps for the run's fixed clip (channels x time), teacher and student, both bands.
    pub teacher_high: Map2d,
    pub teacher_low: Map2d,
    pub student_high: Map2d,
    pub student_low: Map2d,
}

/// All layers' distillation components at one moment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DistillSnapshot {
    pub epoch: usize,
    pub global_step: usize,
    pub layers: Vec<LayerDistill>,
}

/// A histogram with equal-width bins over `[lo, hi]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Histogram {
    pub lo: f32,
    pub hi: f32,
    pub counts: Vec<u32>,
}

impl Histogram {
    /// Bin `values` into `bins` bins over `[lo, hi]`; values outside land in the end bins.
    pub fn new(values: &[f32], lo: f32, hi: f32, bins: usize) -> Self {
        let mut counts = vec![0u32; bins.max(1)];
        let width = (hi - lo) / counts.len() as f32;
        for &v in values {
            if !v.is_finite() {
                continue;
            }
            let i = if width > 0.0 {
                ((v - lo) / width).floor()
            } else {
                0.0
            };
            let i = (i.max(0.0) as usize).min(counts.len() - 1);
            counts[i] += 1;
        }
        Self { lo, hi, counts }
    }

    /// Symmetric range around zero that covers 99 % of `values` by magnitude.
    pub fn symmetric(values: &[f32], bins: usize) -> Self {
        let mut mags: Vec<f32> = values
            .iter()
            .filter(|v| v.is_finite())
            .map(|v| v.abs())
            .collect();
        let hi = if mags.is_empty() {
            1.0
        } else {
            let k = ((mags.len() - 1) as f32 * 0.99) as usize;
            let (_, v, _) = mags.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
            v.max(1e-12)
        };
        Self::new(values, -hi, hi, bins)
    }

    /// Centre of bin `i`.
    pub fn center(&self, i: usize) -> f32 {
        let width = (self.hi - self.lo) / self.counts.len().max(1) as f32;
        self.lo + (i as f32 + 0.5) * width
    }
}

/// One binarizer's learned shapes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BinarizerSnapshot {
    /// e.g. "layer3.expand" or "conv2".
    pub name: String,
    /// Binarizer kind's display name.
    pub kind: String,
    /// LPB alphas (1.0 for baselines).
    pub alpha1: f32,
    pub alpha2: f32,
    /// Sample points of the curves.
    pub u: Vec<f32>,
    /// Forward `Q(u)`.
    pub forward: Vec<f32>,
    /// Backward `dQ/du` as the method defines it (LPB: alpha * 1[|alpha u| <= 1]).
    pub backward: Vec<f32>,
    /// Values entering the binarizer (`x - tau0`).
    pub input_hist: Histogram,
    /// Gradients reaching the binarizer's output.
    pub grad_hist: Histogram,
}

/// All binarizers at one moment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BinarizerReport {
    pub epoch: usize,
    pub global_step: usize,
    pub binarizers: Vec<BinarizerSnapshot>,
}

/// The bits one binarized layer produces for the fixed clip.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LayerBits {
    pub name: String,
    /// Rows (channels or features) and columns (time steps) of the bit maps.
    pub channels: usize,
    pub time: usize,
    /// Plane 1, row-major, `true` = +1.
    pub plane1: Vec<bool>,
    /// Plane 2 when the layer is dual-scale.
    pub plane2: Option<Vec<bool>>,
    /// Teacher's signs of the same layer input (for agreement), when a teacher is known.
    pub teacher_signs: Option<Vec<bool>>,
}

impl LayerBits {
    /// Fraction of +1 in plane 1.
    pub fn fraction_positive(&self) -> f32 {
        if self.plane1.is_empty() {
            return 0.0;
        }
        self.plane1.iter().filter(|&&b| b).count() as f32 / self.plane1.len() as f32
    }

    /// Fraction of positions where plane 1 agrees with the teacher's sign.
    pub fn teacher_agreement(&self) -> Option<f32> {
        let t = self.teacher_signs.as_ref()?;
        if t.len() != self.plane1.len() || t.is_empty() {
            return None;
        }
        let same = t.iter().zip(&self.plane1).filter(|(a, b)| a == b).count();
        Some(same as f32 / t.len() as f32)
    }
}

/// Activation bits of every binarized layer on one path.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BitsSnapshot {
    pub epoch: usize,
    pub path: usize,
    pub layers: Vec<LayerBits>,
}

/// Everything a trainer reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum TrainEvent {
    /// The run is set up; `resumed_from` is the epoch it continues after.
    Started {
        run_dir: String,
        role: String,
        epochs: usize,
        train_clips: usize,
        validation_clips: usize,
        paths: Vec<usize>,
        resumed_from: Option<usize>,
        /// Metrics of the epochs already done (when resuming), so charts can be rebuilt.
        history: Vec<EpochMetrics>,
    },
    Step(StepMetrics),
    Epoch(EpochMetrics),
    Distill(DistillSnapshot),
    Binarizers(BinarizerReport),
    Bits(BitsSnapshot),
    Checkpoint {
        epoch: usize,
        path: String,
        best: bool,
    },
    Paused,
    Resumed,
    Log(String),
    /// The run ended normally (all epochs, or stopped by request after saving).
    Finished {
        epochs_done: usize,
        best_epoch: Option<usize>,
        best_validation: Option<f32>,
        checkpoint: String,
    },
    /// The run was cancelled; the last checkpoint stays valid.
    Cancelled {
        epochs_done: usize,
    },
    Error(String),
}

/// Where a run's events go; dropping events is preferred to blocking training.
#[derive(Clone)]
pub(crate) struct EventSink {
    sender: Sender<TrainEvent>,
}

impl EventSink {
    pub(crate) fn new(sender: Sender<TrainEvent>) -> EventSink {
        EventSink { sender }
    }

    /// Send an event; if the listener is slow and the queue is full, the event is dropped
    /// (step metrics are superseded by the next ones anyway); if nobody listens, nothing happens.
    pub(crate) fn send(&self, event: TrainEvent) {
        match self.sender.try_send(event) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(e)) => {
                // Never drop the events a run's outcome depends on: wait for room.
                if matches!(
                    e,
                    TrainEvent::Epoch(_)
                        | TrainEvent::Finished { .. }
                        | TrainEvent::Cancelled { .. }
                        | TrainEvent::Error(_)
                        | TrainEvent::Checkpoint { .. }
                        | TrainEvent::Started { .. }
                ) {
                    let _ = self.sender.send(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_shares_are_largest_first_and_skip_the_small_ones() {
        let phases = StepPhases {
            data: 0.005,
            teacher: 9.0,
            forward: 3.0,
            backward: 6.0,
            update: 0.995,
            other: 0.0,
        };
        // The teacher runs beside the step and is not part of its time.
        assert_eq!(
            phases.shares().as_deref(),
            Some("backward 60 %, forward 30 %, update 10 %")
        );
        assert_eq!(StepPhases::default().shares(), None);
    }

    #[test]
    fn histogram_bins_and_clamps() {
        let h = Histogram::new(&[-10.0, -0.5, 0.0, 0.4, 0.5, 10.0, f32::NAN], -1.0, 1.0, 4);
        // Bins of width 0.5: [-1,-0.5) gets -10 (clamped); [-0.5,0) -0.5; [0,0.5) 0 and 0.4;
        // [0.5,1] 0.5 and 10 (clamped); NaN is skipped.
        assert_eq!(h.counts, vec![1, 1, 2, 2]);
        assert!((h.center(0) + 0.75).abs() < 1e-6);
    }

    #[test]
    fn bits_statistics() {
        let b = LayerBits {
            name: "x".into(),
            channels: 2,
            time: 2,
            plane1: vec![true, false, true, true],
            plane2: None,
            teacher_signs: Some(vec![true, true, true, false]),
        };
        assert_eq!(b.fraction_positive(), 0.75);
        assert_eq!(b.teacher_agreement(), Some(0.5));
    }
}
