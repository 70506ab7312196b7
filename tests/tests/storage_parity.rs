//! The packed model's storage variants (`f16`, `q8` float sections) against the trained burn
//! model. A test process of its own: the variants' exports load models while
//! `tests/parity.rs` trains its tiny models, and the two must not share a process.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

use bifsmn_tests::agreement::compare;
use bifsmn_tests::models::repo_path;

/// Every storage variant of the shipped models, against the trained burn model. `f32` is held
/// to the tests above; `f16` and `q8` round the float sections, so the logits move. On the
/// binary student a rounded conv1 weight or threshold flips the activations that sit within
/// the rounding of a threshold, and the flips cascade: even `f16` changes the class on about
/// 5 % of the student's clip-paths (`q8` about 9 %), in both directions, so accuracy moves by
/// a few clips either way (measured figures in docs/FORMAT.md, "Storage and accuracy").
///
/// The tolerances: the float teacher keeps every class in `f16` with logits within 5e-2
/// (relative), and changes at most 6 % of classes in `q8`; the student changes at most 15 %
/// of its clip-paths' classes in either; and every path's test accuracy stays within 5 points
/// (4 of the 84 clips) of burn's. A broken encoding (a wrong group or grid) scrambles far more.
#[test]
fn every_storage_variant_of_the_shipped_models_stays_within_its_tolerance() {
    use bifsmn_kernels::format::{FloatDtype, Storage};
    let tmp = tempfile::tempdir().unwrap();
    for (name, run) in [
        ("student", repo_path("assets/models/demo-student")),
        ("teacher", repo_path("assets/models/demo-teacher")),
    ] {
        for dt in [FloatDtype::F16, FloatDtype::Q8] {
            for st in [
                Storage {
                    fp_weights: dt,
                    per_channel: FloatDtype::F32,
                },
                Storage {
                    fp_weights: FloatDtype::F32,
                    per_channel: dt,
                },
                Storage {
                    fp_weights: dt,
                    per_channel: dt,
                },
            ] {
                let bkw = tmp.path().join("variant.bkw");
                bifsmn_engine::export::export_run(&run, &bkw, st).unwrap();
                let a = compare(&run, &bkw);
                let what = format!("{name} {:?}/{:?}", st.fp_weights, st.per_channel);
                eprintln!(
                    "{what}: {} of {} clip-paths change class, relative logit difference median {:.2e}, worst {:.2e}; correct per path {:?} (burn {:?})",
                    a.other_class.len(),
                    a.clip_paths,
                    a.median,
                    a.worst,
                    a.correct_kernels,
                    a.correct_burn
                );
                let changed = a.other_class.len() as f64 / a.clip_paths as f64;
                match (name, dt) {
                    ("teacher", FloatDtype::F16) => {
                        assert!(a.other_class.is_empty(), "{what}: {:?}", a.other_class);
                        assert!(a.worst <= 5e-2, "{what}: worst {}", a.worst);
                    }
                    ("teacher", _) => assert!(changed <= 0.06, "{what}: {changed}"),
                    _ => assert!(changed <= 0.15, "{what}: {changed}"),
                }
                for (p, (k, b)) in a.correct_kernels.iter().zip(&a.correct_burn).enumerate() {
                    let bound = if name == "teacher" { 2 } else { 6 };
                    assert!(
                        k.abs_diff(*b) <= bound,
                        "{what}, path {p}: {k} vs burn {b} correct"
                    );
                }
            }
        }
    }
}
