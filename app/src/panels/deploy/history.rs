//! The bench history (`bench-history.jsonl`): every report, newest first, filtered by board
//! and model; selecting one shows it in the Report view.

use std::collections::BTreeMap;

use bifsmn_deploy::{HistoryEntry, RunnerReport};
use egui::{RichText, Ui};
use egui_plot::{Legend, Line, Plot, Points};

use super::report::{file_name, short_hash};
use super::{DeployPanel, EntryKey};

impl DeployPanel {
    pub(super) fn history_ui(&mut self, ui: &mut Ui) {
        ui.label(
            RichText::new(format!(
                "{} · {} report{}{}",
                self.files.history.display(),
                self.report_count(),
                if self.report_count() == 1 { "" } else { "s" },
                if self.history_skipped > 0 {
                    format!(
                        " · {} unreadable line{} skipped",
                        self.history_skipped,
                        if self.history_skipped == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                }
            ))
            .weak()
            .small(),
        );
        if self.report_count() == 0 {
            ui.add_space(8.0);
            ui.label("No reports yet: every Push & bench adds one line per thin path here.");
            return;
        }
        let mut boards: Vec<String> = self.all_entries().map(|e| e.board.clone()).collect();
        boards.sort();
        boards.dedup();
        let mut models: BTreeMap<String, String> = BTreeMap::new();
        for e in self.all_entries() {
            models
                .entry(e.model_hash.clone())
                .or_insert_with(|| file_name(&e.model_file));
        }
        ui.horizontal(|ui| {
            ui.label("Board");
            egui::ComboBox::from_id_salt("deploy-history-board")
                .selected_text(self.history_board_filter.as_deref().unwrap_or("all"))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.history_board_filter, None, "all");
                    for b in &boards {
                        ui.selectable_value(&mut self.history_board_filter, Some(b.clone()), b);
                    }
                })
                .response
                .accessible_name("history board");
            ui.label("Model");
            let model_text = |h: &str| {
                format!(
                    "{} ({})",
                    models.get(h).cloned().unwrap_or_default(),
                    short_hash(h)
                )
            };
            egui::ComboBox::from_id_salt("deploy-history-model")
                .selected_text(
                    self.history_model_filter
                        .as_deref()
                        .map_or("all".to_string(), model_text),
                )
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.history_model_filter, None, "all");
                    for h in models.keys() {
                        ui.selectable_value(
                            &mut self.history_model_filter,
                            Some(h.clone()),
                            model_text(h),
                        );
                    }
                })
                .response
                .accessible_name("history model");
        });
        let shown: Vec<HistoryEntry> = {
            let mut v: Vec<HistoryEntry> = self
                .all_entries()
                .filter(|e| {
                    self.history_board_filter
                        .as_ref()
                        .is_none_or(|b| *b == e.board)
                        && self
                            .history_model_filter
                            .as_ref()
                            .is_none_or(|h| *h == e.model_hash)
                })
                .cloned()
                .collect();
            v.sort_by_key(|e| std::cmp::Reverse(e.unix_ms));
            v
        };
        timeline(ui, &shown);
        ui.add_space(6.0);
        let mut pick = None;
        egui::Grid::new("deploy-history-table")
            .striped(true)
            .num_columns(7)
            .spacing([14.0, 3.0])
            .show(ui, |ui| {
                for h in [
                    "when (UTC)",
                    "board",
                    "CPU",
                    "model",
                    "path",
                    "kind",
                    "p50 µs",
                ] {
                    ui.label(RichText::new(h).strong());
                }
                ui.end_row();
                for e in shown.iter().take(500) {
                    let key = EntryKey::of(e);
                    let on = self.selection.as_ref() == Some(&key);
                    if ui
                        .selectable_label(on, e.timestamp.replace('T', " ").replace('Z', ""))
                        .on_hover_text("Show this report")
                        .clicked()
                    {
                        pick = Some(key);
                    }
                    ui.label(&e.board);
                    // What the runner itself saw (an emulated board reports its guest CPU).
                    let (arch, isa) = match &e.report {
                        RunnerReport::Bench(b) => (b.board.arch.clone(), b.isa.clone()),
                        RunnerReport::Classify(c) => (e.arch.clone(), c.isa.clone()),
                    };
                    ui.label(RichText::new(format!("{arch} · {isa}")).small())
                        .on_hover_text(e.cpu_model.as_deref().unwrap_or("CPU model unknown"));
                    ui.label(format!(
                        "{} ({})",
                        file_name(&e.model_file),
                        short_hash(&e.model_hash)
                    ))
                    .on_hover_text(format!("{}\n{}", e.model_file, e.model_hash));
                    ui.label(e.path.to_string());
                    ui.label(&e.kind);
                    ui.label(e.p50_us.map_or("—".into(), |p| format!("{p:.1}")));
                    ui.end_row();
                }
            });
        if shown.len() > 500 {
            ui.weak(format!("… and {} older reports", shown.len() - 500));
        }
        if let Some(k) = pick {
            self.select_report(k);
        }
    }
}

/// p50 over time, one series per board and thin path.
fn timeline(ui: &mut Ui, shown: &[HistoryEntry]) {
    let mut series: BTreeMap<(String, u32), Vec<[f64; 2]>> = BTreeMap::new();
    let t0 = shown.iter().map(|e| e.unix_ms).min().unwrap_or(0);
    for e in shown {
        if let Some(p) = e.p50_us {
            series
                .entry((e.board.clone(), e.path))
                .or_default()
                .push([(e.unix_ms - t0) as f64 / 3.6e6, p]);
        }
    }
    // Over a few minutes a time axis says nothing; the table does.
    let span_ms = shown.iter().map(|e| e.unix_ms).max().unwrap_or(0) - t0;
    if series.is_empty() || span_ms < 30 * 60_000 {
        return;
    }
    ui.label(RichText::new("End-to-end p50 over time").strong());
    Plot::new("deploy-history-timeline")
        .height(170.0)
        .allow_scroll(false)
        .x_axis_label("hours since the first report shown")
        .y_axis_label("p50 µs")
        .y_axis_min_width(48.0)
        .include_y(0.0)
        .legend(Legend::default().position(egui_plot::Corner::RightTop))
        .show(ui, |plot| {
            for ((board, path), mut pts) in series {
                pts.sort_by(|a, b| a[0].total_cmp(&b[0]));
                let name = format!("{board} · path {path}");
                if pts.len() > 1 {
                    plot.line(Line::new(name.clone(), pts.clone()).width(1.5));
                }
                plot.points(Points::new(name, pts).radius(3.0));
            }
        });
}
