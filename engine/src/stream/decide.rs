//! From per-window posteriors to keyword events: smoothing, threshold, refractory, re-arming.

use serde::{Deserialize, Serialize};

/// Decision settings (all in samples, at the stream's rate).
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionConfig {
    /// Fire when a keyword's smoothed posterior reaches this (0..=1).
    pub threshold: f32,
    /// Moving-average length in windows (1 = no smoothing).
    pub smoothing: usize,
    /// No event within this many samples after the previous one (any class).
    pub refractory: u64,
    /// Which classes may fire (`false` for unknown, silence).
    pub keywords: Vec<bool>,
    /// Class names, copied into events.
    pub labels: Vec<String>,
    /// Sample rate, for the events' `time_s`.
    pub sample_rate: u32,
}

/// A detected keyword.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeywordEvent {
    pub class: usize,
    pub label: String,
    /// Smoothed posterior when the event fired.
    pub score: f32,
    /// Decision point: the end of the window whose score crossed the threshold, in samples
    /// from the stream start. The event is known at this sample (plus compute time).
    pub sample: u64,
    /// Estimated end of the keyword: the end of the earliest window in the smoothing span
    /// whose own posterior reached the threshold. `sample - keyword_end` is the smoothing
    /// delay; for a scorer that recognises a word once it is wholly inside the window this is
    /// within one hop after the word's true end.
    pub keyword_end: u64,
    /// `sample` in seconds.
    pub time_s: f64,
}

/// Turns the posteriors of consecutive windows into events. Deterministic: the same
/// sequence of `(end, posteriors)` always gives the same events.
#[derive(Clone, Debug)]
pub struct Decider {
    cfg: DecisionConfig,
    classes: usize,
    /// The last `smoothing` posteriors (ring, `smoothing * classes`) and their window ends.
    ring: Vec<f32>,
    ends: Vec<u64>,
    head: usize,
    filled: usize,
    smoothed: Vec<f32>,
    /// A class fires again only after its smoothed score fell below the threshold.
    armed: Vec<bool>,
    last_event: Option<u64>,
}

impl Decider {
    pub fn new(cfg: DecisionConfig) -> Result<Decider, String> {
        let classes = cfg.labels.len();
        if classes == 0 || cfg.keywords.len() != classes {
            return Err(format!(
                "{} labels and {} keyword flags",
                classes,
                cfg.keywords.len()
            ));
        }
        if !cfg.keywords.iter().any(|k| *k) {
            return Err("no class is a keyword".into());
        }
        if cfg.smoothing == 0 {
            return Err("smoothing must be at least 1 window".into());
        }
        if !(0.0..=1.0).contains(&cfg.threshold) {
            return Err(format!("threshold {} is not in 0..=1", cfg.threshold));
        }
        Ok(Decider {
            ring: vec![0.0; cfg.smoothing * classes],
            ends: vec![0; cfg.smoothing],
            head: 0,
            filled: 0,
            smoothed: vec![0.0; classes],
            armed: vec![true; classes],
            last_event: None,
            classes,
            cfg,
        })
    }

    pub fn config(&self) -> &DecisionConfig {
        &self.cfg
    }

    /// Change the threshold (e.g. a GUI slider); takes effect at the next window.
    pub fn set_threshold(&mut self, threshold: f32) {
        self.cfg.threshold = threshold.clamp(0.0, 1.0);
    }

    /// The smoothed posteriors after the last step.
    pub fn smoothed(&self) -> &[f32] {
        &self.smoothed
    }

    /// Forget all history.
    pub fn reset(&mut self) {
        self.head = 0;
        self.filled = 0;
        self.smoothed.fill(0.0);
        self.armed.fill(true);
        self.last_event = None;
    }

    /// Add the posteriors of the window ending at `end`; returns the event it triggers.
    pub fn step(&mut self, end: u64, posteriors: &[f32]) -> Option<KeywordEvent> {
        let c = self.classes;
        let n = self.cfg.smoothing;
        self.ring[self.head * c..(self.head + 1) * c].copy_from_slice(&posteriors[..c]);
        self.ends[self.head] = end;
        self.head = (self.head + 1) % n;
        self.filled = (self.filled + 1).min(n);

        // Plain mean over the stored windows (recomputed, not a running sum, so the result
        // is exactly reproducible whatever happened before).
        self.smoothed.fill(0.0);
        for i in 0..self.filled {
            let slot = self.slot(i);
            for (s, p) in self
                .smoothed
                .iter_mut()
                .zip(&self.ring[slot * c..(slot + 1) * c])
            {
                *s += p;
            }
        }
        let k = self.filled as f32;
        self.smoothed.iter_mut().for_each(|s| *s /= k);

        let t = self.cfg.threshold;
        for (armed, s) in self.armed.iter_mut().zip(&self.smoothed) {
            if *s < t {
                *armed = true;
            }
        }
        let best = (0..c).filter(|&i| self.cfg.keywords[i]).max_by(|&a, &b| {
            self.smoothed[a]
                .total_cmp(&self.smoothed[b])
                .then(b.cmp(&a))
        })?;
        let score = self.smoothed[best];
        let quiet = self
            .last_event
            .is_none_or(|last| end.saturating_sub(last) >= self.cfg.refractory);
        if score < t || !self.armed[best] || !quiet {
            return None;
        }
        self.armed[best] = false;
        self.last_event = Some(end);
        // The mean reached t, so at least one stored window has a posterior >= t.
        let keyword_end = (0..self.filled)
            .map(|i| self.slot(i))
            .find(|&slot| self.ring[slot * c + best] >= t)
            .map_or(end, |slot| self.ends[slot]);
        Some(KeywordEvent {
            class: best,
            label: self.cfg.labels[best].clone(),
            score,
            sample: end,
            keyword_end,
            time_s: end as f64 / self.cfg.sample_rate as f64,
        })
    }

    /// Ring slot of the `i`-th stored window, oldest first.
    fn slot(&self, i: usize) -> usize {
        let n = self.cfg.smoothing;
        (self.head + n - self.filled + i) % n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decider(threshold: f32, smoothing: usize, refractory: u64) -> Decider {
        Decider::new(DecisionConfig {
            threshold,
            smoothing,
            refractory,
            keywords: vec![false, true, true],
            labels: vec!["unknown".into(), "yes".into(), "no".into()],
            sample_rate: 10,
        })
        .unwrap()
    }

    /// Feed (end, [p_unknown, p_yes, p_no]) and collect (end, class, keyword_end).
    fn run(d: &mut Decider, steps: &[(u64, [f32; 3])]) -> Vec<(u64, usize, u64)> {
        steps
            .iter()
            .filter_map(|(e, p)| d.step(*e, p))
            .map(|ev| (ev.sample, ev.class, ev.keyword_end))
            .collect()
    }

    #[test]
    fn smoothing_delays_the_crossing_and_keyword_end_points_back() {
        // Dyadic values keep the means exact.
        let mut d = decider(0.5, 3, 0);
        let got = run(
            &mut d,
            &[
                (10, [1.0, 0.0, 0.0]),
                (20, [0.25, 0.75, 0.0]),
                (30, [0.25, 0.75, 0.0]),
                (40, [0.25, 0.75, 0.0]),
            ],
        );
        // Means of "yes": 0, 0.375, 0.5 -> fires at 30; the first window >= 0.5 ended at 20.
        assert_eq!(got, vec![(30, 1, 20)]);
        let ev = decider(0.5, 1, 0).step(7, &[0.0, 0.0, 0.5]).unwrap();
        assert_eq!((ev.label.as_str(), ev.time_s, ev.score), ("no", 0.7, 0.5));
    }

    #[test]
    fn non_keywords_never_fire() {
        let mut d = decider(0.5, 1, 0);
        assert!(run(&mut d, &[(1, [1.0, 0.0, 0.0]), (2, [0.9, 0.1, 0.0])]).is_empty());
    }

    #[test]
    fn a_class_re_arms_only_after_falling_below_the_threshold() {
        let mut d = decider(0.5, 1, 0);
        let high = [0.0, 1.0, 0.0];
        let low = [1.0, 0.0, 0.0];
        let got = run(
            &mut d,
            &[(1, high), (2, high), (3, high), (4, low), (5, high)],
        );
        assert_eq!(got, vec![(1, 1, 1), (5, 1, 5)]);
    }

    #[test]
    fn refractory_time_blocks_every_class() {
        let mut d = decider(0.5, 1, 10);
        let yes = [0.0, 1.0, 0.0];
        let no = [0.0, 0.0, 1.0];
        let low = [1.0, 0.0, 0.0];
        let got = run(
            &mut d,
            &[(0, yes), (5, no), (9, low), (10, no), (12, low), (13, yes)],
        );
        // "no" at 5 is inside the refractory time; at 10 it is exactly over.
        assert_eq!(got, vec![(0, 1, 0), (10, 2, 10)]);
        // 13 is 3 after the last event: blocked.
    }

    #[test]
    fn ties_go_to_the_lower_class_and_reset_forgets() {
        let mut d = decider(0.5, 2, 0);
        let got = run(&mut d, &[(1, [0.0, 0.5, 0.5])]);
        assert_eq!(got, vec![(1, 1, 1)]);
        d.reset();
        assert!(d.smoothed().iter().all(|s| *s == 0.0));
        assert_eq!(run(&mut d, &[(2, [0.0, 0.5, 0.5])]), vec![(2, 1, 2)]);
    }

    #[test]
    fn bad_settings_are_refused() {
        let base = decider(0.5, 1, 0).config().clone();
        for cfg in [
            DecisionConfig {
                smoothing: 0,
                ..base.clone()
            },
            DecisionConfig {
                threshold: 1.5,
                ..base.clone()
            },
            DecisionConfig {
                keywords: vec![false; 3],
                ..base.clone()
            },
            DecisionConfig {
                keywords: vec![true],
                ..base.clone()
            },
        ] {
            assert!(Decider::new(cfg).is_err());
        }
    }
}
