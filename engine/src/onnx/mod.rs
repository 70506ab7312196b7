//! The FP32 teacher as a standard ONNX model (`bifsmn export --onnx`), and tract, the pure-Rust
//! ONNX engine, running it (the `tract` column of `bifsmn bench`).
//!
//! The graph is the teacher's eval-mode forward (docs/MODEL.md) with each BatchNorm folded into
//! the convolution before it, as PyTorch's exporter does in eval mode: opset 13, only the
//! standard operators Conv, Relu, PRelu, Add, Reshape, Flatten and Gemm, weights as FLOAT
//! initializers. Input `features` `[batch, 1, n_mels, frames]` (the log-mel features the model
//! takes), output `logits` `[batch, classes]`. docs/ONNX.md describes it for users.
//!
//! The weights come from [`crate::export::to_weights`], the same unfolded weights the packed
//! export starts from, so both exports read the burn model in one place.

mod tract;

use std::path::Path;

use bifsmn_kernels::weights::{BatchNorm, NetworkWeights, Precision};
use prost::Message;
use tract_onnx::pb;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::{Dimension, dimension};

pub use tract::TractModel;

use crate::model::Dfsmn;

/// The ONNX operator set the file declares. 13 is old enough for every runtime in use and has
/// every operator the graph needs.
pub const OPSET: i64 = 13;
/// IR version 7 is the one that introduced opset 13.
pub const IR_VERSION: i64 = 7;
/// Name of the graph's input.
pub const INPUT: &str = "features";
/// Name of the graph's output.
pub const OUTPUT: &str = "logits";

/// Why a model cannot be written or run as ONNX.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    #[error(
        "{0}: a binary student; --onnx exports the FP32 teacher only (the student's 1-bit layers run on the bit kernels: export it without --onnx)"
    )]
    Binary(String),
    #[error("the weights do not fit together: {0}")]
    Shape(String),
    #[error("reading the weights: {0}")]
    Export(#[from] crate::export::ExportError),
    #[error("tract: {0}")]
    Tract(String),
}

/// The ONNX model of the FP32 teacher `model` (eval mode), with `labels` in its metadata.
/// `source` names the model in errors (its file).
pub fn onnx_model(
    model: &Dfsmn,
    labels: &[String],
    source: &str,
) -> Result<pb::ModelProto, OnnxError> {
    if model.config.is_binary() {
        return Err(OnnxError::Binary(source.to_string()));
    }
    let weights = crate::export::to_weights(model, labels, 1)?;
    from_weights(&weights)
}

/// The ONNX model of float network weights (the teacher's only thin path, path 0).
pub fn from_weights(w: &NetworkWeights) -> Result<pb::ModelProto, OnnxError> {
    if w.precision != Precision::Float {
        return Err(OnnxError::Binary("the network".into()));
    }
    let shapes = Shapes::of(w)?;
    let mut g = GraphBuilder::default();
    let x = frontend(&mut g, w, &shapes)?;
    let x = backbone(&mut g, w, x)?;
    let flat = g.node("Flatten", "flatten", &[&x], vec![attr_int("axis", 1)]);
    let cls = &w.classifier;
    let weight = g.init(
        "classifier.weight",
        &[cls.out_features, cls.in_features],
        &cls.weight,
    );
    let bias = g.init("classifier.bias", &[cls.out_features], &cls.bias);
    g.node_named(
        "Gemm",
        "classifier",
        OUTPUT,
        &[&flat, &weight, &bias],
        vec![attr_int("transB", 1)],
    );
    let batch = || dim_param("batch");
    let graph = pb::GraphProto {
        name: "bifsmn_teacher".into(),
        doc_string: "BiFSMN Workbench FP32 D-FSMN teacher, eval mode, BatchNorm folded".into(),
        node: g.nodes,
        initializer: g.initializers,
        input: vec![value_info(
            INPUT,
            vec![
                batch(),
                dim_value(1),
                dim_value(shapes.n_mels),
                dim_value(shapes.frames),
            ],
        )],
        output: vec![value_info(
            OUTPUT,
            vec![batch(), dim_value(cls.out_features)],
        )],
        ..Default::default()
    };
    let meta = |key: &str, value: String| pb::StringStringEntryProto {
        key: key.into(),
        value,
    };
    Ok(pb::ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![pb::OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "bifsmn-workbench".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: "Keyword spotter: log-mel features [batch, 1, n_mels, frames] -> logits \
                     [batch, classes] (labels in the metadata, in logit order)"
            .into(),
        graph: Some(graph),
        metadata_props: vec![
            meta("labels", w.labels.join(",")),
            meta(
                "features",
                serde_json::to_string(&w.features).unwrap_or_default(),
            ),
        ],
        ..Default::default()
    })
}

/// The sizes the graph is built for, checked against each other so that a model whose weights
/// disagree is refused instead of written as a graph no runtime can run.
struct Shapes {
    n_mels: usize,
    frames: usize,
    /// conv2's output: channels, mel bins, frames.
    c2: usize,
    f2: usize,
    t2: usize,
}

impl Shapes {
    fn of(w: &NetworkWeights) -> Result<Self, OnnxError> {
        let out = |n: usize, c: &bifsmn_kernels::weights::Conv2d| {
            (n + 2 * c.padding)
                .checked_sub(c.kernel)
                .map(|v| v / c.stride.max(1) + 1)
                .ok_or_else(|| OnnxError::Shape(format!("{n} inputs are fewer than a kernel")))
        };
        let (n_mels, frames) = (w.features.n_mels, w.features.frames());
        let (f1, t1) = (out(n_mels, &w.conv1)?, out(frames, &w.conv1)?);
        let (f2, t2) = (out(f1, &w.conv2)?, out(t1, &w.conv2)?);
        let c2 = w.conv2.out_channels;
        if c2 * f2 != w.fc1.in_features {
            return Err(OnnxError::Shape(format!(
                "conv2 gives {c2}x{f2} features per frame, fc1 takes {}",
                w.fc1.in_features
            )));
        }
        if w.fc1.out_features * t2 != w.classifier.in_features {
            return Err(OnnxError::Shape(format!(
                "the last layer gives {}x{t2} values, the classifier takes {}",
                w.fc1.out_features, w.classifier.in_features
            )));
        }
        Ok(Self {
            n_mels,
            frames,
            c2,
            f2,
            t2,
        })
    }
}

/// conv1, conv2 and fc1: features `[B, 1, mels, frames]` -> `[B, N, T]`.
fn frontend(g: &mut GraphBuilder, w: &NetworkWeights, s: &Shapes) -> Result<String, OnnxError> {
    let mut x = INPUT.to_string();
    for (name, conv, bn, slope) in [
        ("conv1", &w.conv1, &w.bn1, w.act1),
        ("conv2", &w.conv2, &w.bn2, w.act2),
    ] {
        let (k, p, st) = (conv.kernel as i64, conv.padding as i64, conv.stride as i64);
        let (weight, bias) = fold(&conv.weight, &conv.bias, bn, name)?;
        let dims = [
            conv.out_channels,
            conv.in_channels,
            conv.kernel,
            conv.kernel,
        ];
        let weight = g.init(&format!("{name}.weight"), &dims, &weight);
        let bias = g.init(&format!("{name}.bias"), &[conv.out_channels], &bias);
        let attrs = vec![
            attr_ints("kernel_shape", &[k, k]),
            attr_ints("strides", &[st, st]),
            attr_ints("pads", &[p, p, p, p]),
        ];
        let y = g.node("Conv", name, &[&x, &weight, &bias], attrs);
        x = g.activation(&y, &format!("{name}.act"), slope);
    }
    // [B, C, F, T] -> [B, C*F, T]: fc1's input index is c*F + f (docs/MODEL.md), which this
    // reshape gives directly, so fc1 is a 1x1 convolution over frames, like expand and project.
    let shape = g.init_i64("fc1.input_shape", &[-1, (s.c2 * s.f2) as i64, s.t2 as i64]);
    let x = g.node("Reshape", "fc1.input", &[&x, &shape], Vec::new());
    let fc1 = &w.fc1;
    let weight = g.init(
        "fc1.weight",
        &[fc1.out_features, fc1.in_features, 1],
        &fc1.weight,
    );
    let bias = g.init("fc1.bias", &[fc1.out_features], &fc1.bias);
    let y = g.node("Conv", "fc1", &[&x, &weight, &bias], Vec::new());
    Ok(g.activation(&y, "fc1.act", w.act_fc1))
}

/// The D-FSMN layers of path 0 (all of them in a teacher): `[B, N, T]` -> `[B, N, T]`.
fn backbone(g: &mut GraphBuilder, w: &NetworkWeights, input: String) -> Result<String, OnnxError> {
    let mut x = input;
    let path = w
        .paths
        .first()
        .ok_or_else(|| OnnxError::Shape("the model has no thin path".into()))?;
    for &j in path {
        let l = w
            .layers
            .get(j)
            .ok_or_else(|| OnnxError::Shape(format!("path 0 names layer {j}, which is absent")))?;
        let name = |part: &str| format!("layer{j}.{part}");
        let (n, taps) = (l.memory.channels, l.memory.taps);
        if taps % 2 == 0 {
            return Err(OnnxError::Shape(format!(
                "layer {j}'s memory has {taps} taps; a centred window needs an odd count"
            )));
        }
        let ctx = (taps / 2) as i64;
        // Memory block: depthwise conv over time (zero padded), BN, PReLU, plus the input.
        let (weight, bias) = fold(
            &l.memory.weight,
            &l.memory.bias,
            &l.memory_bn,
            &name("memory"),
        )?;
        let weight = g.init(&name("memory.weight"), &[n, 1, taps], &weight);
        let bias = g.init(&name("memory.bias"), &[n], &bias);
        let attrs = vec![attr_int("group", n as i64), attr_ints("pads", &[ctx, ctx])];
        let y = g.node("Conv", &name("memory"), &[&x, &weight, &bias], attrs);
        let y = g.activation(&y, &name("memory.act"), l.memory_act);
        let m = g.node("Add", &name("memory.residual"), &[&y, &x], Vec::new());
        // Expand and project (1x1 convs), each with its BN and activation, plus m.
        let out_bn = l
            .out_bn
            .first()
            .and_then(Option::as_ref)
            .ok_or_else(|| OnnxError::Shape(format!("layer {j} has no output BatchNorm")))?;
        let out_act = l.out_act.first().copied().unwrap_or(0.0);
        let mut h = m.clone();
        for (part, dense, bn, slope) in [
            ("expand", &l.expand, &l.expand_bn, l.expand_act),
            ("project", &l.project, out_bn, out_act),
        ] {
            let (weight, bias) = fold(&dense.weight, &dense.bias, bn, &name(part))?;
            let dims = [dense.out_features, dense.in_features, 1];
            let weight = g.init(&name(&format!("{part}.weight")), &dims, &weight);
            let bias = g.init(&name(&format!("{part}.bias")), &[dense.out_features], &bias);
            let y = g.node("Conv", &name(part), &[&h, &weight, &bias], Vec::new());
            h = g.activation(&y, &name(&format!("{part}.act")), slope);
        }
        x = g.node("Add", &name("residual"), &[&h, &m], Vec::new());
    }
    Ok(x)
}

/// BatchNorm after a convolution folded into it: `w' = w * s`, `b' = (b - mean) * s + beta`
/// with `s = gamma / sqrt(var + eps)` per output channel, computed in f64 and rounded once.
fn fold(
    weight: &[f32],
    bias: &[f32],
    bn: &BatchNorm,
    name: &str,
) -> Result<(Vec<f32>, Vec<f32>), OnnxError> {
    let out = bias.len();
    let sizes_agree = [&bn.gamma, &bn.beta, &bn.running_mean, &bn.running_var]
        .iter()
        .all(|v| v.len() == out);
    if out == 0 || !sizes_agree || !weight.len().is_multiple_of(out) {
        return Err(OnnxError::Shape(format!(
            "{name}: {} weights, {out} biases and {} BatchNorm channels",
            weight.len(),
            bn.len()
        )));
    }
    let per_out = weight.len() / out;
    let scale: Vec<f64> = (0..out)
        .map(|o| f64::from(bn.gamma[o]) / (f64::from(bn.running_var[o]) + f64::from(bn.eps)).sqrt())
        .collect();
    let weight = weight
        .iter()
        .enumerate()
        .map(|(i, &v)| (f64::from(v) * scale[i / per_out]) as f32)
        .collect();
    let bias = (0..out)
        .map(|o| {
            ((f64::from(bias[o]) - f64::from(bn.running_mean[o])) * scale[o]
                + f64::from(bn.beta[o])) as f32
        })
        .collect();
    Ok((weight, bias))
}

/// Nodes and initializers in the order they are added (a valid topological order, since every
/// node is added after its inputs).
#[derive(Default)]
struct GraphBuilder {
    nodes: Vec<pb::NodeProto>,
    initializers: Vec<pb::TensorProto>,
}

impl GraphBuilder {
    /// A FLOAT initializer (little-endian raw data, as ONNX specifies).
    fn init(&mut self, name: &str, dims: &[usize], data: &[f32]) -> String {
        let raw_data = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(pb::TensorProto {
            name: name.into(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: DataType::Float as i32,
            raw_data,
            ..Default::default()
        });
        name.into()
    }

    fn init_i64(&mut self, name: &str, data: &[i64]) -> String {
        self.initializers.push(pb::TensorProto {
            name: name.into(),
            dims: vec![data.len() as i64],
            data_type: DataType::Int64 as i32,
            int64_data: data.to_vec(),
            ..Default::default()
        });
        name.into()
    }

    /// A node whose one output carries the node's name.
    fn node(
        &mut self,
        op: &str,
        name: &str,
        inputs: &[&str],
        attribute: Vec<pb::AttributeProto>,
    ) -> String {
        self.node_named(op, name, name, inputs, attribute)
    }

    fn node_named(
        &mut self,
        op: &str,
        name: &str,
        output: &str,
        inputs: &[&str],
        attribute: Vec<pb::AttributeProto>,
    ) -> String {
        self.nodes.push(pb::NodeProto {
            op_type: op.into(),
            name: name.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            attribute,
            ..Default::default()
        });
        output.into()
    }

    /// The model's activation with one shared slope: Relu where the slope is 0 (the teacher's
    /// ReLU layers), PRelu otherwise.
    fn activation(&mut self, x: &str, name: &str, slope: f32) -> String {
        if slope == 0.0 {
            self.node("Relu", name, &[x], Vec::new())
        } else {
            let s = self.init(&format!("{name}.slope"), &[1], &[slope]);
            self.node("PRelu", name, &[x, &s], Vec::new())
        }
    }
}

fn attr_int(name: &str, i: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}

fn attr_ints(name: &str, ints: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: ints.to_vec(),
        ..Default::default()
    }
}

fn dim_value(n: usize) -> Dimension {
    Dimension {
        value: Some(dimension::Value::DimValue(n as i64)),
        ..Default::default()
    }
}

fn dim_param(name: &str) -> Dimension {
    Dimension {
        value: Some(dimension::Value::DimParam(name.into())),
        ..Default::default()
    }
}

fn value_info(name: &str, dims: Vec<Dimension>) -> pb::ValueInfoProto {
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(pb::TensorShapeProto { dim: dims }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// What `bifsmn export --onnx` reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct OnnxReport {
    /// The checkpoint exported.
    pub model: String,
    pub output: String,
    pub opset: i64,
    pub input: String,
    /// `["batch", "1", n_mels, frames]`: the batch size is free.
    pub input_shape: Vec<String>,
    pub output_name: String,
    /// `["batch", classes]`.
    pub output_shape: Vec<String>,
    pub checkpoint_bytes: u64,
    pub onnx_bytes: u64,
}

/// A graph input's or output's dimensions as text (`"batch"` for the free one).
fn dims_of(v: Option<&pb::ValueInfoProto>) -> Vec<String> {
    let Some(pb::type_proto::Value::TensorType(t)) =
        v.and_then(|v| v.r#type.as_ref()?.value.as_ref())
    else {
        return Vec::new();
    };
    let dims = t
        .shape
        .as_ref()
        .map(|s| s.dim.as_slice())
        .unwrap_or_default();
    dims.iter()
        .map(|d| match &d.value {
            Some(dimension::Value::DimValue(n)) => n.to_string(),
            Some(dimension::Value::DimParam(p)) => p.clone(),
            None => "?".into(),
        })
        .collect()
}

/// The ONNX model of a loaded FP32 teacher run; errors name its checkpoint.
pub fn onnx_of_loaded(
    loaded: &crate::train::checkpoint::LoadedModel,
) -> anyhow::Result<pb::ModelProto> {
    use anyhow::Context;
    let source = loaded.model_path.display().to_string();
    onnx_model(&loaded.model, &loaded.sidecar.labels, &source)
        .with_context(|| format!("exporting {source} as ONNX"))
}

/// The ONNX file's bytes for the FP32 teacher of the run at `run` (its best model; a run
/// directory, sidecar or .bpk as [`crate::train::checkpoint::open_model`] takes), and its report
/// (without an output path yet).
pub fn onnx_of_run(run: &Path) -> anyhow::Result<(Vec<u8>, OnnxReport)> {
    use anyhow::Context;
    let device = burn::prelude::Device::flex();
    let loaded = crate::train::checkpoint::open_model(run, &device)
        .with_context(|| format!("loading {}", run.display()))?;
    let proto = onnx_of_loaded(&loaded)?;
    let bytes = proto.encode_to_vec();
    let graph = proto.graph.as_ref();
    let report = OnnxReport {
        model: loaded.model_path.display().to_string(),
        output: String::new(),
        opset: OPSET,
        input: INPUT.into(),
        input_shape: dims_of(graph.and_then(|g| g.input.first())),
        output_name: OUTPUT.into(),
        output_shape: dims_of(graph.and_then(|g| g.output.first())),
        checkpoint_bytes: std::fs::metadata(&loaded.model_path)
            .with_context(|| format!("reading {}", loaded.model_path.display()))?
            .len(),
        onnx_bytes: bytes.len() as u64,
    };
    Ok((bytes, report))
}

/// Export the FP32 teacher of the run at `run` to `out` as ONNX, written atomically.
pub fn export_onnx(run: &Path, out: &Path) -> anyhow::Result<OnnxReport> {
    use anyhow::Context;
    let (bytes, mut report) = onnx_of_run(run)?;
    bifsmn_kernels::atomic::write_atomic(out, &bytes)
        .with_context(|| format!("writing {}", out.display()))?;
    report.output = out.display().to_string();
    Ok(report)
}
