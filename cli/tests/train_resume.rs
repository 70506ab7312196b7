//! A training run killed with SIGKILL mid-epoch resumes from its last checkpoint.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bifsmn() -> Command {
    Command::new(env!("CARGO_BIN_EXE_bifsmn"))
}

fn train_args(run: &Path) -> Vec<String> {
    [
        "train",
        "teacher",
        "--run-dir",
        run.to_str().unwrap(),
        "--epochs",
        "4",
        "--batch-size",
        "8",
        "--max-train-clips",
        "96",
        "--no-augment",
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn epochs_in(sidecar: &Path) -> Vec<u64> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sidecar).unwrap()).unwrap();
    v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["epoch"].as_u64().unwrap())
        .collect()
}

#[test]
fn a_run_killed_mid_epoch_resumes_from_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut child = bifsmn()
        .args(train_args(&run))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the first epoch (and its checkpoint), then kill while epoch 2 is running.
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let start = Instant::now();
    loop {
        let line = lines
            .next()
            .expect("the trainer printed an epoch before exiting")
            .unwrap();
        if line.contains("\"epoch\":1") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "no epoch after 5 minutes"
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id() as i32;
    // SIGKILL: no chance to clean up, exactly like a crash or the OOM killer.
    // SAFETY: kill(2) has no memory-safety preconditions; `pid` is our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let status = child.wait().unwrap();
    assert!(!status.success());
    let sidecar = run.join("checkpoint.json");
    let done = epochs_in(&sidecar);
    assert!(
        !done.is_empty() && done.len() < 4,
        "killed after epochs {done:?}"
    );
    // No temp files of an interrupted write are mistaken for checkpoints.
    for e in std::fs::read_dir(&run).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".json.tmp"), "{name}");
    }

    // Starting over in the same directory without --resume is refused, not silently mixed.
    let out = bifsmn().args(train_args(&run)).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--resume"), "{err}");

    // --resume continues after the last complete epoch and finishes the run.
    let mut args = train_args(&run);
    args.push("--resume".into());
    let out = bifsmn().args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first_new: u64 = stdout
        .lines()
        .find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            v["epoch"].as_u64()
        })
        .expect("the resumed run printed epochs");
    assert_eq!(
        first_new,
        *done.last().unwrap() + 1,
        "resumed at the right epoch"
    );
    for l in stdout.lines().filter(|l| l.contains("\"phases\"")) {
        assert_phases_add_up(&serde_json::from_str(l).unwrap());
    }
    assert_eq!(epochs_in(&sidecar), vec![1, 2, 3, 4]);
    assert!(run.join("best.json").exists());
}

/// An epoch's step profile: a teacher run has no teacher phase, the arithmetic phases took
/// time, and the training thread's phases account for most of the epoch and never more than
/// all of it.
fn assert_phases_add_up(epoch: &serde_json::Value) {
    let phase = |name: &str| epoch["phases"][name].as_f64().unwrap();
    assert_eq!(phase("teacher"), 0.0, "{epoch}");
    for name in ["forward", "backward", "update"] {
        assert!(phase(name) > 0.0, "{name}: {epoch}");
    }
    let sum: f64 = ["data", "forward", "backward", "update", "other"]
        .iter()
        .map(|n| phase(n))
        .sum();
    let seconds = epoch["seconds"].as_f64().unwrap();
    assert!(
        sum <= seconds * 1.001 + 1e-3 && sum >= 0.5 * seconds,
        "phases {sum} s in an epoch of {seconds} s: {epoch}"
    );
}
