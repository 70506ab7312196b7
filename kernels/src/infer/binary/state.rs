//! Every buffer of a binary forward pass, sized once from the plan.

use crate::bitpack::{BitRows, words_for};

use super::bits::plane_off;
use crate::infer::plan::Plan;

/// Output positions per conv1 register block (`ybuf` holds one block).
pub(super) const CONV1_BLOCK: usize = 4;

/// Every buffer of a binary forward pass.
#[derive(Debug)]
pub(crate) struct BinState {
    /// conv1's input with its zero padding (`(n_mels + 2p) x (frames + 2p)`).
    pub(super) xpad: Vec<f32>,
    /// conv1 accumulators of one register block (`[position][channel]`).
    pub(super) ybuf: Vec<f32>,
    /// `sum |r|` of conv1's output (conv2's `s2` times the input size).
    pub(super) conv1_total: f32,
    /// conv1 output planes, bit `pos * c1 + c`.
    pub(super) h1_b1: Vec<u64>,
    pub(super) h1_b2: Vec<u64>,
    /// conv1 output bits as gather units, and the gathered patch rows (see `PatchGather`).
    pub(super) src16: Vec<u16>,
    pub(super) dst16: Vec<u16>,
    pub(super) src8: Vec<u8>,
    pub(super) dst8: Vec<u8>,
    pub(super) patches: BitRows,
    /// Popcount outputs, shared by every binary layer.
    pub(super) pc: Vec<u32>,
    pub(super) rows_fc1: BitRows,
    pub(super) rows_m: BitRows,
    pub(super) rows_h: BitRows,
    /// `s2` of the fc1, expand and project inputs, per time step.
    pub(super) s2_fc1: Vec<f32>,
    pub(super) s2_m: Vec<f32>,
    pub(super) s2_h: Vec<f32>,
    /// D-FSMN state and memory output, `[t][m]`.
    pub(super) x: Vec<f32>,
    pub(super) mem: Vec<f32>,
    /// The memory block's planes as ±1, `[t + taps - 1][m]`, and `s2` per channel.
    pub(super) b1f: Vec<f32>,
    pub(super) b2f: Vec<f32>,
    pub(super) s2m: Vec<f32>,
}

impl BinState {
    pub(in crate::infer) fn new(p: &Plan) -> BinState {
        let d = p.dims;
        let p1 = d.h1 * d.w1;
        let p2 = p.conv2_col.positions;
        let patch = p.conv2_col.patch;
        let po = plane_off(p2);
        let patches = BitRows::new(2 * po, patch);
        let tpo = plane_off(d.t);
        let widest = [d.c2, d.m, d.hidden].into_iter().max().unwrap_or(1);
        let outs_p = widest.next_multiple_of(crate::gemm::OUT_BLOCK);
        let rows_max = (2 * po).max(2 * tpo);
        let tpad = d.t + d.taps - 1;
        let pad1 = 2 * d.hyper.conv1_padding;
        BinState {
            xpad: vec![0.0; (d.n_mels + pad1) * (d.frames + pad1)],
            ybuf: vec![0.0; CONV1_BLOCK * p.conv1.outs_p],
            conv1_total: 0.0,
            h1_b1: vec![0; words_for(p1 * d.c1)],
            h1_b2: vec![0; words_for(p1 * d.c1)],
            src16: vec![0; 4 * words_for(p1 * d.c1)],
            dst16: vec![0; patches.data().len() * 4],
            src8: vec![0; 8 * words_for(p1 * d.c1)],
            dst8: vec![0; patches.data().len() * 8],
            patches,
            pc: vec![0; rows_max * outs_p],
            rows_fc1: BitRows::new(2 * tpo, d.fc1_in),
            rows_m: BitRows::new(2 * tpo, d.m),
            rows_h: BitRows::new(2 * tpo, d.hidden),
            s2_fc1: vec![0.0; d.t],
            s2_m: vec![0.0; d.t],
            s2_h: vec![0.0; d.t],
            x: vec![0.0; d.t * d.m],
            mem: vec![0.0; d.t * d.m],
            b1f: vec![0.0; tpad * d.m],
            b2f: vec![0.0; tpad * d.m],
            s2m: vec![0.0; d.m],
        }
    }
}
