//! Running the real `bifsmn` binary from the CLI's end-to-end tests.

// Each test file is its own crate and uses a part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Run `bifsmn args...` to the end and capture its output.
pub fn bifsmn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bifsmn"))
        .args(args)
        .output()
        .expect("running bifsmn")
}

/// stdout then stderr, as text (for assertion messages and searches).
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The shipped models (`assets/models`).
pub fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/models")
}
