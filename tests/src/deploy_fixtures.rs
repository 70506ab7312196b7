//! Files for the deploy tests: synthetic packed models, a WAV clip, fake runners, and where
//! the real aarch64 runner is.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bifsmn_deploy::{Arch, RunnerLocator, workspace_runners_dir};
use bifsmn_kernels::format::PackedModel;
use bifsmn_kernels::synth::SynthSpec;
use bifsmn_kernels::weights::Precision;

/// Write a deterministic random model to `path`: the paper's 12-class binary student, or
/// the tiny network (`tiny`), from `seed`.
pub fn synth_model(path: &Path, tiny: bool, seed: u64) -> PathBuf {
    let spec = if tiny {
        SynthSpec::tiny(Precision::Binary)
    } else {
        SynthSpec::paper(Precision::Binary)
    };
    let model = PackedModel::from_weights(&spec.weights(seed)).expect("pack synthetic model");
    model.save(path).expect("save synthetic model");
    path.to_path_buf()
}

/// A valid but large (about 32 MB, FP32) model, so an upload takes long enough to be cut off
/// in the middle.
pub fn large_model(path: &Path) -> PathBuf {
    let mut spec = SynthSpec::tiny(Precision::Float);
    spec.layers = 2;
    spec.memory = 1024;
    spec.hidden = 2048;
    let model = PackedModel::from_weights(&spec.weights(7)).expect("pack large model");
    model.save(path).expect("save large model");
    path.to_path_buf()
}

/// A mono 16-bit PCM WAV of `seconds` of a quiet chirp at `rate` Hz.
pub fn write_wav(path: &Path, rate: u32, seconds: f32) -> PathBuf {
    let n = (rate as f32 * seconds) as u32;
    let chirp: Vec<f32> = (0..n)
        .map(|i| {
            let t = i as f32 / rate as f32;
            0.2 * (2.0 * std::f32::consts::PI * (300.0 + 900.0 * t) * t).sin()
        })
        .collect();
    bifsmn_engine::audio::write_wav_atomic(path, &chirp, rate).expect("write wav");
    path.to_path_buf()
}

/// Run `bin` with `args` (in `cwd` when given), with everything it reads or writes about
/// boards, known hosts and ssh config under `home` (never the user's `~/.ssh`), no ssh-agent
/// and no stdin. Returns the exit code, stdout and stderr.
pub fn run_isolated_cli(
    bin: &Path,
    home: &Path,
    cwd: Option<&Path>,
    args: &[&str],
) -> (Option<i32>, String, String) {
    let mut cmd = std::process::Command::new(bin);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = cmd
        .args(args)
        .env("BIFSMN_CONFIG_DIR", home.join("config"))
        .env("BIFSMN_DATA_DIR", home.join("data"))
        .env("BIFSMN_KNOWN_HOSTS", home.join("known_hosts"))
        .env("BIFSMN_SSH_CONFIG", home.join("ssh_config"))
        .env_remove("SSH_AUTH_SOCK")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the bifsmn binary");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The real aarch64 runner built by `packaging/build-runner-aarch64.sh`, or `None` with a note
/// saying how to build it (the test is then skipped).
pub fn aarch64_runner() -> Option<RunnerLocator> {
    let loc = RunnerLocator::only(workspace_runners_dir());
    match loc.find(Arch::Aarch64) {
        Ok(_) => Some(loc),
        Err(e) => {
            println!("note: {e}; test skipped");
            None
        }
    }
}

/// Whether `qemu-aarch64` is installed (the emulated board needs it).
pub fn qemu_available() -> bool {
    let ok = std::process::Command::new("qemu-aarch64")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!("note: qemu-aarch64 not installed; test skipped");
    }
    ok
}

/// A runner directory whose x86_64 "runner" is the given shell script (for a board without an
/// execution prefix on this x86_64 machine).
pub fn fake_runner_dir(dir: &Path, script: &str) -> RunnerLocator {
    let bin = dir.join("x86_64/bifsmn-runner");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::write(&bin, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    RunnerLocator::only(dir)
}

/// The `bifsmn` binary next to the running test binary (built by `cargo test --workspace`);
/// `None`, with a note, when it has not been built.
pub fn bifsmn_bin() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("bifsmn");
    if bin.is_file() {
        Some(bin)
    } else {
        println!("note: {} not built; CLI test skipped", bin.display());
        None
    }
}
