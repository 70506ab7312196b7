//! `bifsmn export --onnx` and the bench's tract column through the real binary on the shipped
//! models.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

mod common;

use common::{bifsmn, models, text};

/// `--onnx --json` reports the file it wrote; a binary student is refused naming its file, and
/// `--onnx` with a packed-storage option is a usage error.
#[test]
fn export_onnx_writes_the_teacher_and_refuses_a_student() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("teacher.onnx");
    let teacher = models().join("demo-teacher");
    let o = bifsmn(&[
        "export",
        "--model",
        teacher.to_str().unwrap(),
        "--onnx",
        "-o",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let bytes = std::fs::metadata(&out).unwrap().len();
    assert_eq!(report["onnx_bytes"].as_u64(), Some(bytes));
    assert_eq!(report["output"].as_str(), Some(out.to_str().unwrap()));
    assert_eq!(report["opset"].as_i64(), Some(13));
    assert_eq!(report["input"].as_str(), Some("features"));

    let student = models().join("demo-student");
    let bad = dir.path().join("student.onnx");
    let o = bifsmn(&[
        "export",
        "--model",
        student.to_str().unwrap(),
        "--onnx",
        "-o",
        bad.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let message = text(&o);
    assert!(
        message.contains("demo-student") && message.contains("binary student"),
        "{message}"
    );
    assert!(!bad.exists());

    let o = bifsmn(&[
        "export",
        "--model",
        teacher.to_str().unwrap(),
        "--onnx",
        "--storage",
        "q8",
        "-o",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--storage"), "{}", text(&o));
}

/// The bench's JSON has the tract column (end to end only) and the ratio against it; the table
/// shows both.
#[test]
fn bench_has_a_tract_column() {
    let (student, teacher) = (models().join("demo-student"), models().join("demo-teacher"));
    let args = [
        "bench",
        "--student",
        student.to_str().unwrap(),
        "--teacher",
        teacher.to_str().unwrap(),
        "--runs",
        "3",
        "--warmup",
        "1",
    ];
    let o = bifsmn(&[&args[..], &["--json"]].concat());
    assert!(o.status.success(), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["tract"]["name"].as_str(), Some("tract"));
    assert!(report["tract"]["end_to_end_us"].as_f64().unwrap() > 0.0);
    assert!(report["tract"]["rows"].as_object().unwrap().is_empty());
    assert!(report["speedup_vs_tract"].as_f64().unwrap() > 0.0);

    let o = bifsmn(&args);
    assert!(o.status.success(), "{}", text(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("vs tract") && table.contains("x vs tract (ONNX)"),
        "{table}"
    );
}
