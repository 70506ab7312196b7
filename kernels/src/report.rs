//! The board runner's JSON reports (`docs/RUNNER.md`) as serde structs: the runner writes them,
//! the workbench (`bifsmn-deploy`) reads them back.
//!
//! The types are deliberately loose where a board may run an older or newer runner than the
//! workbench was built with: strings where the runner has enums (ISA, layer, precision, dtype),
//! so a name this build does not know still parses; `#[serde(default)]` on every field a report
//! can do without, so a field added or dropped by another runner version costs nothing. Unknown
//! fields are ignored. Only what identifies a bench report is required: the model's hash, the
//! thin path's index and the end-to-end latency.

use serde::{Deserialize, Serialize};

use crate::board::BoardInfo;
use crate::format::{FloatDtype, Storage};
use crate::infer;
pub use crate::stats::Latency;
use crate::weights::Precision;

/// `schema` of a bench report; its major version is bumped when a field changes meaning.
pub const BENCH_SCHEMA: &str = "bifsmn-runner-bench/1";
/// `schema` of a `selftest --json` report.
pub const SELFTEST_SCHEMA: &str = "bifsmn-runner-selftest/1";

/// A count in a report. Reports hold counts as JSON integers; `u32` is plenty for every one
/// of them (layers, classes, threads, CPUs), and saturating keeps the runner free of panics.
pub fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// `board`: facts the runner found on the machine it ran on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunnerBoard {
    pub arch: String,
    pub os: String,
    pub cpu_model: Option<String>,
    pub cpu_features: Vec<String>,
    pub logical_cpus: u32,
    pub kernel: Option<String>,
    pub isa: String,
    pub isa_available: Vec<String>,
}

impl From<&BoardInfo> for RunnerBoard {
    fn from(b: &BoardInfo) -> Self {
        Self {
            arch: b.arch.clone(),
            os: b.os.clone(),
            cpu_model: b.cpu_model.clone(),
            cpu_features: b.cpu_features.clone(),
            logical_cpus: count(b.logical_cpus),
            kernel: b.kernel.clone(),
            isa: b.isa.name().to_owned(),
            isa_available: b
                .isa_available
                .iter()
                .map(|i| i.name().to_owned())
                .collect(),
        }
    }
}

/// `model.storage`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelStorage {
    pub fp_weights: String,
    pub per_channel: String,
}

impl From<Storage> for ModelStorage {
    fn from(s: Storage) -> Self {
        let name = |d: FloatDtype| d.dtype().name();
        Self {
            fp_weights: name(s.fp_weights).to_owned(),
            per_channel: name(s.per_channel).to_owned(),
        }
    }
}

/// `binary` or `float`, as `model.precision` spells it.
pub fn precision_name(p: Precision) -> &'static str {
    match p {
        Precision::Binary => "binary",
        Precision::Float => "float",
    }
}

/// `model` in a bench (and `info`) report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportModel {
    #[serde(default)]
    pub file: String,
    /// `fnv1a64:` + 16 hex digits (`bifsmn_kernels::format::model_hash`).
    pub hash: String,
    #[serde(default)]
    pub file_bytes: u64,
    #[serde(default)]
    pub precision: String,
    #[serde(default)]
    pub classes: u32,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub paths: Vec<Vec<u32>>,
    #[serde(default)]
    pub storage: Option<ModelStorage>,
}

/// `path`: the thin path measured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportPath {
    pub index: u32,
    #[serde(default)]
    pub layers: Vec<u32>,
}

/// One entry of `layers`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerTiming {
    pub layer: String,
    #[serde(default)]
    pub op: Option<String>,
    #[serde(default)]
    pub weight_bits: Option<u32>,
    #[serde(default)]
    pub macs: Option<u64>,
    #[serde(default)]
    pub us: Option<Latency>,
}

/// `classification` (bench with a clip).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchClassification {
    pub index: u32,
    pub label: String,
    #[serde(default)]
    pub logits: Vec<f32>,
    #[serde(default)]
    pub probabilities: Vec<f32>,
}

impl From<infer::Classification> for BenchClassification {
    fn from(c: infer::Classification) -> Self {
        Self {
            index: count(c.index),
            label: c.label,
            logits: c.logits,
            probabilities: c.probabilities,
        }
    }
}

/// `memory`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Memory {
    pub vm_hwm_kib: Option<u64>,
    pub vm_rss_kib: Option<u64>,
}

/// A missing `threads` means the runner's default, one.
fn one_thread() -> u32 {
    1
}

/// `bifsmn-runner bench` output (`schema: "bifsmn-runner-bench/1"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    #[serde(default)]
    pub schema: String,
    #[serde(default)]
    pub runner_version: String,
    #[serde(default)]
    pub board: RunnerBoard,
    #[serde(default)]
    pub isa: String,
    #[serde(default = "one_thread")]
    pub threads: u32,
    pub model: ReportModel,
    pub path: ReportPath,
    #[serde(default)]
    pub runs: u64,
    #[serde(default)]
    pub warmup: u64,
    /// `random-features` or `clip`.
    #[serde(default)]
    pub input: String,
    pub end_to_end_us: Latency,
    #[serde(default)]
    pub layers: Vec<LayerTiming>,
    #[serde(default)]
    pub layer_sum_mean_us: Option<f64>,
    #[serde(default)]
    pub frontend_us: Option<Latency>,
    #[serde(default)]
    pub classification: Option<BenchClassification>,
    #[serde(default)]
    pub memory: Memory,
}

/// `model` in a classify report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassifyModel {
    #[serde(default)]
    pub file: String,
    pub hash: String,
}

/// `bifsmn-runner classify --json` output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassifyReport {
    #[serde(default)]
    pub runner_version: String,
    pub model: ClassifyModel,
    #[serde(default)]
    pub clip: String,
    pub path: u32,
    #[serde(default)]
    pub isa: String,
    pub label: String,
    pub index: u32,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub logits: Vec<f32>,
    #[serde(default)]
    pub probabilities: Vec<f32>,
}

/// `bifsmn-runner info --json` output; `model` and `summary` only with `--model`.
#[derive(Clone, Debug, Serialize)]
pub struct InfoReport {
    pub runner_version: String,
    pub board: RunnerBoard,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ReportModel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<crate::format::ModelSummary>,
}

/// One thin path of a self-test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelftestPath {
    pub path: u32,
    pub argmax: u32,
    #[serde(default)]
    pub logits: Vec<f32>,
    /// Each logit's IEEE bit pattern as 8 hex digits (compares machines bit for bit).
    #[serde(default)]
    pub logits_bits: Vec<String>,
    /// Generated models only: max |fast - reference| / (1 + max |reference|).
    #[serde(default)]
    pub reference_relative_error: Option<f32>,
}

/// `bifsmn-runner selftest --json` output (`schema: "bifsmn-runner-selftest/1"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelftestReport {
    #[serde(default)]
    pub schema: String,
    #[serde(default)]
    pub runner_version: String,
    #[serde(default)]
    pub arch: String,
    /// Every ISA checked.
    #[serde(default)]
    pub isas: Vec<String>,
    #[serde(default)]
    pub model_hash: String,
    #[serde(default)]
    pub generated_model: bool,
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub paths: Vec<SelftestPath>,
    pub ok: bool,
    #[serde(default)]
    pub problems: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bench_report_needs_only_its_identity_and_end_to_end_latency() {
        let r: BenchReport = serde_json::from_str(
            r#"{"model":{"hash":"fnv1a64:00"},"path":{"index":1},"end_to_end_us":{"mean":2.5}}"#,
        )
        .unwrap();
        assert_eq!((r.path.index, r.threads), (1, 1));
        assert_eq!(r.end_to_end_us.mean, 2.5);
        assert_eq!(r.end_to_end_us.p50, 0.0);
        let no_latency = r#"{"model":{"hash":"fnv1a64:00"},"path":{"index":1}}"#;
        assert!(serde_json::from_str::<BenchReport>(no_latency).is_err());
    }

    #[test]
    fn names_match_the_runners_enums() {
        let s = ModelStorage::from(Storage {
            fp_weights: FloatDtype::F16,
            per_channel: FloatDtype::F32,
        });
        let via_enum = serde_json::to_value(Storage {
            fp_weights: FloatDtype::F16,
            per_channel: FloatDtype::F32,
        })
        .unwrap();
        assert_eq!(serde_json::to_value(s).unwrap(), via_enum);
        let b = BoardInfo::detect();
        assert_eq!(
            serde_json::to_value(RunnerBoard::from(&b)).unwrap(),
            serde_json::to_value(&b).unwrap()
        );
    }
}
