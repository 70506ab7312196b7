//! Runs shown in the charts: the live one and earlier runs loaded from their
//! `checkpoint.json` history, each with its colour and a visibility toggle.

use std::path::{Path, PathBuf};

use bifsmn_engine::train::checkpoint::read_sidecar;
use bifsmn_engine::train::{EpochMetrics, StepMetrics};
use egui::Color32;

/// One point of the live run's step curve: epoch-fraction x and per-path (loss, accuracy).
#[derive(Clone, Debug)]
pub(crate) struct StepPoint {
    pub x: f64,
    pub paths: Vec<(f32, f32)>,
}

/// A run's metrics.
pub(crate) struct RunSeries {
    pub name: String,
    pub dir: PathBuf,
    pub role: String,
    pub color: Color32,
    pub visible: bool,
    /// The run being trained now.
    pub live: bool,
    /// Layers of each trained path.
    pub path_layers: Vec<usize>,
    pub steps: Vec<StepPoint>,
    pub epochs: Vec<EpochMetrics>,
    /// Bumped on every change, so cached chart series know when to rebuild.
    pub version: u64,
}

/// Distinct colours for runs (Tableau 10, readable on light and dark backgrounds).
const PALETTE: [Color32; 8] = [
    Color32::from_rgb(78, 121, 167),
    Color32::from_rgb(242, 142, 43),
    Color32::from_rgb(89, 161, 79),
    Color32::from_rgb(225, 87, 89),
    Color32::from_rgb(118, 183, 178),
    Color32::from_rgb(176, 122, 161),
    Color32::from_rgb(237, 201, 72),
    Color32::from_rgb(156, 117, 95),
];

/// The colour of the `n`-th run.
pub(crate) fn run_color(n: usize) -> Color32 {
    PALETTE[n % PALETTE.len()]
}

impl RunSeries {
    pub(crate) fn new(name: String, dir: PathBuf, role: String, color: Color32) -> Self {
        Self {
            name,
            dir,
            role,
            color,
            visible: true,
            live: false,
            path_layers: Vec::new(),
            steps: Vec::new(),
            epochs: Vec::new(),
            version: 0,
        }
    }

    /// Add a step event.
    pub(crate) fn push_step(&mut self, s: &StepMetrics) {
        self.version += 1;
        let x = (s.epoch.max(1) - 1) as f64 + s.step as f64 / s.steps_per_epoch.max(1) as f64;
        self.steps.push(StepPoint {
            x,
            paths: s.paths.iter().map(|p| (p.loss, p.accuracy)).collect(),
        });
        if self.path_layers.len() < s.paths.len() {
            self.path_layers = s.paths.iter().map(|p| p.layers).collect();
        }
    }

    /// Add (or replace, when resuming) an epoch summary.
    pub(crate) fn push_epoch(&mut self, e: &EpochMetrics) {
        self.version += 1;
        self.epochs.retain(|x| x.epoch != e.epoch);
        self.epochs.push(e.clone());
        self.epochs.sort_by_key(|x| x.epoch);
        if self.path_layers.len() < e.train.len() {
            self.path_layers = e.train.iter().map(|p| p.layers).collect();
        }
    }

    /// Number of chart points (for tests and the status line).
    pub(crate) fn points(&self) -> usize {
        self.steps.len() + self.epochs.len()
    }

    /// Best validation accuracy of path 0 and its epoch.
    pub(crate) fn best(&self) -> Option<(usize, f32)> {
        self.epochs
            .iter()
            .filter_map(|e| Some((e.epoch, e.validation.first()?.accuracy)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }
}

/// A run found on disk.
#[derive(Clone, Debug)]
pub(crate) struct SavedRun {
    pub dir: PathBuf,
    pub role: String,
    pub epochs_done: usize,
    pub epochs: usize,
    pub history: Vec<EpochMetrics>,
}

/// Read a run folder's `checkpoint.json` (blocking).
pub(crate) fn read_run(dir: &Path) -> Result<SavedRun, String> {
    let sidecar = if dir.extension().is_some_and(|e| e == "json") {
        dir.to_path_buf()
    } else {
        dir.join("checkpoint.json")
    };
    let s = read_sidecar(&sidecar).map_err(|e| e.to_string())?;
    Ok(SavedRun {
        dir: sidecar.parent().unwrap_or(dir).to_path_buf(),
        role: format!("{:?}", s.config.role).to_lowercase(),
        epochs_done: s.epoch,
        epochs: s.config.epochs,
        history: s.history,
    })
}

/// Every run folder directly below `parent`, newest first (blocking).
pub(crate) fn scan_runs(parent: &Path) -> Vec<SavedRun> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut runs: Vec<(std::time::SystemTime, SavedRun)> = entries
        .flatten()
        .filter_map(|e| {
            let dir = e.path();
            let sidecar = dir.join("checkpoint.json");
            let modified = std::fs::metadata(&sidecar).ok()?.modified().ok()?;
            Some((modified, read_run(&dir).ok()?))
        })
        .collect();
    runs.sort_by_key(|r| std::cmp::Reverse(r.0));
    runs.into_iter().map(|(_, r)| r).collect()
}

impl SavedRun {
    /// Folder name.
    pub(crate) fn name(&self) -> String {
        self.dir.file_name().map_or_else(
            || self.dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    /// As a chart series.
    pub(crate) fn to_series(&self, color: Color32) -> RunSeries {
        let mut s = RunSeries::new(self.name(), self.dir.clone(), self.role.clone(), color);
        for e in &self.history {
            s.push_epoch(e);
        }
        s
    }
}
