//! Which instruction set the kernels use, detected once at run time.

use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// An implementation family of the bit kernels (serialised as [`Isa::name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Portable Rust, `u64::count_ones`. Always available; the reference for every test.
    Scalar,
    /// x86-64 AVX2: nibble-lookup popcount (`vpshufb`) + `vpsadbw`.
    Avx2,
    /// x86-64 AVX-512F + BW without VPOPCNTDQ: the nibble lookup on 512-bit vectors.
    Avx512Bw,
    /// x86-64 AVX-512F + VPOPCNTDQ: native 64-bit lane popcount.
    Avx512Vpopcnt,
    /// aarch64 ARMv8.0 Advanced SIMD (`eor`/`cnt`/`uadalp`/`addp`): no dotprod, no SVE, so it
    /// runs on a Cortex-A53 (Raspberry Pi 3).
    Neon,
}

impl Isa {
    /// Every variant, in order of preference from worst to best.
    pub const ALL: [Isa; 5] = [
        Isa::Scalar,
        Isa::Avx2,
        Isa::Avx512Bw,
        Isa::Avx512Vpopcnt,
        Isa::Neon,
    ];

    /// Short stable name (used in reports and on the command line).
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512Bw => "avx512bw",
            Isa::Avx512Vpopcnt => "avx512vpopcntdq",
            Isa::Neon => "neon",
        }
    }

    /// Parse a name produced by [`Isa::name`].
    pub fn from_name(name: &str) -> Option<Isa> {
        Isa::ALL.into_iter().find(|i| i.name() == name)
    }

    /// Whether this CPU can run the variant.
    pub fn is_supported(self) -> bool {
        match self {
            Isa::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Bw => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vpopcnt => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vpopcntdq")
            }
            // Advanced SIMD is part of the aarch64-unknown-linux-gnu baseline.
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The variants this CPU supports, scalar first.
    pub fn available() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_supported()).collect()
    }

    /// The fastest supported variant, detected on the first call and cached.
    pub fn best() -> Isa {
        static BEST: OnceLock<Isa> = OnceLock::new();
        *BEST.get_or_init(|| {
            Isa::available()
                .into_iter()
                .next_back()
                .unwrap_or(Isa::Scalar)
        })
    }
}

impl Serialize for Isa {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Isa {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Isa::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown ISA '{name}'")))
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether the float kernels may use fused multiply-add on this CPU.
///
/// The FP32 baseline path uses FMA where the hardware has it (x86 FMA3, always on aarch64) so
/// that the baseline is honest. The binary path's small float parts never fuse: that keeps its
/// output bit-identical on every ISA and on both architectures.
pub fn has_fma() -> bool {
    static FMA: OnceLock<bool> = OnceLock::new();
    *FMA.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("fma")
                && std::arch::is_x86_feature_detected!("avx2")
        }
        #[cfg(target_arch = "aarch64")]
        {
            true
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            false
        }
    })
}
