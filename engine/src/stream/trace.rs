//! A bounded history of per-window scores, for plotting score traces.

use std::collections::VecDeque;

use serde::Serialize;

/// The scores of one window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TracePoint {
    /// End of the window, in samples from the stream start.
    pub sample: u64,
    /// The scorer's posteriors for this window.
    pub raw: Vec<f32>,
    /// The moving average the decision used.
    pub smoothed: Vec<f32>,
}

/// The last `capacity` windows' scores, oldest first. Recording reuses the oldest point's
/// buffers once full, so a long-running detector does not allocate per window.
#[derive(Clone, Debug)]
pub struct ScoreTrace {
    capacity: usize,
    points: VecDeque<TracePoint>,
}

impl ScoreTrace {
    pub fn new(capacity: usize) -> ScoreTrace {
        ScoreTrace {
            capacity,
            points: VecDeque::with_capacity(capacity),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub fn clear(&mut self) {
        self.points.clear();
    }

    /// Append one window's scores, dropping the oldest when full.
    pub fn record(&mut self, sample: u64, raw: &[f32], smoothed: &[f32]) {
        if self.capacity == 0 {
            return;
        }
        let mut point = if self.points.len() == self.capacity {
            self.points.pop_front().expect("full, so not empty")
        } else {
            TracePoint {
                sample: 0,
                raw: Vec::with_capacity(raw.len()),
                smoothed: Vec::with_capacity(smoothed.len()),
            }
        };
        point.sample = sample;
        point.raw.clear();
        point.raw.extend_from_slice(raw);
        point.smoothed.clear();
        point.smoothed.extend_from_slice(smoothed);
        self.points.push_back(point);
    }

    /// All stored points, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &TracePoint> + '_ {
        self.points.iter()
    }

    /// The newest point.
    pub fn last(&self) -> Option<&TracePoint> {
        self.points.back()
    }

    /// `(window end, smoothed score)` of one class, oldest first: one line of a plot.
    pub fn class_series(&self, class: usize) -> impl Iterator<Item = (u64, f32)> + '_ {
        self.points
            .iter()
            .map(move |p| (p.sample, p.smoothed.get(class).copied().unwrap_or(0.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_points() {
        let mut t = ScoreTrace::new(2);
        t.record(1, &[0.1, 0.9], &[0.2, 0.8]);
        t.record(2, &[0.3, 0.7], &[0.4, 0.6]);
        t.record(3, &[0.5, 0.5], &[0.6, 0.4]);
        assert_eq!(t.len(), 2);
        assert_eq!(
            t.class_series(1).collect::<Vec<_>>(),
            vec![(2, 0.6), (3, 0.4)]
        );
        assert_eq!(t.last().unwrap().raw, vec![0.5, 0.5]);
        let mut none = ScoreTrace::new(0);
        none.record(1, &[1.0], &[1.0]);
        assert!(none.is_empty());
    }
}
