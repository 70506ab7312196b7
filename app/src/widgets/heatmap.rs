//! A 2-D array of values drawn as a texture, with axes, ticks and a colour bar.
//!
//! The texture is built once when the data changes ([`Heatmap::sequential`],
//! [`Heatmap::diverging`]); drawing it is one textured rectangle, so even many heatmaps cost
//! next to nothing per frame. The widget reports itself to accessibility tools as an image
//! with a descriptive label (what the tests look for).

use egui::{
    Align2, Color32, ColorImage, FontId, Rect, Response, Sense, Stroke, TextureHandle,
    TextureOptions, Ui, Vec2, pos2, vec2,
};

use super::colormap;

/// How values map to colours.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Scale {
    /// Viridis from `lo` to `hi`.
    Sequential { lo: f32, hi: f32 },
    /// Blue-grey-red from `-abs` to `+abs`.
    Diverging { abs: f32 },
}

impl Scale {
    fn color(self, v: f32) -> Color32 {
        match self {
            Scale::Sequential { lo, hi } => colormap::viridis((v - lo) / (hi - lo).max(1e-12)),
            Scale::Diverging { abs } => colormap::diverging(v / abs.max(1e-12)),
        }
    }

    fn range(self) -> (f32, f32) {
        match self {
            Scale::Sequential { lo, hi } => (lo, hi),
            Scale::Diverging { abs } => (-abs, abs),
        }
    }
}

/// Axis description: what the cells along it stand for. Cell `i` is centred on the value
/// `first + i * step`; ticks go at round values inside that range.
#[derive(Clone, Debug)]
pub(crate) struct Axis {
    pub title: String,
    pub first: f32,
    pub step: f32,
    pub cells: usize,
    /// About this many ticks.
    pub ticks: usize,
}

impl Axis {
    pub(crate) fn new(title: impl Into<String>, first: f32, step: f32, cells: usize) -> Self {
        Self {
            title: title.into(),
            first,
            step,
            cells: cells.max(1),
            ticks: 4,
        }
    }

    pub(crate) fn ticks(mut self, n: usize) -> Self {
        self.ticks = n.max(2);
        self
    }

    /// Tick values and their positions as fractions of the image side.
    fn marks(&self) -> Vec<(f32, f32)> {
        let last = self.first + (self.cells - 1) as f32 * self.step;
        nice_ticks(self.first, last, self.ticks)
            .into_iter()
            .map(|v| {
                let cell = if self.step != 0.0 {
                    (v - self.first) / self.step
                } else {
                    0.0
                };
                (v, (cell + 0.5) / self.cells as f32)
            })
            .collect()
    }
}

/// Round tick values (steps of 1, 2 or 5 times a power of ten) within `[lo, hi]`.
pub(crate) fn nice_ticks(lo: f32, hi: f32, target: usize) -> Vec<f32> {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    let span = hi - lo;
    // NaN spans fail `is_finite`; empty or inverted ranges get a single tick.
    if !span.is_finite() || span <= 0.0 {
        return vec![lo];
    }
    let raw = span / target.max(1) as f32;
    let mag = 10f32.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        // 2.5 makes good fractions (0.25) but odd labels on whole-number axes (2.5 steps).
        .filter(|&m| m != 2.5 || mag < 1.0)
        .map(|m| m * mag)
        .find(|s| span / s <= target as f32)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).ceil() as i64;
    let end = (hi / step + 1e-4).floor() as i64;
    (start..=end).map(|k| k as f32 * step).collect()
}

/// A heatmap texture and what it shows.
pub(crate) struct Heatmap {
    texture: TextureHandle,
    pub rows: usize,
    pub cols: usize,
    scale: Scale,
    /// Unit printed on the colour bar.
    unit: String,
}

/// Extra room around the image for tick labels and titles.
const LEFT: f32 = 44.0;
const BOTTOM: f32 = 34.0;
const BAR: f32 = 56.0;
const TOP: f32 = 16.0;

impl Heatmap {
    /// `values` row-major `[rows][cols]`; row 0 is drawn at the bottom (mel bin 0, channel 0).
    pub(crate) fn new(
        ctx: &egui::Context,
        name: &str,
        values: &[f32],
        rows: usize,
        cols: usize,
        scale: Scale,
        unit: &str,
    ) -> Self {
        let rows = rows.max(1);
        let cols = cols.max(1);
        let mut pixels = Vec::with_capacity(rows * cols);
        for r in (0..rows).rev() {
            for c in 0..cols {
                let v = values.get(r * cols + c).copied().unwrap_or(f32::NAN);
                pixels.push(scale.color(v));
            }
        }
        let texture = ctx.load_texture(
            name,
            ColorImage::new([cols, rows], pixels),
            TextureOptions::NEAREST,
        );
        Self {
            texture,
            rows,
            cols,
            scale,
            unit: unit.to_string(),
        }
    }

    /// Diverging around zero, saturating at `abs` (e.g. the largest magnitude of a set of maps
    /// that are compared side by side, so equal colours mean equal values).
    pub(crate) fn diverging(
        ctx: &egui::Context,
        name: &str,
        values: &[f32],
        rows: usize,
        cols: usize,
        abs: f32,
    ) -> Self {
        Self::new(ctx, name, values, rows, cols, Scale::Diverging { abs }, "")
    }

    /// Draw with the image area `image_size` (points) plus axes and colour bar around it.
    /// `alt` is the accessible description.
    pub(crate) fn show(
        &self,
        ui: &mut Ui,
        image_size: Vec2,
        alt: &str,
        x: &Axis,
        y: &Axis,
    ) -> Response {
        let total = image_size + vec2(LEFT + BAR, BOTTOM + TOP);
        let (rect, response) = ui.allocate_exact_size(total, Sense::hover());
        response.widget_info(|| egui::WidgetInfo::labeled(egui::accesskit::Role::Image, true, alt));
        if !ui.is_rect_visible(rect) {
            return response;
        }
        let painter = ui.painter_at(rect.expand(2.0));
        let img = Rect::from_min_size(rect.min + vec2(LEFT, TOP), image_size);
        painter.image(
            self.texture.id(),
            img,
            Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0)),
            Color32::WHITE,
        );
        let text_color = ui.visuals().text_color();
        let weak = ui.visuals().weak_text_color();
        let small = FontId::proportional(10.0);
        painter.rect_stroke(img, 0.0, Stroke::new(1.0, weak), egui::StrokeKind::Outside);
        // X ticks below the image.
        for (v, f) in x.marks() {
            let px = img.left() + f * img.width();
            painter.line_segment(
                [pos2(px, img.bottom()), pos2(px, img.bottom() + 3.0)],
                Stroke::new(1.0, weak),
            );
            painter.text(
                pos2(px, img.bottom() + 4.0),
                Align2::CENTER_TOP,
                tick(v),
                small.clone(),
                text_color,
            );
        }
        painter.text(
            pos2(img.center().x, img.bottom() + 18.0),
            Align2::CENTER_TOP,
            &x.title,
            small.clone(),
            weak,
        );
        // Y ticks left of the image (bottom = min).
        for (v, f) in y.marks() {
            let py = img.bottom() - f * img.height();
            painter.line_segment(
                [pos2(img.left() - 3.0, py), pos2(img.left(), py)],
                Stroke::new(1.0, weak),
            );
            painter.text(
                pos2(img.left() - 5.0, py),
                Align2::RIGHT_CENTER,
                tick(v),
                small.clone(),
                text_color,
            );
        }
        // The y title reads bottom to top next to the ticks; egui has no rotated text in the
        // painter API, so it goes above the ticks instead.
        painter.text(
            pos2(rect.left() + 1.0, img.top() - 5.0),
            Align2::LEFT_BOTTOM,
            &y.title,
            small.clone(),
            weak,
        );
        // Colour bar.
        let bar = Rect::from_min_max(
            pos2(img.right() + 8.0, img.top()),
            pos2(img.right() + 16.0, img.bottom()),
        );
        let steps = 48;
        let (lo, hi) = self.scale.range();
        for s in 0..steps {
            let f0 = s as f32 / steps as f32;
            let f1 = (s + 1) as f32 / steps as f32;
            let v = lo + (f0 + f1) * 0.5 * (hi - lo);
            let r = Rect::from_min_max(
                pos2(bar.left(), bar.bottom() - f1 * bar.height()),
                pos2(bar.right(), bar.bottom() - f0 * bar.height()),
            );
            painter.rect_filled(r, 0.0, self.scale.color(v));
        }
        for (v, yy, anchor) in [
            (hi, bar.top(), Align2::LEFT_TOP),
            (lo, bar.bottom(), Align2::LEFT_BOTTOM),
        ] {
            painter.text(
                pos2(bar.right() + 3.0, yy),
                anchor,
                tick(v),
                small.clone(),
                text_color,
            );
        }
        if !self.unit.is_empty() {
            painter.text(
                pos2(bar.right() + 3.0, bar.center().y),
                Align2::LEFT_CENTER,
                &self.unit,
                small,
                weak,
            );
        }
        response
    }
}

/// Compact tick label: integers without decimals, small magnitudes with up to 3 significant
/// digits.
pub(crate) fn tick(v: f32) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    let a = v.abs();
    if a >= 100.0 || (v.fract() == 0.0 && a < 1e6) {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.1 || a == 0.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.1e}")
    }
}

#[cfg(test)]
mod tests {
    use super::tick;

    #[test]
    fn nice_ticks_are_round() {
        assert_eq!(super::nice_ticks(0.0, 31.0, 4), vec![0.0, 10.0, 20.0, 30.0]);
        assert_eq!(super::nice_ticks(0.0, 0.992, 4), vec![0.0, 0.25, 0.5, 0.75]);
        assert_eq!(super::nice_ticks(0.0, 7.0, 2), vec![0.0, 5.0]);
        assert_eq!(super::nice_ticks(0.0, 7.0, 3), vec![0.0, 5.0]);
        assert_eq!(super::nice_ticks(0.0, 127.0, 4), vec![0.0, 50.0, 100.0]);
        assert_eq!(super::nice_ticks(3.0, 3.0, 4), vec![3.0]);
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(tick(32.0), "32");
        assert_eq!(tick(-80.0), "-80");
        assert_eq!(tick(0.5), "0.50");
        assert_eq!(tick(12.34), "12.3");
        assert_eq!(tick(0.0012), "1.2e-3");
        assert_eq!(tick(f32::NAN), "—");
    }
}
