//! `bifsmn export`: the storage options through the real binary on the shipped student.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

mod common;

use std::path::Path;

use common::{bifsmn, models, text};

fn export(out: &Path, extra: &[&str]) -> serde_json::Value {
    let run = models().join("demo-student");
    let args = [
        &[
            "export",
            "--model",
            run.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--json",
        ][..],
        extra,
    ]
    .concat();
    let o = bifsmn(&args);
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The default is q8 (over 20x smaller than the teacher's FP32 weights), `--storage f32`
/// reproduces the shipped file byte for byte, and the per-category overrides mix dtypes.
#[test]
fn export_defaults_to_q8_and_f32_reproduces_the_shipped_file() {
    let tmp = tempfile::tempdir().unwrap();
    let q8 = export(&tmp.path().join("q8.bkw"), &[]);
    assert_eq!(q8["storage"]["fp_weights"], "q8", "{q8}");
    assert_eq!(q8["storage"]["per_channel"], "q8", "{q8}");
    let q8_bytes = q8["packed_bytes"].as_u64().unwrap();
    // The teacher's 600 252 FP32 parameters take 2 401 008 bytes.
    assert!(q8_bytes * 20 <= 2_401_008, "{q8_bytes} bytes");
    let bytes = std::fs::read(tmp.path().join("q8.bkw")).unwrap();
    assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), 2);

    let exact_path = tmp.path().join("f32.bkw");
    let exact = export(&exact_path, &["--storage", "f32"]);
    assert_eq!(exact["storage"]["fp_weights"], "f32", "{exact}");
    assert_eq!(
        std::fs::read(&exact_path).unwrap(),
        std::fs::read(models().join("demo-student.bkw")).unwrap()
    );

    let mixed = export(
        &tmp.path().join("mixed.bkw"),
        &["--storage", "f16", "--per-channel", "q8"],
    );
    assert_eq!(mixed["storage"]["fp_weights"], "f16", "{mixed}");
    assert_eq!(mixed["storage"]["per_channel"], "q8", "{mixed}");
    let mixed_bytes = mixed["packed_bytes"].as_u64().unwrap();
    assert!(q8_bytes < mixed_bytes && mixed_bytes < exact["packed_bytes"].as_u64().unwrap());

    // The q8 file runs: eval reads it and reports every path.
    let o = bifsmn(&[
        "eval",
        "--model",
        tmp.path().join("q8.bkw").to_str().unwrap(),
        "--threads",
        "1",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["paths"].as_array().unwrap().len(), 3, "{report}");
}

/// An unknown storage kind is a usage error that lists the valid ones; nothing is written.
#[test]
fn an_unknown_storage_kind_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x.bkw");
    let run = models().join("demo-student");
    let o = bifsmn(&[
        "export",
        "--model",
        run.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--storage",
        "int4",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("int4") && t.contains("q8") && t.contains("f16"),
        "{t}"
    );
    assert!(!out.exists());
}
