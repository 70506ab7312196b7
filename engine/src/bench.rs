//! `bifsmn bench`: one table measured in one run, so the ratios compare like with like.
//!
//! Columns: the binary student on the bit kernels (each trained thin path), the same network in
//! FP32 on the kernels' float path (the teacher), the FP32 teacher on burn's CPU backends
//! (flex and ndarray), and the FP32 teacher exported as ONNX ([`crate::onnx`]) in tract, the
//! pure-Rust ONNX engine, as a user deploying the float model would run it (end to end only:
//! tract's optimised plan fuses layers, so it has no per-layer times to compare). Rows: per
//! layer and end to end. Plus storage (FP32 checkpoint vs packed file) and binary-op throughput
//! against this CPU's measured XOR-popcount peak.
//!
//! Every timing is the median of `runs` single-clip forwards after `warmup` untimed ones, on
//! the same features; batch size 1, one thread, as on a board. The end-to-end forwards of all
//! columns are interleaved in short blocks (each round runs every column for a block of
//! forwards, in turn, after one untimed forward that warms its caches again), so a change in
//! the machine's load during the run shifts every column alike instead of one of them, while
//! every timed forward still runs with warm caches, as in a steady stream of clips.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bifsmn_kernels::bitpack::BitRows;
use bifsmn_kernels::format::{PackedModel, Storage};
use bifsmn_kernels::gemm::{PreparedBits, xor_popcount};
use bifsmn_kernels::infer::Engine;
use bifsmn_kernels::isa::Isa;
use bifsmn_kernels::network::LayerId;
use burn::module::Module;
use burn::prelude::*;
use prost::Message;
use serde::Serialize;

mod throughput;

pub use throughput::{BatchOptions, Throughput, ThroughputColumn, resolve_threads};

use crate::export::to_packed;
use crate::model::Dfsmn;
use crate::model::summary::summarize;
use crate::onnx::TractModel;
use crate::train::Backend;
use crate::train::checkpoint::{LoadedModel, open_model};

/// Median of microsecond samples.
fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Row names in table order: conv1, conv2, fc1, layer0..N-1, classifier.
fn row_of(id: LayerId) -> String {
    match id {
        LayerId::Conv1 => "conv1".into(),
        LayerId::Conv2 => "conv2".into(),
        LayerId::Fc1 => "fc1".into(),
        LayerId::Memory(j) | LayerId::Expand(j) | LayerId::Project(j) => format!("layer{j}"),
        LayerId::Classifier => "classifier".into(),
    }
}

/// One column: per-row medians and the end-to-end median.
#[derive(Clone, Debug, Serialize)]
pub struct Column {
    pub name: String,
    /// Median microseconds per row (rows the column does not run are absent).
    pub rows: BTreeMap<String, f64>,
    pub end_to_end_us: f64,
}

/// Everything `bifsmn bench` prints.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub cpu: String,
    pub isa: String,
    pub runs: usize,
    pub warmup: usize,
    pub row_order: Vec<String>,
    /// Binary student, one column per trained thin path.
    pub binary: Vec<Column>,
    pub fp32_kernels: Column,
    pub burn_flex: Column,
    pub burn_ndarray: Column,
    /// The FP32 teacher's ONNX export in tract (optimised plan, one thread); no per-layer rows.
    pub tract: Column,
    /// End-to-end speedup of the 8-layer binary path over each FP32 column.
    pub speedup_vs_fp32_kernels: f64,
    pub speedup_vs_burn_flex: f64,
    pub speedup_vs_burn_ndarray: f64,
    /// Against the faster of the two burn backends (the target, >= 25x).
    pub speedup_vs_burn_best: f64,
    pub speedup_vs_tract: f64,
    /// FP32 teacher checkpoint file (burnpack) size.
    pub fp32_checkpoint_bytes: u64,
    /// FP32 weights alone: trainable parameters x 4 bytes.
    pub fp32_weight_bytes: u64,
    /// The student as `bifsmn export` writes it by default (`q8` float sections, see
    /// `docs/FORMAT.md`); the ratios below use this.
    pub packed_bytes: u64,
    /// The student with exact (`f32`) float sections (`bifsmn export --storage f32`).
    pub packed_bytes_f32: u64,
    pub storage_ratio_checkpoint: f64,
    pub storage_ratio_weights: f64,
    /// Binary MACs x planes per 8-layer forward.
    pub binary_ops_per_forward: u64,
    /// Binary ops per second achieved inside the binary layers of the 8-layer path.
    pub binary_ops_per_sec: f64,
    /// This CPU's XOR-popcount peak: the best micro-kernel on an ideal, L1-resident problem.
    pub peak_binary_ops_per_sec: f64,
    pub fraction_of_peak: f64,
    /// Clips per second at `--batch N --threads T` (absent unless asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throughput: Option<Throughput>,
}

/// Time `f` `runs` times after `warmup` calls; median microseconds.
fn time_median(warmup: usize, runs: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..warmup {
        f();
    }
    let v: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            us(t.elapsed())
        })
        .collect();
    median(v)
}

/// One column's end-to-end forward for [`interleaved_medians`], and how many times to time it.
struct Timed<'a> {
    runs: usize,
    forward: Box<dyn FnMut() + 'a>,
}

/// Timed forwards per column and round in [`interleaved_medians`].
const BLOCK: usize = 10;

/// Median microseconds of each column's forward, timed round-robin in blocks: after `warmup`
/// untimed forwards of each column, every round gives each column that still has runs left
/// one untimed forward (the previous column evicted its data from the caches) and then up to
/// `block` timed ones.
fn interleaved_medians(warmup: usize, block: usize, columns: &mut [Timed<'_>]) -> Vec<f64> {
    for c in columns.iter_mut() {
        for _ in 0..warmup {
            (c.forward)();
        }
    }
    let mut samples: Vec<Vec<f64>> = columns.iter().map(|c| Vec::with_capacity(c.runs)).collect();
    while columns.iter().zip(&samples).any(|(c, s)| s.len() < c.runs) {
        for (c, out) in columns.iter_mut().zip(&mut samples) {
            let n = (c.runs - out.len()).min(block.max(1));
            if n == 0 {
                continue;
            }
            (c.forward)();
            for _ in 0..n {
                let t = Instant::now();
                (c.forward)();
                out.push(us(t.elapsed()));
            }
        }
    }
    samples.into_iter().map(median).collect()
}

/// The end-to-end forward of a kernels column (no clock reads inside).
fn kernels_forward<'a>(
    engine: &Arc<Engine>,
    path: usize,
    features: &'a [f32],
) -> Box<dyn FnMut() + 'a> {
    let mut session = engine.session();
    Box::new(move || {
        session.forward(path, features).expect("path checked");
    })
}

/// `batch` clips' features (one after the other) as burn's `[batch, 1, n_mels, frames]` input.
fn burn_input(features: &[f32], batch: usize, device: &Device) -> Tensor<4> {
    Tensor::<1>::from_floats(features, device).reshape([batch, 1, 32, 32])
}

/// The end-to-end forward of a burn column on `batch` clips as one tensor, read back so the
/// time includes the work.
fn burn_forward<'a>(
    model: &'a Dfsmn,
    device: &'a Device,
    features: &'a [f32],
    batch: usize,
) -> Box<dyn FnMut() + 'a> {
    Box::new(move || {
        let z = model.frontend(burn_input(features, batch, device), 1.0, &mut None);
        let out = model.backbone(z, 0, 1.0, &mut None);
        let _ = out.logits.into_data();
    })
}

/// The end-to-end forward of the tract column: one clip's features in, its logits out (tract
/// returns them as a tensor, copied into a buffer; the copy is part of what a caller pays).
fn tract_forward<'a>(model: &'a mut TractModel, features: &'a [f32]) -> Box<dyn FnMut() + 'a> {
    let mut logits = vec![0.0f32; model.output_len()];
    Box::new(move || {
        model
            .run(features, &mut logits)
            .expect("input size checked");
    })
}

/// Per-layer medians of a kernels column (hooked runs; the end-to-end median comes from
/// [`interleaved_medians`]).
fn kernels_rows(
    engine: &Arc<Engine>,
    path: usize,
    features: &[f32],
    runs: usize,
) -> anyhow::Result<BTreeMap<String, f64>> {
    let mut session = engine.session();
    let mut samples: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for _ in 0..runs {
        let mut hook: Vec<(LayerId, Duration)> = Vec::new();
        session.forward_hooked(path, features, &mut hook)?;
        let mut per_row: BTreeMap<String, f64> = BTreeMap::new();
        for (id, d) in hook {
            *per_row.entry(row_of(id)).or_default() += us(d);
        }
        for (k, v) in per_row {
            samples.entry(k).or_default().push(v);
        }
    }
    Ok(samples.into_iter().map(|(k, v)| (k, median(v))).collect())
}

/// Per-stage medians of a burn column: the FP32 teacher (`model`, in eval mode on `device`)
/// layer by layer, batch 1. Each stage's output is read back (`into_data`) so the time
/// includes the work, not just its scheduling. (The end-to-end median comes from
/// [`interleaved_medians`].)
fn burn_rows(
    model: &Dfsmn,
    device: &Device,
    features: &[f32],
    warmup: usize,
    runs: usize,
) -> BTreeMap<String, f64> {
    let sync = |t: &Tensor<3>| {
        let _ = t.clone().into_data();
    };
    // Per stage: the front end's three blocks, each D-FSMN layer, the classifier.
    let mut samples: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for i in 0..warmup + runs {
        let mut rec = |k: &str, d: Duration| {
            if i >= warmup {
                samples.entry(k.to_string()).or_default().push(us(d));
            }
        };
        let x = burn_input(features, 1, device);
        let t = Instant::now();
        let h = model
            .act1
            .forward(model.bn1.forward(model.conv1.forward(x)));
        let _ = h.clone().into_data();
        rec("conv1", t.elapsed());
        let t = Instant::now();
        let (h, _) = model.conv2.forward(h, 1.0, false);
        let h = model.act2.forward(model.bn2.forward(h));
        let _ = h.clone().into_data();
        rec("conv2", t.elapsed());
        let t = Instant::now();
        let [b, c, f, tt] = h.dims();
        let z = h.permute([0, 3, 1, 2]).reshape([b, tt, c * f]);
        let (z, _) = model.fc1.forward(z, 1.0, false);
        let mut x = model.act_fc1.forward(z.swap_dims(1, 2));
        sync(&x);
        rec("fc1", t.elapsed());
        for (j, layer) in model.layers.iter().enumerate() {
            let t = Instant::now();
            x = layer.forward(x, 0, j, 1.0, &mut None);
            sync(&x);
            rec(&format!("layer{j}"), t.elapsed());
        }
        let t = Instant::now();
        let [b, n, tt] = x.dims();
        let logits = burn::tensor::module::linear(
            x.reshape([b, n * tt]),
            model.classifier_weight.val().transpose(),
            Some(model.classifier_bias.val()),
        );
        let _ = logits.into_data();
        rec("classifier", t.elapsed());
    }
    samples.into_iter().map(|(k, v)| (k, median(v))).collect()
}

/// The best ISA's XOR-popcount throughput on a large, L1-resident, perfectly blocked problem:
/// 64 activation rows x 256 weight rows x 256 bits. Binary MACs per second.
pub fn measure_peak(isa: Isa) -> f64 {
    let (rows, outs, bits) = (64usize, 256usize, 256usize);
    let words = bits / 64;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let a_words: Vec<u64> = (0..rows * words).map(|_| next()).collect();
    let w_words: Vec<u64> = (0..outs * words).map(|_| next()).collect();
    let a = BitRows::from_rows(rows, bits, &a_words);
    let w = PreparedBits::new(isa, &w_words, outs, bits);
    let mut out = vec![0u32; a.rows_padded() * w.outs_padded()];
    let calls = 200;
    let t = time_median(20, 15, || {
        for _ in 0..calls {
            xor_popcount(&a, &w, &mut out);
            std::hint::black_box(&out);
        }
    });
    (rows * outs * bits * calls) as f64 / (t * 1e-6)
}

/// Random-looking but fixed features for timing (the forward's cost does not depend on them
/// except through branch prediction, which a real clip would exercise the same way).
fn timing_features(student: &Engine) -> Vec<f32> {
    bifsmn_kernels::synth::random_features(student.feature_params(), 7)
}

/// The teacher `t` exported to ONNX in memory and loaded into tract for one clip per run,
/// checked to take `features` values as the other columns do.
fn load_tract(t: &LoadedModel, features: usize) -> anyhow::Result<TractModel> {
    let onnx = crate::onnx::onnx_of_loaded(t)?.encode_to_vec();
    let tract = TractModel::new(&onnx, 1)
        .with_context(|| format!("loading {} in tract", t.model_path.display()))?;
    anyhow::ensure!(
        tract.input_len() == features,
        "the ONNX model takes {} features, the student {features}",
        tract.input_len(),
    );
    Ok(tract)
}

/// The student (binary) and teacher (full precision) runs, on flex.
fn open_pair(student: &Path, teacher: &Path) -> anyhow::Result<(LoadedModel, LoadedModel)> {
    let device = Backend::Flex.device()?;
    let s =
        open_model(student, &device).with_context(|| format!("loading {}", student.display()))?;
    let t =
        open_model(teacher, &device).with_context(|| format!("loading {}", teacher.display()))?;
    anyhow::ensure!(
        s.model.config.is_binary(),
        "{} is not a binary model",
        student.display()
    );
    anyhow::ensure!(
        !t.model.config.is_binary(),
        "{} is not a full-precision model",
        teacher.display()
    );
    Ok((s, t))
}

/// Bytes of the packed student as `bifsmn export` writes it by default (q8), and with exact
/// f32 float sections.
fn packed_sizes(student: &PackedModel) -> anyhow::Result<(u64, u64)> {
    let f32_bytes = student.to_bytes()?.len() as u64;
    let compact = student.clone().with_storage(Storage::COMPACT).to_bytes()?;
    Ok((compact.len() as u64, f32_bytes))
}

/// Measure everything. `student` and `teacher` are run directories (or sidecars/.bpk); with
/// `batch`, the throughput table too.
pub fn run_bench(
    student: &Path,
    teacher: &Path,
    runs: usize,
    warmup: usize,
    batch: Option<BatchOptions>,
) -> anyhow::Result<BenchReport> {
    let (s, t) = open_pair(student, teacher)?;
    let student_paths = s.sidecar.config.path_weights.len().max(1);
    let packed_student: PackedModel = to_packed(&s.model, &s.sidecar.labels, student_paths)?;
    let packed_teacher: PackedModel = to_packed(&t.model, &t.sidecar.labels, 1)?;
    let (packed_bytes, packed_bytes_f32) = packed_sizes(&packed_student)?;
    let se = Arc::new(Engine::new(&packed_student)?);
    let te = Arc::new(Engine::new(&packed_teacher)?);
    let features = timing_features(&se);
    let mut tract_engine = load_tract(&t, features.len())?;

    let (flex, ndarray) = (Backend::Flex.device()?, Backend::Ndarray.device()?);
    let teacher_flex = t.model.valid().to_device(&flex);
    let teacher_ndarray = t.model.valid().to_device(&ndarray);
    // ndarray is ~30x slower than the rest: fewer of its runs keep the bench short.
    let ndarray_runs = runs.min(30);

    // End to end, all columns interleaved: binary paths, FP32 kernels, flex, ndarray, tract.
    let mut timed: Vec<Timed> = (0..se.num_paths())
        .map(|p| Timed {
            runs,
            forward: kernels_forward(&se, p, &features),
        })
        .collect();
    timed.push(Timed {
        runs,
        forward: kernels_forward(&te, 0, &features),
    });
    timed.push(Timed {
        runs,
        forward: burn_forward(&teacher_flex, &flex, &features, 1),
    });
    timed.push(Timed {
        runs: ndarray_runs,
        forward: burn_forward(&teacher_ndarray, &ndarray, &features, 1),
    });
    timed.push(Timed {
        runs,
        forward: tract_forward(&mut tract_engine, &features),
    });
    let e2e = interleaved_medians(warmup, BLOCK, &mut timed);
    drop(timed);

    // Per layer, column by column (these rows explain the totals; the ratios use the above).
    let column = |name: String, rows, end_to_end_us| Column {
        name,
        rows,
        end_to_end_us,
    };
    let mut binary = Vec::new();
    for (p, &end_to_end) in e2e.iter().enumerate().take(se.num_paths()) {
        let layers = se.path_layers(p)?.len();
        let rows = kernels_rows(&se, p, &features, runs)?;
        binary.push(column(format!("binary {layers}L"), rows, end_to_end));
    }
    let n = se.num_paths();
    let fp32_kernels = column(
        "FP32 kernels".into(),
        kernels_rows(&te, 0, &features, runs)?,
        e2e[n],
    );
    let burn_flex = column(
        "burn flex".into(),
        burn_rows(&teacher_flex, &flex, &features, warmup, runs),
        e2e[n + 1],
    );
    let burn_ndarray = column(
        "burn ndarray".into(),
        burn_rows(
            &teacher_ndarray,
            &ndarray,
            &features,
            warmup.min(5),
            ndarray_runs,
        ),
        e2e[n + 2],
    );
    let tract = column("tract".into(), BTreeMap::new(), e2e[n + 3]);

    let b8 = binary[0].end_to_end_us;
    let burn_best = burn_flex.end_to_end_us.min(burn_ndarray.end_to_end_us);
    let teacher_summary = summarize(&t.model);
    let student_summary = summarize(&s.model);
    let planes = s.model.config.planes.max(1) as u64;
    let binary_ops = student_summary.binary_macs as u64 * planes;
    let binary_rows_us: f64 = binary[0]
        .rows
        .iter()
        .filter(|(k, _)| k.as_str() != "conv1" && k.as_str() != "classifier")
        .map(|(_, v)| v)
        .sum();
    let peak = measure_peak(se.isa());
    let throughput = batch
        .map(|b| throughput::run(&se, &te, (&teacher_flex, &flex), b, warmup, runs))
        .transpose()?;
    let ops_per_sec = binary_ops as f64 / (binary_rows_us * 1e-6);
    let checkpoint_bytes = std::fs::metadata(&t.model_path)?.len();
    let weight_bytes = teacher_summary.total_params as u64 * 4;
    let mut row_order = vec!["conv1".to_string(), "conv2".into(), "fc1".into()];
    row_order.extend((0..t.model.layers.len()).map(|j| format!("layer{j}")));
    row_order.push("classifier".into());
    Ok(BenchReport {
        cpu: bifsmn_kernels::board::BoardInfo::detect()
            .cpu_model
            .unwrap_or_else(|| "unknown CPU".into()),
        isa: se.isa().name().to_string(),
        runs,
        warmup,
        row_order,
        speedup_vs_fp32_kernels: fp32_kernels.end_to_end_us / b8,
        speedup_vs_burn_flex: burn_flex.end_to_end_us / b8,
        speedup_vs_burn_ndarray: burn_ndarray.end_to_end_us / b8,
        speedup_vs_burn_best: burn_best / b8,
        speedup_vs_tract: tract.end_to_end_us / b8,
        binary,
        fp32_kernels,
        burn_flex,
        burn_ndarray,
        tract,
        fp32_checkpoint_bytes: checkpoint_bytes,
        fp32_weight_bytes: weight_bytes,
        packed_bytes,
        packed_bytes_f32,
        storage_ratio_checkpoint: checkpoint_bytes as f64 / packed_bytes as f64,
        storage_ratio_weights: weight_bytes as f64 / packed_bytes as f64,
        binary_ops_per_forward: binary_ops,
        binary_ops_per_sec: ops_per_sec,
        peak_binary_ops_per_sec: peak,
        fraction_of_peak: ops_per_sec / peak,
        throughput,
    })
}

impl BenchReport {
    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut cols: Vec<&Column> = self.binary.iter().collect();
        cols.extend([
            &self.fp32_kernels,
            &self.burn_flex,
            &self.burn_ndarray,
            &self.tract,
        ]);
        let mut s = format!(
            "CPU: {}; bit kernels: {}; median of {} runs after {} warm-up, batch 1, 1 thread; microseconds\n\n",
            self.cpu, self.isa, self.runs, self.warmup
        );
        s.push_str(&format!("{:<12}", "layer"));
        for c in &cols {
            s.push_str(&format!("{:>14}", c.name));
        }
        s.push_str(&format!(
            "{:>12}{:>12}{:>12}\n",
            "vs FP32 k.", "vs flex", "vs tract"
        ));
        for r in &self.row_order {
            s.push_str(&format!("{r:<12}"));
            for c in &cols {
                match c.rows.get(r) {
                    Some(v) => s.push_str(&format!("{v:>14.2}")),
                    None => s.push_str(&format!("{:>14}", "—")),
                }
            }
            let b = self.binary[0].rows.get(r).copied();
            let ratio = |c: &Column| match (b, c.rows.get(r)) {
                (Some(b), Some(v)) if b > 0.0 => format!("{:>11.1}x", v / b),
                _ => format!("{:>12}", "—"),
            };
            s.push_str(&ratio(&self.fp32_kernels));
            s.push_str(&ratio(&self.burn_flex));
            s.push_str(&ratio(&self.tract));
            s.push('\n');
        }
        s.push_str(&format!("{:<12}", "end to end"));
        for c in &cols {
            s.push_str(&format!("{:>14.2}", c.end_to_end_us));
        }
        s.push_str(&format!(
            "{:>11.1}x{:>11.1}x{:>11.1}x\n\n",
            self.speedup_vs_fp32_kernels, self.speedup_vs_burn_flex, self.speedup_vs_tract
        ));
        s.push_str(&format!(
            "speedup of the binary 8-layer path: {:.1}x vs FP32 kernels, {:.1}x vs burn flex, {:.1}x vs burn ndarray (best burn: {:.1}x), {:.1}x vs tract (ONNX)\n",
            self.speedup_vs_fp32_kernels,
            self.speedup_vs_burn_flex,
            self.speedup_vs_burn_ndarray,
            self.speedup_vs_burn_best,
            self.speedup_vs_tract
        ));
        for c in &self.binary[1..] {
            s.push_str(&format!(
                "  {}: {:.2} us, {:.1}x vs the 8-layer FP32 kernels\n",
                c.name,
                c.end_to_end_us,
                self.fp32_kernels.end_to_end_us / c.end_to_end_us
            ));
        }
        s.push_str(&format!(
            "storage: FP32 checkpoint {} B, FP32 weights {} B, packed {} B (q8, the default export): {:.1}x / {:.1}x smaller; {:.1}x with exact f32 float sections ({} B)\n",
            self.fp32_checkpoint_bytes,
            self.fp32_weight_bytes,
            self.packed_bytes,
            self.storage_ratio_checkpoint,
            self.storage_ratio_weights,
            self.fp32_weight_bytes as f64 / self.packed_bytes_f32 as f64,
            self.packed_bytes_f32
        ));
        s.push_str(&format!(
            "binary ops: {:.2} M per forward, {:.2} Gop/s in the binary layers = {:.1}% of this CPU's XOR-popcount peak ({:.2} Gop/s, see docs/BENCH.md)\n",
            self.binary_ops_per_forward as f64 / 1e6,
            self.binary_ops_per_sec / 1e9,
            100.0 * self.fraction_of_peak,
            self.peak_binary_ops_per_sec / 1e9
        ));
        if let Some(t) = &self.throughput {
            s.push('\n');
            s.push_str(&t.table());
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn interleaving_gives_every_column_a_block_per_round() {
        let log = RefCell::new(String::new());
        let mut columns = vec![
            Timed {
                runs: 3,
                forward: Box::new(|| log.borrow_mut().push('a')),
            },
            Timed {
                runs: 1,
                forward: Box::new(|| log.borrow_mut().push('b')),
            },
        ];
        let medians = interleaved_medians(1, 2, &mut columns);
        drop(columns);
        assert_eq!(medians.len(), 2);
        assert!(medians.iter().all(|m| m.is_finite() && *m >= 0.0));
        // Warm-up (one each), then rounds of one untimed + up to two timed forwards per
        // column: a a a | b b | a a (a's third run).
        assert_eq!(log.into_inner(), "abaaabbaa");
    }

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
    }
}
