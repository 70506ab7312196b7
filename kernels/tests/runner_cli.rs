//! The runner's command line: help, version, JSON reports, and the documented exit codes.
//! (No timing assertions: only shapes and values that do not depend on speed.)

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

use std::path::Path;
use std::process::{Command, Output};

use bifsmn_kernels::format::PackedModel;
use bifsmn_kernels::synth::{SynthSpec, random_clip};
use bifsmn_kernels::wav::write_mono16;
use bifsmn_kernels::weights::Precision;
use serde_json::Value;

/// Whether this process can start the runner: a test binary running under qemu-user cannot
/// exec another aarch64 binary unless binfmt_misc is set up.
fn runnable() -> bool {
    let ok = Command::new(env!("CARGO_BIN_EXE_bifsmn-runner"))
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("note: runner CLI test skipped: cannot execute the runner binary here");
    }
    ok
}

fn runner(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bifsmn-runner"))
        .args(args)
        .output()
        .expect("runner starts")
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON document")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

/// A tiny binary model and a clip at its sample rate.
fn fixtures(dir: &Path) -> (String, String) {
    let spec = SynthSpec::tiny(Precision::Binary);
    let model = dir.join("tiny.bkw");
    PackedModel::from_weights(&spec.weights(1))
        .unwrap()
        .save(&model)
        .unwrap();
    let clip = dir.join("clip.wav");
    write_mono16(
        &clip,
        &random_clip(&spec.features, 2),
        spec.features.sample_rate,
    )
    .unwrap();
    (model.display().to_string(), clip.display().to_string())
}

#[test]
fn help_and_version() {
    if !runnable() {
        return;
    }
    let v = runner(&["--version"]);
    assert!(v.status.success());
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("bifsmn-runner "));
    for cmd in ["info", "bench", "classify", "selftest", "synth"] {
        let h = runner(&[cmd, "--help"]);
        assert!(h.status.success(), "{cmd} --help");
        assert!(String::from_utf8_lossy(&h.stdout).contains(&format!("bifsmn-runner {cmd}")));
    }
    assert!(String::from_utf8_lossy(&runner(&["--help"]).stdout).contains("exit codes"));
}

#[test]
fn usage_errors_exit_2() {
    if !runnable() {
        return;
    }
    for args in [
        &[][..],
        &["frobnicate"],
        &["bench"],
        &["bench", "--model"],
        &["bench", "--model", "m.bkw", "--runs", "many"],
        &["bench", "--model", "m.bkw", "--runs", "0"],
        &["info", "--colour"],
        &["classify", "--model", "m.bkw"],
        &["bench", "--model", "m.bkw", "--isa", "sse9"],
    ] {
        let out = runner(args);
        assert_eq!(
            code(&out),
            2,
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn bad_models_exit_3_and_bad_clips_exit_4() {
    if !runnable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (model, clip) = fixtures(dir.path());
    let missing = dir.path().join("missing.bkw");
    let out = runner(&["info", "--model", missing.to_str().unwrap()]);
    assert_eq!(code(&out), 3);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read model"));
    let mut bytes = std::fs::read(&model).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 1;
    let corrupt = dir.path().join("corrupt.bkw");
    std::fs::write(&corrupt, &bytes).unwrap();
    let out = runner(&["bench", "--model", corrupt.to_str().unwrap()]);
    assert_eq!(code(&out), 3);
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum mismatch"));
    let out = runner(&["bench", "--model", &model, "--path", "7"]);
    assert_eq!(
        code(&out),
        2,
        "a path the model does not have is a usage error"
    );
    let out = runner(&["classify", "--model", &model, &model]);
    assert_eq!(code(&out), 4, "a model is not a WAV clip");
    let wrong_rate = dir.path().join("44k.wav");
    write_mono16(&wrong_rate, &[0.0; 100], 44100).unwrap();
    let out = runner(&["classify", "--model", &model, wrong_rate.to_str().unwrap()]);
    assert_eq!(code(&out), 4);
    assert!(String::from_utf8_lossy(&out.stderr).contains("44100 Hz"));
    let _ = clip;
}

#[test]
fn bench_report_has_the_documented_shape() {
    if !runnable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (model, clip) = fixtures(dir.path());
    let r = json(&runner(&[
        "bench",
        "--model",
        &model,
        "--path",
        "1",
        "--runs",
        "5",
        "--warmup",
        "1",
        "--threads",
        "2",
        "--clip",
        &clip,
        "--frontend",
    ]));
    assert_eq!(r["schema"], "bifsmn-runner-bench/1");
    assert_eq!(r["path"]["index"], 1);
    assert_eq!(r["path"]["layers"], serde_json::json!([1]));
    assert_eq!(r["threads"], 2);
    assert_eq!(r["runs"], 5);
    assert!(r["model"]["hash"].as_str().unwrap().starts_with("fnv1a64:"));
    assert_eq!(
        r["model"]["file_bytes"],
        std::fs::metadata(&model).unwrap().len()
    );
    let layers = r["layers"].as_array().unwrap();
    let names: Vec<&str> = layers
        .iter()
        .map(|l| l["layer"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "conv1",
            "conv2",
            "fc1",
            "layer1.memory",
            "layer1.expand",
            "layer1.project",
            "classifier"
        ]
    );
    for l in layers.iter().chain([&r]) {
        let us = if l.get("us").is_some() {
            &l["us"]
        } else {
            &r["end_to_end_us"]
        };
        for k in ["mean", "p50", "p90", "p99", "min", "max"] {
            assert!(us[k].as_f64().unwrap() >= 0.0, "{k}");
        }
        assert!(
            us["min"].as_f64() <= us["p50"].as_f64() && us["p50"].as_f64() <= us["p99"].as_f64()
        );
    }
    assert!(r["frontend_us"]["p50"].as_f64().is_some());
    assert!(
        r["classification"]["label"]
            .as_str()
            .unwrap()
            .starts_with("class")
    );
    assert!(r["memory"]["vm_hwm_kib"].as_u64().unwrap() > 0);
    assert_eq!(r["board"]["arch"], std::env::consts::ARCH);
}

#[test]
fn classify_and_info() {
    if !runnable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (model, clip) = fixtures(dir.path());
    let c = json(&runner(&["classify", "--model", &model, "--json", &clip]));
    let probs: Vec<f64> = c["probabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(probs.len(), 3);
    assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-4);
    assert_eq!(
        c["labels"][c["index"].as_u64().unwrap() as usize],
        c["label"]
    );
    let text = runner(&["classify", "--model", &model, &clip]);
    assert!(String::from_utf8_lossy(&text.stdout).starts_with(c["label"].as_str().unwrap()));
    let i = json(&runner(&["info", "--model", &model, "--json"]));
    assert_eq!(
        i["summary"]["layers"].as_array().unwrap().len(),
        3 + 3 * 3 + 1
    );
    assert!(
        i["board"]["isa_available"]
            .as_array()
            .unwrap()
            .contains(&i["board"]["isa"])
    );
    let t = runner(&["info", "--model", &model]);
    assert!(String::from_utf8_lossy(&t.stdout).contains("layer2.project"));
}

#[test]
fn selftest_and_synth() {
    if !runnable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.bkw");
    let o = runner(&["synth", "--tiny", "--float", "--out", out.to_str().unwrap()]);
    assert!(o.status.success());
    let m = PackedModel::load(&out).unwrap();
    assert_eq!(m.precision(), Precision::Float);
    let r = json(&runner(&[
        "selftest",
        "--model",
        out.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(r["ok"], true);
    assert_eq!(r["generated_model"], false);

    // q8 storage, and the two storage flags together are a usage error that writes nothing.
    let q8 = dir.path().join("q8.bkw");
    let o = runner(&["synth", "--tiny", "--q8", "--out", q8.to_str().unwrap()]);
    assert!(o.status.success());
    assert_eq!(
        PackedModel::load(&q8).unwrap().storage,
        bifsmn_kernels::format::Storage::COMPACT
    );
    let both = dir.path().join("both.bkw");
    let o = runner(&["synth", "--f16", "--q8", "--out", both.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("exclude each other"));
    assert!(!both.exists());
}
