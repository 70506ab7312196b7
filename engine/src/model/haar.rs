//! Frequency Independent Distillation pieces: the level-1 Haar split of a layer's (channel,
//! time) map and the normalized-square distance of docs/METHOD.md §5.
//!
//! With the orthonormal Haar wavelet at J = 1, the reconstruction from the LL band alone is the
//! 2x2 block mean, and LH + HL + HH reconstruct the rest, so `low + high = x` exactly.

use burn::prelude::*;

/// Low band: every non-overlapping 2x2 block of (channel, time) replaced by its mean.
/// `x`: [B, C, T] with C and T even.
pub fn haar_low(x: Tensor<3>) -> Tensor<3> {
    let [b, c, t] = x.dims();
    debug_assert!(
        c % 2 == 0 && t % 2 == 0,
        "Haar split needs even dims, got {c}x{t}"
    );
    let blocks = x.reshape([b, c / 2, 2, t / 2, 2]).mean_dim(2).mean_dim(4);
    blocks.expand([b, c / 2, 2, t / 2, 2]).reshape([b, c, t])
}

/// High band: `x - low(x)` (the LH, HL and HH reconstruction).
pub fn haar_high(x: Tensor<3>) -> Tensor<3> {
    x.clone() - haar_low(x)
}

/// Both bands at once.
pub fn haar_split(x: Tensor<3>) -> (Tensor<3>, Tensor<3>) {
    let low = haar_low(x.clone());
    (low.clone(), x - low)
}

/// `R(S, T) = || Q_S/||Q_S|| - Q_T/||Q_T|| ||_F` with `Q = A*A`, over the whole batch tensor.
/// A tiny epsilon keeps an all-zero band (e.g. the high band of a constant map) finite.
pub fn normalized_square_distance(student: Tensor<3>, teacher: Tensor<3>) -> Tensor<1> {
    let norm = |q: Tensor<3>| {
        let n = q.clone().square().sum().add_scalar(1e-12).sqrt();
        q / n.reshape([1, 1, 1])
    };
    let qs = norm(student.square());
    let qt = norm(teacher.square());
    (qs - qt).square().sum().add_scalar(1e-12).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn low_plus_high_is_the_input_and_low_is_the_block_mean() {
        let device = Device::flex();
        let x = Tensor::<3>::random([2, 4, 6], Distribution::Default, &device);
        let (low, high) = haar_split(x.clone());
        let sum = (low.clone() + high)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let xv = x.into_data().try_into_vec::<f32>().unwrap();
        for (a, b) in sum.iter().zip(&xv) {
            assert!((a - b).abs() < 1e-6);
        }
        let lv = low.into_data().try_into_vec::<f32>().unwrap();
        let at = |v: &Vec<f32>, b: usize, c: usize, t: usize| v[b * 24 + c * 6 + t];
        for b in 0..2 {
            for c in 0..4 {
                for t in 0..6 {
                    let (c0, t0) = (c / 2 * 2, t / 2 * 2);
                    let mean = (at(&xv, b, c0, t0)
                        + at(&xv, b, c0 + 1, t0)
                        + at(&xv, b, c0, t0 + 1)
                        + at(&xv, b, c0 + 1, t0 + 1))
                        / 4.0;
                    assert!((at(&lv, b, c, t) - mean).abs() < 1e-6);
                }
            }
        }
    }

    #[test]
    fn distance_is_zero_for_scaled_copies_and_positive_otherwise() {
        let device = Device::flex();
        let x = Tensor::<3>::random([2, 4, 4], Distribution::Default, &device);
        let d = normalized_square_distance(x.clone(), x.clone().mul_scalar(3.0));
        assert!(d.into_scalar::<f32>() < 1e-3);
        let y = Tensor::<3>::random([2, 4, 4], Distribution::Default, &device);
        assert!(normalized_square_distance(x, y).into_scalar::<f32>() > 1e-2);
    }
}
