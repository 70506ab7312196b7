//! Patch extraction plans for the two 2-D convolutions.
//!
//! Inputs are `[y][x][c]` (channel innermost) and patches `[ky][kx][c]`, so for one output
//! position and one kernel row the valid taps are one contiguous run in both: a plan is a list of
//! `(position, dst, src, len)` copies computed once per model. Taps outside the input are never
//! written (they stay zero, and conv2's masks exclude them). The same plan drives float patches
//! (elements are floats) and bit patches (elements are bits).

use crate::bitpack::copy_bits;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub pos: u32,
    /// Element offset inside the patch.
    pub dst: u32,
    /// Element offset inside the input.
    pub src: u32,
    pub len: u32,
}

#[derive(Clone, Debug)]
pub(crate) struct Im2Col {
    pub runs: Vec<Run>,
    /// Output positions.
    pub positions: usize,
    /// Elements per patch (`k * k * c`).
    pub patch: usize,
    /// Valid (inside the input) elements per output position.
    pub valid: Vec<u32>,
}

impl Im2Col {
    /// Plan for input `(h, w, c)`, kernel `k`, stride `s`, padding `p`. Output position order is
    /// `oy * ow + ox`, or `ox * oh + oy` when `time_major` (x is time).
    pub fn new(
        h: usize,
        w: usize,
        c: usize,
        k: usize,
        s: usize,
        p: usize,
        time_major: bool,
    ) -> Self {
        let oh = (h + 2 * p - k) / s + 1;
        let ow = (w + 2 * p - k) / s + 1;
        let mut runs = Vec::new();
        let mut valid = vec![0u32; oh * ow];
        for oy in 0..oh {
            for ox in 0..ow {
                let pos = if time_major {
                    ox * oh + oy
                } else {
                    oy * ow + ox
                };
                for ky in 0..k {
                    let iy = (oy * s + ky) as isize - p as isize;
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    // Taps kx with 0 <= ox*s + kx - p < w.
                    let kx0 = p.saturating_sub(ox * s);
                    let kx1 = k.min((w + p).saturating_sub(ox * s));
                    if kx0 >= kx1 {
                        continue;
                    }
                    let ix0 = ox * s + kx0 - p;
                    let len = (kx1 - kx0) * c;
                    runs.push(Run {
                        pos: pos as u32,
                        dst: ((ky * k + kx0) * c) as u32,
                        src: ((iy as usize * w + ix0) * c) as u32,
                        len: len as u32,
                    });
                    valid[pos] += len as u32;
                }
            }
        }
        Self {
            runs,
            positions: oh * ow,
            patch: k * k * c,
            valid,
        }
    }

    /// The same runs counted in units of `unit` elements (e.g. 16 bits), or `None` if some run
    /// is not unit-aligned.
    pub fn unit_runs(&self, unit: usize) -> Option<Vec<Run>> {
        let u = unit as u32;
        self.runs
            .iter()
            .map(|r| {
                (r.dst % u == 0 && r.src % u == 0 && r.len % u == 0).then_some(Run {
                    pos: r.pos,
                    dst: r.dst / u,
                    src: r.src / u,
                    len: r.len / u,
                })
            })
            .collect()
    }

    /// Float patches: `col[pos * col_stride + dst..]` from `input[src..]`.
    pub fn gather_f32(&self, input: &[f32], col: &mut [f32], col_stride: usize) {
        gather_runs(&self.runs, input, col, col_stride, 0);
    }

    /// Bit patches with arbitrary alignment: `dst` rows are `row_words` apart.
    pub fn gather_bits(&self, src: &[u64], dst: &mut [u64], row_words: usize, row_offset: usize) {
        for r in &self.runs {
            let row = (r.pos as usize + row_offset) * row_words;
            copy_bits(
                src,
                r.src as usize,
                &mut dst[row..row + row_words],
                r.dst as usize,
                r.len as usize,
            );
        }
    }
}

/// Copy each run from `src` into row `pos + row_offset` (rows `row_stride` apart) of `dst`.
#[inline(always)]
pub(crate) fn gather_runs<T: Copy>(
    runs: &[Run],
    src: &[T],
    dst: &mut [T],
    row_stride: usize,
    row_offset: usize,
) {
    for r in runs {
        let d = (r.pos as usize + row_offset) * row_stride + r.dst as usize;
        let s = r.src as usize;
        let n = r.len as usize;
        copy_run(&mut dst[d..d + n], &src[s..s + n]);
    }
}

/// `dst.copy_from_slice(src)` with constant-length copies for short runs: the runs here are a
/// few elements long, where a `memcpy` call costs more than the copy.
#[inline(always)]
fn copy_run<T: Copy>(dst: &mut [T], src: &[T]) {
    macro_rules! fixed {
        ($($n:literal)*) => {
            match src.len() {
                $($n => dst[..$n].copy_from_slice(&src[..$n]),)*
                _ => dst.copy_from_slice(src),
            }
        };
    }
    fixed!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_matches_the_padded_convolution_definition() {
        for (h, w, c, k, s, p, tm) in [
            (32, 32, 1, 5, 2, 2, false),
            (16, 16, 3, 5, 2, 2, true),
            (4, 5, 2, 3, 2, 1, true),
            (7, 3, 1, 3, 1, 0, false),
        ] {
            let plan = Im2Col::new(h, w, c, k, s, p, tm);
            let input: Vec<f32> = (0..h * w * c).map(|i| i as f32 + 1.0).collect();
            let mut col = vec![0.0; plan.positions * plan.patch];
            plan.gather_f32(&input, &mut col, plan.patch);
            assert_eq!(plan.unit_runs(1).unwrap(), plan.runs);
            if c % 2 == 0 {
                let halves = plan.unit_runs(2).unwrap();
                assert!(
                    halves
                        .iter()
                        .zip(&plan.runs)
                        .all(|(h, r)| h.len * 2 == r.len && h.src * 2 == r.src)
                );
            }
            let (oh, ow) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
            for oy in 0..oh {
                for ox in 0..ow {
                    let pos = if tm { ox * oh + oy } else { oy * ow + ox };
                    let mut n = 0;
                    for ky in 0..k {
                        for kx in 0..k {
                            for ch in 0..c {
                                let iy = (oy * s + ky) as isize - p as isize;
                                let ix = (ox * s + kx) as isize - p as isize;
                                let inside =
                                    iy >= 0 && ix >= 0 && iy < h as isize && ix < w as isize;
                                let want = if inside {
                                    input[(iy as usize * w + ix as usize) * c + ch]
                                } else {
                                    0.0
                                };
                                n += inside as u32;
                                assert_eq!(col[pos * plan.patch + (ky * k + kx) * c + ch], want);
                            }
                        }
                    }
                    assert_eq!(plan.valid[pos], n);
                }
            }
        }
    }
}
