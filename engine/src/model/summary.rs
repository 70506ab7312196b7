//! Per-layer parameter and compute summary (`bifsmn model summary`).

use burn::module::Module;
use serde::Serialize;

use super::dfsmn::{Dfsmn, DfsmnConfig};

/// One row of the summary table.
#[derive(Clone, Debug, Serialize)]
pub struct LayerRow {
    pub name: String,
    pub kind: String,
    /// Output shape per clip.
    pub output: String,
    /// Trainable parameters (weights, biases, BN affine, PReLU, thresholds, alphas).
    pub params: usize,
    /// Multiply-accumulates per 1 s clip.
    pub macs: usize,
    /// Whether the layer's product is binary in this model.
    pub binary: bool,
}

/// The whole table plus totals.
#[derive(Clone, Debug, Serialize)]
pub struct ModelSummary {
    pub rows: Vec<LayerRow>,
    pub total_params: usize,
    /// Parameters of Conv/Linear weights only.
    pub weight_params: usize,
    pub binary_macs: usize,
    pub float_macs: usize,
    /// MACs of each thin path (front end and classifier included).
    pub path_macs: Vec<usize>,
    /// BatchNorm running means and variances (state, not trained).
    pub running_stats: usize,
    /// burn's own count over every stored tensor (parameters and running statistics), as a
    /// cross-check of the rows.
    pub burn_num_params: usize,
}

/// Summarize a model (counts are from the config; `burn_num_params` from the module).
pub fn summarize(model: &Dfsmn) -> ModelSummary {
    let cfg: &DfsmnConfig = &model.config;
    let binary = cfg.is_binary();
    // LPB state per binarized layer: three threshold vectors over the input channels plus two
    // alphas (activations) and one (weights). Baselines train none of these.
    let quant = |cin: usize| {
        if binary && cfg.binarizer.is_some_and(|k| k.has_thresholds()) {
            3 * cin + 3
        } else {
            0
        }
    };
    // PReLU: one shared slope (RPReLU: slope and two shifts per channel).
    let prelu = |c: usize| match cfg.binarizer {
        Some(super::BinarizerKind::ReAct) => 3 * c,
        _ => 1,
    };
    // Sites where the teacher uses ReLU (no parameters) and the student PReLU.
    let relu_site = |c: usize| if binary { prelu(c) } else { 0 };
    let c1 = cfg.frontend_channels;
    let c2 = 2 * c1;
    let n = cfg.memory;
    let h = cfg.hidden;
    let t = cfg.time_steps();
    let f1 = cfg.n_mels / 2;
    let f2 = cfg.n_mels / 4;
    let taps = 2 * cfg.context + 1;
    let classes = cfg.num_classes;
    let mut rows = vec![
        LayerRow {
            name: "conv1".into(),
            kind: "Conv2d 5x5/2 (FP) + BN + act".into(),
            output: format!("{c1}x{f1}x{f1}"),
            params: c1 * 25 + c1 + 2 * c1 + relu_site(c1),
            macs: c1 * 25 * f1 * f1,
            binary: false,
        },
        LayerRow {
            name: "conv2".into(),
            kind: "Conv2d 5x5/2 + BN + act".into(),
            output: format!("{c2}x{f2}x{t}"),
            params: c2 * c1 * 25 + c2 + 2 * c2 + relu_site(c2) + quant(c1),
            macs: c2 * c1 * 25 * f2 * t,
            binary,
        },
        LayerRow {
            name: "fc1".into(),
            kind: "Linear + act".into(),
            output: format!("{n}x{t}"),
            params: c2 * f2 * n + n + relu_site(n) + quant(c2 * f2),
            macs: c2 * f2 * n * t,
            binary,
        },
    ];
    for j in 0..cfg.num_layers {
        let sets = cfg.path_sets.max(1);
        rows.push(LayerRow {
            name: format!("layer{j}"),
            kind: format!("D-FSMN (dw {taps} taps, 1x1 {n}->{h}->{n}, {sets} output BN sets)"),
            output: format!("{n}x{t}"),
            params: (n * taps + n + 2 * n + prelu(n) + quant(n))
                + (n * h + h + 2 * h + relu_site(h) + quant(n))
                + (h * n + n + quant(h))
                + sets * (2 * n + prelu(n)),
            macs: (n * taps + 2 * n * h) * t,
            binary,
        });
    }
    rows.push(LayerRow {
        name: "classifier".into(),
        kind: "Linear (FP)".into(),
        output: format!("{classes}"),
        params: n * t * classes + classes,
        macs: n * t * classes,
        binary: false,
    });
    let total_params = rows.iter().map(|r| r.params).sum();
    let weight_params = c1 * 25
        + c2 * c1 * 25
        + c2 * f2 * n
        + cfg.num_layers * (n * taps + 2 * n * h)
        + n * t * classes;
    let binary_macs = rows.iter().filter(|r| r.binary).map(|r| r.macs).sum();
    let float_macs = rows.iter().filter(|r| !r.binary).map(|r| r.macs).sum();
    let fixed: usize = rows
        .iter()
        .filter(|r| !r.name.starts_with("layer"))
        .map(|r| r.macs)
        .sum();
    let per_layer = (n * taps + 2 * n * h) * t;
    let path_macs = cfg
        .paths()
        .iter()
        .map(|p| fixed + p.len() * per_layer)
        .collect();
    let bn_channels = c1 + c2 + cfg.num_layers * (n + h + cfg.path_sets.max(1) * n);
    ModelSummary {
        running_stats: 2 * bn_channels,
        rows,
        total_params,
        weight_params,
        binary_macs,
        float_macs,
        path_macs,
        burn_num_params: model.num_params(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::prelude::Device;

    #[test]
    fn teacher_and_student_counts_match_the_spec_arithmetic() {
        let device = Device::flex();
        let teacher = summarize(&DfsmnConfig::teacher(12).init(&device));
        // docs/METHOD.md §2: teacher 600 252 trainable parameters; Conv/Linear weights 587 664.
        assert_eq!(teacher.total_params, 600_252);
        assert_eq!(teacher.weight_params, 587_664);
        // burn also counts the BN running statistics and the (frozen) ReLU slopes: 3 front-end
        // sites plus one expansion per layer.
        assert_eq!(
            teacher.burn_num_params,
            teacher.total_params + teacher.running_stats + 3 + 8
        );
        let student = summarize(&DfsmnConfig::student(12).init(&device));
        // docs/METHOD.md §2: 619 613 with the LPB thresholds and alphas (606 431 without).
        assert_eq!(student.total_params, 619_613);
        assert_eq!(student.burn_num_params, 619_613 + student.running_stats);
        // docs/METHOD.md §2: 5.43 M MACs per clip on the 8-layer path; 3.20 M binarized on the 4-layer one.
        assert_eq!(student.path_macs[0], 5_431_296);
        assert_eq!(student.path_macs[1] - 102_400 - 12_288, 3_198_976);
        assert_eq!(student.binary_macs, 819_200 + 262_144 + 8 * 529_408);
        assert_eq!(student.float_macs, 102_400 + 12_288);
    }
}
