//! Parsing and validating a `.bkw` file. Every value that comes from the file is range-checked
//! before it is used as a size, an index or an offset; nothing here can panic or allocate more
//! than a small multiple of the input length.

use std::collections::{BTreeMap, BTreeSet};

use super::layout::*;
use super::*;
use crate::bitpack::words_for;
use crate::network::{Hyper, check_paths, limits};

fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn bad(key: Key, problem: impl Into<String>) -> FormatError {
    FormatError::BadSection {
        section: key.to_string(),
        problem: problem.into(),
    }
}

/// A located, not yet decoded section.
struct Raw<'a> {
    dtype: Dtype,
    data: &'a [u8],
}

struct Reader<'a> {
    sections: BTreeMap<Key, Raw<'a>>,
    used: BTreeSet<Key>,
}

impl<'a> Reader<'a> {
    fn take(&mut self, key: Key) -> Result<&Raw<'a>> {
        self.used.insert(key);
        self.sections
            .get(&key)
            .ok_or_else(|| FormatError::MissingSection {
                section: key.to_string(),
            })
    }

    fn has(&self, key: Key) -> bool {
        self.sections.contains_key(&key)
    }

    fn expect_len(key: Key, raw: &Raw<'_>, count: usize, what: &str) -> Result<()> {
        let want = count.checked_mul(raw.dtype.unit());
        if want != Some(raw.data.len()) {
            return Err(bad(
                key,
                format!(
                    "holds {} bytes, expected {} ({what} as {})",
                    raw.data.len(),
                    want.map_or_else(|| "more than fit in memory".to_owned(), |w| w.to_string()),
                    raw.dtype.name()
                ),
            ));
        }
        Ok(())
    }

    fn u32s(&mut self, key: Key) -> Result<Vec<u32>> {
        let raw = self.take(key)?;
        if raw.dtype != Dtype::U32 {
            return Err(bad(
                key,
                format!("has dtype {}, expected u32", raw.dtype.name()),
            ));
        }
        Ok(raw.data.chunks_exact(4).map(|c| le_u32(c, 0)).collect())
    }

    fn bytes(&mut self, key: Key) -> Result<&'a [u8]> {
        let raw = self.take(key)?;
        if raw.dtype != Dtype::Bytes {
            return Err(bad(
                key,
                format!("has dtype {}, expected bytes", raw.dtype.name()),
            ));
        }
        Ok(raw.data)
    }

    /// `count` finite floats stored as f32, f16 or q8; also returns the dtype found.
    fn floats(&mut self, key: Key, count: usize) -> Result<(Vec<f32>, FloatDtype)> {
        let raw = self.take(key)?;
        let dt = match raw.dtype {
            Dtype::F32 => FloatDtype::F32,
            Dtype::F16 => FloatDtype::F16,
            Dtype::Q8 => FloatDtype::Q8,
            other => {
                return Err(bad(
                    key,
                    format!("has dtype {}, expected f32, f16 or q8", other.name()),
                ));
            }
        };
        // q8 checks its own length (group count and grids before the codes).
        if dt != FloatDtype::Q8 {
            Self::expect_len(key, raw, count, &format!("{count} values"))?;
        }
        let v: Vec<f32> = match dt {
            FloatDtype::F32 => raw
                .data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            FloatDtype::F16 => raw
                .data
                .chunks_exact(2)
                .map(|c| f16_to_f32(le_u16(c, 0)))
                .collect(),
            FloatDtype::Q8 => q8::decode(raw.data, count).map_err(|p| bad(key, p))?,
        };
        if let Some(i) = v.iter().position(|x| !x.is_finite()) {
            return Err(bad(key, format!("value {i} is not finite ({})", v[i])));
        }
        Ok((v, dt))
    }

    /// `bits` bits; padding bits of the last word must be zero.
    fn bits(&mut self, key: Key, bits: usize) -> Result<Vec<u64>> {
        let raw = self.take(key)?;
        Self::expect_len(key, raw, words_for(bits), &format!("{bits} bits"))?;
        let words: Vec<u64> = raw.data.chunks_exact(8).map(|c| le_u64(c, 0)).collect();
        if !bits.is_multiple_of(64) && words.last().is_some_and(|w| w >> (bits % 64) != 0) {
            return Err(bad(
                key,
                format!("padding bits after bit {bits} are not zero"),
            ));
        }
        Ok(words)
    }

    /// Weights of a layer: bits for a binary model, floats for a float model.
    fn weights(
        &mut self,
        key: Key,
        count: usize,
        binary: bool,
        quant: Option<Quant>,
    ) -> Result<(LayerWeights, Option<FloatDtype>)> {
        let dtype = self.take(key)?.dtype;
        match (binary, quant) {
            (true, Some(quant)) => {
                if dtype != Dtype::Bits {
                    return Err(bad(
                        key,
                        format!(
                            "a binary model stores weights as bits, found {}",
                            dtype.name()
                        ),
                    ));
                }
                Ok((
                    LayerWeights::Binary {
                        bits: self.bits(key, count)?,
                        quant,
                    },
                    None,
                ))
            }
            _ => {
                let (weight, dt) = self.floats(key, count)?;
                Ok((LayerWeights::Float { weight }, Some(dt)))
            }
        }
    }

    fn affine(&mut self, key: Key, n: usize) -> Result<(Affine, FloatDtype)> {
        let (mut v, dt) = self.floats(key, 2 * n)?;
        let shift = v.split_off(n);
        Ok((Affine { scale: v, shift }, dt))
    }

    /// Thresholds `[tau0; tau1]` (plus `tau2` when `with_tau2`) of `n` inputs.
    fn quant(&mut self, key: Key, n: usize, planes: u8, with_tau2: bool) -> Result<Quant> {
        let rows = if with_tau2 { 3 } else { 2 };
        let (mut v, _) = self.floats(key, rows * n)?;
        let tau2 = if with_tau2 {
            v.split_off(2 * n)
        } else {
            Vec::new()
        };
        let tau1 = v.split_off(n);
        Ok(Quant {
            planes,
            tau0: v,
            tau1,
            tau2,
        })
    }
}

/// What the header says about the rest of the file.
struct Header {
    version: u32,
    /// Section table entries.
    count: usize,
    /// Where the CRC trailer starts (the end of the data area).
    body: usize,
}

/// Check the magic, header fields, length and CRC.
fn check_header(bytes: &[u8]) -> Result<Header> {
    let len = bytes.len();
    if len < MAGIC.len() {
        return Err(FormatError::Truncated {
            what: "magic".into(),
            needed: MAGIC.len() as u64,
            available: len as u64,
        });
    }
    if bytes[..MAGIC.len()] != MAGIC {
        return Err(FormatError::BadMagic {
            found: bytes[..MAGIC.len()].to_vec(),
        });
    }
    if len < HEADER_LEN + TRAILER_LEN {
        return Err(FormatError::Truncated {
            what: "header and checksum".into(),
            needed: (HEADER_LEN + TRAILER_LEN) as u64,
            available: len as u64,
        });
    }
    let version = le_u32(bytes, 8);
    if version != VERSION && version != VERSION_Q8 {
        return Err(FormatError::UnsupportedVersion { found: version });
    }
    let count = le_u32(bytes, 12) as usize;
    let declared = le_u64(bytes, 16);
    if declared > len as u64 {
        return Err(FormatError::Truncated {
            what: "file (length from the header)".into(),
            needed: declared,
            available: len as u64,
        });
    }
    if declared != len as u64 {
        return Err(FormatError::LengthMismatch {
            declared,
            actual: len as u64,
        });
    }
    let body = len - TRAILER_LEN;
    let stored = le_u32(bytes, body);
    let computed = crc32fast::hash(&bytes[..body]);
    if stored != computed {
        return Err(FormatError::ChecksumMismatch { stored, computed });
    }
    if le_u32(bytes, 24) != 0 {
        return Err(FormatError::BadHeader {
            field: "flags",
            problem: format!("0x{:08x}; version 1 defines no flags", le_u32(bytes, 24)),
        });
    }
    if le_u32(bytes, 28) != 0 {
        return Err(FormatError::BadHeader {
            field: "reserved",
            problem: "must be zero".into(),
        });
    }
    if count > MAX_SECTIONS {
        return Err(FormatError::BadHeader {
            field: "section_count",
            problem: format!("{count} is more than the limit of {MAX_SECTIONS}"),
        });
    }
    Ok(Header {
        version,
        count,
        body,
    })
}

/// Parse the header and the section table; checks everything about sizes and offsets.
fn locate(bytes: &[u8]) -> Result<BTreeMap<Key, Raw<'_>>> {
    let Header {
        version,
        count,
        body,
    } = check_header(bytes)?;
    let len = bytes.len();
    let table_end = HEADER_LEN + count * ENTRY_LEN;
    if table_end > body {
        return Err(FormatError::Truncated {
            what: format!("section table of {count} entries"),
            needed: (table_end + TRAILER_LEN) as u64,
            available: len as u64,
        });
    }
    let mut sections = BTreeMap::new();
    let mut spans = Vec::with_capacity(count);
    for i in 0..count {
        let e = HEADER_LEN + i * ENTRY_LEN;
        let key = Key {
            kind: le_u16(bytes, e),
            layer: le_u16(bytes, e + 2),
            path: le_u16(bytes, e + 4),
        };
        let entry_err = |problem: String| FormatError::BadSection {
            section: format!("table entry {i} ({key})"),
            problem,
        };
        if Kind::from_code(key.kind).is_none() {
            return Err(entry_err("unknown section kind".into()));
        }
        let dtype = Dtype::from_code(bytes[e + 6])
            .ok_or_else(|| entry_err(format!("unknown dtype code {}", bytes[e + 6])))?;
        if bytes[e + 7] != 0 {
            return Err(entry_err("reserved byte is not zero".into()));
        }
        if dtype == Dtype::Q8 && version == VERSION {
            return Err(entry_err(format!(
                "dtype q8 needs format version {VERSION_Q8}, the header says {VERSION}"
            )));
        }
        let offset = le_u64(bytes, e + 8);
        let length = le_u64(bytes, e + 16);
        let end = offset
            .checked_add(length)
            .filter(|&end| end <= body as u64)
            .ok_or_else(|| {
                entry_err(format!(
                    "bytes {offset}..+{length} run past the data area (which ends at {body})"
                ))
            })?;
        if offset < table_end as u64 {
            return Err(entry_err(format!(
                "offset {offset} lies inside the header or section table"
            )));
        }
        if !offset.is_multiple_of(ALIGN as u64) {
            return Err(entry_err(format!(
                "offset {offset} is not a multiple of {ALIGN}"
            )));
        }
        if !length.is_multiple_of(dtype.unit() as u64) {
            return Err(entry_err(format!(
                "length {length} is not a multiple of the {} size {}",
                dtype.name(),
                dtype.unit()
            )));
        }
        let (offset, end) = (offset as usize, end as usize);
        spans.push((offset, end, key));
        if sections
            .insert(
                key,
                Raw {
                    dtype,
                    data: &bytes[offset..end],
                },
            )
            .is_some()
        {
            return Err(entry_err("the same section appears twice".into()));
        }
    }
    spans.sort();
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(bad(w[1].2, format!("overlaps section {}", w[0].2)));
        }
    }
    check_gaps(bytes, table_end, body, &spans)?;
    Ok(sections)
}

/// Bytes that belong to no section are zero (the writer's alignment padding): two files of the
/// same model cannot then differ in bytes that nobody reads. `spans` are sorted and disjoint.
fn check_gaps(
    bytes: &[u8],
    table_end: usize,
    body: usize,
    spans: &[(usize, usize, Key)],
) -> Result<()> {
    let mut at = table_end;
    let mut before = "the section table".to_string();
    for &(start, end, key) in spans {
        check_gap(bytes, at, start, &before)?;
        if end >= at {
            (at, before) = (end, key.to_string());
        }
    }
    check_gap(bytes, at, body, &before)
}

/// `bytes[from..to]`, the gap after `before` (the table or a section), is zero.
fn check_gap(bytes: &[u8], from: usize, to: usize, before: &str) -> Result<()> {
    match bytes
        .get(from..to)
        .and_then(|gap| gap.iter().position(|&b| b != 0))
    {
        Some(i) => Err(FormatError::BadSection {
            section: format!("gap after {before} (bytes {from}..{to})"),
            problem: format!("byte {} belongs to no section and is not zero", from + i),
        }),
        None => Ok(()),
    }
}

fn as_usize(v: u32) -> usize {
    v as usize
}

impl PackedModel {
    /// Parse and validate a model file (see `docs/FORMAT.md`). Never panics.
    ///
    /// Sections are read in a fixed order (header, labels, paths, planes, slopes, the layers
    /// front to back, the classifier), so the first problem of a file is always the one named.
    pub fn from_bytes(bytes: &[u8]) -> Result<PackedModel> {
        let mut r = Reader {
            sections: locate(bytes)?,
            used: BTreeSet::new(),
        };
        let hyper = read_hyper(&mut r)?;
        let features = read_features(&mut r)?;
        let dims = Dims::new(hyper, &features)?;
        let labels = read_labels(&mut r, dims.classes)?;
        let paths = read_paths(&mut r, dims.hyper.paths, dims.layers)?;
        let binary = hyper.precision == Precision::Binary;
        let planes = read_planes(&mut r, &dims, binary)?;
        let q = Quants {
            binary,
            planes: &planes,
        };
        let np = dims.hyper.paths;
        let (slopes, _) = r.floats(Key::global(Kind::Slopes), 3 + dims.layers * (2 + np))?;
        let (front, storage) = read_front(&mut r, &q, &dims, &slopes)?;
        let mut layers = Vec::with_capacity(dims.layers);
        for j in 0..dims.layers {
            let s = &slopes[3 + j * (2 + np)..3 + (j + 1) * (2 + np)];
            layers.push(read_dfsmn(&mut r, &q, &dims, &paths, j, s)?);
        }
        let classifier = PackedClassifier {
            weight: r
                .floats(
                    Key::global(Kind::ClassifierWeight),
                    dims.classes * dims.classifier_in(),
                )?
                .0,
            bias: r.floats(Key::global(Kind::ClassifierBias), dims.classes)?.0,
        };
        if let Some(extra) = r.sections.keys().find(|k| !r.used.contains(k)) {
            return Err(bad(*extra, "not part of a model with these dimensions"));
        }
        let [conv1, conv2, fc1] = front;
        Ok(PackedModel {
            dims,
            labels,
            features,
            paths,
            storage,
            conv1,
            conv2,
            fc1,
            layers,
            classifier,
        })
    }
}

/// The hyper-parameters from the meta section.
fn read_hyper(r: &mut Reader<'_>) -> Result<Hyper> {
    let meta_key = Key::global(Kind::Meta);
    let meta = r.u32s(meta_key)?;
    if meta.len() != META_LEN {
        return Err(bad(
            meta_key,
            format!("has {} entries, expected {META_LEN}", meta.len()),
        ));
    }
    let precision = match meta[0] {
        0 => Precision::Binary,
        1 => Precision::Float,
        v => {
            return Err(bad(
                meta_key,
                format!("precision code {v} is not 0 (binary) or 1 (float)"),
            ));
        }
    };
    if meta[15] != 0 {
        return Err(bad(meta_key, "reserved entry 15 is not zero"));
    }
    Ok(Hyper {
        precision,
        classes: as_usize(meta[1]),
        layers: as_usize(meta[2]),
        paths: as_usize(meta[3]),
        conv1_channels: as_usize(meta[4]),
        conv1_kernel: as_usize(meta[5]),
        conv1_stride: as_usize(meta[6]),
        conv1_padding: as_usize(meta[7]),
        conv2_channels: as_usize(meta[8]),
        conv2_kernel: as_usize(meta[9]),
        conv2_stride: as_usize(meta[10]),
        conv2_padding: as_usize(meta[11]),
        memory: as_usize(meta[12]),
        hidden: as_usize(meta[13]),
        taps: as_usize(meta[14]),
    })
}

/// The front end's parameters from the features section.
fn read_features(r: &mut Reader<'_>) -> Result<FeatureParams> {
    let fkey = Key::global(Kind::Features);
    let fb = r.bytes(fkey)?;
    if fb.len() != FEATURES_LEN {
        return Err(bad(
            fkey,
            format!("has {} bytes, expected {FEATURES_LEN}", fb.len()),
        ));
    }
    Ok(FeatureParams {
        sample_rate: le_u32(fb, 0),
        clip_samples: as_usize(le_u32(fb, 4)),
        n_fft: as_usize(le_u32(fb, 8)),
        hop: as_usize(le_u32(fb, 12)),
        n_mels: as_usize(le_u32(fb, 16)),
        f_min: f32::from_le_bytes([fb[20], fb[21], fb[22], fb[23]]),
        f_max: f32::from_le_bytes([fb[24], fb[25], fb[26], fb[27]]),
    })
}

/// The activation planes of every binarised input (binary models; a float model has none).
fn read_planes(r: &mut Reader<'_>, dims: &Dims, binary: bool) -> Result<Vec<u8>> {
    let planes_key = Key::global(Kind::Planes);
    if !binary {
        if r.has(planes_key) {
            return Err(bad(planes_key, "a float model has no activation planes"));
        }
        return Ok(Vec::new());
    }
    let v = r.u32s(planes_key)?;
    if v.len() != 2 + 3 * dims.layers {
        return Err(bad(
            planes_key,
            format!(
                "has {} entries, expected 2 + 3 x {} layers",
                v.len(),
                dims.layers
            ),
        ));
    }
    if let Some(i) = v.iter().position(|&p| p != 1 && p != 2) {
        return Err(bad(
            planes_key,
            format!("entry {i} is {}, expected 1 or 2", v[i]),
        ));
    }
    Ok(v.iter().map(|&p| p as u8).collect())
}

/// The model's precision and activation planes, which decide whether a layer has thresholds.
struct Quants<'p> {
    binary: bool,
    planes: &'p [u8],
}

impl Quants<'_> {
    /// The thresholds `key` of `n` inputs (binary models; a float model has none), with the
    /// planes of entry `plane_idx` of the planes section.
    fn read(
        &self,
        r: &mut Reader<'_>,
        kind: Kind,
        key: Key,
        n: usize,
        plane_idx: usize,
        tau2: bool,
    ) -> Result<Option<Quant>> {
        if self.binary {
            Ok(Some(r.quant(key, n, self.planes[plane_idx], tau2)?))
        } else if r.has(key) {
            Err(bad(
                key,
                format!("a float model has no {} thresholds", kind.name()),
            ))
        } else {
            Ok(None)
        }
    }
}

/// conv1, conv2 and fc1, and the storage types of the float weights and per-channel values.
fn read_front(
    r: &mut Reader<'_>,
    q: &Quants<'_>,
    dims: &Dims,
    slopes: &[f32],
) -> Result<([PackedLayer; 3], Storage)> {
    let (m, c1, c2) = (dims.m, dims.c1, dims.c2);
    let binary = q.binary;
    let k1 = dims.hyper.conv1_kernel;
    let (conv1_w, fp_dt) = r.floats(Key::global(Kind::Conv1Weight), c1 * k1 * k1)?;
    let (conv1_a, pc_dt) = r.affine(Key::global(Kind::Conv1Affine), c1)?;
    let conv1 = PackedLayer {
        weights: LayerWeights::Float { weight: conv1_w },
        affine: conv1_a,
        slope: slopes[0],
    };
    let quant2 = q.read(
        r,
        Kind::Conv2Thresh,
        Key::global(Kind::Conv2Thresh),
        c1,
        0,
        true,
    )?;
    let (w2, _) = r.weights(
        Key::global(Kind::Conv2Weight),
        c2 * dims.conv2_patch(),
        binary,
        quant2,
    )?;
    let conv2 = PackedLayer {
        weights: w2,
        affine: r.affine(Key::global(Kind::Conv2Affine), c2)?.0,
        slope: slopes[1],
    };
    let quant_fc1 = q.read(
        r,
        Kind::Fc1Thresh,
        Key::global(Kind::Fc1Thresh),
        dims.fc1_in,
        1,
        false,
    )?;
    let (wf, _) = r.weights(
        Key::global(Kind::Fc1Weight),
        m * dims.fc1_in,
        binary,
        quant_fc1,
    )?;
    let fc1 = PackedLayer {
        weights: wf,
        affine: r.affine(Key::global(Kind::Fc1Affine), m)?.0,
        slope: slopes[2],
    };
    let storage = Storage {
        fp_weights: fp_dt,
        per_channel: pc_dt,
    };
    Ok(([conv1, conv2, fc1], storage))
}

/// D-FSMN layer `j` (its slopes `s`: memory, expand, then one per path).
fn read_dfsmn(
    r: &mut Reader<'_>,
    q: &Quants<'_>,
    dims: &Dims,
    paths: &[Vec<usize>],
    j: usize,
    s: &[f32],
) -> Result<PackedDfsmn> {
    let (m, hid) = (dims.m, dims.hidden);
    let binary = q.binary;
    let qm = q.read(
        r,
        Kind::MemoryThresh,
        Key::layer(Kind::MemoryThresh, j),
        m,
        2 + 3 * j,
        false,
    )?;
    let (wm, _) = r.weights(Key::layer(Kind::MemoryWeight, j), m * dims.taps, binary, qm)?;
    let memory = PackedLayer {
        weights: wm,
        affine: r.affine(Key::layer(Kind::MemoryAffine, j), m)?.0,
        slope: s[0],
    };
    let qe = q.read(
        r,
        Kind::ExpandThresh,
        Key::layer(Kind::ExpandThresh, j),
        m,
        3 + 3 * j,
        false,
    )?;
    let (we, _) = r.weights(Key::layer(Kind::ExpandWeight, j), hid * m, binary, qe)?;
    let expand = PackedLayer {
        weights: we,
        affine: r.affine(Key::layer(Kind::ExpandAffine, j), hid)?.0,
        slope: s[1],
    };
    let qp = q.read(
        r,
        Kind::ProjectThresh,
        Key::layer(Kind::ProjectThresh, j),
        hid,
        4 + 3 * j,
        false,
    )?;
    let (wp, _) = r.weights(Key::layer(Kind::ProjectWeight, j), m * hid, binary, qp)?;
    let mut affine = Vec::with_capacity(paths.len());
    for (p, path) in paths.iter().enumerate() {
        let key = Key::layer_path(Kind::ProjectAffine, j, p);
        if path.contains(&j) {
            affine.push(Some(r.affine(key, m)?.0));
        } else {
            if r.has(key) {
                return Err(bad(
                    key,
                    format!("present but path {p} does not run layer {j}"),
                ));
            }
            affine.push(None);
        }
    }
    Ok(PackedDfsmn {
        memory,
        expand,
        project: PackedProject {
            weights: wp,
            affine,
            slope: s[2..].to_vec(),
        },
    })
}

fn read_labels(r: &mut Reader<'_>, classes: usize) -> Result<Vec<String>> {
    let key = Key::global(Kind::Labels);
    let b = r.bytes(key)?;
    let mut labels = Vec::with_capacity(classes);
    let mut at = 0usize;
    for i in 0..classes {
        if b.len() - at < 4 {
            return Err(bad(key, format!("ends before the length of label {i}")));
        }
        let n = as_usize(le_u32(b, at));
        at += 4;
        if n > limits::MAX_LABEL_BYTES {
            return Err(bad(
                key,
                format!(
                    "label {i} claims {n} bytes, more than {}",
                    limits::MAX_LABEL_BYTES
                ),
            ));
        }
        if b.len() - at < n {
            return Err(bad(
                key,
                format!("label {i} runs past the end of the section"),
            ));
        }
        let s = std::str::from_utf8(&b[at..at + n])
            .map_err(|e| bad(key, format!("label {i} is not UTF-8: {e}")))?;
        labels.push(s.to_owned());
        at += n;
    }
    if at != b.len() {
        return Err(bad(
            key,
            format!("{} bytes left after {classes} labels", b.len() - at),
        ));
    }
    Ok(labels)
}

fn read_paths(r: &mut Reader<'_>, count: usize, layers: usize) -> Result<Vec<Vec<usize>>> {
    let key = Key::global(Kind::Paths);
    let v = r.u32s(key)?;
    let mut paths = Vec::with_capacity(count);
    let mut at = 0usize;
    for p in 0..count {
        let n = *v
            .get(at)
            .ok_or_else(|| bad(key, format!("ends before the length of path {p}")))?
            as usize;
        at += 1;
        if n > layers || v.len() - at < n {
            return Err(bad(
                key,
                format!(
                    "path {p} claims {n} layers (the model has {layers}, section has {} entries left)",
                    v.len() - at
                ),
            ));
        }
        paths.push(v[at..at + n].iter().map(|&j| j as usize).collect());
        at += n;
    }
    if at != v.len() {
        return Err(bad(
            key,
            format!("{} entries left after {count} paths", v.len() - at),
        ));
    }
    check_paths(&paths, layers)?;
    Ok(paths)
}
