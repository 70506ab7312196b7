//! Measured per-layer latencies from the board benchmark history.
//!
//! The deploy module appends one JSON object per line to `bench-history.jsonl`. Each holds a
//! runner bench report (`docs/RUNNER.md`, schema `bifsmn-runner-bench/1`), either as the line
//! itself or under a `report` key; `bifsmn_deploy::history` finds the latest one for a model
//! and path, skipping what it cannot read. No history simply means no measured column.

use std::collections::HashMap;
use std::path::Path;

use bifsmn_deploy::{BenchReport, history};

/// The latest measurement of one model on one thin path.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct BoardTiming {
    /// e.g. `Raspberry Pi 3 Model B Plus Rev 1.3 (Cortex-A53)`, or the arch when unknown.
    pub board: String,
    pub isa: String,
    pub threads: u64,
    /// Mean microseconds per layer name (`conv1`, `layer3.memory`, ...).
    pub layer_us: HashMap<String, f64>,
    /// Mean end-to-end microseconds.
    pub end_to_end_us: Option<f64>,
}

/// Read the history file; `None` when it does not exist or has nothing for this model.
pub(crate) fn read_latest(file: &Path, hash: &str, path: usize) -> Option<BoardTiming> {
    history::read_latest_bench(file, hash, u32::try_from(path).ok()?).map(timing)
}

fn timing(report: BenchReport) -> BoardTiming {
    let layer_us = report
        .layers
        .iter()
        .filter_map(|l| Some((l.layer.clone(), l.us?.mean)))
        .collect();
    let board = match report.board.cpu_model {
        Some(model) => model,
        None if report.board.arch.is_empty() => "board".to_string(),
        None => report.board.arch,
    };
    BoardTiming {
        board,
        isa: report.isa,
        threads: u64::from(report.threads),
        layer_us,
        end_to_end_us: Some(report.end_to_end_us.mean),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The latest report in `text` (JSON lines) for the model with `hash` on `path`.
    fn latest_for(text: &str, hash: &str, path: usize) -> Option<BoardTiming> {
        history::latest_bench(text, hash, u32::try_from(path).ok()?).map(timing)
    }

    fn report(hash: &str, path: usize, conv1: f64) -> String {
        format!(
            r#"{{"schema":"bifsmn-runner-bench/1","board":{{"arch":"aarch64","cpu_model":"Pi"}},"isa":"neon","threads":1,"model":{{"hash":"{hash}"}},"path":{{"index":{path}}},"end_to_end_us":{{"mean":99.5}},"layers":[{{"layer":"conv1","us":{{"mean":{conv1}}}}}]}}"#
        )
    }

    #[test]
    fn picks_the_latest_matching_line_and_skips_junk() {
        let text = [
            report("h1", 0, 1.0),
            "not json".to_string(),
            format!(r#"{{"time":"x","report":{}}}"#, report("h1", 0, 2.0)),
            report("h2", 0, 3.0),
            report("h1", 1, 4.0),
            r#"{"schema":"other/1","layers":[]}"#.to_string(),
        ]
        .join("\n");
        let t = latest_for(&text, "h1", 0).unwrap();
        assert_eq!(t.layer_us["conv1"], 2.0);
        assert_eq!(t.board, "Pi");
        assert_eq!(t.end_to_end_us, Some(99.5));
        assert_eq!(latest_for(&text, "h1", 1).unwrap().layer_us["conv1"], 4.0);
        assert!(latest_for(&text, "h3", 0).is_none());
        assert!(read_latest(Path::new("/nonexistent/bench.jsonl"), "h1", 0).is_none());
    }
}
