//! SGD with momentum, a cosine schedule, and the LPB's separate learning rate for alphas and
//! thresholds (docs/METHOD.md §6: their group gets `lr x 0.1`, same momentum and weight decay).

use burn::module::ParamGroup;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::grad_clipping::GradientClipping;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{ModuleOptimizer, Optimizer, Sgd, SgdConfig};
use burn::prelude::*;

/// An optimizer that runs `inner` with its learning rate multiplied by `factor`.
#[derive(Clone)]
pub struct LrScaled<O> {
    pub inner: O,
    pub factor: f64,
}

impl<O: Optimizer> Optimizer for LrScaled<O> {
    type State<const D: usize> = O::State<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        self.inner.step(lr * self.factor, tensor, grad, state)
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        O::to_device(state, device)
    }
}

/// Parameter-path fragments of the LPB's learnable binarizer state (thresholds and alphas).
pub const QUANT_PARAM_NAMES: [&str; 5] = ["tau0", "tau1", "tau2", "alpha1", "alpha2"];

/// SGD (momentum, weight decay) for all parameters, with the quantizer state at `quant_factor`
/// times the learning rate. The weight binarizer's alpha lives under `wbin.alpha`.
pub fn build_optimizer(
    momentum: f64,
    weight_decay: f64,
    quant_factor: f64,
    clip_norm: Option<f32>,
) -> ModuleOptimizer {
    let config = SgdConfig::new()
        .with_momentum(Some(MomentumConfig {
            momentum,
            dampening: 0.0,
            nesterov: false,
        }))
        .with_weight_decay(
            (weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay as f32)),
        );
    let sgd: Sgd = config.build();
    let mut names: Vec<&str> = QUANT_PARAM_NAMES.to_vec();
    names.push("wbin.alpha");
    let clip = clip_norm.map(GradientClipping::Norm);
    let mut opt = config.init();
    if let Some(c) = clip.clone() {
        opt = opt.with_grad_clipping(c);
    }
    opt.with_group(
        ParamGroup::from_any_predicates(names),
        LrScaled {
            inner: sgd,
            factor: quant_factor,
        },
        clip,
    )
}

/// PyTorch's `CosineAnnealingLR` (eta_min 0) stepped per epoch: learning rate of 0-based
/// `epoch` out of `t_max`.
pub fn cosine_lr(base: f64, epoch: usize, t_max: usize) -> f64 {
    if t_max == 0 {
        return base;
    }
    let e = epoch.min(t_max) as f64;
    base * 0.5 * (1.0 + (std::f64::consts::PI * e / t_max as f64).cos())
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::{Module, Param};
    use burn::optim::GradientsParams;

    #[derive(Module, Debug)]
    struct Tiny {
        weight: Param<Tensor<1>>,
        tau0: Param<Tensor<1>>,
    }

    #[test]
    fn quantizer_state_moves_ten_times_slower() {
        let device = Device::flex().autodiff();
        let mut model = Tiny {
            weight: Param::from_tensor(Tensor::from_floats([1.0], &device)),
            tau0: Param::from_tensor(Tensor::from_floats([1.0], &device)),
        };
        let mut opt = build_optimizer(0.0, 0.0, 0.1, None);
        let loss = model.weight.val().sum() + model.tau0.val().sum();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = opt.step(0.5, model, grads);
        let w = model.weight.val().into_scalar::<f32>();
        let t = model.tau0.val().into_scalar::<f32>();
        assert!((w - 0.5).abs() < 1e-6, "weight {w}");
        assert!((t - 0.95).abs() < 1e-6, "tau0 {t}");
    }

    #[test]
    fn cosine_schedule_endpoints() {
        assert_eq!(cosine_lr(1.0, 0, 10), 1.0);
        assert!((cosine_lr(1.0, 5, 10) - 0.5).abs() < 1e-12);
        assert!(cosine_lr(1.0, 10, 10).abs() < 1e-12);
    }
}
