//! TensorBoard's scalar smoothing: a debiased exponential moving average.
//!
//! TensorBoard (and Weights & Biases) smooth with `last = last * w + (1 - w) * v` and divide
//! by `1 - w^n` so that the first points are not pulled towards zero. Non-finite values are
//! passed through without entering the average, as TensorBoard does.

/// Smooth `ys` with weight `w` in `[0, 1)`; `w = 0` returns the input.
pub(crate) fn ema(ys: &[f64], w: f64) -> Vec<f64> {
    let w = w.clamp(0.0, 0.999);
    if w == 0.0 {
        return ys.to_vec();
    }
    let mut last = 0.0;
    let mut n = 0i32;
    ys.iter()
        .map(|&v| {
            if !v.is_finite() {
                return v;
            }
            last = last * w + (1.0 - w) * v;
            n += 1;
            let debias = 1.0 - w.powi(n);
            last / debias
        })
        .collect()
}

/// Smooth the y values of `[x, y]` points.
pub(crate) fn ema_points(points: &[[f64; 2]], w: f64) -> Vec<[f64; 2]> {
    let ys: Vec<f64> = points.iter().map(|p| p[1]).collect();
    points
        .iter()
        .zip(ema(&ys, w))
        .map(|(p, y)| [p[0], y])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_weight_is_identity_and_constant_stays_constant() {
        assert_eq!(ema(&[1.0, 5.0, 2.0], 0.0), vec![1.0, 5.0, 2.0]);
        // Debiasing: a constant series is not pulled towards zero at the start.
        for v in ema(&[3.0; 10], 0.9) {
            assert!((v - 3.0).abs() < 1e-12);
        }
    }

    #[test]
    fn matches_tensorboards_formula() {
        // w = 0.5: last1 = 0.5*1 = 0.5 -> /0.5 = 1; last2 = 0.25 + 1.5 = 1.75 -> /0.75.
        let s = ema(&[1.0, 3.0], 0.5);
        assert!((s[0] - 1.0).abs() < 1e-12);
        assert!((s[1] - 1.75 / 0.75).abs() < 1e-12);
    }

    #[test]
    fn non_finite_values_pass_through() {
        let s = ema(&[1.0, f64::NAN, 1.0], 0.6);
        assert!(s[1].is_nan());
        assert!((s[2] - 1.0).abs() < 1e-12);
    }
}
