//! The project's central guarantee: the packed model that the bit kernels run gives the same
//! answers as the trained burn model in eval mode, on every clip of the demo test split, for
//! every trained thin path.

use std::sync::Arc;

use bifsmn_engine::data::{BatchLoader, Dataset, Protocol, Split};
use bifsmn_engine::model::Dfsmn;
use bifsmn_engine::train::checkpoint::open_model;
use bifsmn_kernels::format::PackedModel;
use bifsmn_kernels::infer::Engine;
use bifsmn_tests::models::tiny_models;
use burn::module::Module;
use burn::prelude::*;

/// Logits may differ by float summation order in the float layers (conv1, BN folding, the
/// classifier) but the bits must not: this bound is ~1000x the f32 rounding of a 1024-term sum.
const LOGIT_TOLERANCE: f32 = 2e-3;

fn check(run: &std::path::Path, bkw: &std::path::Path) -> (usize, f32) {
    let device = Device::flex();
    let loaded = open_model(run, &device).unwrap();
    let model: Dfsmn = loaded.model.valid();
    let packed = PackedModel::load(bkw).unwrap();
    let engine = Arc::new(Engine::new(&packed).unwrap());
    let paths = engine.num_paths();
    assert_eq!(paths, loaded.sidecar.config.path_weights.len());
    let dataset = Arc::new(Dataset::open(&tiny_models().demo, Protocol::Twelve).unwrap());
    let mut session = engine.session();
    let mut clips = 0;
    let mut worst = 0f32;
    for batch in BatchLoader::new(dataset.clone(), Split::Test, 32, None, 0, 0) {
        let batch = batch.unwrap();
        let b = batch.len();
        let x =
            Tensor::<1>::from_floats(batch.features.as_slice(), &device).reshape([b, 1, 32, 32]);
        let z = model.frontend(x, 1.0, &mut None);
        for p in 0..paths {
            let burn_logits = model
                .backbone(z.clone(), p, 1.0, &mut None)
                .logits
                .into_data()
                .try_into_vec::<f32>()
                .unwrap();
            let classes = burn_logits.len() / b;
            for i in 0..b {
                let feats = &batch.features[i * 1024..(i + 1) * 1024];
                let ours = session.forward(p, feats).unwrap().to_vec();
                let theirs = &burn_logits[i * classes..(i + 1) * classes];
                let argmax = |v: &[f32]| {
                    v.iter()
                        .enumerate()
                        .max_by(|a, b| a.1.total_cmp(b.1))
                        .unwrap()
                        .0
                };
                let clip = dataset.relative_name(&dataset.clips[batch.indices[i]]);
                assert_eq!(
                    argmax(&ours),
                    argmax(theirs),
                    "path {p}, {clip}: kernels {ours:?} vs burn {theirs:?}"
                );
                for (a, t) in ours.iter().zip(theirs) {
                    let d = (a - t).abs() / (1.0 + t.abs());
                    worst = worst.max(d);
                    assert!(d <= LOGIT_TOLERANCE, "path {p}, {clip}: {a} vs {t}");
                }
            }
        }
        clips += b;
    }
    (clips, worst)
}

#[test]
fn packed_student_matches_burn_on_every_test_clip_and_path() {
    let m = tiny_models();
    let (clips, worst) = check(&m.student_run, &m.student_bkw);
    assert_eq!(clips, 84, "the demo test split");
    eprintln!("student: {clips} clips, worst relative logit difference {worst:.2e}");
}

#[test]
fn packed_teacher_matches_burn_on_every_test_clip() {
    let m = tiny_models();
    let (clips, worst) = check(&m.teacher_run, &m.teacher_bkw);
    assert_eq!(clips, 84);
    eprintln!("teacher: {clips} clips, worst relative logit difference {worst:.2e}");
}
