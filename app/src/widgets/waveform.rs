//! Waveform plot of a clip: a min/max envelope (computed once per clip, so a long file costs
//! the same per frame as a short one) and an optional playhead.

use egui::Ui;
use egui_plot::{Line, Plot, VLine};

/// Columns of the envelope: more than a wide plot has pixels, few enough to draw instantly.
const COLUMNS: usize = 1200;

/// The envelope of a signal as a zig-zag polyline through each column's min and max.
#[derive(Clone, Debug, Default)]
pub(crate) struct Envelope {
    points: Vec<[f64; 2]>,
    pub seconds: f64,
}

impl Envelope {
    pub(crate) fn new(samples: &[f32], sample_rate: u32) -> Self {
        let rate = sample_rate.max(1) as f64;
        let seconds = samples.len() as f64 / rate;
        if samples.len() <= 2 * COLUMNS {
            let points = samples
                .iter()
                .enumerate()
                .map(|(i, &s)| [i as f64 / rate, s as f64])
                .collect();
            return Self { points, seconds };
        }
        let per = samples.len().div_ceil(COLUMNS);
        let mut points = Vec::with_capacity(2 * COLUMNS);
        for (c, chunk) in samples.chunks(per).enumerate() {
            let (lo, hi) = chunk
                .iter()
                .fold((f32::MAX, f32::MIN), |(lo, hi), &s| (lo.min(s), hi.max(s)));
            let t = (c * per) as f64 / rate;
            let t2 = t + 0.5 * chunk.len() as f64 / rate;
            points.push([t, lo as f64]);
            points.push([t2, hi as f64]);
        }
        Self { points, seconds }
    }

    /// Plot with a fixed height; `playhead` in seconds.
    pub(crate) fn show(&self, ui: &mut Ui, id: &str, height: f32, playhead: Option<f64>) {
        let color = ui.visuals().hyperlink_color;
        Plot::new(id)
            .height(height)
            .include_y(-1.0)
            .include_y(1.0)
            .include_x(0.0)
            .include_x(self.seconds.max(1e-3))
            .allow_scroll(false)
            .x_axis_label("time (s)")
            .y_axis_label("amplitude")
            .show(ui, |plot| {
                plot.line(
                    Line::new("waveform", self.points.clone())
                        .color(color)
                        .width(1.0),
                );
                if let Some(t) = playhead {
                    plot.vline(
                        VLine::new("playhead", t).color(egui::Color32::from_rgb(230, 80, 60)),
                    );
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_keeps_extremes_and_duration() {
        let mut x = vec![0.0f32; 48_000];
        x[12_345] = 0.9;
        x[40_000] = -0.7;
        let e = Envelope::new(&x, 16_000);
        assert!((e.seconds - 3.0).abs() < 1e-9);
        assert!(e.points.len() <= 2 * COLUMNS);
        let max = e.points.iter().map(|p| p[1]).fold(f64::MIN, f64::max);
        let min = e.points.iter().map(|p| p[1]).fold(f64::MAX, f64::min);
        assert!((max - 0.9).abs() < 1e-6 && (min + 0.7).abs() < 1e-6);
    }
}
