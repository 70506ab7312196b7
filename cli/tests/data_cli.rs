//! End-to-end tests of `bifsmn data ...` through the real binary.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::bifsmn;

/// `n` samples of a quiet sine as a 16 kHz dataset clip (parent folders created).
fn write_wav(path: &Path, n: usize) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let samples: Vec<f32> = (0..n).map(|i| (i as f32 * 0.05).sin() * 0.25).collect();
    bifsmn_engine::audio::write_wav_mono_16k(path, &samples).unwrap();
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../engine/tests/fixtures")
        .join(name)
}

/// The done-criterion of `data check`: exactly the three bad files are reported, by name,
/// the check reads files no protocol uses, and the exit status is non-zero.
#[test]
fn check_reports_exactly_the_bad_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();

    // Truncated WAV: a valid header that declares 16000 samples, data cut after 4000.
    let full = root.join("full.wav");
    write_wav(&full, 16000);
    let bytes = std::fs::read(&full).unwrap();
    std::fs::remove_file(&full).unwrap();
    std::fs::create_dir_all(root.join("yes")).unwrap();
    std::fs::write(root.join("yes/trunc_nohash_0.wav"), &bytes[..44 + 8000]).unwrap();
    // Zero bytes.
    std::fs::write(root.join("yes/empty_nohash_0.wav"), b"").unwrap();
    // Text pretending to be a WAV, deep in a folder no protocol uses.
    std::fs::create_dir_all(root.join("misc/notes")).unwrap();
    std::fs::write(root.join("misc/notes/readme.wav"), "this is not audio\n").unwrap();
    // Good files: a FLAC and a WAV.
    std::fs::copy(fixture("tone.flac"), root.join("yes/good_nohash_0.flac")).unwrap();
    write_wav(&root.join("no/good_nohash_0.wav"), 16000);
    // Not audio by name: ignored.
    std::fs::write(root.join("validation_list.txt"), "").unwrap();

    let out = bifsmn(&["data", "check", "--root", root.to_str().unwrap(), "--json"]);
    assert!(!out.status.success(), "bad files must fail the check");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stdout));
    });
    assert_eq!(report["checked"], 5);
    let bad: Vec<(String, String)> = report["bad"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let path = PathBuf::from(b["path"].as_str().unwrap());
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, b["reason"].as_str().unwrap().to_string())
        })
        .collect();
    let names: Vec<&str> = bad.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "misc/notes/readme.wav",
            "yes/empty_nohash_0.wav",
            "yes/trunc_nohash_0.wav"
        ],
        "{bad:?}"
    );
    assert!(bad[1].1.contains("empty"), "{bad:?}");
    assert!(bad[2].1.contains("truncated"), "{bad:?}");

    // The text output names the same files and ends with a summary.
    let out = bifsmn(&["data", "check", "--root", root.to_str().unwrap()]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for name in names {
        assert!(text.contains(name), "{text}");
    }
    assert!(
        text.contains("5 audio files") && text.contains("3 bad"),
        "{text}"
    );

    // Once the bad files are gone the check passes.
    for (name, _) in &bad {
        std::fs::remove_file(root.join(name)).unwrap();
    }
    let out = bifsmn(&["data", "check", "--root", root.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

const WORDS: [&str; 11] = [
    "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "marvin",
];

#[test]
fn info_prints_counts_per_class_and_split() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for word in WORDS {
        for speaker in ["aaaa0001", "aaaa0002", "aaaa0003"] {
            write_wav(&root.join(format!("{word}/{speaker}_nohash_0.wav")), 1600);
        }
    }
    std::fs::write(
        root.join("validation_list.txt"),
        "yes/aaaa0002_nohash_0.wav\n",
    )
    .unwrap();
    std::fs::write(root.join("testing_list.txt"), "go/aaaa0003_nohash_0.wav\n").unwrap();

    let out = bifsmn(&["data", "info", "--root", root.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["labels"][0], "unknown");
    assert_eq!(v["labels"][11], "go");
    // 33 files: 31 train (+3 silence), 1 validation, 1 test.
    assert_eq!(v["totals"]["train"], 34);
    assert_eq!(v["counts"]["train"][0], 3, "marvin is unknown");
    assert_eq!(v["counts"]["train"][1], 3, "silence");
    assert_eq!(v["counts"]["validation"][2], 1);
    assert_eq!(v["counts"]["test"][11], 1);
    assert_eq!(v["fingerprint"].as_str().unwrap().len(), 64);

    let out = bifsmn(&["data", "info", "--root", root.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("unknown") && text.contains("silence") && text.contains("total"));

    // A bad protocol name is refused by the parser; a V2 word under V1-12 by the dataset.
    let out = bifsmn(&[
        "data",
        "info",
        "--root",
        root.to_str().unwrap(),
        "--protocol",
        "v9",
    ]);
    assert!(!out.status.success());
    write_wav(&root.join("backward/aaaa0001_nohash_0.wav"), 1600);
    let out = bifsmn(&[
        "data",
        "info",
        "--root",
        root.to_str().unwrap(),
        "--protocol",
        "v1-12",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("backward") && err.contains("v2-12"), "{err}");
}

#[test]
fn features_writes_csv_and_png() {
    let tmp = tempfile::tempdir().unwrap();
    let clip = tmp.path().join("clip.wav");
    write_wav(&clip, 16000);
    let csv = tmp.path().join("f.csv");
    let png = tmp.path().join("f.png");
    let clip_s = clip.to_str().unwrap();

    let out = bifsmn(&["data", "features", clip_s, "--csv", csv.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<Vec<f32>> = text
        .lines()
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 32);
    assert!(rows.iter().all(|r| r.len() == 32));

    let out = bifsmn(&[
        "data",
        "features",
        clip_s,
        "--png",
        png.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["features"].as_array().unwrap().len(), 32);
    // The JSON matrix and the CSV agree.
    assert_eq!(v["features"][5][7].as_f64().unwrap() as f32, rows[5][7]);
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (256, 256));

    // A broken clip is an error naming it.
    let bad = tmp.path().join("bad.wav");
    std::fs::write(&bad, "nope").unwrap();
    let out = bifsmn(&["data", "features", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.wav"));
}

/// `bifsmn ... | head`: the reader goes away before the output is written. The command must end
/// quietly with success, not panic on the broken pipe.
#[test]
fn a_closed_output_pipe_ends_commands_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let clip = tmp.path().join("clip.wav");
    write_wav(&clip, 16000);
    let clip_s = clip.to_str().unwrap();
    let commands: [&[&str]; 3] = [
        &["data", "features", clip_s, "--json"],
        &["data", "features", clip_s],
        &["completions", "bash"],
    ];
    for args in commands {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bifsmn"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end at once, before the command has written anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {err}", out.status);
        assert!(err.is_empty(), "{args:?} wrote to stderr: {err}");
    }
}

#[test]
fn every_data_command_has_help() {
    for cmd in [
        "info", "check", "features", "fetch", "synth", "merge", "scale", "cache",
    ] {
        let out = bifsmn(&["data", cmd, "--help"]);
        assert!(out.status.success(), "{cmd}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{cmd}"
        );
    }
}

#[test]
fn demo_info_when_the_demo_set_exists() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/demo");
    if !demo.join("testing_list.txt").is_file() {
        println!("note: {} not present (yet); skipped", demo.display());
        return;
    }
    let out = bifsmn(&["data", "info", "--demo", "--json"]);
    if !out.status.success() {
        // The demo set may be mid-generation while tests run.
        println!(
            "note: demo set not usable yet: {}; skipped",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["labels"].as_array().unwrap().len(), 12);
}

/// `data synth` through the binary: a tiny corpus as JSON, then a rerun that resumes
/// (nothing rendered), `--help`, and the errors a user meets first: an engine that is not
/// installed (named with its apt package) and a bad keyword.
#[test]
fn synth_makes_a_corpus_resumes_and_names_a_missing_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("corpus");
    let out = out_dir.to_str().unwrap();
    let args = [
        "data",
        "synth",
        "--out",
        out,
        "--keywords",
        "lights on,pause",
        "--engines",
        "espeak",
        "--speakers",
        "3",
        "--takes",
        "1",
        "--negatives-per-speaker",
        "2",
        "--negative-words",
        "50",
        "--sentences",
        "1",
        "--json",
    ];
    let o = bifsmn(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["rendered"], 3 * (2 + 2 + 1));
    assert_eq!(r["keywords"], serde_json::json!(["lights_on", "pause"]));
    let info = bifsmn(&["data", "info", "--root", out, "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(
        info["labels"],
        serde_json::json!(["unknown", "silence", "lights_on", "pause"])
    );

    let again = bifsmn(&args);
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        (again["rendered"].as_u64(), again["reused"].as_u64()),
        (Some(0), Some(15))
    );

    let help = bifsmn(&["data", "synth", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--keywords") && help.contains("--seed"),
        "{help}"
    );

    // No espeak-ng on the PATH: the error says which package to install.
    let empty = tmp.path().join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_bifsmn"))
        .args([
            "data",
            "synth",
            "--out",
            tmp.path().join("x").to_str().unwrap(),
        ])
        .args(["--engines", "espeak", "--speakers", "3"])
        .env("PATH", &empty)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("apt install espeak-ng"), "{err}");

    let o = bifsmn(&["data", "synth", "--out", out, "--keywords", "a/b"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("`a/b`"));
}

/// `data merge`: the demo set plus a small recorded folder without split lists; the merged
/// folder's counts are the sum of its inputs' (`data info` on each), and a second merge into
/// the same folder is refused by name.
#[test]
fn merge_adds_up_its_inputs_and_refuses_an_existing_folder() {
    let Some(demo) = bifsmn_engine::data::demo_root() else {
        eprintln!("skipped: no demo set");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mine = tmp.path().join("mine");
    for (i, w) in ["yes", "no", "bed"].iter().enumerate() {
        write_wav(&mine.join(format!("{w}/me{i}_nohash_0.wav")), 16000);
    }
    let merged = tmp.path().join("merged");
    let m = merged.to_str().unwrap();
    let o = bifsmn(&[
        "data",
        "merge",
        "demo",
        mine.to_str().unwrap(),
        "--out",
        m,
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["clips_per_root"][1][1], 3);

    let total = |root: &str| -> u64 {
        let o = bifsmn(&["data", "info", "--root", root, "--json"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        ["train", "validation", "test"]
            .iter()
            .flat_map(|split| info["counts"][split].as_array().unwrap())
            .map(|v| v.as_u64().unwrap())
            .sum()
    };
    let demo_total = total(demo.to_str().unwrap());
    assert!(total(m) >= demo_total + 3, "every clip of both inputs");

    let o = bifsmn(&["data", "merge", "demo", mine.to_str().unwrap(), "--out", m]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("merged") && err.contains("already exists"),
        "{err}"
    );
}

/// `data scale` then `data cache` through the binary on the demo set: counts and sizes in the
/// JSON reports, a rerun that resumes (nothing written, everything cached), and a folder made
/// with other options refused by name.
#[test]
fn scale_then_cache_report_counts_and_sizes_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("big");
    let cache = tmp.path().join("cache");
    let json = |args: &[&str]| -> serde_json::Value {
        let o = bifsmn(args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let out_s = out.to_str().unwrap();
    let scale = [
        "data", "scale", "--demo", "--clips", "900", "--out", out_s, "--json",
    ];
    let first = json(&scale);
    assert_eq!(first["clips"], 900);
    assert_eq!(first["written"], 900);
    let (tr, va, te) = (&first["train"], &first["validation"], &first["test"]);
    assert_eq!(
        tr.as_u64().unwrap() + va.as_u64().unwrap() + te.as_u64().unwrap(),
        900
    );
    assert_eq!(first["audio_bytes"], 900 * (44 + 32_000));
    assert_eq!(json(&scale)["written"], 0);

    let cache_s = cache.to_str().unwrap();
    let fill = [
        "data",
        "cache",
        "--root",
        out_s,
        "--cache-dir",
        cache_s,
        "--json",
    ];
    let filled = json(&fill);
    assert_eq!(
        (filled["clips"].as_u64(), filled["computed"].as_u64()),
        (Some(900), Some(900))
    );
    assert!(filled["entry_bytes"].as_u64().unwrap() > 900 * 32 * 32 * 4);
    let again = json(&fill);
    assert_eq!(
        (again["computed"].as_u64(), again["reused"].as_u64()),
        (Some(0), Some(900))
    );

    let other = bifsmn(&["data", "scale", "--demo", "--clips", "901", "--out", out_s]);
    assert!(!other.status.success());
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(err.contains(out_s) && err.contains("clips: 901"), "{err}");
}
