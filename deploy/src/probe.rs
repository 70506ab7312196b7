//! What kind of board is on the other end: architecture (`uname -m`) and CPU model
//! (`/proc/cpuinfo`), and which runner build it needs.

use serde::{Deserialize, Serialize};

/// The runner builds that exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    Aarch64,
    X86_64,
}

impl Arch {
    /// Map `uname -m` (or a user's spelling) to a runner architecture; `None` for anything
    /// there is no runner for (32-bit ARM, RISC-V, ...).
    pub fn parse(s: &str) -> Option<Arch> {
        match s.trim() {
            "aarch64" | "arm64" | "aarch64_be" => Some(Arch::Aarch64),
            "x86_64" | "amd64" => Some(Arch::X86_64),
            _ => None,
        }
    }

    /// Directory / display name, as in `target/runners/<arch>/bifsmn-runner`.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Aarch64 => "aarch64",
            Arch::X86_64 => "x86_64",
        }
    }

    /// The command that builds this architecture's runner into `target/runners/`.
    pub fn build_command(self) -> &'static str {
        match self {
            Arch::Aarch64 => "packaging/build-runner-aarch64.sh",
            Arch::X86_64 => "packaging/build-runner-host.sh",
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Facts about a board, from one remote command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardFacts {
    /// `uname -m` as printed.
    pub uname_machine: String,
    /// From `/proc/cpuinfo` (`model name`, or a Pi's `Model` plus its core), if readable.
    pub cpu_model: Option<String>,
    /// The runner build this board gets (see [`runner_arch`]).
    pub runner_arch: Arch,
    /// `true` when the runner architecture did not come from `uname -m` but from the profile
    /// (explicit `runner_arch` or a `qemu-<arch>` execution prefix): a test rig.
    pub emulated: bool,
}

/// The remote command that prints `uname -m`, a separator line and `/proc/cpuinfo`.
pub const PROBE_COMMAND: &str = "uname -m; echo '--- cpuinfo'; cat /proc/cpuinfo 2>/dev/null";

/// Split the output of [`PROBE_COMMAND`] into the machine name and the CPU model.
pub fn parse_probe(out: &str) -> (String, Option<String>) {
    let (head, cpuinfo) = out.split_once("--- cpuinfo").unwrap_or((out, ""));
    let machine = head.trim().lines().next().unwrap_or("").trim().to_string();
    (machine, bifsmn_kernels::board::cpu_model(cpuinfo))
}

/// Pick the runner architecture: the profile's explicit `runner_arch`, else `<arch>` from an
/// execution prefix whose program is `qemu-<arch>` (the emulated board of the test rig), else
/// the board's own `uname -m`. Returns the arch and whether it was overridden.
pub fn runner_arch(
    uname_machine: &str,
    explicit: Option<&str>,
    exec_prefix: &[String],
) -> Result<(Arch, bool), String> {
    if let Some(a) = explicit {
        return Arch::parse(a)
            .map(|a| (a, true))
            .ok_or_else(|| format!("runner_arch {a:?} is not aarch64 or x86_64"));
    }
    if let Some(prog) = exec_prefix.first() {
        let base = prog.rsplit('/').next().unwrap_or(prog);
        if let Some(a) = base.strip_prefix("qemu-").and_then(Arch::parse) {
            return Ok((a, true));
        }
    }
    Arch::parse(uname_machine)
        .map(|a| (a, false))
        .ok_or_else(|| uname_machine.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_output_of_a_pi() {
        let out = "aarch64\n--- cpuinfo\nprocessor\t: 0\nCPU part\t: 0xd03\n\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 3 Model B Plus Rev 1.3\n";
        let (m, cpu) = parse_probe(out);
        assert_eq!(m, "aarch64");
        assert!(cpu.unwrap().starts_with("Raspberry Pi 3 Model B Plus"));
        let (m, cpu) = parse_probe("x86_64\n--- cpuinfo\n");
        assert_eq!((m.as_str(), cpu), ("x86_64", None));
    }

    #[test]
    fn arch_choice() {
        let none: Vec<String> = vec![];
        assert_eq!(
            runner_arch("aarch64", None, &none),
            Ok((Arch::Aarch64, false))
        );
        assert_eq!(
            runner_arch("x86_64", None, &none),
            Ok((Arch::X86_64, false))
        );
        assert_eq!(runner_arch("armv7l", None, &none), Err("armv7l".into()));
        let qemu: Vec<String> = ["/usr/bin/qemu-aarch64", "-cpu", "cortex-a53"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            runner_arch("x86_64", None, &qemu),
            Ok((Arch::Aarch64, true))
        );
        assert_eq!(
            runner_arch("x86_64", Some("x86_64"), &qemu),
            Ok((Arch::X86_64, true))
        );
        assert!(runner_arch("x86_64", Some("sparc"), &none).is_err());
        let taskset: Vec<String> = ["taskset", "-c", "1"].map(String::from).to_vec();
        assert_eq!(
            runner_arch("aarch64", None, &taskset),
            Ok((Arch::Aarch64, false))
        );
    }
}
