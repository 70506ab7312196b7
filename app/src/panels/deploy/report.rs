//! The selected bench report: end-to-end numbers, the per-layer latency table and bar chart,
//! and the end-to-end p50 of every thin path of the same model on the same board.

use bifsmn_deploy::{BenchReport, HistoryEntry, Latency, RunnerReport};
use egui::{Color32, RichText, Ui};
use egui_plot::{Bar, BarChart, Plot};

use super::{DeployPanel, EntryKey};

/// Chart colours (readable on both themes).
pub(crate) const BAR: Color32 = Color32::from_rgb(86, 156, 214);
pub(crate) const BAR_ALT: Color32 = Color32::from_rgb(230, 140, 60);

pub(crate) fn short_hash(h: &str) -> &str {
    let h = h.strip_prefix("fnv1a64:").unwrap_or(h);
    &h[..h.len().min(8)]
}

pub(crate) fn file_name(p: &str) -> String {
    std::path::Path::new(p)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.to_string())
}

fn fmt_us(us: f64) -> String {
    if us >= 1000.0 {
        format!("{us:.0}")
    } else if us >= 10.0 {
        format!("{us:.1}")
    } else {
        format!("{us:.2}")
    }
}

impl DeployPanel {
    pub(super) fn report_ui(&mut self, ui: &mut Ui) {
        let Some(entry) = self.selection.as_ref().and_then(|k| self.entry(k)).cloned() else {
            ui.add_space(12.0);
            ui.label(if self.report_count() == 0 {
                "No bench report yet. Tick a board on the left and press Push & bench; every \
                 report is also kept in the bench history."
            } else {
                "Pick a report in History."
            });
            return;
        };
        // Other paths of the same model on the same board: one click away.
        let siblings: Vec<EntryKey> = self
            .latest_per_path(&entry.board, &entry.model_hash)
            .into_iter()
            .map(EntryKey::of)
            .collect();
        ui.horizontal_wrapped(|ui| {
            ui.label(
                RichText::new(format!("{} · path {}", entry.board, entry.path))
                    .heading()
                    .strong(),
            );
            if siblings.len() > 1 {
                ui.separator();
                ui.label("thin path");
                for k in siblings {
                    let on = k.path == entry.path;
                    if ui
                        .selectable_label(on, format!("path {}", k.path))
                        .clicked()
                        && !on
                    {
                        self.selection = Some(k);
                    }
                }
            }
        });
        match &entry.report {
            RunnerReport::Bench(b) => {
                header(ui, &entry, b);
                ui.add_space(6.0);
                layer_table(ui, b);
                ui.add_space(6.0);
                layer_chart(ui, b);
                ui.add_space(8.0);
                let per_path: Vec<HistoryEntry> = self
                    .latest_per_path(&entry.board, &entry.model_hash)
                    .into_iter()
                    .cloned()
                    .collect();
                path_chart(ui, &entry, &per_path);
            }
            RunnerReport::Classify(c) => {
                ui.label(format!(
                    "Classified {} on {} ({}): {} (class {})",
                    c.clip, entry.board, c.isa, c.label, c.index
                ));
            }
        }
    }
}

fn header(ui: &mut Ui, e: &HistoryEntry, b: &BenchReport) {
    let cpu = b
        .board
        .cpu_model
        .clone()
        .or_else(|| e.cpu_model.clone())
        .unwrap_or_else(|| "CPU model unknown".into());
    ui.label(
        RichText::new(format!(
            "{} ({}) · {cpu} · {} · {} thread{} · {} runs after {} warm-up · runner {}",
            e.host,
            b.board.arch,
            b.isa,
            b.threads,
            if b.threads == 1 { "" } else { "s" },
            b.runs,
            b.warmup,
            b.runner_version
        ))
        .weak(),
    );
    ui.label(
        RichText::new(format!(
            "model {} ({}, {:.1} kB, {} classes) · layers {} · {}",
            file_name(&e.model_file),
            e.model_hash,
            b.model.file_bytes as f64 / 1e3,
            b.model.classes,
            b.path
                .layers
                .iter()
                .map(|l| l.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            e.timestamp
        ))
        .weak()
        .small(),
    );
    let l = &b.end_to_end_us;
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("End to end").strong());
        for (name, v) in [
            ("p50", l.p50),
            ("mean", l.mean),
            ("p90", l.p90),
            ("p99", l.p99),
            ("min", l.min),
        ] {
            ui.label(format!("{name} {} µs", fmt_us(v)));
            ui.separator();
        }
        if let Some(s) = b.layer_sum_mean_us {
            ui.label(RichText::new(format!("layer sum {} µs", fmt_us(s))).weak())
                .on_hover_text("Sum of the per-layer means (timing adds a little per layer)");
        }
        if let Some(kib) = b.memory.vm_hwm_kib {
            ui.label(RichText::new(format!("peak memory {:.1} MB", kib as f64 / 1024.0)).weak());
        }
    });
}

fn layer_table(ui: &mut Ui, b: &BenchReport) {
    ui.label(RichText::new("Latency per layer").strong());
    let total: f64 = b
        .layers
        .iter()
        .filter_map(|l| l.us.map(|u| u.mean))
        .sum::<f64>()
        .max(1e-9);
    egui::Grid::new("deploy-layer-table")
        .striped(true)
        .num_columns(9)
        .spacing([12.0, 3.0])
        .show(ui, |ui| {
            for h in [
                "layer", "op", "bits", "MACs", "mean µs", "p50 µs", "p90 µs", "p99 µs", "share",
            ] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for l in &b.layers {
                ui.label(RichText::new(&l.layer).monospace());
                ui.label(l.op.as_deref().unwrap_or("—"));
                ui.label(l.weight_bits.map_or("—".into(), |b| b.to_string()));
                ui.label(l.macs.map_or("—".into(), |m| m.to_string()));
                match l.us {
                    Some(Latency {
                        mean,
                        p50,
                        p90,
                        p99,
                        ..
                    }) => {
                        for v in [mean, p50, p90, p99] {
                            ui.label(fmt_us(v));
                        }
                        ui.label(format!("{:.1} %", 100.0 * mean / total));
                    }
                    None => {
                        for _ in 0..5 {
                            ui.label("—");
                        }
                    }
                }
                ui.end_row();
            }
            let e = &b.end_to_end_us;
            ui.label(RichText::new("end to end").strong());
            ui.label("");
            ui.label("");
            ui.label("");
            for v in [e.mean, e.p50, e.p90, e.p99] {
                ui.label(RichText::new(fmt_us(v)).strong());
            }
            ui.label("");
            ui.end_row();
        });
}

fn layer_chart(ui: &mut Ui, b: &BenchReport) {
    ui.label(RichText::new("p50 µs per layer").strong())
        .on_hover_text("Medians: one slow run (a page fault, a preemption) does not hide the rest");
    let layers: Vec<(String, f64, f64)> = b
        .layers
        .iter()
        .filter_map(|l| l.us.map(|u| (l.layer.clone(), u.p50, u.p90)))
        .collect();
    if layers.is_empty() {
        ui.weak("This report has no per-layer timings.");
        return;
    }
    let n = layers.len();
    // Horizontal bars, first layer on top.
    let bars: Vec<Bar> = layers
        .iter()
        .enumerate()
        .map(|(i, (name, p50, _))| {
            Bar::new((n - 1 - i) as f64, *p50)
                .name(name)
                .width(0.7)
                .fill(BAR)
        })
        .collect();
    let names: Vec<String> = layers.iter().map(|l| l.0.clone()).collect();
    let height = (n as f32 * 18.0 + 50.0).clamp(160.0, 620.0);
    Plot::new("deploy-layer-chart")
        .height(height)
        .allow_scroll(false)
        .allow_zoom(false)
        .allow_drag(false)
        .show_grid([true, false])
        .x_axis_label("µs (p50)")
        .y_grid_spacer(move |_| {
            (0..n)
                .map(|i| egui_plot::GridMark {
                    value: i as f64,
                    step_size: 1.0,
                })
                .collect()
        })
        // Every layer named: the default spacing would skip rows closer than 20 px.
        .custom_y_axes(vec![
            egui_plot::AxisHints::new_y()
                .label_spacing(8.0..=16.0)
                .min_thickness(110.0)
                .formatter(move |m, _| {
                    let v = m.value;
                    if (v - v.round()).abs() > 1e-6 || v < 0.0 || v.round() as usize >= n {
                        return String::new();
                    }
                    names[n - 1 - v.round() as usize].clone()
                }),
        ])
        .include_x(0.0)
        .show(ui, |plot| {
            plot.bar_chart(
                BarChart::new("p50 µs", bars)
                    .horizontal()
                    .element_formatter(Box::new(|bar, _| {
                        format!("{}: p50 {} µs", bar.name, fmt_us(bar.value))
                    })),
            );
        });
}

fn path_chart(ui: &mut Ui, current: &HistoryEntry, per_path: &[HistoryEntry]) {
    ui.label(RichText::new("End-to-end p50 per thin path").strong());
    ui.label(
        RichText::new(format!(
            "Latest bench of {} on {} for each path benched",
            file_name(&current.model_file),
            current.board
        ))
        .weak()
        .small(),
    );
    let points: Vec<(u32, usize, Latency)> = per_path
        .iter()
        .filter_map(|e| match &e.report {
            RunnerReport::Bench(b) => Some((e.path, b.path.layers.len(), b.end_to_end_us)),
            _ => None,
        })
        .collect();
    if points.len() < 2 {
        ui.label(
            RichText::new(
                "Only one thin path benched so far: tick more paths under Push & bench to compare.",
            )
            .weak(),
        );
    }
    let labels: Vec<(u32, usize)> = points.iter().map(|p| (p.0, p.1)).collect();
    let marks: Vec<u32> = points.iter().map(|p| p.0).collect();
    let bars: Vec<Bar> = points
        .iter()
        .map(|(p, layers, l)| {
            Bar::new(*p as f64, l.p50)
                .name(format!("path {p} ({layers} layers)"))
                .width(0.6)
                .fill(if *p == current.path { BAR_ALT } else { BAR })
        })
        .collect();
    Plot::new("deploy-path-chart")
        .height(200.0)
        .allow_scroll(false)
        .allow_zoom(false)
        .allow_drag(false)
        .show_grid([false, true])
        .y_axis_label("p50 µs")
        .include_y(0.0)
        .x_grid_spacer(move |_| {
            marks
                .iter()
                .map(|&p| egui_plot::GridMark {
                    value: p as f64,
                    step_size: 1.0,
                })
                .collect()
        })
        .x_axis_formatter(move |m, _| {
            let v = m.value;
            if (v - v.round()).abs() > 1e-6 {
                return String::new();
            }
            labels
                .iter()
                .find(|(p, _)| *p as f64 == v.round())
                .map(|(p, n)| format!("path {p} ({n} layers)"))
                .unwrap_or_default()
        })
        .show(ui, |plot| {
            plot.bar_chart(
                BarChart::new("p50 µs", bars).element_formatter(Box::new(|bar, _| {
                    format!("{}: p50 {} µs", bar.name, fmt_us(bar.value))
                })),
            );
        });
}
