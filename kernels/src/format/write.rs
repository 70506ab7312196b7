//! Folding `NetworkWeights` into a [`PackedModel`] and serialising it.

use super::layout::*;
use super::*;
use crate::fold::{fold_binary, fold_float};
use crate::network::check_weights;
use crate::weights::{ActQuant, BatchNorm, NetworkWeights};

fn quant(q: &ActQuant, keep_tau2: bool) -> Quant {
    Quant {
        planes: q.planes,
        tau0: q.tau0.clone(),
        tau1: q.tau1.clone(),
        tau2: if keep_tau2 {
            q.tau2.clone()
        } else {
            Vec::new()
        },
    }
}

/// Fold a binarisable layer; `tau2_of(o, i)` names the threshold under weight `i` of output `o`.
fn layer(
    weight: &[f32],
    bias: &[f32],
    bn: Option<&BatchNorm>,
    q: &Option<ActQuant>,
    keep_tau2: bool,
    slope: f32,
    tau2_of: impl Fn(&ActQuant, usize, usize) -> f32,
) -> PackedLayer {
    match q {
        Some(q) => {
            let f = fold_binary(weight, bias.len(), bias, bn, |o, i| tau2_of(q, o, i));
            PackedLayer {
                weights: LayerWeights::Binary {
                    bits: f.bits,
                    quant: quant(q, keep_tau2),
                },
                affine: f.affine,
                slope,
            }
        }
        None => PackedLayer {
            weights: LayerWeights::Float {
                weight: weight.to_vec(),
            },
            affine: fold_float(bias, bn),
            slope,
        },
    }
}

impl PackedModel {
    /// Fold and pack an unfolded network (see `docs/MODEL.md`, "What the kernels fold").
    ///
    /// Checks every shape and value first; the error names the offending field.
    pub fn from_weights(w: &NetworkWeights) -> Result<PackedModel> {
        let dims = check_weights(w)?;
        let kk2 = dims.hyper.conv2_kernel * dims.hyper.conv2_kernel;
        let conv1 = PackedLayer {
            weights: LayerWeights::Float {
                weight: w.conv1.weight.clone(),
            },
            affine: fold_float(&w.conv1.bias, Some(&w.bn1)),
            slope: w.act1,
        };
        // conv2 weight i = (c, ky, kx) reads input channel c = i / (k*k).
        let conv2 = layer(
            &w.conv2.weight,
            &w.conv2.bias,
            Some(&w.bn2),
            &w.conv2_quant,
            true,
            w.act2,
            |q, _, i| q.tau2[i / kk2],
        );
        let fc1 = layer(
            &w.fc1.weight,
            &w.fc1.bias,
            None,
            &w.fc1_quant,
            false,
            w.act_fc1,
            |q, _, i| q.tau2[i],
        );
        let layers = w
            .layers
            .iter()
            .map(|l| {
                // Depthwise: every tap of channel o reads channel o.
                let memory = layer(
                    &l.memory.weight,
                    &l.memory.bias,
                    Some(&l.memory_bn),
                    &l.memory_quant,
                    false,
                    l.memory_act,
                    |q, o, _| q.tau2[o],
                );
                let expand = layer(
                    &l.expand.weight,
                    &l.expand.bias,
                    Some(&l.expand_bn),
                    &l.expand_quant,
                    false,
                    l.expand_act,
                    |q, _, i| q.tau2[i],
                );
                let mut weights = None;
                let affine = l
                    .out_bn
                    .iter()
                    .map(|bn| {
                        bn.as_ref().map(|bn| {
                            let p = layer(
                                &l.project.weight,
                                &l.project.bias,
                                Some(bn),
                                &l.project_quant,
                                false,
                                0.0,
                                |q, _, i| q.tau2[i],
                            );
                            weights.get_or_insert(p.weights);
                            p.affine
                        })
                    })
                    .collect();
                // A layer that no path runs still has weights; pack them without BatchNorm.
                let weights = weights.unwrap_or_else(|| {
                    layer(
                        &l.project.weight,
                        &l.project.bias,
                        None,
                        &l.project_quant,
                        false,
                        0.0,
                        |q, _, i| q.tau2[i],
                    )
                    .weights
                });
                PackedDfsmn {
                    memory,
                    expand,
                    project: PackedProject {
                        weights,
                        affine,
                        slope: l.out_act.clone(),
                    },
                }
            })
            .collect();
        Ok(PackedModel {
            dims,
            labels: w.labels.clone(),
            features: w.features,
            paths: w.paths.clone(),
            storage: Storage::default(),
            conv1,
            conv2,
            fc1,
            layers,
            classifier: PackedClassifier {
                weight: w.classifier.weight.clone(),
                bias: w.classifier.bias.clone(),
            },
        })
    }

    /// Serialise (layout in `docs/FORMAT.md`), using [`PackedModel::storage`] for float sections.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.encode(self.storage)
    }

    /// Check the model as the reader would (every length against the dimensions, every value
    /// finite, paths consistent): encode it and parse it back.
    pub fn validate(&self) -> Result<()> {
        let back = PackedModel::from_bytes(&self.encode(Storage::default())?)?;
        if back.dims != self.dims {
            return Err(FormatError::Invalid(crate::network::shape_err(
                "dims",
                format!(
                    "{} does not follow from the hyper-parameters ({})",
                    self.dims, back.dims
                ),
            )));
        }
        Ok(())
    }

    fn encode(&self, storage: Storage) -> Result<Vec<u8>> {
        let sections = self.sections(storage)?;
        let table_end = HEADER_LEN + sections.len() * ENTRY_LEN;
        let mut offsets = Vec::with_capacity(sections.len());
        let mut pos = table_end.next_multiple_of(ALIGN);
        for s in &sections {
            offsets.push(pos);
            pos = (pos + s.data.len()).next_multiple_of(ALIGN);
        }
        let data_end = offsets
            .last()
            .zip(sections.last())
            .map_or(table_end, |(o, s)| o + s.data.len());
        let total = data_end + TRAILER_LEN;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&MAGIC);
        // Version 1 unless a section needs version 2: files without q8 stay readable by
        // version-1 readers and keep their hashes.
        let version = if sections.iter().any(|s| s.dtype == Dtype::Q8) {
            VERSION_Q8
        } else {
            VERSION
        };
        out.extend_from_slice(&version.to_le_bytes());
        out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
        out.extend_from_slice(&(total as u64).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes()); // flags
        out.extend_from_slice(&0u32.to_le_bytes()); // reserved
        for (s, &off) in sections.iter().zip(&offsets) {
            out.extend_from_slice(&s.key.kind.to_le_bytes());
            out.extend_from_slice(&s.key.layer.to_le_bytes());
            out.extend_from_slice(&s.key.path.to_le_bytes());
            out.push(s.dtype.code());
            out.push(0);
            out.extend_from_slice(&(off as u64).to_le_bytes());
            out.extend_from_slice(&(s.data.len() as u64).to_le_bytes());
        }
        for (s, &off) in sections.iter().zip(&offsets) {
            out.resize(off, 0);
            out.extend_from_slice(&s.data);
        }
        debug_assert_eq!(out.len(), data_end);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    /// Every section in file order.
    fn sections(&self, st: Storage) -> Result<Vec<Section>> {
        let mut s = Vec::new();
        self.header_sections(&mut s)?;
        self.layer_sections(&mut s, st)?;
        let w = st.fp_weights;
        s.push(Section::floats(
            Key::global(Kind::ClassifierWeight),
            "CLASSIFIER_WEIGHT",
            &self.classifier.weight,
            w,
            self.dims.classes,
        )?);
        s.push(Section::floats(
            Key::global(Kind::ClassifierBias),
            "CLASSIFIER_BIAS",
            &self.classifier.bias,
            w,
            1,
        )?);
        Ok(s)
    }

    /// Meta, labels, features, paths, planes (binary models) and slopes.
    fn header_sections(&self, s: &mut Vec<Section>) -> Result<()> {
        let d = &self.dims;
        let h = &d.hyper;
        let meta: [usize; META_LEN] = [
            match h.precision {
                Precision::Binary => 0,
                Precision::Float => 1,
            },
            h.classes,
            h.layers,
            h.paths,
            h.conv1_channels,
            h.conv1_kernel,
            h.conv1_stride,
            h.conv1_padding,
            h.conv2_channels,
            h.conv2_kernel,
            h.conv2_stride,
            h.conv2_padding,
            h.memory,
            h.hidden,
            h.taps,
            0,
        ];
        s.push(Section::u32s(
            Key::global(Kind::Meta),
            meta.iter().map(|&v| v as u32),
        ));
        let mut labels = Vec::new();
        for l in &self.labels {
            labels.extend_from_slice(&(l.len() as u32).to_le_bytes());
            labels.extend_from_slice(l.as_bytes());
        }
        s.push(Section::bytes(Key::global(Kind::Labels), labels));
        let f = &self.features;
        let mut feat = Vec::with_capacity(FEATURES_LEN);
        for v in [
            f.sample_rate as usize,
            f.clip_samples,
            f.n_fft,
            f.hop,
            f.n_mels,
        ] {
            feat.extend_from_slice(&(v as u32).to_le_bytes());
        }
        feat.extend_from_slice(&f.f_min.to_le_bytes());
        feat.extend_from_slice(&f.f_max.to_le_bytes());
        s.push(Section::bytes(Key::global(Kind::Features), feat));
        let mut paths = Vec::new();
        for p in &self.paths {
            paths.push(p.len() as u32);
            paths.extend(p.iter().map(|&j| j as u32));
        }
        s.push(Section::u32s(Key::global(Kind::Paths), paths));
        if h.precision == Precision::Binary {
            let mut planes = vec![planes_of(&self.conv2.weights), planes_of(&self.fc1.weights)];
            for l in &self.layers {
                planes.push(planes_of(&l.memory.weights));
                planes.push(planes_of(&l.expand.weights));
                planes.push(planes_of(&l.project.weights));
            }
            s.push(Section::u32s(Key::global(Kind::Planes), planes));
        }
        let mut slopes = vec![self.conv1.slope, self.conv2.slope, self.fc1.slope];
        for l in &self.layers {
            slopes.push(l.memory.slope);
            slopes.push(l.expand.slope);
            slopes.extend_from_slice(&l.project.slope);
        }
        s.push(Section::floats(
            Key::global(Kind::Slopes),
            "SLOPES",
            &slopes,
            FloatDtype::F32,
            1,
        )?);
        Ok(())
    }

    /// The weights, affines and thresholds of every layer but the classifier, front to back.
    fn layer_sections(&self, s: &mut Vec<Section>, st: Storage) -> Result<()> {
        let w = st.fp_weights;
        let pc = st.per_channel;
        s.push(Section::floats(
            Key::global(Kind::Conv1Weight),
            "CONV1_WEIGHT",
            float_weight(&self.conv1.weights),
            w,
            self.dims.c1,
        )?);
        s.push(Section::affine(
            Key::global(Kind::Conv1Affine),
            &self.conv1.affine,
            pc,
        )?);
        push_layer(
            s,
            st,
            &self.conv2.weights,
            Some(&self.conv2.affine),
            LayerKeys {
                weight: Key::global(Kind::Conv2Weight),
                affine: Key::global(Kind::Conv2Affine),
                thresh: Key::global(Kind::Conv2Thresh),
            },
            self.dims.c2,
        )?;
        push_layer(
            s,
            st,
            &self.fc1.weights,
            Some(&self.fc1.affine),
            LayerKeys {
                weight: Key::global(Kind::Fc1Weight),
                affine: Key::global(Kind::Fc1Affine),
                thresh: Key::global(Kind::Fc1Thresh),
            },
            self.dims.m,
        )?;
        for (j, l) in self.layers.iter().enumerate() {
            push_layer(
                s,
                st,
                &l.memory.weights,
                Some(&l.memory.affine),
                LayerKeys {
                    weight: Key::layer(Kind::MemoryWeight, j),
                    affine: Key::layer(Kind::MemoryAffine, j),
                    thresh: Key::layer(Kind::MemoryThresh, j),
                },
                self.dims.m,
            )?;
            push_layer(
                s,
                st,
                &l.expand.weights,
                Some(&l.expand.affine),
                LayerKeys {
                    weight: Key::layer(Kind::ExpandWeight, j),
                    affine: Key::layer(Kind::ExpandAffine, j),
                    thresh: Key::layer(Kind::ExpandThresh, j),
                },
                self.dims.hidden,
            )?;
            push_layer(
                s,
                st,
                &l.project.weights,
                None,
                LayerKeys {
                    weight: Key::layer(Kind::ProjectWeight, j),
                    affine: Key::layer(Kind::ProjectAffine, j),
                    thresh: Key::layer(Kind::ProjectThresh, j),
                },
                self.dims.m,
            )?;
            for (p, a) in l.project.affine.iter().enumerate() {
                if let Some(a) = a {
                    s.push(Section::affine(
                        Key::layer_path(Kind::ProjectAffine, j, p),
                        a,
                        pc,
                    )?);
                }
            }
        }
        Ok(())
    }
}

/// Where a layer's three kinds of sections go.
struct LayerKeys {
    weight: Key,
    affine: Key,
    thresh: Key,
}

/// A layer's weights, its affine (if given) and its thresholds (binary layers). `outs`, the
/// layer's output channels, groups float weights per output channel for `q8`.
fn push_layer(
    s: &mut Vec<Section>,
    st: Storage,
    weights: &LayerWeights,
    affine: Option<&Affine>,
    keys: LayerKeys,
    outs: usize,
) -> Result<()> {
    let (w, pc) = (st.fp_weights, st.per_channel);
    let kw = keys.weight;
    match weights {
        LayerWeights::Binary { bits, .. } => s.push(Section::bits(kw, bits)),
        LayerWeights::Float { weight } => {
            s.push(Section::floats(kw, &kw.to_string(), weight, w, outs)?);
        }
    }
    if let Some(a) = affine {
        s.push(Section::affine(keys.affine, a, pc)?);
    }
    if let LayerWeights::Binary { quant, .. } = weights {
        let mut t = quant.tau0.clone();
        t.extend_from_slice(&quant.tau1);
        t.extend_from_slice(&quant.tau2);
        let kt = keys.thresh;
        s.push(Section::floats(
            kt,
            &kt.to_string(),
            &t,
            pc,
            quant.vectors(),
        )?);
    }
    Ok(())
}

fn planes_of(w: &LayerWeights) -> u32 {
    match w {
        LayerWeights::Binary { quant, .. } => quant.planes as u32,
        LayerWeights::Float { .. } => 0,
    }
}

fn float_weight(w: &LayerWeights) -> &[f32] {
    match w {
        LayerWeights::Float { weight } => weight,
        LayerWeights::Binary { .. } => &[],
    }
}

/// One section's key, dtype and encoded bytes.
pub(super) struct Section {
    pub key: Key,
    pub dtype: Dtype,
    pub data: Vec<u8>,
}

impl Section {
    fn u32s(key: Key, v: impl IntoIterator<Item = u32>) -> Section {
        Section {
            key,
            dtype: Dtype::U32,
            data: v.into_iter().flat_map(u32::to_le_bytes).collect(),
        }
    }
    fn bytes(key: Key, data: Vec<u8>) -> Section {
        Section {
            key,
            dtype: Dtype::Bytes,
            data,
        }
    }
    fn bits(key: Key, words: &[u64]) -> Section {
        Section {
            key,
            dtype: Dtype::Bits,
            data: words.iter().flat_map(|w| w.to_le_bytes()).collect(),
        }
    }
    /// `v` as `dt`. `groups` (which must divide `v.len()`) matters only for `q8`: each group
    /// gets its own grid, so the writer passes one group per output channel for weights and
    /// one per vector (scale, shift, tau0, ...) for affines and thresholds.
    fn floats(key: Key, what: &str, v: &[f32], dt: FloatDtype, groups: usize) -> Result<Section> {
        let data = match dt {
            FloatDtype::F32 => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            FloatDtype::F16 => {
                let mut d = Vec::with_capacity(v.len() * 2);
                for &x in v {
                    let h = f32_to_f16(x).ok_or_else(|| FormatError::F16Overflow {
                        what: what.to_owned(),
                        value: x,
                    })?;
                    d.extend_from_slice(&h.to_le_bytes());
                }
                d
            }
            FloatDtype::Q8 => q8::encode(v, groups).map_err(|index| FormatError::Q8Range {
                what: what.to_owned(),
                index,
                value: v[index],
            })?,
        };
        Ok(Section {
            key,
            dtype: dt.dtype(),
            data,
        })
    }
    /// `[scale..., shift...]`.
    fn affine(key: Key, a: &Affine, dt: FloatDtype) -> Result<Section> {
        let mut v = a.scale.clone();
        v.extend_from_slice(&a.shift);
        Section::floats(key, &key.to_string(), &v, dt, 2)
    }
}
