//! The local bench history: one JSON object per line (`bench-history.jsonl` in the user's
//! data dir), appended after every run, so the GUI can chart a board's timings over time.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::error::DeployError;
use super::report::{BenchReport, RunnerReport};

/// One history line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// UTC, RFC 3339 (`2025-01-31T12:00:00Z`).
    pub timestamp: String,
    /// Milliseconds since the Unix epoch (for sorting and charting).
    pub unix_ms: u64,
    /// Board name and the host it was reached at.
    pub board: String,
    pub host: String,
    /// `uname -m` and CPU model of the board.
    pub arch: String,
    pub cpu_model: Option<String>,
    /// Local path of the model that was deployed.
    pub model_file: String,
    /// `fnv1a64:...` (the runner's and the format's identity of the model bytes).
    pub model_hash: String,
    /// Thin path index.
    pub path: u32,
    /// `bench` or `classify`.
    pub kind: String,
    /// End-to-end p50 in microseconds (bench only), duplicated here for quick charting.
    pub p50_us: Option<f64>,
    /// The full parsed report.
    pub report: RunnerReport,
}

impl HistoryEntry {
    /// An entry stamped with the current time.
    pub fn now(
        board: &str,
        host: &str,
        arch: &str,
        cpu_model: Option<String>,
        model_file: &Path,
        model_hash: &str,
        report: RunnerReport,
    ) -> Self {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Self {
            timestamp: rfc3339_utc(ms / 1000),
            unix_ms: ms,
            board: board.into(),
            host: host.into(),
            arch: arch.into(),
            cpu_model,
            model_file: model_file.display().to_string(),
            model_hash: model_hash.into(),
            path: report.path(),
            kind: report.kind().into(),
            p50_us: report.p50_us(),
            report,
        }
    }
}

// Board threads append concurrently; one lock keeps their lines whole.
static APPEND_LOCK: Mutex<()> = Mutex::new(());

/// Append one entry (creates the file and its directory).
pub fn append(path: &Path, entry: &HistoryEntry) -> Result<(), DeployError> {
    let err = |e: std::io::Error| DeployError::History {
        path: path.to_path_buf(),
        source: Arc::new(e),
    };
    let mut line = serde_json::to_string(entry).map_err(|e| err(std::io::Error::other(e)))?;
    line.push('\n');
    let _guard = APPEND_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(err)?;
    // One write call per line: with O_APPEND other processes' lines do not interleave.
    f.write_all(line.as_bytes()).map_err(err)?;
    f.sync_data().map_err(err)
}

/// Read the history; unreadable lines (a crash mid-line, a newer format) are skipped and
/// counted rather than failing the whole chart. A missing file is an empty history.
pub fn read(path: &Path) -> Result<(Vec<HistoryEntry>, usize), DeployError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((vec![], 0)),
        Err(e) => {
            return Err(DeployError::History {
                path: path.to_path_buf(),
                source: Arc::new(e),
            });
        }
    };
    let mut entries = vec![];
    let mut skipped = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str(line) {
            Ok(e) => entries.push(e),
            Err(_) => skipped += 1,
        }
    }
    Ok((entries, skipped))
}

/// A history line as [`latest_bench`] reads it: a bench report on its own, or under a `report`
/// key (a [`HistoryEntry`], or an older workbench's wrapper).
#[derive(Deserialize)]
#[serde(untagged)]
enum BenchLine {
    Bare(Box<BenchReport>),
    Wrapped { report: Box<BenchReport> },
}

/// The latest bench report in `text` (history lines, oldest first) for the model with `hash`
/// on thin path `path` that has per-layer timings. Lines that are not bench reports, or come
/// from another schema family, are skipped: a chart with one column fewer beats no chart.
pub fn latest_bench(text: &str, hash: &str, path: u32) -> Option<BenchReport> {
    text.lines()
        .rev()
        .filter_map(|line| match serde_json::from_str(line.trim()).ok()? {
            BenchLine::Bare(r) | BenchLine::Wrapped { report: r } => Some(*r),
        })
        .filter(|r| r.schema.is_empty() || r.schema.starts_with("bifsmn-runner-bench/"))
        .filter(|r| r.model.hash == hash && r.path.index == path)
        .find(|r| r.layers.iter().any(|l| l.us.is_some()))
}

/// [`latest_bench`] of a history file; `None` when it does not exist or has nothing for this
/// model and path.
pub fn read_latest_bench(file: &Path, hash: &str, path: u32) -> Option<BenchReport> {
    let text = std::fs::read_to_string(file).ok()?;
    latest_bench(&text, hash, path)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian, UTC).
pub fn rfc3339_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use bifsmn_kernels::report::{ClassifyModel, ClassifyReport};

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_735_689_599), "2024-12-31T23:59:59Z");
        assert_eq!(rfc3339_utc(4_102_444_800), "2100-01-01T00:00:00Z");
    }

    /// A bench report as the runner prints it, cut down to what [`latest_bench`] needs.
    fn bench_line(hash: &str, path: u32, conv1_mean: f64) -> String {
        format!(
            r#"{{"schema":"bifsmn-runner-bench/1","board":{{"arch":"aarch64"}},"isa":"neon","model":{{"hash":"{hash}"}},"path":{{"index":{path}}},"end_to_end_us":{{"mean":9.0}},"layers":[{{"layer":"conv1","us":{{"mean":{conv1_mean}}}}}]}}"#
        )
    }

    #[test]
    fn latest_bench_takes_the_newest_match_in_any_line_form() {
        let entry = |conv1: f64| {
            let r = parse_bench_line(&bench_line("h1", 0, conv1));
            serde_json::to_string(&HistoryEntry::now(
                "pi",
                "10.0.0.2",
                "aarch64",
                None,
                Path::new("m.bkw"),
                "h1",
                RunnerReport::Bench(Box::new(r)),
            ))
            .unwrap()
        };
        let no_layers = r#"{"schema":"bifsmn-runner-bench/1","model":{"hash":"h1"},"path":{"index":0},"end_to_end_us":{"mean":1.0},"layers":[]}"#;
        let text = [
            bench_line("h1", 0, 1.0),
            entry(2.0),
            "not json".into(),
            format!(r#"{{"time":"x","report":{}}}"#, bench_line("h1", 0, 3.0)),
            bench_line("h2", 0, 4.0),
            bench_line("h1", 1, 5.0),
            bench_line("h1", 0, 6.0).replace("bench/1", "selftest/1"),
            no_layers.into(),
        ]
        .join("\n");
        let conv1 = |r: BenchReport| r.layers[0].us.map(|l| l.mean);
        assert_eq!(latest_bench(&text, "h1", 0).and_then(conv1), Some(3.0));
        assert_eq!(latest_bench(&text, "h1", 1).and_then(conv1), Some(5.0));
        let older: String = text.lines().take(2).collect::<Vec<_>>().join("\n");
        assert_eq!(latest_bench(&older, "h1", 0).and_then(conv1), Some(2.0));
        assert!(latest_bench(&text, "h3", 0).is_none());
        assert!(read_latest_bench(Path::new("/nonexistent/h.jsonl"), "h1", 0).is_none());
    }

    fn parse_bench_line(line: &str) -> BenchReport {
        serde_json::from_str(line).unwrap()
    }

    #[test]
    fn append_and_read_back_skipping_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/bench-history.jsonl");
        let report = RunnerReport::Classify(Box::new(ClassifyReport {
            runner_version: "0.1.0".into(),
            model: ClassifyModel {
                file: "model.bkw".into(),
                hash: "fnv1a64:0000000000000001".into(),
            },
            clip: "clip.wav".into(),
            path: 1,
            isa: "neon".into(),
            label: "yes".into(),
            index: 0,
            labels: vec!["yes".into()],
            logits: vec![1.0],
            probabilities: vec![1.0],
        }));
        let e = HistoryEntry::now(
            "pi",
            "10.0.0.2",
            "aarch64",
            None,
            Path::new("m.bkw"),
            "fnv1a64:0000000000000001",
            report,
        );
        assert_eq!(e.path, 1);
        append(&path, &e).unwrap();
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"truncated\n")
            .unwrap();
        append(&path, &e).unwrap();
        let (entries, skipped) = read(&path).unwrap();
        assert_eq!(entries, vec![e.clone(), e]);
        assert_eq!(skipped, 1);
        assert_eq!(read(&dir.path().join("none.jsonl")).unwrap(), (vec![], 0));
    }
}
