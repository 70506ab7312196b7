//! Cards showing one binary layer's activation planes (channels x time) with the fraction of
//! +1 and, when a teacher is known, how often plane 1 agrees with the teacher's signs.
//!
//! Built from either source: the trainer's `Bits` events (burn model, fixed clip) or the
//! kernels' `Session::layer_bits` (packed model, any clip).

use egui::{RichText, Ui};

use super::bitmap::Bitmap;

/// One layer's planes as textures plus its statistics.
pub(crate) struct LayerBitsView {
    pub name: String,
    pub channels: usize,
    pub positions: usize,
    pub plane1: Bitmap,
    pub plane2: Option<Bitmap>,
    /// Fraction of +1 in plane 1.
    pub plus_fraction: f32,
    /// Agreement of plane 1 with the teacher's signs.
    pub agreement: Option<f32>,
}

impl LayerBitsView {
    /// From a trainer event (`true` = +1).
    pub(crate) fn from_engine(
        ctx: &egui::Context,
        b: &bifsmn_engine::train::LayerBits,
        tag: &str,
    ) -> Self {
        let t = format!("{tag}-{}", b.name);
        Self {
            name: b.name.clone(),
            channels: b.channels,
            positions: b.time,
            plane1: Bitmap::new(ctx, &format!("{t}-p1"), &b.plane1, b.channels, b.time),
            plane2: b
                .plane2
                .as_ref()
                .map(|p| Bitmap::new(ctx, &format!("{t}-p2"), p, b.channels, b.time)),
            plus_fraction: b.fraction_positive(),
            agreement: b.teacher_agreement(),
        }
    }

    /// From the kernels (`true` = -1 there, so the planes are inverted here).
    pub(crate) fn from_kernels(
        ctx: &egui::Context,
        b: &bifsmn_kernels::infer::LayerBits,
        tag: &str,
    ) -> Self {
        let name = b.layer.to_string();
        let t = format!("{tag}-{name}");
        let plus1: Vec<bool> = b.b1.iter().map(|&minus| !minus).collect();
        let plane2 = (b.planes >= 2).then(|| {
            let plus2: Vec<bool> = b.b2.iter().map(|&minus| !minus).collect();
            Bitmap::new(ctx, &format!("{t}-p2"), &plus2, b.channels, b.positions)
        });
        Self {
            plane1: Bitmap::new(ctx, &format!("{t}-p1"), &plus1, b.channels, b.positions),
            plane2,
            plus_fraction: 1.0 - b.minus_fraction(),
            agreement: None,
            name,
            channels: b.channels,
            positions: b.positions,
        }
    }

    /// The card.
    pub(crate) fn card(&self, ui: &mut Ui) {
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.vertical(|ui| {
                ui.label(RichText::new(&self.name).strong());
                let mut stats = format!("+1: {:.1} %", 100.0 * self.plus_fraction);
                if let Some(a) = self.agreement {
                    stats.push_str(&format!(" · teacher agreement {:.1} %", 100.0 * a));
                }
                ui.label(RichText::new(stats).small());
                ui.label(
                    RichText::new(format!("{} ch × {} pos", self.channels, self.positions))
                        .small()
                        .weak(),
                );
                ui.horizontal_top(|ui| {
                    ui.vertical(|ui| {
                        ui.label(RichText::new("plane 1").small());
                        self.plane1.show(ui, &format!("{} plane 1 bits", self.name));
                    });
                    if let Some(p2) = &self.plane2 {
                        ui.vertical(|ui| {
                            ui.label(RichText::new("plane 2").small());
                            p2.show(ui, &format!("{} plane 2 bits", self.name));
                        });
                    }
                });
            });
        });
    }
}

impl LayerBitsView {
    /// Width of the card on screen (bitmaps, gaps and frame), known before drawing it so the
    /// cards can be laid out in rows.
    fn width(&self) -> f32 {
        let bitmaps = self.plane1.display_size().x
            + self
                .plane2
                .as_ref()
                .map_or(0.0, |p| p.display_size().x + 8.0);
        // The statistics line sets a minimum width.
        bitmaps.max(190.0) + 24.0
    }
}

/// All cards in rows that fit the available width.
pub(crate) fn cards(ui: &mut Ui, views: &[LayerBitsView]) {
    let available = ui.available_width();
    let gap = 8.0;
    let mut rows: Vec<Vec<&LayerBitsView>> = vec![Vec::new()];
    let mut used = 0.0;
    for v in views {
        let w = v.width() + gap;
        if used + w > available && !rows.last().is_none_or(Vec::is_empty) {
            rows.push(Vec::new());
            used = 0.0;
        }
        used += w;
        rows.last_mut().expect("one row").push(v);
    }
    for row in rows {
        ui.horizontal_top(|ui| {
            ui.spacing_mut().item_spacing = egui::vec2(gap, gap);
            for v in row {
                v.card(ui);
            }
        });
        ui.add_space(gap);
    }
}

/// The legend for the bit colours.
pub(crate) fn legend(ui: &mut Ui) {
    ui.horizontal(|ui| {
        for (plus, text) in [(true, "+1"), (false, "−1")] {
            let (r, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
            ui.painter().rect_filled(r, 1.0, super::colormap::bit(plus));
            ui.label(RichText::new(text).small());
        }
        ui.weak("rows: channels, columns: time positions");
    });
}
