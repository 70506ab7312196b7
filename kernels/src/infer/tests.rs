use super::*;
use crate::reference;
use crate::synth::{SynthSpec, random_clip, random_features};
use crate::weights::NetworkWeights;

/// Largest |fast - reference| relative to the logit scale.
fn rel_err(fast: &[f32], want: &[f32]) -> f32 {
    let scale = 1.0 + want.iter().fold(0f32, |m, v| m.max(v.abs()));
    fast.iter()
        .zip(want)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()))
        / scale
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0
}

/// Tolerance of the fast path against the f64 oracle, relative to the largest logit magnitude
/// (measured: below 5e-7 on these models; see the comment in `check_against_reference`).
const TOL: f32 = 1e-5;

fn check_against_reference(w: &NetworkWeights, seeds: std::ops::Range<u64>) {
    let model = PackedModel::from_weights(w).unwrap();
    let engine = Arc::new(Engine::new(&model).unwrap());
    let mut s = engine.session();
    for seed in seeds {
        let f = random_features(&w.features, seed);
        for path in 0..w.paths.len() {
            let want = reference::forward(w, path, &f).unwrap();
            let got = s.forward(path, &f).unwrap().to_vec();
            // The fast path folds BatchNorm, rounds to f32 and sums in another order: a few
            // ulps per layer. A sign flip of one activation exactly at a threshold would show
            // as a larger error; these seeds have none.
            let e = rel_err(&got, &want);
            assert!(
                e < TOL,
                "{:?} seed {seed} path {path}: relative error {e}\n{got:?}\n{want:?}",
                w.precision
            );
            assert_eq!(argmax(&got), argmax(&want), "seed {seed} path {path}");
        }
    }
}

#[test]
fn binary_forward_matches_the_reference_on_every_path() {
    check_against_reference(&SynthSpec::paper(Precision::Binary).weights(11), 0..3);
    check_against_reference(&SynthSpec::tiny(Precision::Binary).weights(12), 0..20);
}

#[test]
fn one_plane_models_match_the_reference() {
    let mut spec = SynthSpec::tiny(Precision::Binary);
    spec.planes = 1;
    check_against_reference(&spec.weights(13), 0..10);
}

#[test]
fn float_forward_matches_the_reference() {
    check_against_reference(&SynthSpec::paper(Precision::Float).weights(14), 0..3);
    check_against_reference(&SynthSpec::tiny(Precision::Float).weights(15), 0..10);
}

#[test]
fn odd_shapes_match_the_reference() {
    // 8 conv1 channels (byte-aligned patches), no padding overlap, stride 1, other taps.
    let mut spec = SynthSpec::tiny(Precision::Binary);
    spec.conv1_channels = 8;
    spec.stride = 1;
    spec.taps = 5;
    spec.layers = 2;
    spec.paths = Some(vec![vec![0, 1], vec![1], vec![]]);
    check_against_reference(&spec.weights(16), 0..5);
}

#[test]
fn every_isa_and_thread_count_gives_identical_bits() {
    for spec in [
        SynthSpec::paper(Precision::Binary),
        SynthSpec::tiny(Precision::Binary),
    ] {
        let w = spec.weights(21);
        let model = PackedModel::from_weights(&w).unwrap();
        let f = random_features(&w.features, 5);
        let mut want: Option<Vec<Vec<u32>>> = None;
        for isa in Isa::available() {
            for threads in [1, 3] {
                let e =
                    Arc::new(Engine::with_options(&model, EngineOptions { isa, threads }).unwrap());
                let mut s = e.session();
                let got: Vec<Vec<u32>> = (0..w.paths.len())
                    .map(|p| {
                        s.forward(p, &f)
                            .unwrap()
                            .iter()
                            .map(|v| v.to_bits())
                            .collect()
                    })
                    .collect();
                match &want {
                    None => want = Some(got),
                    Some(w) => assert_eq!(&got, w, "{isa} with {threads} threads"),
                }
            }
        }
    }
}

#[test]
fn sessions_are_reusable_and_paths_independent() {
    let w = SynthSpec::tiny(Precision::Binary).weights(22);
    let model = PackedModel::from_weights(&w).unwrap();
    let e = Arc::new(Engine::new(&model).unwrap());
    let mut s = e.session();
    let f = random_features(&w.features, 1);
    let a = s.forward(0, &f).unwrap().to_vec();
    let _ = s.forward(1, &random_features(&w.features, 2)).unwrap();
    assert_eq!(s.forward(0, &f).unwrap(), &a[..]);
    assert_eq!(e.session().forward(0, &f).unwrap(), &a[..]);
}

#[test]
fn hooks_see_every_layer_of_the_path_in_order() {
    let w = SynthSpec::paper(Precision::Binary).weights(23);
    let e = Arc::new(Engine::new(&PackedModel::from_weights(&w).unwrap()).unwrap());
    let mut s = e.session();
    let f = random_features(&w.features, 1);
    for path in 0..e.num_paths() {
        let mut times = Vec::new();
        let a = s.forward_hooked(path, &f, &mut times).unwrap().to_vec();
        let ids: Vec<LayerId> = times.iter().map(|(l, _)| *l).collect();
        assert_eq!(ids, e.layer_ids(path).unwrap());
        assert_eq!(s.forward(path, &f).unwrap(), &a[..]);
    }
    assert_eq!(e.layer_ids(2).unwrap().len(), 3 + 3 * 2 + 1);
}

#[test]
fn layer_bits_follow_the_model_definition() {
    let w = SynthSpec::tiny(Precision::Binary).weights(24);
    let e = Arc::new(Engine::new(&PackedModel::from_weights(&w).unwrap()).unwrap());
    let mut s = e.session();
    let f = random_features(&w.features, 3);
    let bits = s.layer_bits(0, &f).unwrap();
    let d = *e.dims();
    assert_eq!(bits.len(), 2 + 3 * w.paths[0].len());
    assert_eq!(bits[0].layer, LayerId::Conv2);
    assert_eq!((bits[0].channels, bits[0].positions), (d.c1, d.h1 * d.w1));
    assert_eq!((bits[1].channels, bits[1].positions), (d.fc1_in, d.t));
    let mem = &bits[2];
    assert_eq!(
        (mem.layer, mem.channels, mem.positions),
        (LayerId::Memory(0), d.m, d.t + d.taps - 1)
    );
    // Memory pads are zeros before binarisation: plane 1 there is sgn(-tau0).
    let tau0 = &w.layers[0].memory_quant.as_ref().unwrap().tau0;
    for (c, t0) in tau0.iter().enumerate() {
        assert_eq!(mem.b1[c * mem.positions], 0.0 - t0 < 0.0);
    }
    for b in &bits {
        assert_eq!(b.b1.len(), b.channels * b.positions);
        assert!(b.s2.iter().all(|v| v.is_finite() && *v >= 0.0));
        assert!((0.0..=1.0).contains(&b.minus_fraction()));
    }
    let float = SynthSpec::tiny(Precision::Float).weights(1);
    let e = Arc::new(Engine::new(&PackedModel::from_weights(&float).unwrap()).unwrap());
    assert!(matches!(
        e.session().layer_bits(0, &f),
        Err(InferError::NotBinary)
    ));
}

#[test]
fn classify_runs_the_front_end() {
    let w = SynthSpec::tiny(Precision::Binary).weights(25);
    let e = Arc::new(Engine::new(&PackedModel::from_weights(&w).unwrap()).unwrap());
    let mut s = e.session();
    let clip = random_clip(&w.features, 1);
    let c = s.classify(0, &clip).unwrap();
    let f = s.features(&clip).to_vec();
    assert_eq!(s.forward(0, &f).unwrap(), &c.logits[..]);
    assert_eq!(c.label, w.labels[c.index]);
    assert!((c.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
}

#[test]
fn bad_requests_are_errors() {
    let w = SynthSpec::tiny(Precision::Binary).weights(26);
    let mut model = PackedModel::from_weights(&w).unwrap();
    let e = Arc::new(Engine::new(&model).unwrap());
    let mut s = e.session();
    assert!(matches!(
        s.forward(9, &vec![0.0; e.input_len()]),
        Err(InferError::BadPath { path: 9, .. })
    ));
    assert!(matches!(
        s.forward(0, &[0.0; 3]),
        Err(InferError::BadInput { got: 3, .. })
    ));
    model.fc1.affine.shift.pop();
    let err = Engine::new(&model).unwrap_err().to_string();
    assert!(err.contains("FC1_AFFINE"), "{err}");
}
