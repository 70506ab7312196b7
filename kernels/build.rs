//! Records the git commit for `--version` of `bifsmn-runner` and (as engine's build script too)
//! `bifsmn` and `bifsmn-workbench`. Standard library only (the runner
//! stays dependency-light); outside a git checkout, or without git, the commit is "unknown".
use std::path::Path;
use std::process::Command;

fn main() {
    let commit = std::env::var("BIFSMN_GIT_COMMIT")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            let out = Command::new("git")
                .args(["log", "-1", "--format=%h %cs"])
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
                .filter(|s| !s.is_empty())
        });
    println!(
        "cargo:rustc-env=BIFSMN_GIT_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );
    println!("cargo:rerun-if-env-changed=BIFSMN_GIT_COMMIT");
    // Rebuild when HEAD moves (checkout or commit), so --version stays truthful.
    let head = Path::new("../.git/HEAD");
    if head.exists() {
        println!("cargo:rerun-if-changed=../.git/HEAD");
        if let Ok(text) = std::fs::read_to_string(head)
            && let Some(reference) = text.trim().strip_prefix("ref: ")
        {
            println!("cargo:rerun-if-changed=../.git/{reference}");
        }
    }
}
