//! Records the git commit for `--version`.
use std::process::Command;

fn main() {
    let commit = std::env::var("BIFSMN_GIT_COMMIT").ok().or_else(|| {
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
        commit.unwrap_or_else(|| "unknown commit".into())
    );
    println!("cargo:rerun-if-env-changed=BIFSMN_GIT_COMMIT");
    // Rebuild when HEAD moves (checkout or commit), so --version stays truthful.
    let head = std::path::Path::new("../.git/HEAD");
    if head.exists() {
        println!("cargo:rerun-if-changed=../.git/HEAD");
        if let Ok(text) = std::fs::read_to_string(head)
            && let Some(reference) = text.trim().strip_prefix("ref: ")
        {
            println!("cargo:rerun-if-changed=../.git/{reference}");
        }
    }
}
