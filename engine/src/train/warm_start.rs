//! Starting a run from another run's weights: fine-tuning a trained model on a few new takes,
//! or teaching it new keywords. The network must be the same; the labels may differ. Labels
//! both runs have keep their classifier rows, new labels get fresh random rows, labels the
//! new run drops are dropped.

use std::path::Path;

use anyhow::{Context, bail};
use burn::module::Param;
use burn::prelude::*;

use super::checkpoint::open_model;
use crate::model::{Dfsmn, DfsmnConfig};

/// The model of the run at `path`, on the autodiff device `ad`, with its classifier mapped
/// onto `labels`. `model_cfg` is the network this run trains (its class count is `labels`').
pub(crate) fn warm_start(
    path: &Path,
    model_cfg: &DfsmnConfig,
    labels: &[String],
    ad: &Device,
) -> anyhow::Result<Dfsmn> {
    let loaded = open_model(path, ad)
        .with_context(|| format!("loading the model to start from, {}", path.display()))?;
    let same_network = {
        let mut theirs = loaded.model.config.clone();
        theirs.num_classes = model_cfg.num_classes;
        theirs == *model_cfg
    };
    if !same_network {
        bail!(
            "{} is a different network ({}) from the one this run trains ({}); \
             start from a run of the same kind",
            path.display(),
            describe(&loaded.model.config),
            describe(model_cfg)
        );
    }
    if loaded.sidecar.labels == labels {
        return Ok(loaded.model);
    }
    let fresh = model_cfg.init(ad);
    Ok(map_classifier(
        loaded.model,
        &loaded.sidecar.labels,
        fresh,
        labels,
        ad,
    ))
}

fn describe(c: &DfsmnConfig) -> String {
    match c.binarizer {
        None => format!("FP32 teacher, {} layers", c.num_layers),
        Some(b) => format!(
            "{b:?} student, {} layers, {} planes",
            c.num_layers, c.planes
        ),
    }
}

/// `from` with the classifier of `fresh` whose rows for labels `from` knows are `from`'s.
fn map_classifier(
    mut from: Dfsmn,
    from_labels: &[String],
    fresh: Dfsmn,
    labels: &[String],
    ad: &Device,
) -> Dfsmn {
    let [_, width] = from.classifier_weight.val().dims();
    let rows = |p: &Param<Tensor<2>>| -> Vec<f32> {
        p.val().into_data().try_to_vec::<f32>().unwrap_or_default()
    };
    let old_w = rows(&from.classifier_weight);
    let old_b = from
        .classifier_bias
        .val()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap_or_default();
    let mut w = rows(&fresh.classifier_weight);
    let mut b = fresh
        .classifier_bias
        .val()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap_or_default();
    for (j, label) in labels.iter().enumerate() {
        if let Some(i) = from_labels.iter().position(|l| l == label) {
            w[j * width..(j + 1) * width].copy_from_slice(&old_w[i * width..(i + 1) * width]);
            b[j] = old_b[i];
        }
    }
    let plain = |v: &[f32]| Tensor::<1>::from_floats(v, &fresh.classifier_bias.val().device());
    from.classifier_weight = Param::from_tensor(
        plain(&w)
            .reshape([labels.len(), width])
            .without_autodiff()
            .to_device(ad)
            .autodiff(),
    );
    from.classifier_bias =
        Param::from_tensor(plain(&b).without_autodiff().to_device(ad).autodiff());
    from.config = fresh.config;
    from
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(m: &Dfsmn) -> (Vec<f32>, Vec<f32>) {
        (
            m.classifier_weight
                .val()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap(),
            m.classifier_bias
                .val()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap(),
        )
    }

    #[test]
    fn shared_labels_keep_their_rows_and_new_labels_start_fresh() {
        let ad = Device::flex().autodiff();
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let old_labels = names(&["unknown", "silence", "yes", "no", "stop"]);
        let new_labels = names(&["unknown", "silence", "stop", "lights_on"]);
        let old = DfsmnConfig::student(5).init(&ad);
        let fresh = DfsmnConfig::student(4).init(&ad);
        let (old_w, old_b) = rows(&old);
        let (fresh_w, fresh_b) = rows(&fresh);
        let width = old_w.len() / 5;
        let conv1_before = old.conv1.weight.val().into_data();
        let mapped = map_classifier(old, &old_labels, fresh, &new_labels, &ad);
        let (w, b) = rows(&mapped);
        assert_eq!(mapped.config.num_classes, 4);
        assert_eq!(w.len(), 4 * width);
        // unknown, silence and stop come from the old model (rows 0, 1, 4).
        for (new, old) in [(0, 0), (1, 1), (2, 4)] {
            assert_eq!(
                &w[new * width..(new + 1) * width],
                &old_w[old * width..(old + 1) * width]
            );
            assert_eq!(b[new], old_b[old]);
        }
        // lights_on is new: the fresh model's row 3.
        assert_eq!(&w[3 * width..], &fresh_w[3 * width..]);
        assert_eq!(b[3], fresh_b[3]);
        // Everything else is the old network.
        assert_eq!(mapped.conv1.weight.val().into_data(), conv1_before);
    }
}
