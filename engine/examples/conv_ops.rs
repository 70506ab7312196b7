//! Forward + backward of the D-FSMN layer's convolutions on burn flex with autodiff, at the
//! training shapes (batch 32, 16 steps, 64 <-> 256 channels, 5 taps), each as burn's
//! `conv1d` and as the formulation the model uses instead: the comparison behind
//! `BinConv1d::conv` (`docs/SCALE.md`). Medians of 30 after 5 warm-up runs.
//!
//!     cargo run --release -p bifsmn-engine --example conv_ops
#![allow(clippy::unwrap_used, clippy::print_stdout)]
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::module::{conv1d, linear};
use burn::tensor::ops::ConvOptions;
use std::time::Instant;

fn time(name: &str, mut f: impl FnMut()) {
    for _ in 0..5 {
        f();
    }
    let mut v: Vec<f64> = (0..30)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    v.sort_by(f64::total_cmp);
    println!("{name:50} {:9.1} us", v[v.len() / 2]);
}

fn main() {
    let dev = Device::flex().autodiff();
    let (b, c, t, k, o) = (32, 64, 16, 5, 256);
    let x =
        Tensor::<3>::random([b, c, t + k - 1], Distribution::Normal(0.0, 1.0), &dev).require_grad();
    let wd = Tensor::<3>::random([c, 1, k], Distribution::Normal(0.0, 1.0), &dev).require_grad();
    let bd = Tensor::<1>::zeros([c], &dev).require_grad();
    time("depthwise conv1d groups=64", || {
        let y = conv1d(
            x.clone(),
            wd.clone(),
            Some(bd.clone()),
            ConvOptions::new([1], [0], [1], c),
        );
        let _g = y.sum().backward();
    });
    time("depthwise as 5 shifted mul-adds", || {
        let w2 = wd.clone().reshape([1, c, k]);
        let mut y = x.clone().slice([0..b, 0..c, 0..t]) * w2.clone().slice([0..1, 0..c, 0..1]);
        for tap in 1..k {
            y = y + x.clone().slice([0..b, 0..c, tap..tap + t])
                * w2.clone().slice([0..1, 0..c, tap..tap + 1]);
        }
        let y = y + bd.clone().reshape([1, c, 1]);
        let _g = y.sum().backward();
    });
    let x1 = Tensor::<3>::random([b, c, t], Distribution::Normal(0.0, 1.0), &dev).require_grad();
    let w1 = Tensor::<3>::random([o, c, 1], Distribution::Normal(0.0, 1.0), &dev).require_grad();
    let b1 = Tensor::<1>::zeros([o], &dev).require_grad();
    time("1x1 conv1d 64->256", || {
        let y = conv1d(
            x1.clone(),
            w1.clone(),
            Some(b1.clone()),
            ConvOptions::new([1], [0], [1], 1),
        );
        let _g = y.sum().backward();
    });
    time("1x1 as 2-D matmul (swap, reshape, linear, back)", || {
        let xs = x1.clone().swap_dims(1, 2).reshape([b * t, c]);
        let y = linear(xs, w1.clone().reshape([o, c]).transpose(), Some(b1.clone()));
        let y = y.reshape([b, t, o]).swap_dims(1, 2);
        let _g = y.sum().backward();
    });
    time("1x1 as batched matmul W[o,c] x [b,c,t]", || {
        let y = w1.clone().reshape([1, o, c]).matmul(x1.clone()) + b1.clone().reshape([1, o, 1]);
        let _g = y.sum().backward();
    });
    let x2 = Tensor::<3>::random([b, o, t], Distribution::Normal(0.0, 1.0), &dev).require_grad();
    let w2 = Tensor::<3>::random([c, o, 1], Distribution::Normal(0.0, 1.0), &dev).require_grad();
    let b2 = Tensor::<1>::zeros([c], &dev).require_grad();
    time("1x1 conv1d 256->64", || {
        let y = conv1d(
            x2.clone(),
            w2.clone(),
            Some(b2.clone()),
            ConvOptions::new([1], [0], [1], 1),
        );
        let _g = y.sum().backward();
    });
    time("256->64 as 2-D matmul", || {
        let xs = x2.clone().swap_dims(1, 2).reshape([b * t, o]);
        let y = linear(xs, w2.clone().reshape([c, o]).transpose(), Some(b2.clone()));
        let y = y.reshape([b, t, c]).swap_dims(1, 2);
        let _g = y.sum().backward();
    });
}
