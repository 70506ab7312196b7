//! The log-mel front end against independent reference numbers (librosa, float64), computed by
//! `assets/reference/make_features_reference.py` from the same decoded clips.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

use std::path::{Path, PathBuf};

use bifsmn_engine::audio;
use bifsmn_engine::features::{FeatureParams, LogMel};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn features_match_librosa_within_a_hundredth_of_a_db_on_every_bin() {
    let root = repo_root();
    let text = std::fs::read_to_string(root.join("assets/reference/features_reference.json"))
        .expect("reference numbers are committed");
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let clips = reference["clips"].as_array().unwrap();
    assert!(clips.len() >= 5, "several clips are checked");
    let logmel = LogMel::new(FeatureParams::default());
    let mut worst = (0.0f64, String::new());
    for clip in clips {
        let rel = clip["path"].as_str().unwrap();
        let samples = audio::load_clip(&root.join(rel)).unwrap_or_else(|e| panic!("{e}"));
        let ours = logmel.compute(&samples);
        let rows = clip["log_mel_db"].as_array().unwrap();
        assert_eq!(rows.len(), 32, "{rel}");
        for (m, row) in rows.iter().enumerate() {
            let row = row.as_array().unwrap();
            assert_eq!(row.len(), 32, "{rel}");
            for (t, v) in row.iter().enumerate() {
                let expect = v.as_f64().unwrap();
                let got = ours[m * 32 + t] as f64;
                let diff = (got - expect).abs();
                if diff > worst.0 {
                    worst = (diff, format!("{rel} mel {m} frame {t}: {got} vs {expect}"));
                }
            }
        }
    }
    // The reference is rounded to 1e-4 dB, so the bound is what we compute, not the rounding.
    assert!(
        worst.0 <= 0.01,
        "worst bin differs by {:.5} dB at {}",
        worst.0,
        worst.1
    );
    eprintln!("worst difference {:.6} dB ({})", worst.0, worst.1);
}
