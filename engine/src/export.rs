//! Trained burn model -> unfolded [`NetworkWeights`] -> packed 1-bit model (`.bkw`).
//!
//! The kernels re-derive each binary weight as `mean|W| * sgn(W)` per output channel
//! (`docs/MODEL.md`). Every exportable binarizer produces weights of exactly that form with its
//! own scale rule (LPB and Bi-Real: mean magnitude; BNN: 1; BiFSMN: of the centred weights;
//! IR-Net: a power of two), so the export hands over the *binarized* weights the model itself
//! computes, and the kernels recover the same signs and scales from them.

use std::path::Path;

use bifsmn_kernels::features::FeatureParams;
use bifsmn_kernels::format::{PackedModel, Storage};
use bifsmn_kernels::weights::{
    ActQuant, BatchNorm, Conv2d, Dense, DepthwiseConv1d, DfsmnLayer, NetworkWeights, Precision,
};
use burn::module::Module;
use burn::nn::BatchNorm as BurnBatchNorm;
use burn::prelude::*;

use crate::model::Dfsmn;
use crate::model::layers::{Activation, BinConv1d, BinConv2d, BinLinear};
use crate::model::quant::{ActBinarizer, BinarizerKind};

/// Why a model cannot be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(
        "the {0} binarizer cannot run on the bit kernels (its activations carry a real-valued scale or shift); train with lpb, bnn, bi-real, ir-net or bifsmn-v1"
    )]
    NotBitwise(&'static str),
    #[error(
        "models trained with --reference-code use per-input scales that are not XOR-popcount products; retrain without it to deploy"
    )]
    ReferenceCode,
    #[error(
        "{0} uses per-channel activation shifts (RPReLU), which the packed format does not hold"
    )]
    Rprelu(String),
    #[error("the model has {have} thin paths, {want} were asked for")]
    Paths { have: usize, want: usize },
    #[error("tensor {name} could not be read: {reason}")]
    Tensor { name: String, reason: String },
    #[error("packing failed: {0}")]
    Pack(#[from] bifsmn_kernels::format::FormatError),
}

fn values<const D: usize>(t: Tensor<D>, name: &str) -> Result<Vec<f32>, ExportError> {
    t.without_autodiff()
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| ExportError::Tensor {
            name: name.to_string(),
            reason: format!("{e:?}"),
        })
}

fn bn(b: &BurnBatchNorm, name: &str) -> Result<BatchNorm, ExportError> {
    Ok(BatchNorm {
        gamma: values(b.gamma.val(), name)?,
        beta: values(b.beta.val(), name)?,
        running_mean: values(b.running_mean.value(), name)?,
        running_var: values(b.running_var.value(), name)?,
        eps: b.epsilon as f32,
    })
}

fn slope(a: &Activation, name: &str) -> Result<f32, ExportError> {
    a.shared_slope()
        .ok_or_else(|| ExportError::Rprelu(name.to_string()))
}

fn quant(a: &Option<ActBinarizer>, name: &str) -> Result<Option<ActQuant>, ExportError> {
    a.as_ref()
        .map(|a| {
            Ok(ActQuant {
                planes: a.planes as u8,
                tau0: values(a.tau0.val(), name)?,
                tau1: values(a.tau1.val(), name)?,
                tau2: values(a.tau2.val(), name)?,
            })
        })
        .transpose()
}

/// The weight the kernels should see: the model's own binarized weight, or the float weight.
fn conv2d_weight(c: &BinConv2d) -> Tensor<4> {
    match &c.wbin {
        Some(w) => w.forward(c.weight.val(), &[1, 2, 3], 1.0),
        None => c.weight.val(),
    }
}

fn linear_weight(l: &BinLinear) -> Tensor<2> {
    match &l.wbin {
        Some(w) => w.forward(l.weight.val(), &[1], 1.0),
        None => l.weight.val(),
    }
}

fn conv1d_weight(c: &BinConv1d) -> Tensor<3> {
    match &c.wbin {
        Some(w) => w.forward(c.weight.val(), &[1, 2], 1.0),
        None => c.weight.val(),
    }
}

fn dense(c: &BinConv1d, name: &str) -> Result<Dense, ExportError> {
    let [out, inp, _] = c.weight.val().dims();
    Ok(Dense {
        out_features: out,
        in_features: inp,
        weight: values(conv1d_weight(c), name)?,
        bias: values(c.bias.val(), name)?,
    })
}

/// Unfolded weights of `model` with its first `num_paths` thin paths (the trained ones).
pub fn to_weights(
    model: &Dfsmn,
    labels: &[String],
    num_paths: usize,
) -> Result<NetworkWeights, ExportError> {
    let cfg = &model.config;
    if let Some(kind) = cfg.binarizer
        && !kind.exportable()
    {
        return Err(ExportError::NotBitwise(kind.name()));
    }
    if cfg.reference_code {
        return Err(ExportError::ReferenceCode);
    }
    let all_paths = cfg.paths();
    if num_paths == 0 || num_paths > all_paths.len() {
        return Err(ExportError::Paths {
            have: all_paths.len(),
            want: num_paths,
        });
    }
    let paths: Vec<Vec<usize>> = all_paths[..num_paths].to_vec();
    let model = model.valid();
    let [c1, cin1, k1, _] = model.conv1.weight.val().dims();
    let [c2, cin2, k2, _] = model.conv2.weight.val().dims();
    let [fc_out, fc_in] = model.fc1.weight.val().dims();
    let [classes, flat] = model.classifier_weight.val().dims();
    let mut layers = Vec::with_capacity(model.layers.len());
    for (j, l) in model.layers.iter().enumerate() {
        let name = |part: &str| format!("layer{j}.{part}");
        let [channels, _, taps] = l.memory.weight.val().dims();
        let mut out_bn = Vec::with_capacity(paths.len());
        let mut out_act = Vec::with_capacity(paths.len());
        for (p, layers_of_path) in paths.iter().enumerate() {
            let set = p.min(l.out_bn.len() - 1);
            if layers_of_path.contains(&j) {
                out_bn.push(Some(bn(&l.out_bn[set], &name("out_bn"))?));
                out_act.push(slope(&l.out_act[set], &name("out_act"))?);
            } else {
                out_bn.push(None);
                out_act.push(0.0);
            }
        }
        layers.push(DfsmnLayer {
            memory: DepthwiseConv1d {
                channels,
                taps,
                weight: values(conv1d_weight(&l.memory), &name("memory"))?,
                bias: values(l.memory.bias.val(), &name("memory"))?,
            },
            memory_quant: quant(&l.memory.act, &name("memory"))?,
            memory_bn: bn(&l.memory_bn, &name("memory_bn"))?,
            memory_act: slope(&l.memory_act, &name("memory_act"))?,
            expand: dense(&l.expand, &name("expand"))?,
            expand_quant: quant(&l.expand.act, &name("expand"))?,
            expand_bn: bn(&l.expand_bn, &name("expand_bn"))?,
            expand_act: slope(&l.expand_act, &name("expand_act"))?,
            project: dense(&l.project, &name("project"))?,
            project_quant: quant(&l.project.act, &name("project"))?,
            out_bn,
            out_act,
        });
    }
    Ok(NetworkWeights {
        precision: if cfg.is_binary() {
            Precision::Binary
        } else {
            Precision::Float
        },
        labels: labels.to_vec(),
        features: FeatureParams::default(),
        conv1: Conv2d {
            out_channels: c1,
            in_channels: cin1,
            kernel: k1,
            stride: model.conv1.stride,
            padding: model.conv1.padding,
            weight: values(model.conv1.weight.val(), "conv1")?,
            bias: values(model.conv1.bias.val(), "conv1")?,
        },
        bn1: bn(&model.bn1, "bn1")?,
        act1: slope(&model.act1, "act1")?,
        conv2: Conv2d {
            out_channels: c2,
            in_channels: cin2,
            kernel: k2,
            stride: model.conv2.stride,
            padding: model.conv2.padding,
            weight: values(conv2d_weight(&model.conv2), "conv2")?,
            bias: values(model.conv2.bias.val(), "conv2")?,
        },
        conv2_quant: quant(&model.conv2.act, "conv2")?,
        bn2: bn(&model.bn2, "bn2")?,
        act2: slope(&model.act2, "act2")?,
        fc1: Dense {
            out_features: fc_out,
            in_features: fc_in,
            weight: values(linear_weight(&model.fc1), "fc1")?,
            bias: values(model.fc1.bias.val(), "fc1")?,
        },
        fc1_quant: quant(&model.fc1.act, "fc1")?,
        act_fc1: slope(&model.act_fc1, "act_fc1")?,
        layers,
        paths,
        classifier: Dense {
            out_features: classes,
            in_features: flat,
            weight: values(model.classifier_weight.val(), "classifier")?,
            bias: values(model.classifier_bias.val(), "classifier")?,
        },
    })
}

/// Pack `model` for the bit kernels.
pub fn to_packed(
    model: &Dfsmn,
    labels: &[String],
    num_paths: usize,
) -> Result<PackedModel, ExportError> {
    Ok(PackedModel::from_weights(&to_weights(
        model, labels, num_paths,
    )?)?)
}

/// Export a saved run (its best model, see [`crate::train::checkpoint::open_model`]) to `out`.
/// The thin paths exported are the ones the run trained.
pub fn export_run(run: &Path, out: &Path, storage: Storage) -> anyhow::Result<ExportReport> {
    use anyhow::Context;
    let device = Device::flex();
    let loaded = crate::train::checkpoint::open_model(run, &device)?;
    let trained_paths = loaded.sidecar.config.path_weights.len().max(1);
    let packed = to_packed(&loaded.model, &loaded.sidecar.labels, trained_paths)
        .with_context(|| format!("exporting {}", loaded.model_path.display()))?
        .with_storage(storage);
    packed
        .save(out)
        .with_context(|| format!("writing {}", out.display()))?;
    let bytes = std::fs::read(out).with_context(|| format!("reading back {}", out.display()))?;
    Ok(ExportReport {
        model: loaded.model_path.display().to_string(),
        output: out.display().to_string(),
        precision: if loaded.model.config.is_binary() {
            "binary".into()
        } else {
            "float".into()
        },
        binarizer: loaded
            .model
            .config
            .binarizer
            .map(|k| k.cli_name().to_string()),
        paths: trained_paths,
        checkpoint_bytes: std::fs::metadata(&loaded.model_path)?.len(),
        packed_bytes: bytes.len() as u64,
        storage,
        hash: bifsmn_kernels::format::model_hash(&bytes),
    })
}

/// What `bifsmn export` reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ExportReport {
    pub model: String,
    pub output: String,
    pub precision: String,
    pub binarizer: Option<String>,
    pub paths: usize,
    pub checkpoint_bytes: u64,
    pub packed_bytes: u64,
    /// How the float sections were stored (`f32`, `f16` or `q8` per category).
    pub storage: Storage,
    pub hash: String,
}

/// Whether `kind` can be exported (re-exported for the GUI's form hints).
pub fn exportable(kind: BinarizerKind) -> bool {
    kind.exportable()
}
