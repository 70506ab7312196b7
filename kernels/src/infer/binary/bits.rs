//! Bit conversions: words to 8- or 16-bit gather units and back (conv2's patch gather), and a
//! block of bit rows as [`LayerBits`] (the Inspect panel's capture).

use crate::bitpack::{BitRows, ROW_BLOCK, get_bit};
use crate::network::LayerId;

use crate::infer::LayerBits;

/// Little-endian split of bit words into 8- or 16-bit units (unit `j` of a word holds its bits
/// `j * BITS ..`), and back.
pub(super) trait Unit: Copy + Default {
    const BITS: usize;
    fn of(word: u64, j: usize) -> Self;
    fn bits(self) -> u64;
}

impl Unit for u8 {
    const BITS: usize = 8;
    fn of(word: u64, j: usize) -> Self {
        (word >> (8 * j)) as u8
    }
    fn bits(self) -> u64 {
        self as u64
    }
}

impl Unit for u16 {
    const BITS: usize = 16;
    fn of(word: u64, j: usize) -> Self {
        (word >> (16 * j)) as u16
    }
    fn bits(self) -> u64 {
        self as u64
    }
}

#[inline(always)]
pub(super) fn words_to_units<T: Unit>(words: &[u64], units: &mut [T]) {
    for (w, u) in words.iter().zip(units.chunks_exact_mut(64 / T::BITS)) {
        for (j, u) in u.iter_mut().enumerate() {
            *u = T::of(*w, j);
        }
    }
}

#[inline(always)]
pub(super) fn units_to_words<T: Unit>(units: &[T], words: &mut [u64]) {
    for (w, u) in words.iter_mut().zip(units.chunks_exact(64 / T::BITS)) {
        *w = u
            .iter()
            .enumerate()
            .fold(0, |acc, (j, u)| acc | (u.bits() << (T::BITS * j)));
    }
}

/// The planes of a `[t]`-row bit block as [`LayerBits`] (`canon` maps internal to canonical
/// channel order).
pub(super) fn rows_bits(
    layer: LayerId,
    rows: &BitRows,
    t: usize,
    planes: u8,
    s2: &[f32],
    canon: Option<&[usize]>,
) -> LayerBits {
    let k = rows.bits();
    let po = plane_off(t);
    let mut b1 = vec![false; k * t];
    let mut b2 = vec![false; k * t];
    for tt in 0..t {
        for i in 0..k {
            let c = canon.map_or(i, |m| m[i]);
            b1[c * t + tt] = get_bit(rows.row(tt), i);
            b2[c * t + tt] = get_bit(rows.row(po + tt), i);
        }
    }
    LayerBits {
        layer,
        channels: k,
        positions: t,
        planes,
        b1,
        b2,
        s2: s2[..t].to_vec(),
    }
}

/// Rows of plane 1 occupy `0..n`, plane 2 `plane_off(n)..` (whole blocks each).
pub(super) fn plane_off(rows: usize) -> usize {
    rows.next_multiple_of(ROW_BLOCK)
}
