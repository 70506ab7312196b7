//! The binary model's forward pass, with the float work fused around the popcounts.
//!
//! Every layer's epilogue (`prelu(scale * acc + shift)`, plus the residual) also *binarises its
//! output for the next binary layer* while the values are in registers: it writes the two bit
//! planes (or, for the memory block, the ±1 planes along time) and accumulates the `|r|` sums
//! of `s2`. No float activation is written unless a later layer reads it as a float (the
//! D-FSMN state `x`, used by the memory block's residual and the classifier, and the memory
//! output `m`, the project's residual), and no buffer is read twice:
//!
//! ```text
//! conv1 (direct, register-blocked) -> epilogue -> conv2's planes + sum |r|
//! conv2 patches -> masked popcount -> epilogue -> fc1's planes + s2 per time step
//! fc1 popcount -> epilogue -> x, memory planes (±1 along time) + sum |r| per channel
//! per layer: memory (depthwise on ±1) -> epilogue (+ x) -> m, expand's planes + s2
//!            expand popcount -> epilogue -> project's planes + s2
//!            project popcount -> epilogue (+ m) -> x, next memory's planes + sum |r|
//! classifier (float)
//! ```
//!
//! The arithmetic is exactly the unfused definition, operation for operation (separate
//! multiply and add, the `s2` sums in the canonical 8-lane order of [`crate::bitpack`]), so the
//! logits are the same bits as binarising each layer's stored output, on every backend of
//! [`Simd`].
//!
//! Files: this one holds the layer sequence, [`state`] the buffers, [`layers`] the conv1, conv2
//! and memory drivers, [`dense`] the popcount layers, [`epilogue`] their fused epilogue, [`sink`]
//! where the epilogue's outputs go (bit rows, the memory block's planes, nowhere), [`bits`] the
//! bit-unit conversions and the captured planes, [`dispatch`] the choice of [`Simd`] backend.

mod bits;
mod dense;
mod dispatch;
mod epilogue;
mod layers;
mod sink;
mod state;

use std::time::Instant;

use crate::isa::Simd;
use crate::network::LayerId;

use super::plan::{Conv2, Dense};
use super::{InferError, LayerHook};

use bits::rows_bits;
use dense::{DenseStep, Next, dense_layer};
use sink::Time;

pub(crate) use state::BinState;

pub(super) use dispatch::{Forward, Pass, run};

impl BinState {
    /// The forward pass up to the classifier's input (`self.x`), on the float backend `s`
    /// (the bit kernels follow the engine's ISA). Gives the hook back for the classifier.
    #[inline(always)]
    pub(super) fn run<'a, S: Simd, H: LayerHook>(
        &mut self,
        s: S,
        pass: Pass<'a, H>,
    ) -> Result<&'a mut H, InferError> {
        let Pass {
            engine,
            layers,
            path,
            features,
            hook,
            mut cap,
        } = pass;
        let p = &engine.plan;
        let (Conv2::Bin(c2), Dense::Bin(fc1)) = (&p.conv2, &p.fc1) else {
            return Err(InferError::Model("not a binary model".into()));
        };
        let threads = engine.opts.threads;
        let d = p.dims;
        let t = d.t;
        timed!(hook, LayerId::Conv1, self.conv1(s, p, c2, features));
        timed!(
            hook,
            LayerId::Conv2,
            self.conv2(s, p, c2, fc1, threads, cap.as_deref_mut())
        );
        let first = layers.first().map(|&j| &p.layers[j].memory);
        timed!(hook, LayerId::Fc1, {
            if let Some(cap) = cap.as_deref_mut() {
                cap.push(rows_bits(
                    LayerId::Fc1,
                    &self.rows_fc1,
                    t,
                    fc1.bin.planes,
                    &self.s2_fc1,
                    Some(&p.fc1_canon),
                ));
            }
            let x = &mut self.x;
            let st = Time::begin(
                first,
                &mut self.b1f,
                &mut self.b2f,
                &mut self.s2m,
                d.m,
                d.taps,
            );
            dense_layer(
                s,
                threads,
                DenseStep {
                    layer: fc1,
                    epi: &p.fc1_epi,
                    input: &self.rows_fc1,
                    s2: &self.s2_fc1,
                    t,
                    res: None,
                    out: Some(x),
                },
                &mut self.pc,
                st.into(),
            );
        });
        for (n, &j) in layers.iter().enumerate() {
            let l = &p.layers[j];
            let (Dense::Bin(expand), Dense::Bin(project)) = (&l.expand, &l.project) else {
                return Err(InferError::Model(format!("layer {j} is not binary")));
            };
            timed!(
                hook,
                LayerId::Memory(j),
                self.memory(s, p, j, expand, cap.as_deref_mut())
            );
            timed!(hook, LayerId::Expand(j), {
                if let Some(cap) = cap.as_deref_mut() {
                    cap.push(rows_bits(
                        LayerId::Expand(j),
                        &self.rows_m,
                        t,
                        expand.bin.planes,
                        &self.s2_m,
                        None,
                    ));
                }
                let next = Next::Rows {
                    bin: &project.bin,
                    rows: &mut self.rows_h,
                    s2: &mut self.s2_h,
                };
                dense_layer(
                    s,
                    threads,
                    DenseStep {
                        layer: expand,
                        epi: &l.expand_epi,
                        input: &self.rows_m,
                        s2: &self.s2_m,
                        t,
                        res: None,
                        out: None,
                    },
                    &mut self.pc,
                    next,
                );
            });
            timed!(hook, LayerId::Project(j), {
                let epi = l.project_epi[path].as_ref().ok_or_else(|| {
                    InferError::Model(format!("layer {j} has no output affine for path {path}"))
                })?;
                if let Some(cap) = cap.as_deref_mut() {
                    cap.push(rows_bits(
                        LayerId::Project(j),
                        &self.rows_h,
                        t,
                        project.bin.planes,
                        &self.s2_h,
                        None,
                    ));
                }
                let following = layers.get(n + 1).map(|&j| &p.layers[j].memory);
                let st = Time::begin(
                    following,
                    &mut self.b1f,
                    &mut self.b2f,
                    &mut self.s2m,
                    d.m,
                    d.taps,
                );
                dense_layer(
                    s,
                    threads,
                    DenseStep {
                        layer: project,
                        epi,
                        input: &self.rows_h,
                        s2: &self.s2_h,
                        t,
                        res: Some(&self.mem),
                        out: Some(&mut self.x),
                    },
                    &mut self.pc,
                    st.into(),
                );
            });
        }
        Ok(hook)
    }
}
