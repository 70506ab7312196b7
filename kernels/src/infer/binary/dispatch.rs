//! The binary forward as a [`SimdTask`], run on the backend that matches the engine's ISA.

use std::time::Instant;

use crate::fp::{FloatMode, gemv};
use crate::isa::{Simd, SimdTask, run_simd};
use crate::network::LayerId;

use super::state::BinState;
use crate::infer::{Engine, InferError, LayerBits, LayerHook};

/// What one binary forward pass reads, and where it reports.
pub(in crate::infer) struct Pass<'a, H> {
    pub(in crate::infer) engine: &'a Engine,
    /// The layers of the thin path `path`.
    pub(in crate::infer) layers: &'a [usize],
    pub(in crate::infer) path: usize,
    pub(in crate::infer) features: &'a [f32],
    pub(in crate::infer) hook: &'a mut H,
    /// Where [`Session::layer_bits`](crate::infer::Session::layer_bits) collects each binary
    /// layer's planes.
    pub(in crate::infer) cap: Option<&'a mut Vec<LayerBits>>,
}

/// One binary forward: the pass, the session's buffers, and its logits (padded for
/// [`gemv`], and final).
pub(in crate::infer) struct Forward<'a, H> {
    pub(in crate::infer) state: &'a mut BinState,
    pub(in crate::infer) pass: Pass<'a, H>,
    pub(in crate::infer) logits_p: &'a mut [f32],
    pub(in crate::infer) logits: &'a mut [f32],
}

impl<H: LayerHook> SimdTask for Forward<'_, H> {
    type Out = Result<(), InferError>;

    /// The whole binary forward on backend `s`.
    #[inline(always)]
    fn run<S: Simd>(self, s: S) -> Self::Out {
        let Forward {
            state,
            pass,
            logits_p,
            logits,
        } = self;
        let engine = pass.engine;
        let hook = state.run(s, pass)?;
        let p = &engine.plan;
        timed!(hook, LayerId::Classifier, {
            gemv(FloatMode::Exact, &state.x, &p.cls_wt, p.classes_p, logits_p);
            for (k, l) in logits.iter_mut().enumerate() {
                *l = logits_p[k] + p.cls_bias[k];
            }
        });
        Ok(())
    }
}

/// The binary forward, on the float backend that matches the engine's ISA: the scalar
/// reference for [`crate::isa::Isa::Scalar`], AVX2 or the AVX-512 mask-register backend on x86, NEON on aarch64.
pub(in crate::infer) fn run<H: LayerHook>(forward: Forward<'_, H>) -> Result<(), InferError> {
    let isa = forward.pass.engine.opts.isa;
    run_simd(isa, forward).ok_or(InferError::UnsupportedIsa(isa))?
}
