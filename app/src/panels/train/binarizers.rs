//! Binarizer view: for one binarizer, the forward curve and the learned backward curve (LPB:
//! a gradient window of height alpha for |alpha u| <= 1) drawn over the clipped-STE and
//! approx-sign reference shapes, with the histograms of the values reaching it and of the
//! gradients coming back; and every alpha over training.

use std::collections::BTreeMap;

use bifsmn_engine::train::{BinarizerReport, BinarizerSnapshot, Histogram};
use egui::{Color32, RichText, Ui};
use egui_plot::{Bar, BarChart, Legend, Line, LineStyle, Plot};

/// The view's state.
#[derive(Default)]
pub(super) struct BinarizerView {
    latest: Option<BinarizerReport>,
    /// Per binarizer name: (global step, alpha1, alpha2).
    alphas: BTreeMap<String, Vec<(usize, f32, f32)>>,
    pub selected: String,
    reports: usize,
}

/// The clipped straight-through estimator's gradient: 1 on |u| <= 1.
fn ste(u: f32) -> f32 {
    if u.abs() <= 1.0 { 1.0 } else { 0.0 }
}

/// Bi-Real's ApproxSign gradient: 2 - 2|u| on |u| <= 1.
fn approx_sign(u: f32) -> f32 {
    (2.0 - 2.0 * u.abs()).max(0.0)
}

fn bars(h: &Histogram, color: Color32) -> Vec<Bar> {
    let width = (h.hi - h.lo) as f64 / h.counts.len().max(1) as f64;
    let max = h.counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    h.counts
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            Bar::new(h.center(i) as f64, c as f64 / max)
                .width(width)
                .fill(color)
                .stroke(egui::Stroke::NONE)
        })
        .collect()
}

impl BinarizerView {
    pub(super) fn clear(&mut self) {
        let selected = std::mem::take(&mut self.selected);
        *self = Self {
            selected,
            ..Self::default()
        };
    }

    pub(super) fn push(&mut self, r: BinarizerReport) {
        for b in &r.binarizers {
            self.alphas.entry(b.name.clone()).or_default().push((
                r.global_step,
                b.alpha1,
                b.alpha2,
            ));
        }
        self.reports += 1;
        self.latest = Some(r);
    }

    pub(super) fn ui(&mut self, ui: &mut Ui) {
        let Some(report) = &self.latest else {
            ui.label(
                "Binarizer shapes arrive every few seconds while a binary student trains. Start a \
                 student run to see them.",
            );
            return;
        };
        if !report.binarizers.iter().any(|b| b.name == self.selected) {
            self.selected = report
                .binarizers
                .first()
                .map(|b| b.name.clone())
                .unwrap_or_default();
        }
        let Some(b) = report
            .binarizers
            .iter()
            .find(|b| b.name == self.selected)
            .cloned()
        else {
            ui.label("This run has no binarizers (a full-precision teacher).");
            return;
        };
        let names: Vec<String> = report.binarizers.iter().map(|b| b.name.clone()).collect();
        let (epoch, step) = (report.epoch, report.global_step);
        ui.horizontal(|ui| {
            ui.label("Binarizer");
            egui::ComboBox::from_id_salt("binarizer-pick")
                .selected_text(&self.selected)
                .height(400.0)
                .show_ui(ui, |ui| {
                    for n in &names {
                        ui.selectable_value(&mut self.selected, n.clone(), n);
                    }
                })
                .response
                .accessible_name("binarizer");
            ui.label(format!(
                "{} · alpha₁ {:.3} · alpha₂ {:.3} · epoch {epoch}, step {step}",
                b.kind, b.alpha1, b.alpha2
            ));
        });
        let w = (ui.available_width() / 2.0 - 8.0).max(240.0);
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width(w);
                self.shape_plot(ui, &b);
                self.alpha_plot(ui);
            });
            ui.vertical(|ui| {
                ui.set_width(w);
                ui.label(RichText::new("Values reaching the binarizer (x − τ₀)").strong());
                let accent = ui.visuals().hyperlink_color;
                Plot::new("binarizer-input-hist")
                    .height(170.0)
                    .x_axis_label("u")
                    .allow_scroll(false)
                    .show(ui, |plot| {
                        plot.bar_chart(BarChart::new(
                            "inputs",
                            bars(&b.input_hist, accent.gamma_multiply(0.8)),
                        ));
                        // The gradient window: inputs inside it get a gradient, the rest none.
                        let a = b.alpha1.abs().max(1e-6) as f64;
                        if b.kind.starts_with("LPB") {
                            plot.vline(
                                egui_plot::VLine::new("window", -1.0 / a)
                                    .color(Color32::from_rgb(230, 120, 60)),
                            );
                            plot.vline(
                                egui_plot::VLine::new("window", 1.0 / a)
                                    .color(Color32::from_rgb(230, 120, 60)),
                            );
                        }
                    });
                ui.label(RichText::new("Gradients reaching its output").strong());
                Plot::new("binarizer-grad-hist")
                    .height(170.0)
                    .x_axis_label("∂L/∂Q")
                    .allow_scroll(false)
                    .show(ui, |plot| {
                        plot.bar_chart(BarChart::new(
                            "gradients",
                            bars(&b.grad_hist, Color32::from_rgb(176, 122, 161)),
                        ));
                    });
            });
        });
    }

    fn shape_plot(&self, ui: &mut Ui, b: &BinarizerSnapshot) {
        ui.label(RichText::new("Forward Q(u) and backward ∂Q/∂u").strong());
        let grey = ui.visuals().weak_text_color();
        let accent = Color32::from_rgb(230, 120, 60);
        let fwd = ui.visuals().hyperlink_color;
        let pts = |ys: &[f32]| -> Vec<[f64; 2]> {
            b.u.iter()
                .zip(ys)
                .map(|(&u, &y)| [u as f64, y as f64])
                .collect()
        };
        let ref_pts = |f: fn(f32) -> f32| -> Vec<[f64; 2]> {
            b.u.iter().map(|&u| [u as f64, f(u) as f64]).collect()
        };
        Plot::new("binarizer-shape")
            .height(230.0)
            .legend(Legend::default().position(egui_plot::Corner::RightBottom))
            .x_axis_label("u")
            .allow_scroll(false)
            .include_y(-1.2)
            .include_y(2.2)
            .show(ui, |plot| {
                plot.line(
                    Line::new("clipped STE (reference)", ref_pts(ste))
                        .color(grey)
                        .style(LineStyle::Dashed { length: 6.0 }),
                );
                plot.line(
                    Line::new("ApproxSign (reference)", ref_pts(approx_sign))
                        .color(grey)
                        .style(LineStyle::Dotted { spacing: 4.0 }),
                );
                plot.line(
                    Line::new("forward Q(u)", pts(&b.forward))
                        .color(fwd)
                        .width(1.5),
                );
                plot.line(
                    Line::new("backward (learned)", pts(&b.backward))
                        .color(accent)
                        .width(2.5),
                );
            });
    }

    fn alpha_plot(&self, ui: &mut Ui) {
        ui.label(RichText::new("alpha over training").strong());
        let accent = Color32::from_rgb(230, 120, 60);
        let grey = ui.visuals().weak_text_color().gamma_multiply(0.5);
        Plot::new("binarizer-alpha")
            .height(150.0)
            .legend(Legend::default().position(egui_plot::Corner::LeftTop))
            .x_axis_label("step")
            .allow_scroll(false)
            .show(ui, |plot| {
                for (name, hist) in &self.alphas {
                    let selected = *name == self.selected;
                    if !selected {
                        let pts: Vec<[f64; 2]> =
                            hist.iter().map(|&(s, a, _)| [s as f64, a as f64]).collect();
                        plot.line(Line::new("", pts).color(grey).width(1.0).allow_hover(false));
                    }
                }
                if let Some(hist) = self.alphas.get(&self.selected) {
                    let a1: Vec<[f64; 2]> =
                        hist.iter().map(|&(s, a, _)| [s as f64, a as f64]).collect();
                    let a2: Vec<[f64; 2]> =
                        hist.iter().map(|&(s, _, a)| [s as f64, a as f64]).collect();
                    plot.line(
                        Line::new(format!("{} alpha₁", self.selected), a1)
                            .color(accent)
                            .width(2.0),
                    );
                    plot.line(
                        Line::new(format!("{} alpha₂", self.selected), a2)
                            .color(accent)
                            .style(LineStyle::Dashed { length: 6.0 }),
                    );
                }
            });
    }
}
