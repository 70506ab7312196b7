//! Facts about the machine a runner executes on (for reports): architecture, CPU model, CPU
//! features, chosen kernel ISA, memory high-water mark. Linux `/proc` files are read when they
//! exist; everything degrades to `None` elsewhere.

use serde::Serialize;

use crate::isa::Isa;

/// What the board report says about the machine.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BoardInfo {
    /// `std::env::consts::ARCH` (`x86_64`, `aarch64`).
    pub arch: String,
    pub os: String,
    /// From `/proc/cpuinfo`: `model name` (x86), else `Model` (Raspberry Pi), else the ARM part
    /// number mapped to a core name.
    pub cpu_model: Option<String>,
    /// Relevant CPU features detected at run time.
    pub cpu_features: Vec<String>,
    pub logical_cpus: usize,
    /// `/proc/sys/kernel/osrelease`.
    pub kernel: Option<String>,
    /// The bit-kernel ISA [`Isa::best`] picked, and all this CPU supports.
    pub isa: Isa,
    pub isa_available: Vec<Isa>,
}

impl BoardInfo {
    /// Probe the current machine.
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok();
        Self {
            arch: std::env::consts::ARCH.into(),
            os: std::env::consts::OS.into(),
            cpu_model: cpuinfo.as_deref().and_then(cpu_model),
            cpu_features: cpu_features(),
            logical_cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|s| s.trim().to_owned()),
            isa: Isa::best(),
            isa_available: Isa::available(),
        }
    }
}

fn field<'a>(cpuinfo: &'a str, name: &str) -> Option<&'a str> {
    cpuinfo.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == name)
            .then(|| v.trim())
            .filter(|v| !v.is_empty())
    })
}

/// Core names of common ARM part numbers (implementer 0x41).
fn arm_core(part: &str) -> Option<&'static str> {
    let p = u32::from_str_radix(part.trim_start_matches("0x"), 16).ok()?;
    Some(match p {
        0xd03 => "Cortex-A53",
        0xd04 => "Cortex-A35",
        0xd05 => "Cortex-A55",
        0xd07 => "Cortex-A57",
        0xd08 => "Cortex-A72",
        0xd09 => "Cortex-A73",
        0xd0a => "Cortex-A75",
        0xd0b => "Cortex-A76",
        0xd0c => "Neoverse-N1",
        0xd0d => "Cortex-A77",
        0xd41 => "Cortex-A78",
        0xd46 => "Cortex-A510",
        0xd47 => "Cortex-A710",
        _ => return None,
    })
}

/// The CPU model line of a `/proc/cpuinfo` text.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    if let Some(m) = field(cpuinfo, "model name") {
        return Some(m.to_owned());
    }
    let core = field(cpuinfo, "CPU part").and_then(arm_core);
    match (field(cpuinfo, "Model"), core) {
        (Some(board), Some(core)) => Some(format!("{board} ({core})")),
        (Some(board), None) => Some(board.to_owned()),
        (None, Some(core)) => Some(core.to_owned()),
        (None, None) => field(cpuinfo, "Hardware").map(str::to_owned),
    }
}

/// CPU features that matter for these kernels, as detected by the standard library.
pub fn cpu_features() -> Vec<String> {
    #[allow(unused_mut)]
    let mut v: Vec<&str> = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! probe {
            ($($f:tt),*) => {$(if std::arch::is_x86_feature_detected!($f) { v.push($f); })*};
        }
        probe!(
            "popcnt",
            "sse4.2",
            "avx",
            "avx2",
            "fma",
            "bmi2",
            "avx512f",
            "avx512bw",
            "avx512vl",
            "avx512vpopcntdq",
            "avx512vnni"
        );
    }
    #[cfg(target_arch = "aarch64")]
    {
        macro_rules! probe {
            ($($f:tt),*) => {$(if std::arch::is_aarch64_feature_detected!($f) { v.push($f); })*};
        }
        probe!(
            "neon", "fp16", "crc", "lse", "rdm", "dotprod", "i8mm", "bf16", "sve", "sve2"
        );
    }
    v.into_iter().map(String::from).collect()
}

/// Peak resident set size (`VmHWM`) and current (`VmRSS`) in KiB, from `/proc/self/status`.
pub fn memory_kib() -> (Option<u64>, Option<u64>) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |name: &str| {
        status.lines().find_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix(':')?;
            rest.trim().trim_end_matches("kB").trim().parse().ok()
        })
    };
    (kib("VmHWM"), kib("VmRSS"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_model_lines() {
        assert_eq!(
            cpu_model("processor\t: 0\nmodel name\t: AMD EPYC\n").as_deref(),
            Some("AMD EPYC")
        );
        let pi = "processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd03\n\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 3 Model B Plus Rev 1.3\n";
        assert_eq!(
            cpu_model(pi).as_deref(),
            Some("Raspberry Pi 3 Model B Plus Rev 1.3 (Cortex-A53)")
        );
        assert_eq!(
            cpu_model("CPU part\t: 0xd08\n").as_deref(),
            Some("Cortex-A72")
        );
        assert_eq!(cpu_model(""), None);
    }

    #[test]
    fn detect_reports_this_machine() {
        let b = BoardInfo::detect();
        assert_eq!(b.arch, std::env::consts::ARCH);
        assert!(b.logical_cpus >= 1);
        assert!(b.isa_available.contains(&b.isa));
        #[cfg(target_os = "linux")]
        assert!(memory_kib().0.is_some());
    }
}
