//! Clips per second: `bifsmn bench --batch N --threads T` and `bifsmn eval --threads T` of a
//! `.bkw`, through the real binary on the shipped models.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

mod common;

use common::{bifsmn, models, text};

/// `--batch 4 --threads 2` adds a throughput table with positive clips/s for every column;
/// without the two options the JSON has no throughput; `--batch 0` is a usage error.
#[test]
fn bench_reports_clips_per_second_for_a_batch_on_threads() {
    let (student, teacher) = (models().join("demo-student"), models().join("demo-teacher"));
    let base = [
        "bench",
        "--student",
        student.to_str().unwrap(),
        "--teacher",
        teacher.to_str().unwrap(),
        "--runs",
        "3",
        "--warmup",
        "1",
        "--json",
    ];
    let o = bifsmn(&[&base[..], &["--batch", "4", "--threads", "2"]].concat());
    assert!(o.status.success(), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let t = &report["throughput"];
    assert_eq!(
        (t["batch"].as_u64(), t["threads"].as_u64()),
        (Some(4), Some(2))
    );
    let columns = t["columns"].as_array().unwrap();
    let names: Vec<&str> = columns
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "binary 8L",
            "binary 4L",
            "binary 2L",
            "FP32 kernels",
            "burn flex"
        ]
    );
    for c in columns {
        assert!(c["clips_per_sec"].as_f64().unwrap() > 0.0, "{c}");
    }

    let o = bifsmn(&base);
    assert!(o.status.success(), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(report.get("throughput").is_none(), "{report}");

    let o = bifsmn(&[&base[..], &["--batch", "0"]].concat());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--batch"), "{}", text(&o));
}

/// `eval` of the shipped student on the demo test split gives the same report on 1 and 2
/// threads, apart from the timing.
#[test]
fn eval_on_threads_reports_clips_per_second_and_the_same_results() {
    if bifsmn_engine::data::demo_root().is_none() {
        eprintln!("skipped: no demo set");
        return;
    }
    let model = models().join("demo-student.bkw");
    let run = |threads: &str| {
        let o = bifsmn(&[
            "eval",
            "--model",
            model.to_str().unwrap(),
            "--threads",
            threads,
            "--json",
        ]);
        assert!(o.status.success(), "{}", text(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let (one, two) = (run("1"), run("2"));
    assert_eq!(one["paths"], two["paths"]);
    for (r, threads) in [(&one, 1), (&two, 2)] {
        let t = &r["throughput"];
        assert_eq!(t["clips"].as_u64(), Some(84));
        assert_eq!(t["threads"].as_u64(), Some(threads));
        assert!(t["clips_per_sec"].as_f64().unwrap() > 0.0, "{t}");
    }
    let o = bifsmn(&["eval", "--model", model.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("clips/s"), "{}", text(&o));
}
