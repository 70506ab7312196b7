//! `bifsmn devices` and `train --backend/--device` through the real binary: the CPU backends
//! are always listed, a GPU backend missing from the build is named with its cargo feature, and
//! a device that does not exist is an error that says so.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

mod common;

use common::{bifsmn, text};

#[test]
fn devices_lists_the_cpu_backends_and_says_which_gpu_backends_the_build_has() {
    let out = bifsmn(&["devices", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let devices = report["devices"].as_array().unwrap();
    assert_eq!(devices[0]["backend"], "flex");
    assert_eq!(devices[1]["backend"], "ndarray");
    let backends = report["backends"].as_array().unwrap();
    for (name, compiled) in [
        ("wgpu", cfg!(feature = "wgpu")),
        ("cuda", cfg!(feature = "cuda")),
    ] {
        let status = backends.iter().find(|b| b["backend"] == name).unwrap();
        assert_eq!(status["compiled"], compiled, "{status}");
        assert_eq!(status["feature"], name);
    }

    let out = bifsmn(&["devices"]);
    assert!(out.status.success(), "{}", text(&out));
    let listing = text(&out);
    assert!(listing.contains("flex: CPU (burn flex)"), "{listing}");
    if !cfg!(feature = "cuda") {
        assert!(
            listing.contains("cuda: not in this build (rebuild with --features cuda)"),
            "{listing}"
        );
    }
}

/// Train a teacher for one tiny epoch with `extra` arguments; returns the output.
fn train_with(extra: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut args = vec![
        "train",
        "teacher",
        "--run-dir",
        run.to_str().unwrap(),
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--max-train-clips",
        "8",
        "--no-augment",
    ];
    args.extend_from_slice(extra);
    bifsmn(&args)
}

#[test]
fn a_backend_or_device_that_is_not_there_is_a_clear_error() {
    if !cfg!(feature = "cuda") {
        let out = train_with(&["--backend", "cuda"]);
        assert!(!out.status.success());
        let message = text(&out);
        assert!(message.contains("--features cuda"), "{message}");
    }
    let out = train_with(&["--backend", "flex", "--device", "3"]);
    assert!(!out.status.success());
    let message = text(&out);
    assert!(message.contains("device 3 does not exist"), "{message}");
}
