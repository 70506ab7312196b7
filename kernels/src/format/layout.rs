//! Wire constants of the `.bkw` format (see `docs/FORMAT.md`): header, section table entries,
//! dtypes, section kinds, and the f16 conversion.

use std::fmt;

/// First 8 bytes of every file.
pub const MAGIC: [u8; 8] = *b"BIFSMNKW";
/// The version of a file without `q8` sections (every file written before `q8` existed).
pub const VERSION: u32 = 1;
/// The version of a file with at least one `q8` section; a reader of version 1 would reject
/// the unknown dtype, so such files say so up front.
pub const VERSION_Q8: u32 = 2;
/// Header bytes (magic, version, section count, file length, flags, reserved).
pub const HEADER_LEN: usize = 32;
/// Bytes per section table entry.
pub const ENTRY_LEN: usize = 24;
/// Bytes of the CRC-32 trailer.
pub const TRAILER_LEN: usize = 4;
/// Section data offsets are multiples of this.
pub const ALIGN: usize = 8;
/// "No layer" / "no path" in a section key.
pub const NONE: u16 = 0xFFFF;
/// Reader limit on the number of sections (a default model has about 80).
pub const MAX_SECTIONS: usize = 4096;
/// Entries in the META section.
pub const META_LEN: usize = 16;
/// Bytes of the FEATURES record.
pub const FEATURES_LEN: usize = 28;

/// Element type of a section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Dtype {
    /// IEEE-754 binary32, little-endian.
    F32 = 1,
    /// IEEE-754 binary16, little-endian.
    F16 = 2,
    /// Bit stream in little-endian u64 words, element `i` at bit `i % 64` of word `i / 64`.
    Bits = 3,
    /// u32, little-endian.
    U32 = 4,
    /// Raw bytes (a record documented per section).
    Bytes = 5,
    /// 8-bit codes on per-group linear grids (see `q8.rs`); version 2 files only.
    Q8 = 6,
}

impl Dtype {
    pub fn from_code(c: u8) -> Option<Dtype> {
        Some(match c {
            1 => Dtype::F32,
            2 => Dtype::F16,
            3 => Dtype::Bits,
            4 => Dtype::U32,
            5 => Dtype::Bytes,
            6 => Dtype::Q8,
            _ => return None,
        })
    }
    pub fn code(self) -> u8 {
        self as u8
    }
    /// Granule of the section length in bytes.
    pub fn unit(self) -> usize {
        match self {
            Dtype::F32 | Dtype::U32 => 4,
            Dtype::F16 => 2,
            Dtype::Bits => 8,
            Dtype::Bytes | Dtype::Q8 => 1,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F16 => "f16",
            Dtype::Bits => "bits",
            Dtype::U32 => "u32",
            Dtype::Bytes => "bytes",
            Dtype::Q8 => "q8",
        }
    }
}

/// Storage type of float sections.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum FloatDtype {
    #[default]
    F32,
    /// Half the bytes; values are rounded to binary16 (changes results slightly).
    F16,
    /// About a quarter of the bytes: 8-bit codes on a linear grid per group (per output channel
    /// for weights, per vector for affines and thresholds). Changes results slightly.
    Q8,
}

impl FloatDtype {
    pub fn dtype(self) -> Dtype {
        match self {
            FloatDtype::F32 => Dtype::F32,
            FloatDtype::F16 => Dtype::F16,
            FloatDtype::Q8 => Dtype::Q8,
        }
    }

    /// Bytes of a section of `n` values (`groups` only matters for `q8`).
    pub fn section_len(self, n: usize, groups: usize) -> usize {
        match self {
            FloatDtype::F32 => 4 * n,
            FloatDtype::F16 => 2 * n,
            FloatDtype::Q8 => super::q8::section_len(n, groups),
        }
    }

    /// Bits per stored value (ignoring the `q8` grids).
    pub fn bits(self) -> u32 {
        match self {
            FloatDtype::F32 => 32,
            FloatDtype::F16 => 16,
            FloatDtype::Q8 => 8,
        }
    }
}

/// Section kinds (the `kind` field of a table entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u16)]
pub enum Kind {
    Meta = 0x0001,
    Labels = 0x0002,
    Features = 0x0003,
    Paths = 0x0004,
    Planes = 0x0005,
    Slopes = 0x0006,
    Conv1Weight = 0x0010,
    Conv1Affine = 0x0011,
    Conv2Weight = 0x0020,
    Conv2Affine = 0x0021,
    Conv2Thresh = 0x0022,
    Fc1Weight = 0x0030,
    Fc1Affine = 0x0031,
    Fc1Thresh = 0x0032,
    MemoryWeight = 0x0040,
    MemoryAffine = 0x0041,
    MemoryThresh = 0x0042,
    ExpandWeight = 0x0050,
    ExpandAffine = 0x0051,
    ExpandThresh = 0x0052,
    ProjectWeight = 0x0060,
    ProjectAffine = 0x0061,
    ProjectThresh = 0x0062,
    ClassifierWeight = 0x0070,
    ClassifierBias = 0x0071,
}

impl Kind {
    pub const ALL: [Kind; 25] = [
        Kind::Meta,
        Kind::Labels,
        Kind::Features,
        Kind::Paths,
        Kind::Planes,
        Kind::Slopes,
        Kind::Conv1Weight,
        Kind::Conv1Affine,
        Kind::Conv2Weight,
        Kind::Conv2Affine,
        Kind::Conv2Thresh,
        Kind::Fc1Weight,
        Kind::Fc1Affine,
        Kind::Fc1Thresh,
        Kind::MemoryWeight,
        Kind::MemoryAffine,
        Kind::MemoryThresh,
        Kind::ExpandWeight,
        Kind::ExpandAffine,
        Kind::ExpandThresh,
        Kind::ProjectWeight,
        Kind::ProjectAffine,
        Kind::ProjectThresh,
        Kind::ClassifierWeight,
        Kind::ClassifierBias,
    ];

    pub fn from_code(c: u16) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| *k as u16 == c)
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Meta => "META",
            Kind::Labels => "LABELS",
            Kind::Features => "FEATURES",
            Kind::Paths => "PATHS",
            Kind::Planes => "PLANES",
            Kind::Slopes => "SLOPES",
            Kind::Conv1Weight => "CONV1_WEIGHT",
            Kind::Conv1Affine => "CONV1_AFFINE",
            Kind::Conv2Weight => "CONV2_WEIGHT",
            Kind::Conv2Affine => "CONV2_AFFINE",
            Kind::Conv2Thresh => "CONV2_THRESH",
            Kind::Fc1Weight => "FC1_WEIGHT",
            Kind::Fc1Affine => "FC1_AFFINE",
            Kind::Fc1Thresh => "FC1_THRESH",
            Kind::MemoryWeight => "MEMORY_WEIGHT",
            Kind::MemoryAffine => "MEMORY_AFFINE",
            Kind::MemoryThresh => "MEMORY_THRESH",
            Kind::ExpandWeight => "EXPAND_WEIGHT",
            Kind::ExpandAffine => "EXPAND_AFFINE",
            Kind::ExpandThresh => "EXPAND_THRESH",
            Kind::ProjectWeight => "PROJECT_WEIGHT",
            Kind::ProjectAffine => "PROJECT_AFFINE",
            Kind::ProjectThresh => "PROJECT_THRESH",
            Kind::ClassifierWeight => "CLASSIFIER_WEIGHT",
            Kind::ClassifierBias => "CLASSIFIER_BIAS",
        }
    }
}

/// Identity of a section: kind plus layer and path (or [`NONE`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub kind: u16,
    pub layer: u16,
    pub path: u16,
}

impl Key {
    pub fn global(kind: Kind) -> Key {
        Key {
            kind: kind as u16,
            layer: NONE,
            path: NONE,
        }
    }
    pub fn layer(kind: Kind, layer: usize) -> Key {
        Key {
            kind: kind as u16,
            layer: layer as u16,
            path: NONE,
        }
    }
    pub fn layer_path(kind: Kind, layer: usize, path: usize) -> Key {
        Key {
            kind: kind as u16,
            layer: layer as u16,
            path: path as u16,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Kind::from_code(self.kind) {
            Some(k) => f.write_str(k.name())?,
            None => write!(f, "kind 0x{:04x}", self.kind)?,
        }
        if self.layer != NONE {
            write!(f, " (layer {}", self.layer)?;
            if self.path != NONE {
                write!(f, ", path {}", self.path)?;
            }
            f.write_str(")")?;
        } else if self.path != NONE {
            write!(f, " (path {})", self.path)?;
        }
        Ok(())
    }
}

/// IEEE binary16 bits to f32 (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: value = man * 2^-24, exact in f32.
            let v = man as f32 * f32::from_bits(0x3380_0000); // 2^-24
            return if sign != 0 { -v } else { v };
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, _) => sign | 0x7fc0_0000 | (man << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// f32 to IEEE binary16 bits, round to nearest even; `None` if a finite value overflows.
pub fn f32_to_f16(v: f32) -> Option<u16> {
    let x = v.to_bits();
    let sign = ((x >> 16) & 0x8000) as u16;
    let exp = ((x >> 23) & 0xff) as i32;
    let man = x & 0x7f_ffff;
    if exp == 0xff {
        return Some(sign | 0x7c00 | if man != 0 { 0x200 } else { 0 });
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return None;
    }
    if e <= 0 {
        // Subnormal half (or zero): shift the full mantissa, rounding to nearest even.
        if e < -10 {
            return Some(sign);
        }
        let full = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = full >> shift;
        let rem = full & ((1 << shift) - 1);
        let mid = 1 << (shift - 1);
        let round = rem > mid || (rem == mid && half & 1 == 1);
        return Some(sign | (half + round as u32) as u16);
    }
    let half = ((e as u32) << 10) | (man >> 13);
    let rem = man & 0x1fff;
    let round = rem > 0x1000 || (rem == 0x1000 && half & 1 == 1);
    let r = half + round as u32;
    if r >= 0x7c00 {
        return None;
    }
    Some(sign | r as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_half_round_trips() {
        for h in 0..=u16::MAX {
            let f = f16_to_f32(h);
            if f.is_nan() {
                assert!(f32_to_f16(f).is_some_and(|b| f16_to_f32(b).is_nan()));
                continue;
            }
            assert_eq!(f32_to_f16(f), Some(h), "half 0x{h:04x} = {f}");
        }
    }

    #[test]
    fn rounding_is_to_nearest_even() {
        assert_eq!(f32_to_f16(1.0), Some(0x3c00));
        // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1.0).
        assert_eq!(f32_to_f16(1.0 + 2f32.powi(-11)), Some(0x3c00));
        assert_eq!(f32_to_f16(1.0 + 3.0 * 2f32.powi(-11)), Some(0x3c02));
        assert_eq!(f32_to_f16(65504.0), Some(0x7bff));
        assert_eq!(f32_to_f16(65520.0), None);
        assert_eq!(f32_to_f16(1e-9), Some(0));
        assert_eq!(f16_to_f32(f32_to_f16(0.1).unwrap()), 0.099975586);
    }

    #[test]
    fn kinds_and_dtypes_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::from_code(k as u16), Some(k));
        }
        for c in 0..=255u8 {
            if let Some(d) = Dtype::from_code(c) {
                assert_eq!(d.code(), c);
            }
        }
        assert_eq!(
            Key::layer_path(Kind::ProjectAffine, 3, 1).to_string(),
            "PROJECT_AFFINE (layer 3, path 1)"
        );
    }
}
