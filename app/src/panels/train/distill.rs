//! Distillation view: per D-FSMN layer, the high-band and low-band FID losses over training,
//! and the teacher's and student's high and low maps for the run's fixed validation clip, side
//! by side on a shared colour scale (equal colours mean equal values).

use bifsmn_engine::train::{DistillSnapshot, Map2d};
use egui::{RichText, Ui};
use egui_plot::{Line, Plot};

use crate::widgets::colormap;
use crate::widgets::heatmap::{Axis, Heatmap};

/// One layer's (layer, high-band, low-band) losses in a snapshot.
type BandLosses = (usize, f32, f32);

/// Textures of one layer's four maps.
struct LayerMaps {
    seq: u64,
    layer: usize,
    maps: [Heatmap; 4],
}

/// The view's state.
#[derive(Default)]
pub(super) struct DistillView {
    /// Per snapshot: global step and per layer (layer, high, low).
    history: Vec<(usize, Vec<BandLosses>)>,
    latest: Option<DistillSnapshot>,
    seq: u64,
    pub layer: usize,
    maps: Option<LayerMaps>,
}

fn max_abs(maps: &[&Map2d]) -> f32 {
    maps.iter()
        .flat_map(|m| m.values.iter())
        .filter(|v| v.is_finite())
        .fold(0.0f32, |a, v| a.max(v.abs()))
        .max(1e-6)
}

/// Colour of the `k`-th of `n` layers in the loss plots (the layer buttons show it).
fn layer_color(k: usize, n: usize) -> egui::Color32 {
    colormap::viridis(0.15 + 0.8 * k as f32 / n.max(2).saturating_sub(1) as f32)
}

impl DistillView {
    pub(super) fn clear(&mut self) {
        *self = Self {
            layer: self.layer,
            ..Self::default()
        };
    }

    pub(super) fn push(&mut self, s: DistillSnapshot) {
        self.history.push((
            s.global_step,
            s.layers
                .iter()
                .map(|l| (l.layer, l.high_loss, l.low_loss))
                .collect(),
        ));
        self.seq += 1;
        self.latest = Some(s);
    }

    fn ensure_maps(&mut self, ctx: &egui::Context) {
        let Some(s) = &self.latest else {
            return;
        };
        if self
            .maps
            .as_ref()
            .is_some_and(|m| m.seq == self.seq && m.layer == self.layer)
        {
            return;
        }
        let Some(l) = s.layers.iter().find(|l| l.layer == self.layer) else {
            return;
        };
        let hi = max_abs(&[&l.teacher_high, &l.student_high]);
        let lo = max_abs(&[&l.teacher_low, &l.student_low]);
        let mk = |name: &str, m: &Map2d, abs: f32| {
            Heatmap::diverging(
                ctx,
                &format!("distill-{name}"),
                &m.values,
                m.rows,
                m.cols,
                abs,
            )
        };
        self.maps = Some(LayerMaps {
            seq: self.seq,
            layer: self.layer,
            maps: [
                mk("t-high", &l.teacher_high, hi),
                mk("s-high", &l.student_high, hi),
                mk("t-low", &l.teacher_low, lo),
                mk("s-low", &l.student_low, lo),
            ],
        });
    }

    pub(super) fn ui(&mut self, ui: &mut Ui) {
        let Some(latest) = &self.latest else {
            ui.label(
                "The distillation components arrive every few seconds while a student trains with \
                 FID, HED or plain distillation. Start a student run to see them.",
            );
            return;
        };
        let layers: Vec<usize> = latest.layers.iter().map(|l| l.layer).collect();
        let (epoch, step) = (latest.epoch, latest.global_step);
        if !layers.contains(&self.layer) {
            self.layer = layers.first().copied().unwrap_or(0);
        }
        ui.horizontal(|ui| {
            ui.label("Layer");
            let n = layers.len().max(1);
            for (k, &j) in layers.iter().enumerate() {
                crate::panels::train::charts::swatch(ui, layer_color(k, n));
                ui.selectable_value(&mut self.layer, j, format!("{j}"));
            }
            ui.weak(format!("· latest snapshot: epoch {epoch}, step {step}"));
        });
        let ctx = ui.ctx().clone();
        self.ensure_maps(&ctx);
        let n = layers.len().max(1);
        let plot_w = (ui.available_width() * 0.42).max(260.0);
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width(plot_w);
                for (band, title) in [
                    (0, "High-band loss R(high S, high T)"),
                    (1, "Low-band loss R(low S, low T)"),
                ] {
                    ui.label(RichText::new(title).strong());
                    Plot::new(format!("distill-band-{band}"))
                        .height(250.0)
                        .x_axis_label("step")
                        .include_y(0.0)
                        .allow_scroll(false)
                        .show(ui, |plot| {
                            for (k, &j) in layers.iter().enumerate() {
                                let pts: Vec<[f64; 2]> = self
                                    .history
                                    .iter()
                                    .filter_map(|(step, ls)| {
                                        let &(_, h, l) = ls.iter().find(|x| x.0 == j)?;
                                        Some([*step as f64, if band == 0 { h } else { l } as f64])
                                    })
                                    .collect();
                                let selected = j == self.layer;
                                let color = layer_color(k, n);
                                plot.line(
                                    Line::new(format!("layer {j}"), pts)
                                        .color(if selected {
                                            color
                                        } else {
                                            color.gamma_multiply(0.45)
                                        })
                                        .width(if selected { 2.5 } else { 1.0 }),
                                );
                            }
                        });
                }
            });
            ui.add_space(12.0);
            ui.vertical(|ui| {
                if let Some(m) = &self.maps {
                    let map = &m.maps[0];
                    let (rows, cols) = (map.rows, map.cols);
                    let side = egui::vec2(
                        (cols as f32 * 14.0).clamp(60.0, 140.0),
                        (rows as f32 * 2.0).clamp(80.0, 256.0),
                    );
                    let x = Axis::new("time step", 0.0, 1.0, cols).ticks(4);
                    let y = Axis::new("channel", 0.0, 1.0, rows).ticks(4);
                    ui.label(
                        RichText::new(format!(
                            "Layer {} maps of the fixed validation clip",
                            m.layer
                        ))
                        .strong(),
                    );
                    for (band, pair) in [("high band", [0, 1]), ("low band", [2, 3])] {
                        ui.label(band);
                        ui.horizontal(|ui| {
                            for (who, idx) in ["teacher", "student"].into_iter().zip(pair) {
                                ui.vertical(|ui| {
                                    ui.label(RichText::new(who).small());
                                    m.maps[idx].show(
                                        ui,
                                        side,
                                        &format!("{who} {band} map of layer {}", m.layer),
                                        &x,
                                        &y,
                                    );
                                });
                            }
                        });
                    }
                }
            });
        });
    }
}
