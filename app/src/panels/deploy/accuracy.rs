//! Accuracy against measured latency over the thin paths.
//!
//! Latency is the board's end-to-end p50 (the latest bench of each path of one model on one
//! board). Accuracy is the training run's validation accuracy of each thin path at the epoch
//! the weights are from, read from the run's sidecar (`best.json`, else `checkpoint.json`)
//! next to the model file; a model without one has no accuracy here, and the chart says so
//! instead of plotting anything made up.

use std::path::{Path, PathBuf};

use bifsmn_deploy::{HistoryEntry, RunnerReport};
use bifsmn_engine::train::checkpoint::read_sidecar;
use egui::{Color32, RichText, Ui};
use egui_plot::{Legend, Line, Plot, PlotPoint, Points, Text};

use super::DeployPanel;
use super::report::{BAR, BAR_ALT, file_name};
use crate::task::Task;

/// Per-path accuracy of one model, or why there is none.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum AccuracyState {
    Found(PathAccuracy),
    Missing(String),
}

/// Validation accuracy per thin path from a run's sidecar.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PathAccuracy {
    pub sidecar: PathBuf,
    pub epoch: usize,
    /// (thin path, accuracy as a fraction).
    pub paths: Vec<(usize, f32)>,
    pub labels: Vec<String>,
}

/// Find the run sidecar for `model_file` (a `.bkw` in a run folder, or the run folder itself)
/// and read its per-path validation accuracy. Blocking (reads files): call it on a worker.
pub(crate) fn lookup(model_file: &Path) -> AccuracyState {
    let dir = if model_file.is_dir() {
        model_file.to_path_buf()
    } else {
        model_file.parent().unwrap_or(Path::new(".")).to_path_buf()
    };
    let Some(sidecar) = ["best.json", "checkpoint.json"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
    else {
        return AccuracyState::Missing(format!(
            "no training run found for {}: its folder has no best.json or checkpoint.json",
            model_file.display()
        ));
    };
    let s = match read_sidecar(&sidecar) {
        Ok(s) => s,
        Err(e) => return AccuracyState::Missing(e.to_string()),
    };
    let Some(epoch) = s
        .history
        .iter()
        .find(|m| m.epoch == s.epoch)
        .or_else(|| s.history.last())
    else {
        return AccuracyState::Missing(format!("{} records no validated epoch", sidecar.display()));
    };
    let paths: Vec<(usize, f32)> = epoch
        .validation
        .iter()
        .map(|m| (m.path, m.accuracy))
        .collect();
    if paths.is_empty() {
        return AccuracyState::Missing(format!(
            "{} has no validation accuracy per thin path",
            sidecar.display()
        ));
    }
    AccuracyState::Found(PathAccuracy {
        sidecar,
        epoch: epoch.epoch,
        paths,
        labels: s.labels,
    })
}

impl DeployPanel {
    /// The accuracy of a model file: cached, or looked up on a worker.
    fn accuracy_of(&mut self, ctx: &egui::Context, model_file: &str) -> Option<AccuracyState> {
        if let Some(a) = self.accuracy.get(model_file) {
            return Some(a.clone());
        }
        if self.accuracy_task.is_none() {
            let key = model_file.to_string();
            self.accuracy_task = Some(Task::spawn("read run accuracy", ctx, move |_| {
                let state = lookup(Path::new(&key));
                (key, state)
            }));
        }
        None
    }

    pub(super) fn accuracy_ui(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        let Some(entry) = self.selection.as_ref().and_then(|k| self.entry(k)).cloned() else {
            ui.add_space(12.0);
            ui.label(
                "No bench report selected. Bench a model on a board (Push & bench), or pick a \
                 report in History: this chart puts each thin path's accuracy against its \
                 measured latency.",
            );
            return;
        };
        let per_path: Vec<HistoryEntry> = self
            .latest_per_path(&entry.board, &entry.model_hash)
            .into_iter()
            .cloned()
            .collect();
        ui.label(
            RichText::new(format!(
                "Accuracy vs measured latency · {} on {}",
                file_name(&entry.model_file),
                entry.board
            ))
            .heading()
            .strong(),
        );
        let accuracy = self.accuracy_of(&ctx, &entry.model_file);
        match &accuracy {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Looking for the model's training run…");
                });
            }
            Some(AccuracyState::Missing(why)) => {
                chart_message(
                    ui,
                    &format!("No accuracy available for this model: {why}."),
                    "Accuracy per thin path comes from the training run the model was exported \
                     from. Export the .bkw into its run folder (Push & bench > Export, or \
                     `bifsmn export --model RUN -o RUN/model.bkw`) and bench that file to see \
                     accuracy against latency here.",
                );
            }
            Some(AccuracyState::Found(acc)) => {
                ui.label(
                    RichText::new(format!(
                        "Accuracy: validation split at epoch {} ({}). Latency: end-to-end p50 \
                         measured on {}, latest bench per path.",
                        acc.epoch,
                        acc.sidecar.display(),
                        entry.board
                    ))
                    .weak()
                    .small(),
                );
                // The same model on the other boards it was benched on, for comparison.
                let mut others: Vec<(String, Vec<HistoryEntry>)> = vec![];
                let mut boards: Vec<String> = self
                    .all_entries()
                    .filter(|e| e.model_hash == entry.model_hash && e.board != entry.board)
                    .map(|e| e.board.clone())
                    .collect();
                boards.sort();
                boards.dedup();
                for b in boards {
                    let latest = self
                        .latest_per_path(&b, &entry.model_hash)
                        .into_iter()
                        .cloned()
                        .collect();
                    others.push((b, latest));
                }
                accuracy_chart(ui, &entry.board, &per_path, &others, acc, entry.path);
            }
        }
    }
}

/// A framed, chart-sized message in place of a chart.
fn chart_message(ui: &mut Ui, message: &str, hint: &str) {
    egui::Frame::group(ui.style())
        .inner_margin(16.0)
        .show(ui, |ui| {
            ui.set_min_size(egui::vec2(ui.available_width(), 220.0));
            ui.vertical_centered(|ui| {
                ui.add_space(60.0);
                ui.label(RichText::new(message).strong());
                ui.add_space(6.0);
                ui.add(egui::Label::new(RichText::new(hint).weak()).wrap());
            });
        });
}

/// (measured p50, accuracy %) of the paths with a recorded accuracy, by latency.
fn series(entries: &[HistoryEntry], acc: &PathAccuracy) -> Vec<[f64; 2]> {
    let mut pts: Vec<[f64; 2]> = entries
        .iter()
        .filter_map(|e| {
            let a = acc.paths.iter().find(|(p, _)| *p == e.path as usize)?.1;
            Some([e.p50_us?, 100.0 * a as f64])
        })
        .collect();
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]));
    pts
}

/// Colours of the other boards' series.
const OTHERS: [Color32; 4] = [
    Color32::from_rgb(120, 190, 120),
    Color32::from_rgb(200, 120, 200),
    Color32::from_rgb(200, 190, 90),
    Color32::from_rgb(150, 150, 150),
];

fn accuracy_chart(
    ui: &mut Ui,
    board: &str,
    per_path: &[HistoryEntry],
    others: &[(String, Vec<HistoryEntry>)],
    acc: &PathAccuracy,
    current: u32,
) {
    // (path, layers, p50, accuracy %)
    let mut rows: Vec<(u32, usize, f64, Option<f64>)> = per_path
        .iter()
        .filter_map(|e| match &e.report {
            RunnerReport::Bench(b) => Some((
                e.path,
                b.path.layers.len(),
                b.end_to_end_us.p50,
                acc.paths
                    .iter()
                    .find(|(p, _)| *p == e.path as usize)
                    .map(|(_, a)| 100.0 * *a as f64),
            )),
            _ => None,
        })
        .collect();
    rows.sort_by(|a, b| a.2.total_cmp(&b.2));
    let plotted: Vec<&(u32, usize, f64, Option<f64>)> =
        rows.iter().filter(|r| r.3.is_some()).collect();
    if plotted.is_empty() {
        chart_message(
            ui,
            "The benched thin paths have no accuracy in the run's record.",
            "The run recorded accuracy only for the paths it trained; bench one of those.",
        );
        return;
    }
    let pts: Vec<[f64; 2]> = plotted.iter().map(|r| [r.2, r.3.unwrap_or(0.0)]).collect();
    let labels: Vec<(PlotPoint, String, bool)> = plotted
        .iter()
        .map(|r| {
            (
                PlotPoint::new(r.2, r.3.unwrap_or(0.0)),
                format!("  path {} ({} layers)", r.0, r.1),
                r.0 == current,
            )
        })
        .collect();
    let (min_acc, max_acc) = pts.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p[1]), hi.max(p[1]))
    });
    let other_series: Vec<(String, Vec<[f64; 2]>)> = others
        .iter()
        .map(|(b, es)| (b.clone(), series(es, acc)))
        .filter(|(_, s)| !s.is_empty())
        .collect();
    let max_us = pts
        .iter()
        .chain(other_series.iter().flat_map(|(_, s)| s.iter()))
        .map(|p| p[0])
        .fold(0.0, f64::max);
    Plot::new("deploy-accuracy-chart")
        .height(300.0)
        .allow_scroll(false)
        .x_axis_label("measured end-to-end p50 (µs)")
        .y_axis_label("validation accuracy (%)")
        .include_x(0.0)
        .include_x(max_us * 1.25)
        .include_y((min_acc - 5.0).max(0.0))
        .include_y((max_acc + 5.0).min(100.0))
        .legend(Legend::default().position(egui_plot::Corner::RightTop))
        .show(ui, |plot| {
            for (i, (b, s)) in other_series.into_iter().enumerate() {
                let c = OTHERS[i % OTHERS.len()];
                if s.len() > 1 {
                    plot.line(Line::new(b.clone(), s.clone()).color(c).width(1.0));
                }
                plot.points(Points::new(b, s).radius(4.0).filled(false).color(c));
            }
            let name = board.to_string();
            if pts.len() > 1 {
                let mut line = pts.clone();
                line.sort_by(|a, b| a[0].total_cmp(&b[0]));
                plot.line(Line::new(name.clone(), line).color(BAR).width(1.5));
            }
            plot.points(
                Points::new(name, pts.clone())
                    .radius(5.0)
                    .filled(true)
                    .color(BAR),
            );
            for (at, text, on) in labels {
                let t = RichText::new(text).strong();
                let t = if on { t.color(BAR_ALT) } else { t };
                plot.text(Text::new("", at, t).anchor(egui::Align2::LEFT_CENTER));
            }
        });
    let base = rows.iter().find(|r| r.0 == 0).map(|r| r.2);
    egui::Grid::new("deploy-accuracy-table")
        .striped(true)
        .num_columns(5)
        .spacing([16.0, 3.0])
        .show(ui, |ui| {
            for h in [
                "thin path",
                "layers",
                "p50 µs",
                "accuracy",
                "speed-up vs path 0",
            ] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for r in &rows {
                ui.label(format!("path {}", r.0));
                ui.label(r.1.to_string());
                ui.label(format!("{:.1}", r.2));
                ui.label(r.3.map_or("not recorded".into(), |a| format!("{a:.1} %")));
                ui.label(base.map_or("—".into(), |b| format!("{:.2}×", b / r.2)));
                ui.end_row();
            }
        });
}
