//! The aarch64 runner (run under `qemu-aarch64 -cpu cortex-a53`) must compute exactly the same
//! logits as the x86-64 one: same packed model, same input, same bits.
//!
//! Skipped with a note when no aarch64 runner has been built (`packaging/build-runner-aarch64.sh`
//! builds it; `BIFSMN_AARCH64_RUNNER` may point at one) or when qemu-aarch64 is missing.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

use std::path::{Path, PathBuf};
use std::process::Command;

use bifsmn_kernels::format::PackedModel;
use bifsmn_kernels::synth::SynthSpec;
use bifsmn_kernels::weights::Precision;
use serde_json::Value;

/// The newest aarch64 runner next to this build's target directory.
fn aarch64_runner() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BIFSMN_AARCH64_RUNNER") {
        return Some(PathBuf::from(p));
    }
    // CARGO_BIN_EXE_* is <target>/<profile>/bifsmn-runner.
    let host = Path::new(env!("CARGO_BIN_EXE_bifsmn-runner"));
    let target = host.parent()?.parent()?;
    ["release-small", "release", "debug"]
        .iter()
        .map(|p| {
            target
                .join("aarch64-unknown-linux-gnu")
                .join(p)
                .join("bifsmn-runner")
        })
        .filter(|p| p.is_file())
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

fn selftest(cmd: &mut Command) -> Value {
    let out = cmd.output().expect("runner starts");
    assert!(
        out.status.success(),
        "selftest failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).expect("selftest prints JSON")
}

fn bits(v: &Value) -> Vec<Value> {
    v["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .map(|p| p["logits_bits"].clone())
        .collect()
}

#[test]
fn aarch64_runner_matches_x86_bit_for_bit() {
    if !cfg!(target_arch = "x86_64") {
        eprintln!("note: cross-architecture check skipped: this test runs on the x86-64 host");
        return;
    }
    let Some(arm) = aarch64_runner() else {
        eprintln!(
            "note: cross-architecture check skipped: no aarch64 runner built (run packaging/build-runner-aarch64.sh)"
        );
        return;
    };
    if Command::new("qemu-aarch64")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("note: cross-architecture check skipped: qemu-aarch64 not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let host = env!("CARGO_BIN_EXE_bifsmn-runner");
    let qemu = |args: &[&str]| {
        let mut c = Command::new("qemu-aarch64");
        c.args(["-cpu", "cortex-a53"]).arg(&arm).args(args);
        c
    };
    // A model file written on the host, read by both.
    for (name, spec) in [
        ("paper.bkw", SynthSpec::paper(Precision::Binary)),
        ("tiny.bkw", SynthSpec::tiny(Precision::Binary)),
    ] {
        let path = dir.path().join(name);
        PackedModel::from_weights(&spec.weights(7))
            .unwrap()
            .save(&path)
            .unwrap();
        let p = path.to_str().unwrap();
        let args = ["selftest", "--model", p, "--seed", "3", "--json"];
        let x86 = selftest(Command::new(host).args(args));
        let a64 = selftest(&mut qemu(&args));
        assert_eq!(a64["arch"], "aarch64");
        assert_eq!(x86["model_hash"], a64["model_hash"]);
        assert_eq!(
            bits(&x86),
            bits(&a64),
            "{name}: logits differ between x86-64 and aarch64"
        );
        eprintln!(
            "{name}: {} paths bit-identical on x86-64 ({}) and aarch64 ({})",
            bits(&x86).len(),
            x86["isas"],
            a64["isas"]
        );
    }
    // A model generated on each machine from the same seed: the packing is identical too.
    let args = ["selftest", "--seed", "5", "--json"];
    let x86 = selftest(Command::new(host).args(args));
    let a64 = selftest(&mut qemu(&args));
    assert_eq!(
        x86["model_hash"], a64["model_hash"],
        "generated models differ"
    );
    assert_eq!(bits(&x86), bits(&a64));
}
