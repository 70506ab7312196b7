//! The runner's JSON reports, mirrored from `docs/RUNNER.md` as serde structs.
//!
//! Deliberately a second, independent reader of the schema (strings where the runner has
//! enums, `Option` where a field may be `null`): the board may run an older or newer runner
//! than this workbench was built with. Unknown fields are ignored; a different major schema
//! version is refused.

use serde::{Deserialize, Serialize};

/// The bench schema major version this reader understands.
pub const BENCH_SCHEMA: &str = "bifsmn-runner-bench/1";

/// Latency statistics in microseconds over the timed runs (percentiles nearest-rank).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub min: f64,
    pub max: f64,
}

/// `board`: facts the runner found on the machine it ran on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunnerBoard {
    pub arch: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub cpu_model: Option<String>,
    #[serde(default)]
    pub cpu_features: Vec<String>,
    #[serde(default)]
    pub logical_cpus: u32,
    #[serde(default)]
    pub kernel: Option<String>,
    #[serde(default)]
    pub isa: String,
    #[serde(default)]
    pub isa_available: Vec<String>,
}

/// `model.storage`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelStorage {
    pub fp_weights: String,
    pub per_channel: String,
}

/// `model` in a bench report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportModel {
    pub file: String,
    /// `fnv1a64:` + 16 hex digits (`bifsmn_kernels::format::model_hash`).
    pub hash: String,
    pub file_bytes: u64,
    pub precision: String,
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
pub struct Classification {
    pub index: u32,
    pub label: String,
    #[serde(default)]
    pub logits: Vec<f32>,
    #[serde(default)]
    pub probabilities: Vec<f32>,
}

/// `memory`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    #[serde(default)]
    pub vm_hwm_kib: Option<u64>,
    #[serde(default)]
    pub vm_rss_kib: Option<u64>,
}

/// `bifsmn-runner bench` output (`schema: "bifsmn-runner-bench/1"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub schema: String,
    pub runner_version: String,
    pub board: RunnerBoard,
    pub isa: String,
    pub threads: u32,
    pub model: ReportModel,
    pub path: ReportPath,
    pub runs: u64,
    pub warmup: u64,
    pub input: String,
    pub end_to_end_us: Latency,
    #[serde(default)]
    pub layers: Vec<LayerTiming>,
    #[serde(default)]
    pub layer_sum_mean_us: Option<f64>,
    #[serde(default)]
    pub frontend_us: Option<Latency>,
    #[serde(default)]
    pub classification: Option<Classification>,
    #[serde(default)]
    pub memory: Memory,
}

/// `model` in a classify report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassifyModel {
    pub file: String,
    pub hash: String,
}

/// `bifsmn-runner classify --json` output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassifyReport {
    pub runner_version: String,
    pub model: ClassifyModel,
    pub clip: String,
    pub path: u32,
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

/// A report of either kind. Serialised as the runner's own JSON object (untagged), so a
/// history line's `report` is exactly what the runner printed, minus unknown fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RunnerReport {
    Bench(Box<BenchReport>),
    Classify(Box<ClassifyReport>),
}

impl RunnerReport {
    /// The thin path the report is about.
    pub fn path(&self) -> u32 {
        match self {
            RunnerReport::Bench(b) => b.path.index,
            RunnerReport::Classify(c) => c.path,
        }
    }

    /// End-to-end median latency (bench reports only).
    pub fn p50_us(&self) -> Option<f64> {
        match self {
            RunnerReport::Bench(b) => Some(b.end_to_end_us.p50),
            RunnerReport::Classify(_) => None,
        }
    }

    /// The model hash the runner computed on the board.
    pub fn model_hash(&self) -> &str {
        match self {
            RunnerReport::Bench(b) => &b.model.hash,
            RunnerReport::Classify(c) => &c.model.hash,
        }
    }

    /// `"bench"` or `"classify"`.
    pub fn kind(&self) -> &'static str {
        match self {
            RunnerReport::Bench(_) => "bench",
            RunnerReport::Classify(_) => "classify",
        }
    }
}

/// Parse a bench report; the error says what is wrong (for [`super::DeployError::MalformedReport`]).
pub fn parse_bench(stdout: &str) -> Result<BenchReport, String> {
    let v: serde_json::Value =
        serde_json::from_str(stdout.trim()).map_err(|e| format!("not JSON ({e})"))?;
    let schema = v.get("schema").and_then(|s| s.as_str()).unwrap_or("");
    if schema != BENCH_SCHEMA {
        return Err(format!(
            "schema {schema:?} is not {BENCH_SCHEMA:?} (runner and workbench versions differ?)"
        ));
    }
    serde_json::from_value(v).map_err(|e| format!("bench report: {e}"))
}

/// Parse a `classify --json` report.
pub fn parse_classify(stdout: &str) -> Result<ClassifyReport, String> {
    serde_json::from_str(stdout.trim()).map_err(|e| format!("classify report: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from docs/RUNNER.md (shortened the same way), plus a field from the future.
    const EXAMPLE: &str = r#"{
  "schema": "bifsmn-runner-bench/1",
  "runner_version": "0.1.0",
  "board": {
    "arch": "x86_64", "os": "linux", "cpu_model": "AMD EPYC",
    "cpu_features": ["popcnt", "avx2"], "logical_cpus": 2, "kernel": "6.18.44",
    "isa": "avx512vpopcntdq", "isa_available": ["scalar", "avx2"]
  },
  "isa": "avx512vpopcntdq",
  "threads": 1,
  "model": {
    "file": "student.bkw", "hash": "fnv1a64:03e1d374ee3899cc", "file_bytes": 201956,
    "precision": "binary", "classes": 12, "labels": ["class0", "class1"],
    "paths": [[0, 1, 2, 3, 4, 5, 6, 7], [1, 3, 5, 7], [3, 7], [7]],
    "storage": { "fp_weights": "f32", "per_channel": "f32" }
  },
  "path": { "index": 2, "layers": [3, 7] },
  "runs": 200, "warmup": 20, "input": "random-features",
  "end_to_end_us": { "mean": 20.812, "p50": 20.471, "p90": 20.751, "p99": 28.872, "min": 20.35, "max": 61.43 },
  "layers": [
    { "layer": "conv1", "op": "conv2d", "weight_bits": 32, "macs": 102400,
      "us": { "mean": 5.61, "p50": 5.548, "p90": 5.709, "p99": 7.652, "min": 5.508, "max": 9.12 } }
  ],
  "layer_sum_mean_us": 22.1,
  "frontend_us": null,
  "classification": null,
  "memory": { "vm_hwm_kib": 4716, "vm_rss_kib": 4716 },
  "energy_uj": 12.5
}"#;

    #[test]
    fn parses_the_documented_example_and_ignores_new_fields() {
        let r = parse_bench(EXAMPLE).unwrap();
        assert_eq!(r.path.index, 2);
        assert_eq!(r.end_to_end_us.p50, 20.471);
        assert_eq!(r.model.paths.len(), 4);
        assert_eq!(r.layers[0].us.unwrap().min, 5.508);
        assert_eq!(r.memory.vm_hwm_kib, Some(4716));
        let rr = RunnerReport::Bench(Box::new(r));
        assert_eq!(rr.p50_us(), Some(20.471));
        // Round trip through our own serialisation (the history file).
        let back: RunnerReport =
            serde_json::from_str(&serde_json::to_string(&rr).unwrap()).unwrap();
        assert_eq!(back, rr);
    }

    #[test]
    fn refuses_garbage_other_schemas_and_missing_fields() {
        assert!(
            parse_bench("Segmentation fault")
                .unwrap_err()
                .starts_with("not JSON")
        );
        let other = EXAMPLE.replace("bench/1", "bench/2");
        assert!(parse_bench(&other).unwrap_err().contains("bench/2"));
        let missing = EXAMPLE.replace("\"end_to_end_us\"", "\"renamed\"");
        assert!(parse_bench(&missing).unwrap_err().contains("end_to_end_us"));
        assert!(parse_bench(&format!("{EXAMPLE} trailing")).is_err());
    }

    #[test]
    fn classify_report() {
        let j = r#"{"runner_version":"0.1.0","model":{"file":"model.bkw","hash":"fnv1a64:00"},
                   "clip":"clip.wav","path":0,"isa":"neon","label":"yes","index":2,
                   "labels":["a","b","yes"],"logits":[0.1,0.2,0.3],"probabilities":[0.3,0.3,0.4]}"#;
        let c = parse_classify(j).unwrap();
        assert_eq!(c.label, "yes");
        assert_eq!(RunnerReport::Classify(Box::new(c)).p50_us(), None);
    }
}
