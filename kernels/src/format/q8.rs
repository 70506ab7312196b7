//! The `q8` float encoding (`docs/FORMAT.md`, "The `q8` encoding"): a float section split into
//! equal groups, each stored as 8-bit codes on its own linear grid `value = base + step * code`.
//!
//! The format allows any finite `base` and `step`. The reference writer picks `step` as a power
//! of two and `base` as a multiple of it, so every decoded value is exact in f32 and encoding
//! decoded values again gives back the same values: a model read from a `q8` file and written
//! again is unchanged, which the round-trip tests rely on.

/// Bytes before the groups' grids: the u32 group count.
const COUNT_LEN: usize = 4;
/// Bytes of one group's grid: f32 `base`, f32 `step`.
const GRID_LEN: usize = 8;
/// Largest code.
const MAX_CODE: f64 = 255.0;
/// `|base / step|` stays below this so that `base + step * code` is exact in f32 (24-bit
/// significand).
const EXACT_LIMIT: f64 = (1u64 << 24) as f64 - 256.0;

/// Bytes of a `q8` section holding `n` values in `groups` groups.
pub fn section_len(n: usize, groups: usize) -> usize {
    COUNT_LEN + GRID_LEN * groups + n
}

/// Encode `v` (finite values) as `groups` equal groups. `Err(i)`: value `i` cannot be stored
/// (its group spans more than f32 can step across in 255 codes).
pub fn encode(v: &[f32], groups: usize) -> Result<Vec<u8>, usize> {
    let groups = groups.max(1);
    debug_assert!(
        v.len().is_multiple_of(groups),
        "groups must divide the values"
    );
    let per = v.len() / groups;
    let mut grids = Vec::with_capacity(GRID_LEN * groups);
    let mut codes = Vec::with_capacity(v.len());
    for (g, chunk) in v.chunks(per.max(1)).enumerate().take(groups) {
        let (grid, group_codes) = encode_group(chunk).map_err(|i| g * per + i)?;
        grids.extend_from_slice(&grid.0.to_le_bytes());
        grids.extend_from_slice(&grid.1.to_le_bytes());
        codes.extend_from_slice(&group_codes);
    }
    // Empty groups (a section without values) still declare their grid.
    while grids.len() < GRID_LEN * groups {
        grids.extend_from_slice(&[0; GRID_LEN]);
    }
    let mut out = Vec::with_capacity(section_len(v.len(), groups));
    out.extend_from_slice(&(groups as u32).to_le_bytes());
    out.extend_from_slice(&grids);
    out.extend_from_slice(&codes);
    Ok(out)
}

/// One group's grid and codes. The grid is then re-chosen for the decoded values until it no
/// longer changes (at most a few rounds: a step only ever settles once the values sit on its
/// grid), so that encoding the decoded values again gives the same bytes.
fn encode_group(values: &[f32]) -> Result<((f32, f32), Vec<u8>), usize> {
    let mut grid = choose_grid(values);
    let mut codes = quantize(values, grid);
    for _ in 0..8 {
        let decoded = decode_group(grid, &codes);
        if let Some(i) = decoded.iter().position(|x| !x.is_finite()) {
            return Err(i);
        }
        let again = choose_grid(&decoded);
        if again == grid {
            break;
        }
        codes = quantize(&decoded, again);
        grid = again;
    }
    Ok((grid, codes))
}

/// The nearest code of each value on `(base, step)`.
fn quantize(values: &[f32], (base, step): (f32, f32)) -> Vec<u8> {
    values
        .iter()
        .map(|&x| {
            if step == 0.0 {
                return 0;
            }
            let code = ((f64::from(x) - f64::from(base)) / f64::from(step)).round();
            code.clamp(0.0, MAX_CODE) as u8
        })
        .collect()
}

fn decode_group((base, step): (f32, f32), codes: &[u8]) -> Vec<f32> {
    codes.iter().map(|&c| decode_one(base, step, c)).collect()
}

/// The value of `code` on the grid `(base, step)`: `base + step * code`, two f32 operations in
/// that order, no fused multiply-add.
fn decode_one(base: f32, step: f32, code: u8) -> f32 {
    base + step * f32::from(code)
}

/// The writer's grid for one group: a power-of-two step just large enough for 255 codes to span
/// the group, and the largest multiple of it at or below the minimum.
fn choose_grid(values: &[f32]) -> (f32, f32) {
    let lo = values.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if values.is_empty() || lo == hi {
        return (values.first().copied().unwrap_or(0.0), 0.0);
    }
    let (lo, hi) = (f64::from(lo), f64::from(hi));
    // The smallest f32 step is the smallest subnormal; start at the power of two that could
    // span the range and double until the codes fit and the decode is exact.
    let mut exp = ((hi - lo) / MAX_CODE).log2().ceil().max(-149.0) as i32;
    loop {
        let step = 2f64.powi(exp);
        let base = (lo / step).floor() * step;
        let top = ((hi - base) / step).round();
        if top <= MAX_CODE && (base / step).abs() <= EXACT_LIMIT {
            return (base as f32, step as f32);
        }
        exp += 1;
    }
}

/// Decode a `q8` section that must hold `count` values. `Err`: what is wrong, for the
/// section's error message.
pub fn decode(data: &[u8], count: usize) -> Result<Vec<f32>, String> {
    let Some(head) = data.get(..COUNT_LEN) else {
        return Err(format!(
            "holds {} bytes, too short for the q8 group count",
            data.len()
        ));
    };
    let groups = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    if groups == 0 {
        return Err("q8 group count is 0".into());
    }
    if groups > count.max(1) || !count.is_multiple_of(groups) {
        return Err(format!(
            "q8 group count {groups} does not divide the {count} values into equal groups"
        ));
    }
    let want = GRID_LEN
        .checked_mul(groups)
        .and_then(|g| g.checked_add(COUNT_LEN))
        .and_then(|g| g.checked_add(count));
    if want != Some(data.len()) {
        return Err(format!(
            "holds {} bytes, expected {} ({count} values in {groups} q8 groups)",
            data.len(),
            want.map_or_else(|| "more than fit in memory".to_owned(), |w| w.to_string())
        ));
    }
    let (grids, codes) = data[COUNT_LEN..].split_at(GRID_LEN * groups);
    let per = count / groups;
    let mut out = Vec::with_capacity(count);
    for (g, grid) in grids.chunks_exact(GRID_LEN).enumerate() {
        let base = f32::from_le_bytes([grid[0], grid[1], grid[2], grid[3]]);
        let step = f32::from_le_bytes([grid[4], grid[5], grid[6], grid[7]]);
        if !base.is_finite() || !step.is_finite() {
            return Err(format!(
                "q8 group {g} has a non-finite grid (base {base}, step {step})"
            ));
        }
        out.extend(decode_group((base, step), &codes[g * per..(g + 1) * per]));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(v: &[f32], groups: usize) -> Vec<f32> {
        let bytes = encode(v, groups).unwrap();
        assert_eq!(bytes.len(), section_len(v.len(), groups));
        decode(&bytes, v.len()).unwrap()
    }

    /// Deterministic values of mixed magnitude and sign.
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) as f32 * 3.7
            })
            .collect()
    }

    #[test]
    fn error_is_at_most_half_a_step_of_each_group() {
        let mut v = values(64, 1);
        // The second group spans a range 1000 times smaller: its own grid keeps it precise.
        for x in &mut v[32..] {
            *x *= 1e-3;
        }
        let back = round_trip(&v, 2);
        for (g, (orig, got)) in [(&v[..32], &back[..32]), (&v[32..], &back[32..])]
            .into_iter()
            .enumerate()
        {
            let lo = orig.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = orig.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            // The power-of-two step is below twice the ideal (hi - lo) / 255.
            let bound = (hi - lo) / 255.0;
            for (a, b) in orig.iter().zip(got) {
                assert!(
                    (a - b).abs() <= bound,
                    "group {g}: {a} -> {b} (bound {bound})"
                );
            }
        }
    }

    #[test]
    fn encoding_decoded_values_again_gives_the_same_bytes() {
        for seed in 0..200 {
            let mut v = values(96, seed);
            // Ranges just around the points where the writer's step doubles.
            let scale = 1.0 + (seed % 7) as f32 * 0.01;
            v.iter_mut().for_each(|x| *x *= scale);
            let first = encode(&v, 3).unwrap();
            let once = decode(&first, v.len()).unwrap();
            assert_eq!(encode(&once, 3).unwrap(), first, "seed {seed}");
        }
    }

    #[test]
    fn constant_and_empty_groups_are_exact() {
        assert_eq!(round_trip(&[0.25; 8], 2), vec![0.25; 8]);
        assert_eq!(round_trip(&[], 1), Vec::<f32>::new());
        assert_eq!(round_trip(&[-7.5], 1), vec![-7.5]);
    }

    #[test]
    fn far_from_zero_and_huge_ranges_stay_finite() {
        let v = [1e30, 1e30 + 1e24, 1.0000001e30, 1e30];
        let back = round_trip(&v, 1);
        for (a, b) in v.iter().zip(&back) {
            assert!((a - b).abs() <= 1e30 * 1e-6, "{a} -> {b}");
        }
        let wide = [-3.0e38, 3.0e38];
        assert!(
            encode(&wide, 1).is_err(),
            "a range beyond f32 cannot be stored"
        );
    }

    #[test]
    fn bad_sections_name_what_is_wrong() {
        let good = encode(&[1.0, 2.0, 3.0, 4.0], 2).unwrap();
        assert!(decode(&good[..3], 4).unwrap_err().contains("too short"));
        let mut zero = good.clone();
        zero[..4].copy_from_slice(&0u32.to_le_bytes());
        assert!(decode(&zero, 4).unwrap_err().contains("group count is 0"));
        let mut three = good.clone();
        three[..4].copy_from_slice(&3u32.to_le_bytes());
        assert!(decode(&three, 4).unwrap_err().contains("equal groups"));
        let mut huge = good.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge, 4).unwrap_err().contains("equal groups"));
        assert!(decode(&good, 5).unwrap_err().contains("equal groups"));
        assert!(
            decode(&good[..good.len() - 1], 4)
                .unwrap_err()
                .contains("expected")
        );
        let mut nan = good.clone();
        nan[4..8].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(decode(&nan, 4).unwrap_err().contains("non-finite grid"));
    }

    #[test]
    fn the_documented_example_has_the_documented_bytes() {
        // docs/FORMAT.md, "The q8 encoding": 4 values in 2 groups.
        let bytes = encode(&[0.0, 1.0, -2.0, -1.0], 2).unwrap();
        let want: [u8; 24] = [
            2, 0, 0, 0, // g
            0, 0, 0, 0, 0, 0, 0, 0x3C, // base 0.0, step 2^-7
            0, 0, 0, 0xC0, 0, 0, 0, 0x3C, // base -2.0, step 2^-7
            0, 0x80, 0, 0x80, // codes
        ];
        assert_eq!(bytes, want);
        assert_eq!(decode(&bytes, 4).unwrap(), vec![0.0, 1.0, -2.0, -1.0]);
    }
}
