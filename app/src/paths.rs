//! Where the workbench keeps its files.
//!
//! `<data dir>/bifsmn-workbench/` holds training runs (`runs/`), fetched datasets
//! (`datasets/`) and the board benchmark history (`bench-history.jsonl`, written by the deploy
//! module). The data dir is the engine's (`$BIFSMN_DATA_DIR`, else the platform's user data
//! dir, e.g. `~/.local/share/bifsmn-workbench` on Linux), so the GUI and the CLI agree.

use std::path::PathBuf;

use bifsmn_deploy::dirs;

/// `<data dir>/bifsmn-workbench` (the temp dir on a system without a home directory).
pub(crate) fn app_data_dir() -> PathBuf {
    dirs::data_dir().unwrap_or_else(|| std::env::temp_dir().join(dirs::APP_DIR))
}

/// Default parent folder of training runs.
pub(crate) fn runs_dir() -> PathBuf {
    app_data_dir().join("runs")
}

/// Default destination of fetched Speech Commands archives.
pub(crate) fn datasets_dir() -> PathBuf {
    app_data_dir().join("datasets")
}

/// The deploy module's benchmark history (one JSON object per line).
pub(crate) fn bench_history() -> PathBuf {
    dirs::history_file().unwrap_or_else(|| app_data_dir().join("bench-history.jsonl"))
}

/// A fresh run folder name such as `student-20261114-093012` (UTC), unique within `parent`.
pub(crate) fn new_run_dir(parent: &std::path::Path, role: &str) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let base = format!("{role}-{}", utc_stamp(secs));
    let mut candidate = parent.join(&base);
    let mut n = 2;
    while candidate.exists() {
        candidate = parent.join(format!("{base}-{n}"));
        n += 1;
    }
    candidate
}

/// `YYYYMMDD-HHMMSS` of a Unix time (UTC), via the civil-from-days algorithm.
pub(crate) fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Howard Hinnant's days -> (y, m, d).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mo <= 2 { y + 1 } else { y };
    format!("{y:04}{mo:02}{d:02}-{h:02}{m:02}{s:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamps() {
        assert_eq!(utc_stamp(0), "19700101-000000");
        // 2024-02-29 12:34:56 UTC (leap day).
        assert_eq!(utc_stamp(1_709_210_096), "20240229-123456");
    }

    #[test]
    fn run_dirs_are_unique() {
        let dir = tempfile::tempdir().unwrap();
        let a = new_run_dir(dir.path(), "teacher");
        std::fs::create_dir_all(&a).unwrap();
        let b = new_run_dir(dir.path(), "teacher");
        assert_ne!(a, b);
        assert!(
            b.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("teacher-")
        );
    }
}
