//! Checks that a training step is numerically sound before the optimizer applies it.
//!
//! A loss can be finite while its gradients are not: in the unscaled baselines (BNN, IR-Net)
//! every binary product multiplies the gradient by its ±1 weights on the way back, so the
//! gradient grows by orders of magnitude per D-FSMN layer and overflows f32 in the front end
//! while the loss still reads a few units. Gradient clipping cannot rescue an infinite norm, and
//! one such step turns every parameter it touches into NaN, so the step is refused and the run
//! stops with the place it happened.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;

/// Where a step's gradients stopped being finite.
#[derive(Clone, Debug, PartialEq)]
pub struct GradientOverflow {
    /// Parameter paths (e.g. `layers.0.memory.weight`) with a non-finite gradient, in module
    /// order.
    pub non_finite: Vec<String>,
    /// The largest finite gradient magnitude of the step and its parameter.
    pub largest_finite: Option<(f32, String)>,
}

impl std::fmt::Display for GradientOverflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Module order runs from the input to the output; the overflow starts nearest the
        // output and spreads towards the input, so the last entry is where it began.
        let shown: Vec<&str> = self.non_finite.iter().map(String::as_str).collect();
        write!(
            f,
            "non-finite gradients in {}",
            if shown.len() > 6 {
                format!(
                    "{} parameters, from {} to {}",
                    shown.len(),
                    shown[0],
                    shown[shown.len() - 1]
                )
            } else {
                shown.join(", ")
            }
        )?;
        if let Some((magnitude, module)) = &self.largest_finite {
            write!(
                f,
                "; the largest finite gradient is {magnitude:.2e} in {module}"
            )?;
        }
        Ok(())
    }
}

/// `None` when every gradient of `model`'s parameters in `grads` is finite.
pub fn check_gradients<M: Module>(model: &M, grads: &GradientsParams) -> Option<GradientOverflow> {
    let mut visitor = GradientScan {
        grads,
        path: Vec::new(),
        non_finite: Vec::new(),
        largest_finite: None,
    };
    model.visit(&mut visitor);
    (!visitor.non_finite.is_empty()).then_some(GradientOverflow {
        non_finite: visitor.non_finite,
        largest_finite: visitor.largest_finite,
    })
}

struct GradientScan<'a> {
    grads: &'a GradientsParams,
    /// Names of the modules entered so far (the last one is the parameter's field).
    path: Vec<String>,
    non_finite: Vec<String>,
    largest_finite: Option<(f32, String)>,
}

impl ModuleVisitor for GradientScan<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let Some(grad) = self.grads.get::<D>(param.id) else {
            return;
        };
        let Ok(values) = grad.into_data().try_into_vec::<f32>() else {
            return;
        };
        let module = self.path.join(".");
        let mut finite_max = 0f32;
        let mut all_finite = true;
        for v in values {
            if v.is_finite() {
                finite_max = finite_max.max(v.abs());
            } else {
                all_finite = false;
            }
        }
        if !all_finite {
            self.non_finite.push(module.clone());
        }
        if self
            .largest_finite
            .as_ref()
            .is_none_or(|(m, _)| finite_max > *m)
        {
            self.largest_finite = Some((finite_max, module));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DfsmnConfig;
    use crate::train::loss::cross_entropy;

    fn grads_of(loss_scale: f32) -> (crate::model::Dfsmn, GradientsParams) {
        let device = Device::flex().autodiff();
        device.seed(7);
        let model = DfsmnConfig::student(3).with_num_layers(2).init(&device);
        let x = Tensor::<4>::random(
            [2, 1, 32, 32],
            burn::tensor::Distribution::Uniform(-1.0, 1.0),
            &device,
        );
        let y = Tensor::<1, Int>::from_ints([0, 2], &device);
        let out = model.forward(x, 0);
        let loss = cross_entropy(out.logits, y).mul_scalar(loss_scale);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        (model, grads)
    }

    #[test]
    fn finite_gradients_pass() {
        let (model, grads) = grads_of(1.0);
        assert_eq!(check_gradients(&model, &grads), None);
    }

    #[test]
    fn overflowing_gradients_are_located() {
        // Scaling the loss by inf makes every gradient that the loss reaches non-finite.
        let (model, grads) = grads_of(f32::INFINITY);
        let overflow = check_gradients(&model, &grads).expect("non-finite gradients");
        assert_eq!(
            overflow.non_finite.first().map(String::as_str),
            Some("conv1.weight")
        );
        assert!(
            overflow
                .non_finite
                .iter()
                .any(|m| m == "layers.1.project.weight"),
            "{:?}",
            overflow.non_finite
        );
        let message = overflow.to_string();
        assert!(message.starts_with("non-finite gradients in "), "{message}");
        assert!(
            message.contains("parameters, from conv1.weight to "),
            "{message}"
        );
    }
}
