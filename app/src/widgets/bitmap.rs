//! Binary activation planes as bitmaps: rows are channels, columns time positions, +1 bright
//! and -1 dark (see [`super::colormap::bit`]).

use egui::{Color32, ColorImage, Rect, Response, Sense, Stroke, TextureHandle, TextureOptions, Ui};
use egui::{pos2, vec2};

use super::colormap;

/// One bit plane as a texture.
pub(crate) struct Bitmap {
    texture: TextureHandle,
    pub channels: usize,
    pub positions: usize,
}

/// Largest side of a drawn bitmap, in points.
const MAX_SIDE: f32 = 220.0;
/// Largest and smallest cell, in points.
const MAX_CELL: f32 = 10.0;
const MIN_CELL: f32 = 0.75;

impl Bitmap {
    /// `plus[c * positions + p]` is true where the activation is +1.
    pub(crate) fn new(
        ctx: &egui::Context,
        name: &str,
        plus: &[bool],
        channels: usize,
        positions: usize,
    ) -> Self {
        let channels = channels.max(1);
        let positions = positions.max(1);
        let pixels = (0..channels * positions)
            .map(|i| plus.get(i).map_or(Color32::GRAY, |&b| colormap::bit(b)))
            .collect();
        let texture = ctx.load_texture(
            name,
            ColorImage::new([positions, channels], pixels),
            TextureOptions::NEAREST,
        );
        Self {
            texture,
            channels,
            positions,
        }
    }

    /// Size on screen: square-ish cells, each side at most [`MAX_SIDE`].
    pub(crate) fn display_size(&self) -> egui::Vec2 {
        let cw = (MAX_SIDE / self.positions as f32).clamp(MIN_CELL, MAX_CELL);
        let ch = (MAX_SIDE / self.channels as f32).clamp(MIN_CELL, MAX_CELL);
        vec2(cw * self.positions as f32, ch * self.channels as f32)
    }

    /// Draw; `alt` is the accessible description. Hovering shows the channel and position.
    pub(crate) fn show(&self, ui: &mut Ui, alt: &str) -> Response {
        let size = self.display_size();
        let (rect, response) = ui.allocate_exact_size(size, Sense::hover());
        response.widget_info(|| egui::WidgetInfo::labeled(egui::accesskit::Role::Image, true, alt));
        if ui.is_rect_visible(rect) {
            ui.painter().image(
                self.texture.id(),
                rect,
                Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0)),
                Color32::WHITE,
            );
            ui.painter().rect_stroke(
                rect,
                0.0,
                Stroke::new(1.0, ui.visuals().weak_text_color()),
                egui::StrokeKind::Outside,
            );
        }
        let channels = self.channels;
        let positions = self.positions;
        response.on_hover_ui_at_pointer(|ui| {
            if let Some(p) = ui.ctx().pointer_hover_pos() {
                let fx = ((p.x - rect.left()) / rect.width()).clamp(0.0, 0.999);
                let fy = ((p.y - rect.top()) / rect.height()).clamp(0.0, 0.999);
                ui.label(format!(
                    "channel {}, position {}",
                    (fy * channels as f32) as usize,
                    (fx * positions as f32) as usize
                ));
            }
        })
    }
}
