//! The test oracle: a slow, literal forward of unfolded [`NetworkWeights`], written line by
//! line from `docs/MODEL.md` (nothing folded, nothing packed, everything in f64).
//!
//! It shares no code with [`crate::infer`] beyond the shape checks, so agreement between the two
//! checks the folding, the packing, the kernels and the data layouts at once.

use crate::infer::InferError;
use crate::network::check_weights;
use crate::weights::{ActQuant, BatchNorm, Conv2d, NetworkWeights};

/// `sgn(u) = +1 if u >= 0 else -1` (strictly binary).
fn sgn(u: f64) -> f64 {
    if u >= 0.0 { 1.0 } else { -1.0 }
}

fn prelu(u: f64, a: f32) -> f64 {
    if u >= 0.0 { u } else { a as f64 * u }
}

fn bn(b: &BatchNorm, o: usize, u: f64) -> f64 {
    b.gamma[o] as f64 * (u - b.running_mean[o] as f64)
        / (b.running_var[o] as f64 + b.eps as f64).sqrt()
        + b.beta[o] as f64
}

/// `ahat` of one reduction group: `x[i]` belongs to input channel `ch(i)`; `s2` is the mean
/// of `|r|` over the whole group.
fn ahat(x: &[f64], ch: impl Fn(usize) -> usize, q: &ActQuant) -> Vec<f64> {
    let b1: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| sgn(v - q.tau0[ch(i)] as f64))
        .collect();
    let r: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| v - b1[i] - q.tau1[ch(i)] as f64)
        .collect();
    let s2 = r.iter().map(|v| v.abs()).sum::<f64>() / r.len().max(1) as f64;
    (0..x.len())
        .map(|i| {
            let tau2 = q.tau2[ch(i)] as f64;
            if q.planes == 2 {
                b1[i] + s2 * sgn(r[i]) - tau2
            } else {
                b1[i] - tau2
            }
        })
        .collect()
}

/// `What[o][..] = sw[o] * sgn(W[o][..])` with `sw[o] = mean |W[o][..]|`, or `W` itself for a
/// float layer.
fn weights(w: &[f32], outs: usize, binary: bool) -> Vec<f64> {
    let k = w.len() / outs.max(1);
    let mut out = Vec::with_capacity(w.len());
    for o in 0..outs {
        let row = &w[o * k..(o + 1) * k];
        if binary {
            let sw = row.iter().map(|v| v.abs() as f64).sum::<f64>() / k as f64;
            out.extend(row.iter().map(|&v| sw * sgn(v as f64)));
        } else {
            out.extend(row.iter().map(|&v| v as f64));
        }
    }
    out
}

/// Conv2d of `layer` (its bias, kernel, stride and padding; the weights `wt` as prepared by
/// [`weights`]) on `x` of shape `(cin, h, w)` with zero padding; returns `(cout, oh, ow)`.
fn conv2d(
    x: &[f64],
    (cin, h, w): (usize, usize, usize),
    wt: &[f64],
    layer: &Conv2d,
) -> (Vec<f64>, usize, usize) {
    let (bias, k, s, p) = (&layer.bias, layer.kernel, layer.stride, layer.padding);
    let cout = bias.len();
    let oh = (h + 2 * p - k) / s + 1;
    let ow = (w + 2 * p - k) / s + 1;
    let mut y = vec![0.0; cout * oh * ow];
    for o in 0..cout {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = bias[o] as f64;
                for c in 0..cin {
                    for ky in 0..k {
                        for kx in 0..k {
                            let iy = (oy * s + ky) as isize - p as isize;
                            let ix = (ox * s + kx) as isize - p as isize;
                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                continue; // zero padding
                            }
                            acc += wt[((o * cin + c) * k + ky) * k + kx]
                                * x[(c * h + iy as usize) * w + ix as usize];
                        }
                    }
                }
                y[(o * oh + oy) * ow + ox] = acc;
            }
        }
    }
    (y, oh, ow)
}

/// `y[o] = sum_i W[o][i] * a[i] + b[o]`.
fn linear(a: &[f64], wt: &[f64], bias: &[f32]) -> Vec<f64> {
    let k = a.len();
    (0..bias.len())
        .map(|o| (0..k).map(|i| wt[o * k + i] * a[i]).sum::<f64>() + bias[o] as f64)
        .collect()
}

/// Logits of one clip (`features` is `[mel][frame]`) on thin path `path`.
pub fn forward(w: &NetworkWeights, path: usize, features: &[f32]) -> Result<Vec<f32>, InferError> {
    let d = check_weights(w).map_err(|e| InferError::Model(e.to_string()))?;
    let layers = w.paths.get(path).ok_or(InferError::BadPath {
        path,
        paths: w.paths.len(),
    })?;
    if features.len() != d.input_len() {
        return Err(InferError::BadInput {
            what: "log-mel features",
            expected: d.input_len(),
            got: features.len(),
        });
    }
    let binary = w.conv2_quant.is_some();
    let t = d.t;

    // h1 = prelu_a1(bn1(conv1(F)))
    let f: Vec<f64> = features.iter().map(|&v| v as f64).collect();
    let c1w = weights(&w.conv1.weight, d.c1, false);
    let (mut h1, oh, ow) = conv2d(&f, (1, d.n_mels, d.frames), &c1w, &w.conv1);
    for o in 0..d.c1 {
        for v in &mut h1[o * oh * ow..(o + 1) * oh * ow] {
            *v = prelu(bn(&w.bn1, o, *v), w.act1);
        }
    }

    // h2 = prelu_a2(bn2(conv2(h1))); the binarised input is padded with zeros (after ahat).
    let hw = d.h1 * d.w1;
    let x2 = match &w.conv2_quant {
        Some(q) => ahat(&h1, |i| i / hw, q),
        None => h1,
    };
    let c2w = weights(&w.conv2.weight, d.c2, binary);
    let (mut h2, _, _) = conv2d(&x2, (d.c1, d.h1, d.w1), &c2w, &w.conv2);
    let per = d.h2 * t;
    for o in 0..d.c2 {
        for v in &mut h2[o * per..(o + 1) * per] {
            *v = prelu(bn(&w.bn2, o, *v), w.act2);
        }
    }

    // z[t][c*H2 + f] = h2[c][f][t]; x = prelu(fc1(z)) per time step, used as x[c][t].
    let fc1w = weights(&w.fc1.weight, d.m, binary);
    let mut x = vec![0.0; d.m * t];
    for tt in 0..t {
        let z: Vec<f64> = (0..d.fc1_in)
            .map(|i| {
                let (c, fr) = (i / d.h2, i % d.h2);
                h2[(c * d.h2 + fr) * t + tt]
            })
            .collect();
        let a = match &w.fc1_quant {
            Some(q) => ahat(&z, |i| i, q),
            None => z,
        };
        for (c, v) in linear(&a, &fc1w, &w.fc1.bias).into_iter().enumerate() {
            x[c * t + tt] = prelu(v, w.act_fc1);
        }
    }

    for &j in layers {
        let l = &w.layers[j];
        // m = prelu_m(bn_m(memory(pad2(x)))) + x, padding before binarisation.
        let pad = (d.taps - 1) / 2;
        let tp = t + 2 * pad;
        let mw = weights(&l.memory.weight, d.m, binary);
        let mut m = vec![0.0; d.m * t];
        for c in 0..d.m {
            let mut xp = vec![0.0; tp];
            xp[pad..pad + t].copy_from_slice(&x[c * t..(c + 1) * t]);
            let a = match &l.memory_quant {
                Some(q) => ahat(&xp, |_| c, q),
                None => xp,
            };
            for tt in 0..t {
                let acc: f64 = (0..d.taps)
                    .map(|k| mw[c * d.taps + k] * a[tt + k])
                    .sum::<f64>()
                    + l.memory.bias[c] as f64;
                m[c * t + tt] = prelu(bn(&l.memory_bn, c, acc), l.memory_act) + x[c * t + tt];
            }
        }
        // u = prelu_e(bn_e(expand(m))); x = prelu_jp(bn_jp(project(u))) + m, per time step.
        let ew = weights(&l.expand.weight, d.hidden, binary);
        let pw = weights(&l.project.weight, d.m, binary);
        let out_bn = l.out_bn[path].as_ref().ok_or_else(|| {
            InferError::Model(format!("layer {j} has no BatchNorm for path {path}"))
        })?;
        for tt in 0..t {
            let mt: Vec<f64> = (0..d.m).map(|c| m[c * t + tt]).collect();
            let a = match &l.expand_quant {
                Some(q) => ahat(&mt, |i| i, q),
                None => mt,
            };
            let u: Vec<f64> = linear(&a, &ew, &l.expand.bias)
                .into_iter()
                .enumerate()
                .map(|(h, v)| prelu(bn(&l.expand_bn, h, v), l.expand_act))
                .collect();
            let a = match &l.project_quant {
                Some(q) => ahat(&u, |i| i, q),
                None => u,
            };
            for (c, v) in linear(&a, &pw, &l.project.bias).into_iter().enumerate() {
                x[c * t + tt] = prelu(bn(out_bn, c, v), l.out_act[path]) + m[c * t + tt];
            }
        }
    }

    // logits = classifier(flatten(x)), flatten index c*T + t.
    let cw = weights(&w.classifier.weight, d.classes, false);
    Ok(linear(&x, &cw, &w.classifier.bias)
        .into_iter()
        .map(|v| v as f32)
        .collect())
}
