//! The network's dimensions: derived once from weights or from a file header, checked against
//! the limits every other module relies on (so no later arithmetic can overflow and no buffer
//! can be absurdly large, whatever a file says).

use std::fmt;

use serde::Serialize;

use crate::features::FeatureParams;
use crate::weights::{ActQuant, BatchNorm, Dense, DfsmnLayer, NetworkWeights, Precision};

/// Limits on every dimension (documented in `docs/FORMAT.md`).
pub mod limits {
    /// conv1 output channels: at most one u64 of channel bits per position in conv2's patches.
    pub const MAX_CONV1_CHANNELS: usize = 64;
    pub const MAX_CONV2_CHANNELS: usize = 1024;
    pub const MAX_KERNEL: usize = 15;
    pub const MAX_STRIDE: usize = 8;
    pub const MAX_MEMORY: usize = 4096;
    pub const MAX_HIDDEN: usize = 8192;
    pub const MAX_TAPS: usize = 31;
    pub const MAX_LAYERS: usize = 64;
    pub const MAX_PATHS: usize = 16;
    pub const MAX_CLASSES: usize = 1024;
    pub const MAX_LABEL_BYTES: usize = 256;
    pub const MAX_MELS: usize = 1024;
    pub const MAX_FRAMES: usize = 4096;
    pub const MAX_N_FFT: usize = 65536;
    pub const MAX_CLIP_SAMPLES: usize = 16_000_000;
    /// Bits of one binary dot product (the NEON kernel's u16 accumulators need < 65536).
    pub const MAX_DOT_BITS: usize = 32768;
    /// Elements of any one activation or weight buffer.
    pub const MAX_ELEMENTS: usize = 1 << 24;
}

use limits::*;

/// An error in a network description, naming the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ShapeError {
    pub field: String,
    pub problem: String,
}

pub(crate) fn shape_err(field: impl Into<String>, problem: impl Into<String>) -> ShapeError {
    ShapeError {
        field: field.into(),
        problem: problem.into(),
    }
}

/// Output length of a convolution, `None` if the input is too small.
pub fn conv_out(input: usize, kernel: usize, stride: usize, padding: usize) -> Option<usize> {
    let padded = input.checked_add(2 * padding)?;
    if padded < kernel || stride == 0 {
        return None;
    }
    Some((padded - kernel) / stride + 1)
}

/// Architecture hyper-parameters as stored in a file (`META` section).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Hyper {
    pub precision: Precision,
    pub classes: usize,
    pub layers: usize,
    pub paths: usize,
    pub conv1_channels: usize,
    pub conv1_kernel: usize,
    pub conv1_stride: usize,
    pub conv1_padding: usize,
    pub conv2_channels: usize,
    pub conv2_kernel: usize,
    pub conv2_stride: usize,
    pub conv2_padding: usize,
    pub memory: usize,
    pub hidden: usize,
    pub taps: usize,
}

/// Every dimension of the network, derived from [`Hyper`] and the feature shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Dims {
    pub hyper: Hyper,
    /// Input height (mel bins) and width (frames).
    pub n_mels: usize,
    pub frames: usize,
    /// conv1 output (channels `c1`, height `h1`, width `w1`).
    pub c1: usize,
    pub h1: usize,
    pub w1: usize,
    /// conv2 output (channels `c2`, height `h2`, width = time steps `t`).
    pub c2: usize,
    pub h2: usize,
    pub t: usize,
    /// fc1 input features (`c2 * h2`).
    pub fc1_in: usize,
    /// Memory size (fc1 output and D-FSMN width).
    pub m: usize,
    pub hidden: usize,
    pub taps: usize,
    pub layers: usize,
    pub classes: usize,
}

fn within(field: &str, v: usize, lo: usize, hi: usize) -> Result<usize, ShapeError> {
    if v < lo || v > hi {
        return Err(shape_err(field, format!("{v} is outside {lo}..={hi}")));
    }
    Ok(v)
}

fn mul(field: &str, a: usize, b: usize) -> Result<usize, ShapeError> {
    a.checked_mul(b)
        .filter(|&p| p <= MAX_ELEMENTS)
        .ok_or_else(|| {
            shape_err(
                field,
                format!("{a} x {b} exceeds the limit of {MAX_ELEMENTS} elements"),
            )
        })
}

impl Dims {
    /// Derive and check every dimension.
    pub fn new(hyper: Hyper, features: &FeatureParams) -> Result<Dims, ShapeError> {
        check_features(features)?;
        let n_mels = features.n_mels;
        let frames = features.frames();
        within("classes", hyper.classes, 1, MAX_CLASSES)?;
        within("layers", hyper.layers, 0, MAX_LAYERS)?;
        within("paths", hyper.paths, 1, MAX_PATHS)?;
        within(
            "conv1 channels",
            hyper.conv1_channels,
            1,
            MAX_CONV1_CHANNELS,
        )?;
        within(
            "conv2 channels",
            hyper.conv2_channels,
            1,
            MAX_CONV2_CHANNELS,
        )?;
        for (name, k, s, p) in [
            (
                "conv1",
                hyper.conv1_kernel,
                hyper.conv1_stride,
                hyper.conv1_padding,
            ),
            (
                "conv2",
                hyper.conv2_kernel,
                hyper.conv2_stride,
                hyper.conv2_padding,
            ),
        ] {
            within(&format!("{name} kernel"), k, 1, MAX_KERNEL)?;
            within(&format!("{name} stride"), s, 1, MAX_STRIDE)?;
            within(&format!("{name} padding"), p, 0, k - 1)?;
        }
        within("memory size", hyper.memory, 1, MAX_MEMORY)?;
        within("hidden size", hyper.hidden, 1, MAX_HIDDEN)?;
        within("memory taps", hyper.taps, 1, MAX_TAPS)?;
        if hyper.taps.is_multiple_of(2) {
            return Err(shape_err(
                "memory taps",
                format!(
                    "{} is even; taps = left + right + 1 with left = right",
                    hyper.taps
                ),
            ));
        }
        let size = |what: &str, input: usize, k: usize, s: usize, p: usize| {
            conv_out(input, k, s, p).ok_or_else(|| {
                shape_err(
                    what,
                    format!("input of {input} is smaller than kernel {k} with padding {p}"),
                )
            })
        };
        let (k1, s1, p1) = (hyper.conv1_kernel, hyper.conv1_stride, hyper.conv1_padding);
        let (k2, s2, p2) = (hyper.conv2_kernel, hyper.conv2_stride, hyper.conv2_padding);
        let h1 = size("conv1 height", n_mels, k1, s1, p1)?;
        let w1 = size("conv1 width", frames, k1, s1, p1)?;
        let h2 = size("conv2 height", h1, k2, s2, p2)?;
        let t = size("conv2 width (time steps)", w1, k2, s2, p2)?;
        let c1 = hyper.conv1_channels;
        let c2 = hyper.conv2_channels;
        // Buffer sizes the engine allocates.
        let p1n = mul("conv1 positions", h1, w1)?;
        mul("conv1 output", p1n, c1)?;
        mul("conv1 patches", p1n, k1 * k1)?;
        let p2n = mul("conv2 positions", h2, t)?;
        let patch = c1 * k2 * k2;
        within("conv2 patch bits", patch, 1, MAX_DOT_BITS)?;
        mul("conv2 patches", p2n, patch)?;
        mul("conv2 weights", c2, patch)?;
        let fc1_in = mul("fc1 input", c2, h2)?;
        within("fc1 input", fc1_in, 1, MAX_DOT_BITS)?;
        mul("conv2 output", fc1_in, t)?;
        mul("fc1 weights", fc1_in, hyper.memory)?;
        mul("expand weights", hyper.memory, hyper.hidden)?;
        mul("hidden activations", hyper.hidden, t + hyper.taps)?;
        let cls_in = mul("classifier input", hyper.memory, t)?;
        mul("classifier weights", cls_in, hyper.classes)?;
        Ok(Dims {
            hyper,
            n_mels,
            frames,
            c1,
            h1,
            w1,
            c2,
            h2,
            t,
            fc1_in,
            m: hyper.memory,
            hidden: hyper.hidden,
            taps: hyper.taps,
            layers: hyper.layers,
            classes: hyper.classes,
        })
    }

    /// Length of the input feature image (`n_mels * frames`).
    pub fn input_len(&self) -> usize {
        self.n_mels * self.frames
    }

    /// Classifier input length (`m * t`).
    pub fn classifier_in(&self) -> usize {
        self.m * self.t
    }

    /// Bits of one conv2 patch (`c1 * k2 * k2`).
    pub fn conv2_patch(&self) -> usize {
        self.c1 * self.hyper.conv2_kernel * self.hyper.conv2_kernel
    }
}

impl fmt::Display for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "input {}x{}, conv1 {}x{}x{}, conv2 {}x{}x{}, fc1 {}->{}, {} layers ({}/{}), {} classes",
            self.n_mels,
            self.frames,
            self.c1,
            self.h1,
            self.w1,
            self.c2,
            self.h2,
            self.t,
            self.fc1_in,
            self.m,
            self.layers,
            self.m,
            self.hidden,
            self.classes
        )
    }
}

/// One layer of the network, as the summary, the timing hooks and the inspector name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LayerId {
    Conv1,
    Conv2,
    Fc1,
    Memory(usize),
    Expand(usize),
    Project(usize),
    Classifier,
}

impl LayerId {
    /// The layers a thin path runs, in order.
    pub fn for_path(path: &[usize]) -> Vec<LayerId> {
        let mut v = vec![LayerId::Conv1, LayerId::Conv2, LayerId::Fc1];
        for &j in path {
            v.extend([LayerId::Memory(j), LayerId::Expand(j), LayerId::Project(j)]);
        }
        v.push(LayerId::Classifier);
        v
    }
}

impl fmt::Display for LayerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayerId::Conv1 => f.write_str("conv1"),
            LayerId::Conv2 => f.write_str("conv2"),
            LayerId::Fc1 => f.write_str("fc1"),
            LayerId::Memory(j) => write!(f, "layer{j}.memory"),
            LayerId::Expand(j) => write!(f, "layer{j}.expand"),
            LayerId::Project(j) => write!(f, "layer{j}.project"),
            LayerId::Classifier => f.write_str("classifier"),
        }
    }
}

impl Serialize for LayerId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Check feature parameters against the front end's needs and the format's limits.
pub fn check_features(p: &FeatureParams) -> Result<(), ShapeError> {
    within("features.n_mels", p.n_mels, 1, MAX_MELS)?;
    within("features.n_fft", p.n_fft, 2, MAX_N_FFT)?;
    within("features.clip_samples", p.clip_samples, 1, MAX_CLIP_SAMPLES)?;
    within("features.hop", p.hop, 1, MAX_CLIP_SAMPLES)?;
    if !p.f_min.is_finite() || !p.f_max.is_finite() {
        return Err(shape_err("features", "f_min and f_max must be finite"));
    }
    p.validate().map_err(|e| shape_err("features", e))?;
    within("features frames", p.frames(), 1, MAX_FRAMES)?;
    if p.f_max > p.sample_rate as f32 / 2.0 {
        return Err(shape_err(
            "features.f_max",
            format!("{} is above the Nyquist frequency", p.f_max),
        ));
    }
    Ok(())
}

/// Check thin paths: each non-empty list of strictly increasing layer indices.
pub fn check_paths(paths: &[Vec<usize>], layers: usize) -> Result<(), ShapeError> {
    within("number of paths", paths.len(), 1, MAX_PATHS)?;
    for (p, path) in paths.iter().enumerate() {
        if path.iter().any(|&j| j >= layers) {
            return Err(shape_err(
                format!("path {p}"),
                format!("refers to a layer >= {layers}"),
            ));
        }
        if path.windows(2).any(|w| w[0] >= w[1]) {
            return Err(shape_err(
                format!("path {p}"),
                "layer indices must be strictly increasing",
            ));
        }
        // Thin paths are distinct by definition; a repeated one is a writer's mistake.
        if let Some(q) = paths[..p].iter().position(|other| other == path) {
            return Err(shape_err(
                format!("path {p}"),
                format!("runs the same layers as path {q}"),
            ));
        }
    }
    Ok(())
}

fn len_is(field: &str, v: &[f32], n: usize) -> Result<(), ShapeError> {
    if v.len() != n {
        return Err(shape_err(
            field,
            format!("has {} values, expected {n}", v.len()),
        ));
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(shape_err(
            field,
            format!("value {i} is not finite ({})", v[i]),
        ));
    }
    Ok(())
}

fn finite(field: &str, v: f32) -> Result<(), ShapeError> {
    if !v.is_finite() {
        return Err(shape_err(field, format!("{v} is not finite")));
    }
    Ok(())
}

fn check_bn(field: &str, bn: &BatchNorm, n: usize) -> Result<(), ShapeError> {
    len_is(&format!("{field}.gamma"), &bn.gamma, n)?;
    len_is(&format!("{field}.beta"), &bn.beta, n)?;
    len_is(&format!("{field}.running_mean"), &bn.running_mean, n)?;
    len_is(&format!("{field}.running_var"), &bn.running_var, n)?;
    if !(bn.eps.is_finite() && bn.eps >= 0.0) {
        return Err(shape_err(
            format!("{field}.eps"),
            format!("{} must be finite and >= 0", bn.eps),
        ));
    }
    // `!(x > 0)` on purpose: NaN must be rejected too.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    let bad = bn.running_var.iter().position(|&v| !(v + bn.eps > 0.0));
    if let Some(i) = bad {
        return Err(shape_err(
            format!("{field}.running_var"),
            format!("var + eps at channel {i} is not positive"),
        ));
    }
    Ok(())
}

fn check_quant(
    field: &str,
    q: &Option<ActQuant>,
    n: usize,
    precision: Precision,
) -> Result<(), ShapeError> {
    match (precision, q) {
        (Precision::Float, None) => Ok(()),
        (Precision::Float, Some(_)) => Err(shape_err(
            field,
            "a float model has no activation thresholds",
        )),
        (Precision::Binary, None) => Err(shape_err(
            field,
            "a binary model needs activation thresholds",
        )),
        (Precision::Binary, Some(q)) => {
            if q.planes != 1 && q.planes != 2 {
                return Err(shape_err(
                    format!("{field}.planes"),
                    format!("{} is not 1 or 2", q.planes),
                ));
            }
            len_is(&format!("{field}.tau0"), &q.tau0, n)?;
            len_is(&format!("{field}.tau1"), &q.tau1, n)?;
            len_is(&format!("{field}.tau2"), &q.tau2, n)
        }
    }
}

/// Check a whole unfolded network and derive its dimensions.
pub fn check_weights(w: &NetworkWeights) -> Result<Dims, ShapeError> {
    let hyper = Hyper {
        precision: w.precision,
        classes: w.classifier.out_features,
        layers: w.layers.len(),
        paths: w.paths.len(),
        conv1_channels: w.conv1.out_channels,
        conv1_kernel: w.conv1.kernel,
        conv1_stride: w.conv1.stride,
        conv1_padding: w.conv1.padding,
        conv2_channels: w.conv2.out_channels,
        conv2_kernel: w.conv2.kernel,
        conv2_stride: w.conv2.stride,
        conv2_padding: w.conv2.padding,
        memory: w.fc1.out_features,
        hidden: w.layers.first().map_or(1, |l| l.expand.out_features),
        taps: w.layers.first().map_or(1, |l| l.memory.taps),
    };
    let d = Dims::new(hyper, &w.features)?;
    check_paths(&w.paths, d.layers)?;
    check_labels(&w.labels, &d)?;
    check_front(w, &d)?;
    for (j, l) in w.layers.iter().enumerate() {
        check_dfsmn(w, &d, j, l)?;
    }
    check_classifier(w, &d)?;
    Ok(d)
}

/// One label per class, none too long.
fn check_labels(labels: &[String], d: &Dims) -> Result<(), ShapeError> {
    if labels.len() != d.classes {
        return Err(shape_err(
            "labels",
            format!("{} labels for {} classes", labels.len(), d.classes),
        ));
    }
    if let Some(l) = labels.iter().find(|l| l.len() > MAX_LABEL_BYTES) {
        return Err(shape_err(
            "labels",
            format!(
                "label of {} bytes is longer than {MAX_LABEL_BYTES}",
                l.len()
            ),
        ));
    }
    Ok(())
}

/// conv1, bn1, conv2, bn2 and fc1 against the dimensions.
fn check_front(w: &NetworkWeights, d: &Dims) -> Result<(), ShapeError> {
    let (k1, k2) = (w.conv1.kernel, w.conv2.kernel);
    if w.conv1.in_channels != 1 {
        return Err(shape_err(
            "conv1.in_channels",
            format!("{} (the input is one log-mel image)", w.conv1.in_channels),
        ));
    }
    len_is("conv1.weight", &w.conv1.weight, d.c1 * k1 * k1)?;
    len_is("conv1.bias", &w.conv1.bias, d.c1)?;
    check_bn("bn1", &w.bn1, d.c1)?;
    finite("act1", w.act1)?;
    if w.conv2.in_channels != d.c1 {
        return Err(shape_err(
            "conv2.in_channels",
            format!("{} but conv1 has {} outputs", w.conv2.in_channels, d.c1),
        ));
    }
    len_is("conv2.weight", &w.conv2.weight, d.c2 * d.c1 * k2 * k2)?;
    len_is("conv2.bias", &w.conv2.bias, d.c2)?;
    check_quant("conv2_quant", &w.conv2_quant, d.c1, w.precision)?;
    check_bn("bn2", &w.bn2, d.c2)?;
    finite("act2", w.act2)?;
    if w.fc1.in_features != d.fc1_in {
        return Err(shape_err(
            "fc1.in_features",
            format!(
                "{} but conv2 gives {} x {} = {}",
                w.fc1.in_features, d.c2, d.h2, d.fc1_in
            ),
        ));
    }
    len_is("fc1.weight", &w.fc1.weight, d.m * d.fc1_in)?;
    len_is("fc1.bias", &w.fc1.bias, d.m)?;
    check_quant("fc1_quant", &w.fc1_quant, d.fc1_in, w.precision)?;
    finite("act_fc1", w.act_fc1)?;
    Ok(())
}

/// D-FSMN layer `j` against the dimensions and the paths that run it.
fn check_dfsmn(w: &NetworkWeights, d: &Dims, j: usize, l: &DfsmnLayer) -> Result<(), ShapeError> {
    let f = |s: &str| format!("layers[{j}].{s}");
    if l.memory.channels != d.m || l.memory.taps != d.taps {
        return Err(shape_err(
            f("memory"),
            format!(
                "{} channels x {} taps, expected {} x {}",
                l.memory.channels, l.memory.taps, d.m, d.taps
            ),
        ));
    }
    len_is(&f("memory.weight"), &l.memory.weight, d.m * d.taps)?;
    len_is(&f("memory.bias"), &l.memory.bias, d.m)?;
    check_quant(&f("memory_quant"), &l.memory_quant, d.m, w.precision)?;
    check_bn(&f("memory_bn"), &l.memory_bn, d.m)?;
    finite(&f("memory_act"), l.memory_act)?;
    check_dense(&f("expand"), &l.expand, d.m, d.hidden)?;
    check_quant(&f("expand_quant"), &l.expand_quant, d.m, w.precision)?;
    check_bn(&f("expand_bn"), &l.expand_bn, d.hidden)?;
    finite(&f("expand_act"), l.expand_act)?;
    check_dense(&f("project"), &l.project, d.hidden, d.m)?;
    check_quant(&f("project_quant"), &l.project_quant, d.hidden, w.precision)?;
    if l.out_bn.len() != d.hyper.paths || l.out_act.len() != d.hyper.paths {
        return Err(shape_err(
            f("out_bn/out_act"),
            format!(
                "{} / {} entries for {} paths",
                l.out_bn.len(),
                l.out_act.len(),
                d.hyper.paths
            ),
        ));
    }
    for (p, path) in w.paths.iter().enumerate() {
        let runs = path.contains(&j);
        match (&l.out_bn[p], runs) {
            (Some(bn), true) => check_bn(&f(&format!("out_bn[{p}]")), bn, d.m)?,
            (None, false) => {}
            (Some(_), false) => {
                return Err(shape_err(
                    f(&format!("out_bn[{p}]")),
                    "present but path does not run this layer",
                ));
            }
            (None, true) => {
                return Err(shape_err(
                    f(&format!("out_bn[{p}]")),
                    "missing for a path that runs this layer",
                ));
            }
        }
        finite(&f(&format!("out_act[{p}]")), l.out_act[p])?;
    }
    Ok(())
}

/// A 1x1 layer `field` maps `inputs` to `outputs` features: its declared sizes, weight and bias.
fn check_dense(field: &str, l: &Dense, inputs: usize, outputs: usize) -> Result<(), ShapeError> {
    if l.in_features != inputs || l.out_features != outputs {
        return Err(shape_err(
            field,
            format!(
                "{} -> {}, expected {inputs} -> {outputs}",
                l.in_features, l.out_features
            ),
        ));
    }
    len_is(&format!("{field}.weight"), &l.weight, outputs * inputs)?;
    len_is(&format!("{field}.bias"), &l.bias, outputs)
}

/// The classifier against the backbone's output.
fn check_classifier(w: &NetworkWeights, d: &Dims) -> Result<(), ShapeError> {
    if w.classifier.in_features != d.classifier_in() {
        return Err(shape_err(
            "classifier.in_features",
            format!(
                "{} but the backbone gives {} x {} = {}",
                w.classifier.in_features,
                d.m,
                d.t,
                d.classifier_in()
            ),
        ));
    }
    len_is(
        "classifier.weight",
        &w.classifier.weight,
        d.classes * d.classifier_in(),
    )?;
    len_is("classifier.bias", &w.classifier.bias, d.classes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper_hyper() -> Hyper {
        Hyper {
            precision: Precision::Binary,
            classes: 12,
            layers: 8,
            paths: 4,
            conv1_channels: 16,
            conv1_kernel: 5,
            conv1_stride: 2,
            conv1_padding: 2,
            conv2_channels: 32,
            conv2_kernel: 5,
            conv2_stride: 2,
            conv2_padding: 2,
            memory: 128,
            hidden: 256,
            taps: 5,
        }
    }

    #[test]
    fn paper_dimensions() {
        let d = Dims::new(paper_hyper(), &FeatureParams::default()).unwrap();
        assert_eq!((d.c1, d.h1, d.w1), (16, 16, 16));
        assert_eq!((d.c2, d.h2, d.t), (32, 8, 8));
        assert_eq!(d.fc1_in, 256);
        assert_eq!(d.classifier_in(), 1024);
        assert_eq!(d.conv2_patch(), 400);
    }

    #[test]
    fn limits_are_enforced() {
        let mut h = paper_hyper();
        h.conv1_channels = 65;
        assert!(
            Dims::new(h, &FeatureParams::default())
                .unwrap_err()
                .field
                .contains("conv1")
        );
        let mut h = paper_hyper();
        h.taps = 4;
        assert!(Dims::new(h, &FeatureParams::default()).is_err());
        let mut h = paper_hyper();
        h.conv2_padding = 5;
        assert!(Dims::new(h, &FeatureParams::default()).is_err());
        let mut h = paper_hyper();
        h.conv2_kernel = 15;
        h.conv2_padding = 0;
        h.conv1_stride = 8;
        assert!(
            Dims::new(h, &FeatureParams::default())
                .unwrap_err()
                .problem
                .contains("smaller")
        );
    }

    #[test]
    fn conv_out_matches_the_usual_formula() {
        assert_eq!(conv_out(32, 5, 2, 2), Some(16));
        assert_eq!(conv_out(16, 5, 2, 2), Some(8));
        assert_eq!(conv_out(3, 5, 1, 0), None);
        assert_eq!(conv_out(usize::MAX, 5, 1, 2), None);
    }

    #[test]
    fn paths_must_be_increasing_and_in_range() {
        assert!(check_paths(&[vec![0, 1], vec![1]], 2).is_ok());
        assert!(check_paths(&[vec![1, 0]], 2).is_err());
        assert!(check_paths(&[vec![2]], 2).is_err());
        assert!(check_paths(&[], 2).is_err());
    }
}
