//! Perceptual colour maps for heatmaps.
//!
//! * [`viridis`]: sequential (log-mel energies, magnitudes); perceptually uniform and readable
//!   in grey scale and by colour-blind users.
//! * [`diverging`]: signed values around zero (distillation bands); Moreland's cool-warm
//!   end points with a neutral grey centre.

use egui::Color32;

/// Viridis at `t` in `[0, 1]` (clamped), from Matt Zucker's 6th-degree polynomial fit of the
/// matplotlib table (max error well below one 8-bit step).
pub(crate) fn viridis(t: f32) -> Color32 {
    const C: [[f32; 3]; 7] = [
        [0.277_727_33, 0.005_407_344_5, 0.334_099_8],
        [0.105_093_04, 1.404_613_5, 1.384_590_2],
        [-0.330_861_83, 0.214_847_56, 0.095_095_16],
        [-4.634_230_5, -5.799_101, -19.332_441],
        [6.228_27, 14.179_933, 56.690_55],
        [4.776_385, -13.745_146, -65.353_035],
        [-5.435_456, 4.645_852_6, 26.312_435],
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mut rgb = [0f32; 3];
    for (ch, out) in rgb.iter_mut().enumerate() {
        // Horner's scheme from the highest coefficient down.
        let mut v = C[6][ch];
        for k in (0..6).rev() {
            v = v * t + C[k][ch];
        }
        *out = v;
    }
    to_color(rgb)
}

/// Diverging blue-grey-red at `t` in `[-1, 1]` (clamped): negative blue, zero grey, positive red.
pub(crate) fn diverging(t: f32) -> Color32 {
    const COLD: [f32; 3] = [0.230, 0.299, 0.754];
    const MID: [f32; 3] = [0.865, 0.865, 0.865];
    const WARM: [f32; 3] = [0.706, 0.016, 0.150];
    let t = if t.is_finite() {
        t.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let (a, b, f) = if t < 0.0 {
        (MID, COLD, -t)
    } else {
        (MID, WARM, t)
    };
    to_color([
        a[0] + (b[0] - a[0]) * f,
        a[1] + (b[1] - a[1]) * f,
        a[2] + (b[2] - a[2]) * f,
    ])
}

fn to_color(rgb: [f32; 3]) -> Color32 {
    let c = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    Color32::from_rgb(c(rgb[0]), c(rgb[1]), c(rgb[2]))
}

/// Colour of an activation bit: +1 bright, -1 dark, in both themes.
pub fn bit(plus: bool) -> Color32 {
    if plus { viridis(0.92) } else { viridis(0.08) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Color32, b: (u8, u8, u8)) -> bool {
        let d = |x: u8, y: u8| (x as i32 - y as i32).abs() <= 4;
        d(a.r(), b.0) && d(a.g(), b.1) && d(a.b(), b.2)
    }

    #[test]
    fn viridis_matches_the_matplotlib_table_at_its_ends_and_middle() {
        // matplotlib's viridis: 0 -> #440154, 0.5 -> #21918c, 1 -> #fde725.
        assert!(
            close(viridis(0.0), (0x44, 0x01, 0x54)),
            "{:?}",
            viridis(0.0)
        );
        assert!(
            close(viridis(0.5), (0x21, 0x91, 0x8c)),
            "{:?}",
            viridis(0.5)
        );
        assert!(
            close(viridis(1.0), (0xfd, 0xe7, 0x25)),
            "{:?}",
            viridis(1.0)
        );
        assert_eq!(viridis(f32::NAN), viridis(0.0));
    }

    #[test]
    fn viridis_lightness_increases() {
        let luma =
            |c: Color32| 0.2126 * c.r() as f32 + 0.7152 * c.g() as f32 + 0.0722 * c.b() as f32;
        let mut last = -1.0;
        for i in 0..=20 {
            let l = luma(viridis(i as f32 / 20.0));
            assert!(l > last, "step {i}");
            last = l;
        }
    }

    #[test]
    fn diverging_is_grey_at_zero_and_saturates() {
        assert_eq!(diverging(0.0), diverging(-0.0));
        assert_eq!(diverging(5.0), diverging(1.0));
        assert!(diverging(-1.0).b() > diverging(-1.0).r());
        assert!(diverging(1.0).r() > diverging(1.0).b());
    }
}
