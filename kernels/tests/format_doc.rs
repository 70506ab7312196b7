//! `docs/FORMAT.md` and `docs/MODEL.md` are enough to implement a bit-exact reader, front end
//! and forward: this file does so from the documents alone (it uses the crate only to make
//! models and to run the engine it compares against), then checks that its logits equal the
//! engine's bit for bit on every ISA, that its front end matches `LogMel`, and a few of the
//! validation rules and sizes the documents state.

// Test code: a failed unwrap is a failed test; `!(v >= 0.0)` is the documented sign rule (true
// for NaN), spelled as the documents spell it.
#![allow(clippy::unwrap_used, clippy::neg_cmp_op_on_partial_ord)]

use std::collections::HashMap;
use std::sync::Arc;

use bifsmn_kernels::features::{FeatureParams, LogMel};
use bifsmn_kernels::format::{FloatDtype, LayerWeights, PackedModel, Storage};
use bifsmn_kernels::infer::{Engine, EngineOptions};
use bifsmn_kernels::isa::Isa;
use bifsmn_kernels::synth::{SynthSpec, random_clip, random_features};
use bifsmn_kernels::weights::Precision;

// ---------------------------------------------------------------- the file (FORMAT.md)

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// CRC-32 as the trailer section states it (reflected 0xEDB88320, init and final XOR !0).
fn crc32(b: &[u8]) -> u32 {
    let mut c = !0u32;
    for &x in b {
        c ^= x as u32;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// IEEE binary16 to f32, exactly.
fn half(h: u16) -> f32 {
    let sign = if h >> 15 == 1 { -1.0f64 } else { 1.0 };
    let (e, f) = (((h >> 10) & 0x1f) as i32, (h & 0x3ff) as f64);
    let v = match e {
        0 => f * 2f64.powi(-24),
        0x1f => f64::INFINITY,
        _ => (1.0 + f / 1024.0) * 2f64.powi(e - 15),
    };
    (sign * v) as f32
}

const NONE: u16 = 0xFFFF;

/// A `q8` section: u32 `g`, `g` grids (f32 base, f32 step), then the codes; `g` equal groups of
/// consecutive values, each `base + step * code` in f32 (product rounded, then the sum).
fn q8(d: &[u8]) -> Vec<f32> {
    let g = u32_at(d, 0) as usize;
    let codes = &d[4 + 8 * g..];
    let per = codes.len() / g;
    let f = |at: usize| f32::from_le_bytes(d[at..at + 4].try_into().unwrap());
    codes
        .iter()
        .enumerate()
        .map(|(k, &c)| {
            let grid = 4 + 8 * (k / per);
            let product = f(grid + 4) * c as f32;
            f(grid) + product
        })
        .collect()
}

struct File {
    meta: Vec<u32>,
    feat: FeatureParams,
    paths: Vec<Vec<usize>>,
    planes: Vec<u32>,
    slopes: Vec<f32>,
    sec: HashMap<(u16, u16, u16), (u8, Vec<u8>)>,
}

impl File {
    fn parse(b: &[u8]) -> File {
        assert_eq!(&b[..8], b"BIFSMNKW");
        let version = u32_at(b, 8);
        assert!(version == 1 || version == 2);
        assert_eq!(u64_at(b, 16), b.len() as u64);
        let body = b.len() - 4;
        assert_eq!(u32_at(b, body), crc32(&b[..body]));
        let count = u32_at(b, 12) as usize;
        let mut sec = HashMap::new();
        for i in 0..count {
            let e = 32 + 24 * i;
            let key = (u16_at(b, e), u16_at(b, e + 2), u16_at(b, e + 4));
            let (off, len) = (u64_at(b, e + 8) as usize, u64_at(b, e + 16) as usize);
            assert!(off % 8 == 0 && off + len <= body);
            assert!(b[e + 6] != 6 || version == 2, "q8 only in version 2");
            assert!(
                sec.insert(key, (b[e + 6], b[off..off + len].to_vec()))
                    .is_none()
            );
        }
        let mut f = File {
            meta: Vec::new(),
            feat: FeatureParams::default(),
            paths: Vec::new(),
            planes: Vec::new(),
            slopes: Vec::new(),
            sec,
        };
        f.meta = f.u32s(0x0001);
        let fb = &f.sec[&(0x0003, NONE, NONE)].1;
        f.feat = FeatureParams {
            sample_rate: u32_at(fb, 0),
            clip_samples: u32_at(fb, 4) as usize,
            n_fft: u32_at(fb, 8) as usize,
            hop: u32_at(fb, 12) as usize,
            n_mels: u32_at(fb, 16) as usize,
            f_min: f32::from_le_bytes(fb[20..24].try_into().unwrap()),
            f_max: f32::from_le_bytes(fb[24..28].try_into().unwrap()),
        };
        let pv = f.u32s(0x0004);
        let mut at = 0;
        for _ in 0..f.meta[3] {
            let n = pv[at] as usize;
            f.paths
                .push(pv[at + 1..at + 1 + n].iter().map(|&j| j as usize).collect());
            at += 1 + n;
        }
        if f.meta[0] == 0 {
            f.planes = f.u32s(0x0005);
        }
        f.slopes = f.floats(0x0006, NONE, NONE);
        f
    }

    fn u32s(&self, kind: u16) -> Vec<u32> {
        let (dt, d) = &self.sec[&(kind, NONE, NONE)];
        assert_eq!(*dt, 4);
        d.chunks_exact(4).map(|c| u32_at(c, 0)).collect()
    }

    fn floats(&self, kind: u16, layer: u16, path: u16) -> Vec<f32> {
        let (dt, d) = &self.sec[&(kind, layer, path)];
        match dt {
            1 => d
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect(),
            2 => d.chunks_exact(2).map(|c| half(u16_at(c, 0))).collect(),
            6 => q8(d),
            _ => panic!("not a float section"),
        }
    }

    /// Sign bits as booleans, `true` = -1.
    fn bits(&self, kind: u16, layer: u16) -> Vec<bool> {
        let (dt, d) = &self.sec[&(kind, layer, NONE)];
        assert_eq!(*dt, 3);
        let words: Vec<u64> = d.chunks_exact(8).map(|c| u64_at(c, 0)).collect();
        (0..words.len() * 64)
            .map(|i| (words[i / 64] >> (i % 64)) & 1 == 1)
            .collect()
    }
}

// ------------------------------------------------------- the network (MODEL.md, canonical)

fn prelu(v: f32, a: f32) -> f32 {
    if v >= 0.0 { v } else { a * v }
}

/// `(b1 is -1, b2 is -1, |r|)`.
fn binarise(v: f32, t0: f32, t1: f32) -> (bool, bool, f32) {
    let n1 = !(v - t0 >= 0.0);
    let b1 = if n1 { -1.0 } else { 1.0 };
    let r = (v - b1) - t1;
    (n1, !(r >= 0.0), r.abs())
}

fn lane_sum(abs: impl Iterator<Item = f32>) -> f32 {
    let mut l = [0f32; 8];
    for (i, a) in abs.enumerate() {
        l[i % 8] += a;
    }
    ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]))
}

/// The binary epilogue before the activation: `scale * (d1 + s2 d2) + shift`.
fn bin_pre(k: u32, pc1: u32, pc2: u32, s2: f32, two: bool, scale: f32, shift: f32) -> f32 {
    let d1 = k as f32 - 2.0 * pc1 as f32;
    let d2 = k as f32 - 2.0 * pc2 as f32;
    let acc = if two { d1 + s2 * d2 } else { d1 };
    scale * acc + shift
}

/// A per-time-step binary product of `k` inputs: binarise `v` (in lane order), popcount
/// against `w` (`[out][k]`), epilogue. Returns the pre-residual outputs.
#[allow(clippy::too_many_arguments)]
fn dense(
    v: &[f32],
    th: &[f32],
    w: &[bool],
    aff: &[f32],
    outs: usize,
    two: bool,
    slope: f32,
    lane_order: impl Fn(usize) -> usize,
) -> Vec<f32> {
    let k = v.len();
    let b: Vec<_> = (0..k).map(|i| binarise(v[i], th[i], th[k + i])).collect();
    let s2 = lane_sum((0..k).map(|n| b[lane_order(n)].2)) / k as f32;
    (0..outs)
        .map(|o| {
            let (mut p1, mut p2) = (0, 0);
            for i in 0..k {
                p1 += (w[o * k + i] != b[i].0) as u32;
                p2 += (w[o * k + i] != b[i].1) as u32;
            }
            prelu(
                bin_pre(k as u32, p1, p2, s2, two, aff[o], aff[outs + o]),
                slope,
            )
        })
        .collect()
}

fn out(n: usize, k: usize, s: usize, p: usize) -> usize {
    (n + 2 * p - k) / s + 1
}

fn forward(f: &File, path: usize, feat: &[f32]) -> Vec<f32> {
    let mt = &f.meta;
    let u = |i: usize| mt[i] as usize;
    let (classes, np) = (u(1), u(3));
    let (c1, k1, s1, p1) = (u(4), u(5), u(6), u(7));
    let (c2, k2, s2, p2) = (u(8), u(9), u(10), u(11));
    let (m, hid, taps) = (u(12), u(13), u(14));
    let (nm, fr) = (f.feat.n_mels, 1 + f.feat.clip_samples / f.feat.hop);
    let (h1, w1) = (out(nm, k1, s1, p1), out(fr, k1, s1, p1));
    let (h2, t) = (out(h1, k2, s2, p2), out(w1, k2, s2, p2));
    let sl = &f.slopes;
    let g = |k: u16| f.floats(k, NONE, NONE);

    // 1. conv1
    let (w, a) = (g(0x0010), g(0x0011));
    let mut y1 = vec![0f32; c1 * h1 * w1];
    for o in 0..c1 {
        for y in 0..h1 {
            for x in 0..w1 {
                let mut acc = 0f32;
                for ky in 0..k1 {
                    for kx in 0..k1 {
                        let (iy, ix) = (
                            (y * s1 + ky) as isize - p1 as isize,
                            (x * s1 + kx) as isize - p1 as isize,
                        );
                        if iy >= 0 && ix >= 0 && (iy as usize) < nm && (ix as usize) < fr {
                            acc +=
                                feat[iy as usize * fr + ix as usize] * w[(o * k1 + ky) * k1 + kx];
                        }
                    }
                }
                y1[(o * h1 + y) * w1 + x] = prelu(a[o] * acc + a[c1 + o], sl[0]);
            }
        }
    }
    // 2.-3. conv2
    let (th, w, a) = (g(0x0022), f.bits(0x0020, NONE), g(0x0021));
    let b: Vec<_> = (0..c1 * h1 * w1)
        .map(|i| binarise(y1[i], th[i / (h1 * w1)], th[c1 + i / (h1 * w1)]))
        .collect();
    let s2c = lane_sum((0..c1 * h1 * w1).map(|n| {
        let (pos, c) = (n / c1, n % c1);
        b[c * h1 * w1 + pos].2
    })) / (c1 * h1 * w1) as f32;
    let mut y2 = vec![0f32; c2 * h2 * t];
    for o in 0..c2 {
        for fy in 0..h2 {
            for tx in 0..t {
                let (mut k, mut pc1, mut pc2, mut corr) = (0u32, 0u32, 0u32, 0f64);
                for ky in 0..k2 {
                    for kx in 0..k2 {
                        for c in 0..c1 {
                            let wb = w[((o * c1 + c) * k2 + ky) * k2 + kx];
                            let (iy, ix) = (
                                (fy * s2 + ky) as isize - p2 as isize,
                                (tx * s2 + kx) as isize - p2 as isize,
                            );
                            if iy >= 0 && ix >= 0 && (iy as usize) < h1 && (ix as usize) < w1 {
                                let e = b[(c * h1 + iy as usize) * w1 + ix as usize];
                                k += 1;
                                pc1 += (wb != e.0) as u32;
                                pc2 += (wb != e.1) as u32;
                            } else {
                                corr += if wb {
                                    -(th[2 * c1 + c] as f64)
                                } else {
                                    th[2 * c1 + c] as f64
                                };
                            }
                        }
                    }
                }
                let shift = (a[c2 + o] as f64 + a[o] as f64 * corr) as f32;
                let v = bin_pre(k, pc1, pc2, s2c, f.planes[0] == 2, a[o], shift);
                y2[(o * h2 + fy) * t + tx] = prelu(v, sl[1]);
            }
        }
    }
    // 4.-5. fc1
    let fc1_in = c2 * h2;
    let (th, w, a) = (g(0x0032), f.bits(0x0030, NONE), g(0x0031));
    let mut x = vec![0f32; m * t];
    for tt in 0..t {
        let z: Vec<f32> = (0..fc1_in).map(|i| y2[i * t + tt]).collect();
        let lane = |n: usize| (n % c2) * h2 + n / c2; // order f * c2 + c
        let y = dense(&z, &th, &w, &a, m, f.planes[1] == 2, sl[2], lane);
        for c in 0..m {
            x[c * t + tt] = y[c];
        }
    }
    // 6. the D-FSMN layers of the path
    let (pad, tp) = ((taps - 1) / 2, t + taps - 1);
    for &j in &f.paths[path] {
        let (jl, base) = (j as u16, 3 + j * (2 + np));
        let gl = |k: u16| f.floats(k, jl, NONE);
        let (th, w, a) = (gl(0x0042), f.bits(0x0040, jl), gl(0x0041));
        let mut mem = vec![0f32; m * t];
        for c in 0..m {
            let v: Vec<f32> = (0..tp)
                .map(|i| {
                    if i < pad || i >= pad + t {
                        0.0
                    } else {
                        x[c * t + i - pad]
                    }
                })
                .collect();
            let bs: Vec<_> = v.iter().map(|&v| binarise(v, th[c], th[m + c])).collect();
            let mut sum = 0f32;
            for e in &bs {
                sum += e.2;
            }
            let s2m = sum / tp as f32;
            let pm = |n: bool| if n { -1.0f32 } else { 1.0 };
            let e: Vec<f32> = bs
                .iter()
                .map(|e| {
                    if f.planes[2 + 3 * j] == 2 {
                        pm(e.0) + s2m * pm(e.1)
                    } else {
                        pm(e.0)
                    }
                })
                .collect();
            for tt in 0..t {
                let mut acc = 0f32;
                for k in 0..taps {
                    acc += pm(w[c * taps + k]) * e[tt + k];
                }
                mem[c * t + tt] = prelu(a[c] * acc + a[m + c], sl[base]) + x[c * t + tt];
            }
        }
        let (the, we, ae) = (gl(0x0052), f.bits(0x0050, jl), gl(0x0051));
        let (thp, wp) = (gl(0x0062), f.bits(0x0060, jl));
        let ap = f.floats(0x0061, jl, path as u16);
        for tt in 0..t {
            let mv: Vec<f32> = (0..m).map(|c| mem[c * t + tt]).collect();
            let uv = dense(
                &mv,
                &the,
                &we,
                &ae,
                hid,
                f.planes[3 + 3 * j] == 2,
                sl[base + 1],
                |n| n,
            );
            let y = dense(
                &uv,
                &thp,
                &wp,
                &ap,
                m,
                f.planes[4 + 3 * j] == 2,
                sl[base + 2 + path],
                |n| n,
            );
            for c in 0..m {
                x[c * t + tt] = y[c] + mem[c * t + tt];
            }
        }
    }
    // 7. classifier
    let (w, bias) = (g(0x0070), g(0x0071));
    (0..classes)
        .map(|k| {
            let mut p = [0f32; 4];
            for i in 0..m * t {
                let (time, c) = (i / m, i % m);
                p[i % 4] += x[c * t + time] * w[k * m * t + c * t + time];
            }
            ((p[0] + p[1]) + (p[2] + p[3])) + bias[k]
        })
        .collect()
}

// ------------------------------------------------------------ the front end (FORMAT.md)

fn logmel(p: &FeatureParams, samples: &[f32]) -> Vec<f32> {
    use std::f64::consts::PI;
    let (n, nn, m) = (p.n_fft, p.clip_samples, p.n_mels);
    let frames = 1 + nn / p.hop;
    let x: Vec<f64> = (0..nn)
        .map(|i| samples.get(i).copied().unwrap_or(0.0) as f64)
        .collect();
    let w: Vec<f64> = (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos())
        .collect();
    let norm = w.iter().map(|v| v * v).sum::<f64>().sqrt();
    let wn: Vec<f64> = w.iter().map(|v| v / norm).collect();
    let mel = |f: f64| 2595.0 * (1.0 + f / 700.0).log10();
    let hz = |m: f64| 700.0 * (10f64.powf(m / 2595.0) - 1.0);
    let (a, b) = (mel(p.f_min as f64), mel(p.f_max as f64));
    let e: Vec<f64> = (0..m + 2)
        .map(|i| hz(a + ((b - a) * i as f64) / (m + 1) as f64))
        .collect();
    let bins = n / 2 + 1;
    let fr: Vec<f64> = (0..bins)
        .map(|k| (k as f64 * (p.sample_rate as f64 / 2.0)) / (n / 2) as f64)
        .collect();
    let (cs, sn): (Vec<f64>, Vec<f64>) = (0..n)
        .map(|q| {
            let ang = 2.0 * PI * q as f64 / n as f64;
            (ang.cos(), ang.sin())
        })
        .unzip();
    let reflect = |j: isize| -> usize {
        let l = nn as isize;
        let j = if j < 0 { -j } else { j };
        (if j >= l { 2 * (l - 1) - j } else { j }) as usize
    };
    let floor = 1e-10f32 as f64;
    let mut out = vec![0f32; m * frames];
    for t in 0..frames {
        let v: Vec<f64> = (0..n)
            .map(|i| x[reflect((t * p.hop) as isize - (n / 2) as isize + i as isize)] * wn[i])
            .collect();
        let pw: Vec<f64> = (0..bins)
            .map(|k| {
                let (mut re, mut im) = (0.0, 0.0);
                for (i, &vi) in v.iter().enumerate() {
                    let q = (k * i) % n;
                    re += vi * cs[q];
                    im -= vi * sn[q];
                }
                re * re + im * im
            })
            .collect();
        for mb in 0..m {
            let (lo, mid, hi) = (e[mb], e[mb + 1], e[mb + 2]);
            let mut en = 0.0;
            for k in 0..bins {
                let h = ((fr[k] - lo) / (mid - lo))
                    .min((hi - fr[k]) / (hi - mid))
                    .max(0.0);
                en += h * pw[k];
            }
            out[mb * frames + t] = (10.0 * en.max(floor).log10()) as f32;
        }
    }
    out
}

// ------------------------------------------------------------------------------- tests

fn check_bit_exact(model: &PackedModel, what: &str) {
    let bytes = model.to_bytes().unwrap();
    let file = File::parse(&bytes);
    let loaded = PackedModel::from_bytes(&bytes).unwrap();
    for isa in Isa::available() {
        let engine =
            Arc::new(Engine::with_options(&loaded, EngineOptions { isa, threads: 1 }).unwrap());
        let mut s = engine.session();
        for path in 0..file.paths.len() {
            for seed in 0..3 {
                let feats = random_features(&file.feat, seed);
                let mine = forward(&file, path, &feats);
                let theirs = s.forward(path, &feats).unwrap();
                let (a, b): (Vec<u32>, Vec<u32>) = (
                    mine.iter().map(|v| v.to_bits()).collect(),
                    theirs.iter().map(|v| v.to_bits()).collect(),
                );
                assert_eq!(
                    a, b,
                    "{what}, {isa}, path {path}, seed {seed}: {mine:?} vs {theirs:?}"
                );
            }
        }
    }
}

#[test]
fn a_forward_written_from_the_documents_is_bit_exact() {
    let tiny = SynthSpec::tiny(Precision::Binary);
    let one_plane = SynthSpec {
        planes: 1,
        ..SynthSpec::tiny(Precision::Binary)
    };
    // An empty path, two identical paths, and a layer (1) that no path runs.
    let odd_paths = SynthSpec {
        paths: Some(vec![vec![], vec![0, 2], vec![1, 2], vec![2]]),
        ..SynthSpec::tiny(Precision::Binary)
    };
    for (name, spec) in [
        ("tiny", tiny),
        ("one plane", one_plane),
        ("odd paths", odd_paths),
    ] {
        for seed in 1..3 {
            let m = PackedModel::from_weights(&spec.weights(seed)).unwrap();
            check_bit_exact(&m, name);
        }
    }
    let paper = PackedModel::from_weights(&SynthSpec::paper(Precision::Binary).weights(7)).unwrap();
    check_bit_exact(&paper, "paper");
    let f16 = paper.clone().with_storage(Storage {
        fp_weights: FloatDtype::F16,
        per_channel: FloatDtype::F16,
    });
    // Reload so the engine runs the rounded values the file holds.
    let f16 = PackedModel::from_bytes(&f16.to_bytes().unwrap()).unwrap();
    check_bit_exact(&f16, "paper, f16");
    let q8 = paper.with_storage(Storage::COMPACT);
    check_bit_exact(
        &PackedModel::from_bytes(&q8.to_bytes().unwrap()).unwrap(),
        "paper, q8",
    );
    // The forward above runs binary models only; for a q8 float model, check that the document's
    // decoding gives the reader's values bit for bit.
    let teacher = PackedModel::from_weights(&SynthSpec::paper(Precision::Float).weights(7))
        .unwrap()
        .with_storage(Storage::COMPACT);
    let bytes = teacher.to_bytes().unwrap();
    let (file, loaded) = (
        File::parse(&bytes),
        PackedModel::from_bytes(&bytes).unwrap(),
    );
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let Some(LayerWeights::Float { weight }) = loaded.layers.first().map(|l| &l.expand.weights)
    else {
        panic!("a float model has float weights")
    };
    assert_eq!(bits(&file.floats(0x0050, 0, NONE)), bits(weight));
    assert_eq!(
        bits(&file.floats(0x0070, NONE, NONE)),
        bits(&loaded.classifier.weight)
    );
    let affine = file.floats(0x0011, NONE, NONE);
    assert_eq!(
        bits(&affine[..affine.len() / 2]),
        bits(&loaded.conv1.affine.scale)
    );
}

#[test]
fn the_front_end_from_the_document_matches_logmel() {
    let paper = FeatureParams::default();
    let tiny = SynthSpec::tiny(Precision::Binary).features; // hop > n_fft
    for (p, lens) in [
        (paper, [16000usize, 9000, 20000]),
        (tiny, [1024, 700, 1500]),
    ] {
        let lm = LogMel::new(p);
        for (seed, len) in lens.into_iter().enumerate() {
            let mut clip = random_clip(&p, seed as u64);
            clip.resize(len, 0.25);
            let (mine, theirs) = (logmel(&p, &clip), lm.compute(&clip));
            let worst = mine
                .iter()
                .zip(&theirs)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(worst <= 1e-4, "{p:?}, {len} samples: off by {worst} dB");
        }
    }
}

#[test]
fn stated_validation_rules_and_sizes_hold() {
    let m = PackedModel::from_weights(&SynthSpec::tiny(Precision::Binary).weights(3)).unwrap();
    let good = m.to_bytes().unwrap();
    let reseal = |mut b: Vec<u8>| {
        let n = b.len();
        let crc = crc32(&b[..n - 4]);
        b[n - 4..].copy_from_slice(&crc.to_le_bytes());
        b
    };
    // Gap bytes must be zero: FEATURES is 28 bytes, so 4 bytes of padding follow it.
    let count = u32_at(&good, 12) as usize;
    let feat_entry = (0..count)
        .map(|i| 32 + 24 * i)
        .find(|&e| u16_at(&good, e) == 0x0003)
        .unwrap();
    let gap = u64_at(&good, feat_entry + 8) as usize + 28;
    let mut b = good.clone();
    b[gap] = 0xAB;
    let e = PackedModel::from_bytes(&reseal(b)).unwrap_err().to_string();
    assert!(e.contains("belongs to no section"), "{e}");
    // The reserved byte of an entry must be zero.
    let mut b = good.clone();
    b[feat_entry + 7] = 1;
    let e = PackedModel::from_bytes(&reseal(b)).unwrap_err().to_string();
    assert!(e.contains("reserved byte"), "{e}");
    // offset + length must not overflow.
    let mut b = good.clone();
    b[feat_entry + 16..feat_entry + 24].copy_from_slice(&u64::MAX.to_le_bytes());
    let e = PackedModel::from_bytes(&reseal(b)).unwrap_err().to_string();
    assert!(e.contains("run past the data area"), "{e}");

    // The sizes table of FORMAT.md.
    let size = |p: Precision, st: FloatDtype| {
        PackedModel::from_weights(&SynthSpec::paper(p).weights(1))
            .unwrap()
            .with_storage(Storage {
                fp_weights: st,
                per_channel: st,
            })
            .to_bytes()
            .unwrap()
            .len()
    };
    assert_eq!(size(Precision::Binary, FloatDtype::F32), 201_956);
    assert_eq!(size(Precision::Binary, FloatDtype::F16), 138_380);
    assert_eq!(size(Precision::Binary, FloatDtype::Q8), 108_292);
    assert_eq!(size(Precision::Float, FloatDtype::F32), 2_386_756);
    assert_eq!(size(Precision::Float, FloatDtype::Q8), 633_252);
}
