//! The runner's JSON reports as the workbench reads them back.
//!
//! The report types themselves live in [`bifsmn_kernels::report`], where the runner writes
//! them; they are read tolerantly (strings where the runner has enums, `serde(default)` on
//! every field a report can do without) because the board may run an older or newer runner
//! than this workbench was built with. Unknown fields are ignored; a different major schema
//! version is refused.

use serde::{Deserialize, Serialize};

pub use bifsmn_kernels::report::{
    BENCH_SCHEMA, BenchClassification, BenchReport, ClassifyReport, Latency, LayerTiming,
    RunnerBoard,
};

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
    use bifsmn_kernels::report::Memory;

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
    fn parses_reports_of_older_and_newer_runners() {
        // An older runner: no memory, storage, frontend, op names or warm-up count.
        let older = r#"{"schema":"bifsmn-runner-bench/1","runner_version":"0.0.9",
            "board":{"arch":"aarch64"},"isa":"neon","threads":1,
            "model":{"file":"m.bkw","hash":"fnv1a64:01","file_bytes":10,"precision":"binary","classes":2},
            "path":{"index":0,"layers":[0]},"runs":5,"input":"clip",
            "end_to_end_us":{"mean":1.0,"p50":1.0,"p90":1.0,"p99":1.0,"min":1.0,"max":1.0},
            "layers":[{"layer":"conv1","us":{"mean":0.5,"p50":0.5,"p90":0.5,"p99":0.5,"min":0.5,"max":0.5}}]}"#;
        let r = parse_bench(older).unwrap();
        assert_eq!(r.warmup, 0);
        assert_eq!(r.memory, Memory::default());
        assert_eq!(r.layers[0].op, None);
        assert_eq!(r.model.storage, None);
        // A newer runner: an ISA and a dtype this build does not know, extra fields everywhere.
        let newer = EXAMPLE
            .replace(
                r#""isa": "avx512vpopcntdq","#,
                r#""isa": "sve2", "isa_flags": [1],"#,
            )
            .replace(r#""fp_weights": "f32""#, r#""fp_weights": "bf16""#)
            .replace(
                r#""weight_bits": 32,"#,
                r#""weight_bits": 32, "sparsity": 0.5,"#,
            );
        let r = parse_bench(&newer).unwrap();
        assert_eq!(r.isa, "sve2");
        assert_eq!(r.model.storage.unwrap().fp_weights, "bf16");
    }

    #[test]
    fn reads_back_what_the_report_types_write() {
        let written = serde_json::to_string(&parse_bench(EXAMPLE).unwrap()).unwrap();
        assert_eq!(
            parse_bench(&written).unwrap(),
            parse_bench(EXAMPLE).unwrap()
        );
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
