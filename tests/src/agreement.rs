//! How a packed model agrees with the trained burn model it came from, over the demo test
//! split: the measurement behind the parity tests (`tests/parity.rs`, `tests/storage_parity.rs`).

use std::sync::Arc;

use bifsmn_engine::data::{BatchLoader, Dataset, Protocol, Split};
use bifsmn_engine::model::Dfsmn;
use bifsmn_engine::train::checkpoint::open_model;
use bifsmn_kernels::format::PackedModel;
use bifsmn_kernels::infer::Engine;
use burn::module::Module;
use burn::prelude::*;

/// Logits may differ by float summation order in the float layers (conv1, BN folding, the
/// classifier) but the bits must not: this bound is ~1000x the f32 rounding of a 1024-term sum.
pub const LOGIT_TOLERANCE: f32 = 2e-3;

/// How the kernels' logits compare with burn's over a test split.
pub struct Agreement {
    /// Test clips compared (each on every thin path).
    pub clips: usize,
    /// Clip-paths compared (clips x thin paths).
    pub clip_paths: usize,
    /// Largest relative logit difference over every clip and path.
    pub worst: f32,
    /// Median over clip-paths of the largest relative logit difference of a clip-path.
    pub median: f32,
    /// `path p, clip: difference` for every clip and path beyond [`LOGIT_TOLERANCE`].
    pub beyond_tolerance: Vec<String>,
    /// Every clip and path where the kernels pick another class than burn.
    pub other_class: Vec<String>,
    /// Per thin path: test clips the kernels classify correctly, and burn.
    pub correct_kernels: Vec<usize>,
    pub correct_burn: Vec<usize>,
}

/// Run the packed model `bkw` and the trained run `run` (burn, flex, eval mode) on every clip
/// of the demo test split and every thin path, and say how they agree.
pub fn compare(run: &std::path::Path, bkw: &std::path::Path) -> Agreement {
    let root = crate::models::demo();
    let device = Device::flex();
    let loaded = open_model(run, &device).unwrap();
    let model: Dfsmn = loaded.model.valid();
    let packed = PackedModel::load(bkw).unwrap();
    let engine = Arc::new(Engine::new(&packed).unwrap());
    let paths = engine.num_paths();
    assert_eq!(paths, loaded.sidecar.config.path_weights.len());
    let dataset = Arc::new(Dataset::open(&root, Protocol::Twelve).unwrap());
    let mut session = engine.session();
    let mut agreement = Agreement {
        clips: 0,
        clip_paths: 0,
        worst: 0.0,
        median: 0.0,
        beyond_tolerance: Vec::new(),
        other_class: Vec::new(),
        correct_kernels: vec![0; paths],
        correct_burn: vec![0; paths],
    };
    let mut differences = Vec::new();
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
                agreement.correct_kernels[p] += usize::from(argmax(&ours) == batch.labels[i]);
                agreement.correct_burn[p] += usize::from(argmax(theirs) == batch.labels[i]);
                if argmax(&ours) != argmax(theirs) {
                    let what = format!("path {p}, {clip}: kernels {ours:?} vs burn {theirs:?}");
                    agreement.other_class.push(what);
                }
                let difference = ours
                    .iter()
                    .zip(theirs)
                    .map(|(a, t)| (a - t).abs() / (1.0 + t.abs()))
                    .fold(0f32, f32::max);
                agreement.worst = agreement.worst.max(difference);
                differences.push(difference);
                if difference > LOGIT_TOLERANCE {
                    let what = format!("path {p}, {clip}: {difference:.2e}");
                    agreement.beyond_tolerance.push(what);
                }
            }
        }
        agreement.clips += b;
    }
    agreement.clip_paths = differences.len();
    differences.sort_by(f32::total_cmp);
    agreement.median = differences
        .get(differences.len() / 2)
        .copied()
        .unwrap_or(0.0);
    agreement
}
