//! Per-layer description of a packed model (used by `bifsmn-runner info` and by the GUI).

use serde::Serialize;

use super::*;
use crate::bitpack::words_for;
use crate::network::LayerId;

/// One layer of a packed model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerSummary {
    pub layer: LayerId,
    /// `conv2d`, `linear`, `depthwise1d` or `pointwise1d`, prefixed `bin` when the weights are
    /// one bit.
    pub op: String,
    /// Weight shape, output first (`[out, in, kh, kw]`, `[out, in]`, `[channels, taps]`).
    pub shape: Vec<usize>,
    /// Bits per stored weight: 1, 16 or 32.
    pub weight_bits: u32,
    /// Activation planes of a binary layer (0 for float layers).
    pub planes: u8,
    /// Stored values: weights, folded affines (every path's for project), thresholds, slopes.
    pub params: usize,
    /// Bytes of this layer's sections in the file.
    pub packed_bytes: usize,
    /// Multiply-accumulates per clip.
    pub macs: usize,
    /// Thin paths that run this layer.
    pub paths: Vec<usize>,
}

/// One thin path.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PathSummary {
    pub index: usize,
    /// D-FSMN layers it runs.
    pub layers: Vec<usize>,
    /// Parameters and bytes of the layers it runs (shared sections counted once).
    pub params: usize,
    pub packed_bytes: usize,
    /// MACs per clip, and the part of them that are XOR-popcount (binary) MACs.
    pub macs: usize,
    pub binary_macs: usize,
}

/// The whole model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelSummary {
    pub precision: Precision,
    pub labels: Vec<String>,
    pub features: FeatureParams,
    pub dims: Dims,
    pub storage: Storage,
    pub layers: Vec<LayerSummary>,
    pub paths: Vec<PathSummary>,
    pub total_params: usize,
    /// Bytes of all layer sections (the file adds header, table, labels and padding).
    pub total_packed_bytes: usize,
}

/// What [`layer_summary`] needs of a binarisable layer besides its weights.
struct LayerSpec {
    layer: LayerId,
    /// The operation's name for a float layer (`bin` is prefixed for a binary one).
    base: &'static str,
    shape: Vec<usize>,
    outs: usize,
    /// Affines (scale and shift per output) stored for the layer.
    affines: usize,
    slopes: usize,
    macs: usize,
    paths: Vec<usize>,
}

/// Weights, thresholds and affines of a binarisable layer, in the storage types `st`.
fn layer_summary(st: Storage, spec: LayerSpec, w: &LayerWeights) -> LayerSummary {
    let LayerSpec {
        layer,
        base,
        shape,
        outs,
        affines,
        slopes,
        macs,
        paths,
    } = spec;
    let n: usize = shape.iter().product();
    let (op, bits, wbytes, planes, tparams) = match w {
        LayerWeights::Binary { quant, .. } => {
            let t = quant.tau0.len() + quant.tau1.len() + quant.tau2.len();
            (
                format!("bin{base}"),
                1,
                8 * words_for(n) + st.per_channel.section_len(t, quant.vectors()),
                quant.planes,
                t,
            )
        }
        LayerWeights::Float { .. } => (
            base.to_owned(),
            st.fp_weights.bits(),
            st.fp_weights.section_len(n, outs),
            0,
            0,
        ),
    };
    let aff = 2 * outs * affines;
    LayerSummary {
        layer,
        op,
        shape,
        weight_bits: bits,
        planes,
        params: n + aff + tparams + slopes,
        packed_bytes: wbytes + affines * st.per_channel.section_len(2 * outs, 2) + 4 * slopes,
        macs,
        paths,
    }
}

/// Each path's totals over the layers it runs.
fn path_summaries(paths: &[Vec<usize>], layers: &[LayerSummary]) -> Vec<PathSummary> {
    paths
        .iter()
        .enumerate()
        .map(|(p, path)| {
            let mut s = PathSummary {
                index: p,
                layers: path.clone(),
                params: 0,
                packed_bytes: 0,
                macs: 0,
                binary_macs: 0,
            };
            for l in layers.iter().filter(|l| l.paths.contains(&p)) {
                s.params += l.params;
                s.packed_bytes += l.packed_bytes;
                s.macs += l.macs;
                if l.weight_bits == 1 {
                    s.binary_macs += l.macs;
                }
            }
            s
        })
        .collect()
}

impl PackedModel {
    /// Describe every layer and path.
    pub fn summary(&self) -> ModelSummary {
        let st = self.storage;
        let layers = self.layer_summaries();
        let paths = path_summaries(&self.paths, &layers);
        ModelSummary {
            precision: self.precision(),
            labels: self.labels.clone(),
            features: self.features,
            dims: self.dims,
            storage: st,
            total_params: layers.iter().map(|l| l.params).sum(),
            total_packed_bytes: layers.iter().map(|l| l.packed_bytes).sum(),
            layers,
            paths,
        }
    }

    /// One summary per layer, front to back, the classifier last.
    fn layer_summaries(&self) -> Vec<LayerSummary> {
        let d = &self.dims;
        let st = self.storage;
        let all: Vec<usize> = (0..self.paths.len()).collect();
        let running = |j: usize| -> Vec<usize> {
            (0..self.paths.len())
                .filter(|&p| self.paths[p].contains(&j))
                .collect()
        };
        let (k1, k2) = (d.hyper.conv1_kernel, d.hyper.conv2_kernel);
        let front = [
            (
                LayerSpec {
                    layer: LayerId::Conv1,
                    base: "conv2d",
                    shape: vec![d.c1, 1, k1, k1],
                    outs: d.c1,
                    affines: 1,
                    slopes: 1,
                    macs: d.c1 * k1 * k1 * d.h1 * d.w1,
                    paths: all.clone(),
                },
                &self.conv1.weights,
            ),
            (
                LayerSpec {
                    layer: LayerId::Conv2,
                    base: "conv2d",
                    shape: vec![d.c2, d.c1, k2, k2],
                    outs: d.c2,
                    affines: 1,
                    slopes: 1,
                    macs: d.c2 * d.conv2_patch() * d.h2 * d.t,
                    paths: all.clone(),
                },
                &self.conv2.weights,
            ),
            (
                LayerSpec {
                    layer: LayerId::Fc1,
                    base: "linear",
                    shape: vec![d.m, d.fc1_in],
                    outs: d.m,
                    affines: 1,
                    slopes: 1,
                    macs: d.m * d.fc1_in * d.t,
                    paths: all.clone(),
                },
                &self.fc1.weights,
            ),
        ];
        let mut layers: Vec<LayerSummary> = front
            .into_iter()
            .map(|(spec, w)| layer_summary(st, spec, w))
            .collect();
        for (j, l) in self.layers.iter().enumerate() {
            let np = l.project.affine.iter().flatten().count();
            let (m, h, t) = (d.m, d.hidden, d.t);
            let memory = LayerSpec {
                layer: LayerId::Memory(j),
                base: "depthwise1d",
                shape: vec![m, d.taps],
                outs: m,
                affines: 1,
                slopes: 1,
                macs: m * d.taps * t,
                paths: running(j),
            };
            let expand = LayerSpec {
                layer: LayerId::Expand(j),
                base: "pointwise1d",
                shape: vec![h, m],
                outs: h,
                affines: 1,
                slopes: 1,
                macs: h * m * t,
                paths: running(j),
            };
            // One output affine and slope per path (affines only for the paths that run it).
            let project = LayerSpec {
                layer: LayerId::Project(j),
                base: "pointwise1d",
                shape: vec![m, h],
                outs: m,
                affines: np,
                slopes: self.paths.len(),
                macs: m * h * t,
                paths: running(j),
            };
            layers.push(layer_summary(st, memory, &l.memory.weights));
            layers.push(layer_summary(st, expand, &l.expand.weights));
            layers.push(layer_summary(st, project, &l.project.weights));
        }
        let cls_n = d.classes * d.classifier_in();
        layers.push(LayerSummary {
            layer: LayerId::Classifier,
            op: "linear".into(),
            shape: vec![d.classes, d.classifier_in()],
            weight_bits: st.fp_weights.bits(),
            planes: 0,
            params: cls_n + d.classes,
            packed_bytes: st.fp_weights.section_len(cls_n, d.classes)
                + st.fp_weights.section_len(d.classes, 1),
            macs: cls_n,
            paths: all,
        });
        layers
    }
}

impl std::fmt::Display for ModelSummary {
    /// A fixed-width table, one line per layer.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "precision {:?}, {}", self.precision, self.dims)?;
        writeln!(
            f,
            "{:<18} {:<16} {:<16} {:>4} {:>3} {:>9} {:>9} {:>10}  paths",
            "layer", "op", "shape", "bits", "pl", "params", "bytes", "MACs"
        )?;
        for l in &self.layers {
            let shape = l
                .shape
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join("x");
            let paths = l
                .paths
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(",");
            writeln!(
                f,
                "{:<18} {:<16} {:<16} {:>4} {:>3} {:>9} {:>9} {:>10}  {}",
                l.layer.to_string(),
                l.op,
                shape,
                l.weight_bits,
                l.planes,
                l.params,
                l.packed_bytes,
                l.macs,
                paths
            )?;
        }
        writeln!(
            f,
            "total: {} params, {} bytes in layer sections",
            self.total_params, self.total_packed_bytes
        )?;
        for p in &self.paths {
            writeln!(
                f,
                "path {}: layers {:?}, {} params, {} bytes, {} MACs ({} binary)",
                p.index, p.layers, p.params, p.packed_bytes, p.macs, p.binary_macs
            )?;
        }
        Ok(())
    }
}
