//! TensorBoard-style scalar charts: loss and accuracy, train and validation, one chart each,
//! runs overlaid in their colours, thin paths as line styles, EMA smoothing with the raw curve
//! faint behind. Series are built once per data change and cached, so a long live run costs
//! the same per frame as a short one.

use std::collections::HashMap;
use std::path::PathBuf;

use egui::{Color32, RichText, Ui};
use egui_plot::{Legend, Line, LineStyle, Plot, Points};

use super::runs::RunSeries;
use crate::smoothing::ema_points;

/// Largest number of points drawn per series: a chart is a few hundred pixels wide, and
/// fewer vertices keep frames cheap while training competes for the CPU.
const MAX_POINTS: usize = 600;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Metric {
    Loss,
    Accuracy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SplitKind {
    Train,
    Validation,
}

/// View options (persisted).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ChartOptions {
    /// EMA weight in [0, 0.99].
    pub smoothing: f32,
    /// Which thin paths to draw.
    pub paths: [bool; 4],
}

impl Default for ChartOptions {
    fn default() -> Self {
        Self {
            smoothing: 0.6,
            paths: [true, true, true, false],
        }
    }
}

type Key = (PathBuf, bool, Metric, SplitKind, usize);

struct Cached {
    version: u64,
    smoothing: u32,
    raw: Vec<[f64; 2]>,
    smooth: Vec<[f64; 2]>,
}

/// Cached series of all runs.
#[derive(Default)]
pub(crate) struct Charts {
    cache: HashMap<Key, Cached>,
}

/// The raw points of one series.
pub(crate) fn series(
    run: &RunSeries,
    metric: Metric,
    split: SplitKind,
    path: usize,
) -> Vec<[f64; 2]> {
    let value = |loss: f32, acc: f32| match metric {
        Metric::Loss => loss as f64,
        Metric::Accuracy => 100.0 * acc as f64,
    };
    match split {
        SplitKind::Train if !run.steps.is_empty() => run
            .steps
            .iter()
            .filter_map(|s| s.paths.get(path).map(|&(l, a)| [s.x, value(l, a)]))
            .collect(),
        SplitKind::Train => run
            .epochs
            .iter()
            .filter_map(|e| {
                e.train
                    .get(path)
                    .map(|m| [e.epoch as f64, value(m.loss, m.accuracy)])
            })
            .collect(),
        SplitKind::Validation => run
            .epochs
            .iter()
            .filter_map(|e| {
                e.validation
                    .get(path)
                    .map(|m| [e.epoch as f64, value(m.loss, m.accuracy)])
            })
            .collect(),
    }
}

/// Keep at most `max` points, evenly spaced, always keeping the last.
fn decimate(points: Vec<[f64; 2]>, max: usize) -> Vec<[f64; 2]> {
    if points.len() <= max {
        return points;
    }
    let stride = points.len().div_ceil(max);
    let last = *points.last().expect("non-empty");
    let mut out: Vec<[f64; 2]> = points.into_iter().step_by(stride).collect();
    if out.last() != Some(&last) {
        out.push(last);
    }
    out
}

/// Line style of a thin path.
fn path_style(path: usize) -> LineStyle {
    match path {
        0 => LineStyle::Solid,
        1 => LineStyle::Dashed { length: 9.0 },
        2 => LineStyle::Dotted { spacing: 5.0 },
        _ => LineStyle::Dashed { length: 3.0 },
    }
}

impl Charts {
    fn get(
        &mut self,
        run: &RunSeries,
        version: u64,
        metric: Metric,
        split: SplitKind,
        path: usize,
        smoothing: f32,
    ) -> (&[[f64; 2]], &[[f64; 2]]) {
        let key = (run.dir.clone(), run.live, metric, split, path);
        let s = (smoothing * 1000.0).round() as u32;
        let fresh = self
            .cache
            .get(&key)
            .is_some_and(|c| c.version == version && c.smoothing == s);
        if !fresh {
            let raw = series(run, metric, split, path);
            let smooth = ema_points(&raw, smoothing as f64);
            self.cache.insert(
                key.clone(),
                Cached {
                    version,
                    smoothing: s,
                    raw: decimate(raw, MAX_POINTS),
                    smooth: decimate(smooth, MAX_POINTS),
                },
            );
        }
        let c = &self.cache[&key];
        (&c.raw, &c.smooth)
    }

    /// The four charts.
    pub(crate) fn ui(&mut self, ui: &mut Ui, runs: &[RunSeries], opts: &ChartOptions) {
        let height = ((ui.available_height() - 60.0) / 2.0).clamp(140.0, 420.0);
        let link = egui::Id::unique("train-charts-x");
        let grid = [
            [
                (Metric::Loss, SplitKind::Train, "Loss · train"),
                (Metric::Loss, SplitKind::Validation, "Loss · validation"),
            ],
            [
                (Metric::Accuracy, SplitKind::Train, "Accuracy (%) · train"),
                (
                    Metric::Accuracy,
                    SplitKind::Validation,
                    "Accuracy (%) · validation",
                ),
            ],
        ];
        for row in grid {
            ui.columns(2, |cols| {
                for (col, (metric, split, title)) in cols.iter_mut().zip(row) {
                    col.label(RichText::new(title).strong());
                    let dark = col.visuals().dark_mode;
                    Plot::new(title)
                        .height(height)
                        .legend(Legend::default().position(egui_plot::Corner::RightTop))
                        .link_axis(link, [true, false])
                        .link_cursor(link, [true, false])
                        .x_axis_label("epoch")
                        .include_x(0.0)
                        .include_y(0.0)
                        .allow_scroll(false)
                        .show(col, |plot| {
                            for run in runs {
                                if !run.visible {
                                    continue;
                                }
                                for path in 0..run.path_layers.len().clamp(1, 4) {
                                    if !opts.paths[path] {
                                        continue;
                                    }
                                    let (raw, smooth) = self.get(
                                        run,
                                        run.version,
                                        metric,
                                        split,
                                        path,
                                        opts.smoothing,
                                    );
                                    if raw.is_empty() {
                                        continue;
                                    }
                                    let layers = run.path_layers.get(path).copied().unwrap_or(8);
                                    let name = format!("{} · {layers}L", run.name);
                                    let style = path_style(path);
                                    if opts.smoothing > 0.0 {
                                        let faint =
                                            run.color.gamma_multiply(if dark { 0.3 } else { 0.35 });
                                        plot.line(
                                            Line::new("", raw.to_vec())
                                                .color(faint)
                                                .style(style)
                                                .width(1.0)
                                                .allow_hover(false),
                                        );
                                    }
                                    plot.line(
                                        Line::new(name.clone(), smooth.to_vec())
                                            .color(run.color)
                                            .style(style)
                                            .width(if path == 0 { 2.0 } else { 1.5 }),
                                    );
                                    // Epoch-level series have few points: mark them so a single
                                    // epoch is visible at all.
                                    if split == SplitKind::Validation || run.steps.is_empty() {
                                        plot.points(
                                            Points::new(name, smooth.to_vec())
                                                .color(run.color)
                                                .radius(2.5),
                                        );
                                    }
                                }
                            }
                        });
                }
            });
        }
    }
}

/// A colour swatch.
pub(crate) fn swatch(ui: &mut Ui, color: Color32) {
    let (r, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
    ui.painter().rect_filled(r, 2.0, color);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimation_keeps_the_ends() {
        let pts: Vec<[f64; 2]> = (0..10_001).map(|i| [i as f64, 0.0]).collect();
        let d = decimate(pts, 100);
        assert!(d.len() <= 102);
        assert_eq!(d[0][0], 0.0);
        assert_eq!(d.last().unwrap()[0], 10_000.0);
    }
}
