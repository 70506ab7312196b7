//! The heavy, optional events: distillation bands and maps, binarizer curves and histograms,
//! and activation bits of a fixed clip. Built only when a listener asked for them.

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::Gradients;

use super::events::*;
use crate::data::{Dataset, Split};
use crate::features::{FeatureParams, LogMel};
use crate::model::haar::haar_split;
use crate::model::quant::{ActBinarizer, BinarizerKind, ede_proxy_derivative};
use crate::model::{Dfsmn, ForwardTrace};

/// Points sampled along the binarizer curves.
const CURVE_POINTS: usize = 241;
const CURVE_RANGE: f32 = 3.0;
const HIST_BINS: usize = 60;

pub(super) struct Internals {
    fixed: Vec<f32>,
    /// Running sums of (high, low) per layer since the last snapshot.
    bands: Vec<(f64, f64, usize)>,
    binarizers: Option<BinarizerReport>,
    device: Device,
}

fn tensor_values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.clone()
        .without_autodiff()
        .into_data()
        .try_into_vec::<f32>()
        .unwrap_or_default()
}

fn map_of(t: &Tensor<3>) -> Map2d {
    let [_, rows, cols] = t.dims();
    let values = tensor_values(t);
    Map2d {
        rows,
        cols,
        values: values[..rows * cols].to_vec(),
    }
}

/// Every binarizer of a model with its display name, in forward order.
pub fn named_binarizers(model: &Dfsmn) -> Vec<(String, &ActBinarizer)> {
    let mut out = Vec::new();
    if let Some(a) = &model.conv2.act {
        out.push(("conv2".to_string(), a));
    }
    if let Some(a) = &model.fc1.act {
        out.push(("fc1".to_string(), a));
    }
    for (j, l) in model.layers.iter().enumerate() {
        for (name, conv) in [
            ("memory", &l.memory),
            ("expand", &l.expand),
            ("project", &l.project),
        ] {
            if let Some(a) = &conv.act {
                out.push((format!("layer{j}.{name}"), a));
            }
        }
    }
    out
}

/// Forward and backward curves of a binarizer as its method defines them.
pub fn binarizer_curves(
    kind: BinarizerKind,
    alpha: f32,
    progress: f64,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let u: Vec<f32> = (0..CURVE_POINTS)
        .map(|i| -CURVE_RANGE + 2.0 * CURVE_RANGE * i as f32 / (CURVE_POINTS - 1) as f32)
        .collect();
    let forward = u
        .iter()
        .map(|&v| if v >= 0.0 { 1.0 } else { -1.0 })
        .collect();
    let backward = u
        .iter()
        .map(|&v| match kind {
            BinarizerKind::Lpb => {
                if (alpha * v).abs() <= 1.0 {
                    alpha
                } else {
                    0.0
                }
            }
            BinarizerKind::BiReal | BinarizerKind::ReAct => (2.0 - 2.0 * v.abs()).max(0.0),
            BinarizerKind::IrNet => ede_proxy_derivative(v as f64, progress) as f32,
            BinarizerKind::Bnn | BinarizerKind::Xnor | BinarizerKind::BiFsmnV1 => {
                if v.abs() <= 1.0 { 1.0 } else { 0.0 }
            }
        })
        .collect();
    (u, forward, backward)
}

impl Internals {
    pub(super) fn new(
        dataset: &Dataset,
        fixed_clip: usize,
        device: &Device,
    ) -> anyhow::Result<Self> {
        let val: Vec<_> = dataset.clips_in(Split::Validation).collect();
        let clip = val
            .get(fixed_clip.min(val.len().saturating_sub(1)))
            .ok_or_else(|| anyhow::anyhow!("the validation split is empty"))?;
        let samples = dataset.load(clip)?;
        let fixed = LogMel::new(FeatureParams::default()).compute(&samples);
        Ok(Self {
            fixed,
            bands: Vec::new(),
            binarizers: None,
            device: device.clone(),
        })
    }

    pub(super) fn record_bands(&mut self, bands: &[(usize, f32, f32)]) {
        for &(j, h, l) in bands {
            if self.bands.len() <= j {
                self.bands.resize(j + 1, (0.0, 0.0, 0));
            }
            let e = &mut self.bands[j];
            e.0 += h as f64;
            e.1 += l as f64;
            e.2 += 1;
        }
    }

    pub(super) fn record_binarizers(
        &mut self,
        model: &Dfsmn,
        trace: &ForwardTrace,
        grads: &Gradients,
        progress: f64,
    ) {
        let Some(kind) = model.config.binarizer else {
            return;
        };
        let named = named_binarizers(model);
        let snapshots = trace
            .binarizers
            .iter()
            .filter_map(|bt| {
                let (_, act) = named.iter().find(|(n, _)| *n == bt.name)?;
                let (alpha1, alpha2) = act.alphas();
                let (u, forward, backward) = binarizer_curves(kind, alpha1, progress);
                let inputs = tensor_values(&bt.act.input);
                let grad = bt
                    .probe
                    .as_ref()
                    .and_then(|p| p.gradient(grads))
                    .unwrap_or_default();
                Some(BinarizerSnapshot {
                    name: bt.name.clone(),
                    kind: kind.name().to_string(),
                    alpha1,
                    alpha2,
                    u,
                    forward,
                    backward,
                    input_hist: Histogram::new(&inputs, -CURVE_RANGE, CURVE_RANGE, HIST_BINS),
                    grad_hist: Histogram::symmetric(&grad, HIST_BINS),
                })
            })
            .collect();
        self.binarizers = Some(BinarizerReport {
            epoch: 0,
            global_step: 0,
            binarizers: snapshots,
        });
    }

    fn fixed_input(&self) -> Tensor<4> {
        let n = self.fixed.len();
        let side = (n as f64).sqrt() as usize;
        Tensor::<1>::from_floats(self.fixed.as_slice(), &self.device).reshape([
            1,
            1,
            side,
            n / side,
        ])
    }

    /// Bits of every binarized layer of `model` on the fixed clip, for one path.
    fn bits(
        &self,
        model: &Dfsmn,
        teacher: Option<&Dfsmn>,
        path: usize,
        epoch: usize,
    ) -> BitsSnapshot {
        let traced = |m: &Dfsmn, p: usize| {
            let mut trace = Some(ForwardTrace::default());
            let z = m.frontend(self.fixed_input(), 1.0, &mut trace);
            m.backbone(z, p, 1.0, &mut trace);
            trace.unwrap_or_default()
        };
        let student = traced(model, path);
        let teacher = teacher.map(|t| traced(t, 0));
        let signs = |t: &Tensor<3>| {
            tensor_values(t)
                .into_iter()
                .map(|v| v > 0.0)
                .collect::<Vec<bool>>()
        };
        let layers = student
            .binarizers
            .iter()
            .map(|bt| {
                let [_, channels, time] = bt.act.b1.dims();
                let teacher_signs = teacher.as_ref().and_then(|tt| {
                    tt.binarizers
                        .iter()
                        .find(|x| x.name == bt.name)
                        .map(|x| signs(&x.act.b1))
                });
                LayerBits {
                    name: bt.name.clone(),
                    channels,
                    time,
                    plane1: signs(&bt.act.b1),
                    plane2: bt.act.b2.as_ref().map(signs),
                    teacher_signs,
                }
            })
            .collect();
        BitsSnapshot {
            epoch,
            path,
            layers,
        }
    }

    /// Send the snapshots gathered since the last call.
    pub(super) fn emit(
        &mut self,
        sink: &EventSink,
        model: &Dfsmn,
        teacher: Option<&Dfsmn>,
        epoch: usize,
        global_step: usize,
        paths: &[Vec<usize>],
    ) {
        let student = model.valid();
        if let Some(mut report) = self.binarizers.take() {
            report.epoch = epoch;
            report.global_step = global_step;
            sink.send(TrainEvent::Binarizers(report));
        }
        if let Some(teacher) = teacher {
            let outputs = |m: &Dfsmn| {
                let z = m.frontend(self.fixed_input(), 1.0, &mut None);
                m.backbone(z, 0, 1.0, &mut None).layer_outputs
            };
            let s_out = outputs(&student);
            let t_out = outputs(teacher);
            let layers = s_out
                .iter()
                .zip(&t_out)
                .map(|((j, s), (_, t))| {
                    let (s_low, s_high) = haar_split(s.clone());
                    let (t_low, t_high) = haar_split(t.clone());
                    let (h, l, n) = self.bands.get(*j).copied().unwrap_or((0.0, 0.0, 0));
                    LayerDistill {
                        layer: *j,
                        high_loss: (h / n.max(1) as f64) as f32,
                        low_loss: (l / n.max(1) as f64) as f32,
                        teacher_high: map_of(&t_high),
                        teacher_low: map_of(&t_low),
                        student_high: map_of(&s_high),
                        student_low: map_of(&s_low),
                    }
                })
                .collect();
            self.bands.clear();
            sink.send(TrainEvent::Distill(DistillSnapshot {
                epoch,
                global_step,
                layers,
            }));
        }
        for p in 0..paths.len() {
            sink.send(TrainEvent::Bits(self.bits(&student, teacher, p, epoch)));
        }
    }
}
