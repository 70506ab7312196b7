//! Finding the runner binary to upload for a board's architecture.
//!
//! Search order (first hit wins), each directory holding `<arch>/bifsmn-runner`:
//! 1. `$BIFSMN_RUNNER_DIR`;
//! 2. `<dir of the running executable>/../lib/bifsmn-workbench/runners` (installed layout);
//! 3. `<workspace>/target/runners` (development; filled by `packaging/build-runner-*.sh`).

use std::path::{Path, PathBuf};

use super::error::DeployError;
use super::probe::Arch;

/// File name of the runner inside `<dir>/<arch>/`.
pub const RUNNER_NAME: &str = "bifsmn-runner";

/// Where to look for runner builds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunnerLocator {
    /// Directories containing `<arch>/bifsmn-runner`, in search order.
    pub dirs: Vec<PathBuf>,
}

impl RunnerLocator {
    /// The standard search order (see the module docs).
    pub fn standard() -> Self {
        let mut dirs = vec![];
        if let Some(d) = std::env::var_os("BIFSMN_RUNNER_DIR").filter(|v| !v.is_empty()) {
            dirs.push(PathBuf::from(d));
        }
        if let Some(exe_dir) = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_path_buf))
        {
            dirs.push(exe_dir.join("../lib/bifsmn-workbench/runners"));
        }
        dirs.push(workspace_runners_dir());
        Self { dirs }
    }

    /// Look only in `dir` (tests, custom layouts).
    pub fn only(dir: impl Into<PathBuf>) -> Self {
        Self {
            dirs: vec![dir.into()],
        }
    }

    /// The runner for `arch`, or an error listing where it looked and how to build it.
    pub fn find(&self, arch: Arch) -> Result<PathBuf, DeployError> {
        let candidates: Vec<PathBuf> = self
            .dirs
            .iter()
            .map(|d| d.join(arch.name()).join(RUNNER_NAME))
            .collect();
        candidates
            .iter()
            .find(|p| p.is_file())
            .cloned()
            .ok_or_else(|| DeployError::RunnerMissing {
                arch: arch.name().into(),
                searched: candidates,
                build: arch.build_command().into(),
            })
    }
}

impl Default for RunnerLocator {
    fn default() -> Self {
        Self::standard()
    }
}

/// `<workspace>/target/runners`, where the packaging scripts put their builds.
pub fn workspace_runners_dir() -> PathBuf {
    // The engine crate sits one level below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .join("target/runners")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_in_order_and_explains_misses() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(b.path().join("aarch64")).unwrap();
        std::fs::write(b.path().join("aarch64/bifsmn-runner"), b"x").unwrap();
        let loc = RunnerLocator {
            dirs: vec![a.path().into(), b.path().into()],
        };
        assert_eq!(
            loc.find(Arch::Aarch64).unwrap(),
            b.path().join("aarch64/bifsmn-runner")
        );
        let e = loc.find(Arch::X86_64).unwrap_err().to_string();
        assert!(e.contains("no x86_64 runner found"), "{e}");
        assert!(e.contains("packaging/build-runner-host.sh"), "{e}");
        assert!(
            e.contains(&a.path().join("x86_64/bifsmn-runner").display().to_string()),
            "{e}"
        );
    }

    #[test]
    fn standard_order_ends_with_the_workspace() {
        let loc = RunnerLocator::standard();
        assert_eq!(loc.dirs.last().unwrap(), &workspace_runners_dir());
        assert!(workspace_runners_dir().ends_with("target/runners"));
    }
}
