//! The FP teacher of a student run: loading it, starting the student from its weights, and the
//! targets it gives the student's distillation for a batch.

use anyhow::{Context, bail};
use burn::module::{Module, Param};
use burn::nn::BatchNorm;
use burn::prelude::*;

use super::checkpoint::open_model;
use super::config::{Role, TrainConfig};
use super::loss::TeacherTargets;
use crate::model::Dfsmn;

/// The teacher of a student run, in eval mode on the plain device: no dropout, running BN
/// statistics, and no gradient (docs/METHOD.md §3.3 item 4: the released code never called
/// teacher.eval()). `None` for a teacher run or a student without a teacher.
pub(super) fn load_teacher(
    config: &TrainConfig,
    labels: &[String],
    device: &Device,
) -> anyhow::Result<Option<Dfsmn>> {
    let (Role::Student, Some(p)) = (&config.role, &config.teacher) else {
        return Ok(None);
    };
    let loaded = open_model(p, device)
        .with_context(|| format!("loading the teacher from {}", p.display()))?;
    if loaded.sidecar.labels != labels {
        bail!(
            "the teacher {} was trained on labels {:?}, this dataset has {:?}",
            p.display(),
            loaded.sidecar.labels,
            labels
        );
    }
    if loaded.model.config.is_binary() {
        bail!(
            "{} is a binary model; a teacher must be full precision",
            p.display()
        );
    }
    Ok(Some(loaded.model.valid()))
}

/// What the teacher produces for a batch of features `x`, on the plain device (the step
/// moves them to the autodiff device with [`TeacherTargets::autodiff`]).
pub(super) fn targets(teacher: &Dfsmn, x: Tensor<4>) -> TeacherTargets {
    let z = teacher.frontend(x, 1.0, &mut None);
    let out = teacher.backbone(z, 0, 1.0, &mut None);
    // Path 0 runs every layer in order, so the list is indexed by layer.
    let layers = out.layer_outputs.into_iter().map(|(_, y)| y).collect();
    TeacherTargets {
        logits: out.logits,
        layers,
    }
}

fn copy_param<const D: usize>(src: &Param<Tensor<D>>, device: &Device) -> Param<Tensor<D>> {
    Param::from_tensor(src.val().without_autodiff().to_device(device).autodiff())
}

fn copy_bn(dst: &mut BatchNorm, src: &BatchNorm, device: &Device) {
    dst.gamma = copy_param(&src.gamma, device);
    dst.beta = copy_param(&src.beta, device);
    dst.running_mean = burn::module::RunningState::new(
        src.running_mean
            .value()
            .without_autodiff()
            .to_device(device),
    );
    dst.running_var = burn::module::RunningState::new(
        src.running_var.value().without_autodiff().to_device(device),
    );
}

/// The teacher's PReLU slope for a student PReLU. A student with per-channel slopes (ReActNet's
/// RPReLU) gets the teacher's single slope on every channel; a student whose slope is shaped in
/// some other way keeps its own initial value.
fn copy_slope(dst: &Param<Tensor<1>>, src: &Param<Tensor<1>>, device: &Device) -> Param<Tensor<1>> {
    let teacher = src.val().without_autodiff().to_device(device);
    let [wanted] = dst.val().dims();
    match teacher.dims() {
        [n] if n == wanted => Param::from_tensor(teacher.autodiff()),
        [1] => Param::from_tensor(teacher.repeat_dim(0, wanted).autodiff()),
        _ => dst.clone(),
    }
}

/// Initialise a student from the teacher's weights (docs/METHOD.md §6): every Conv/Linear
/// weight and bias, the shared BNs, path 0's output BN, and the PReLUs that exist in the
/// teacher. The student's other PReLUs, path 1-3 BNs, thresholds and alphas keep their defaults.
pub(super) fn init_from_teacher(mut s: Dfsmn, t: &Dfsmn, device: &Device) -> Dfsmn {
    s.conv1.weight = copy_param(&t.conv1.weight, device);
    s.conv1.bias = copy_param(&t.conv1.bias, device);
    copy_bn(&mut s.bn1, &t.bn1, device);
    s.conv2.weight = copy_param(&t.conv2.weight, device);
    s.conv2.bias = copy_param(&t.conv2.bias, device);
    copy_bn(&mut s.bn2, &t.bn2, device);
    s.fc1.weight = copy_param(&t.fc1.weight, device);
    s.fc1.bias = copy_param(&t.fc1.bias, device);
    for (sl, tl) in s.layers.iter_mut().zip(&t.layers) {
        sl.memory.weight = copy_param(&tl.memory.weight, device);
        sl.memory.bias = copy_param(&tl.memory.bias, device);
        copy_bn(&mut sl.memory_bn, &tl.memory_bn, device);
        sl.memory_act.slope = copy_slope(&sl.memory_act.slope, &tl.memory_act.slope, device);
        sl.expand.weight = copy_param(&tl.expand.weight, device);
        sl.expand.bias = copy_param(&tl.expand.bias, device);
        copy_bn(&mut sl.expand_bn, &tl.expand_bn, device);
        sl.project.weight = copy_param(&tl.project.weight, device);
        sl.project.bias = copy_param(&tl.project.bias, device);
        copy_bn(&mut sl.out_bn[0], &tl.out_bn[0], device);
        sl.out_act[0].slope = copy_slope(&sl.out_act[0].slope, &tl.out_act[0].slope, device);
    }
    s.classifier_weight = copy_param(&t.classifier_weight, device);
    s.classifier_bias = copy_param(&t.classifier_bias, device);
    s
}
