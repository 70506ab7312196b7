//! The devices a run can train on: burn's CPU backends always, and its GPU backends (wgpu,
//! CUDA) when this build has their cargo features. Opening a GPU device here, and not at the
//! first tensor operation, turns a missing driver into an error that names what to install
//! instead of a panic on the trainer thread.

#[cfg(any(feature = "wgpu", feature = "cuda"))]
use std::panic::{AssertUnwindSafe, catch_unwind};

use burn::prelude::Device;
use serde::Serialize;

use super::config::Backend;

/// Why a backend's device cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(
        "the {backend} backend is not in this build of bifsmn: rebuild with `cargo build --features {backend}` (see docs/SCALE.md, \"GPU backends\")"
    )]
    NotCompiled { backend: &'static str },
    #[error("{backend} found no device: {hint}")]
    NoDevice {
        backend: &'static str,
        hint: &'static str,
    },
    #[error("{backend} has no device #{index}: it found {found}; `bifsmn devices` lists them")]
    NoSuchIndex {
        backend: &'static str,
        index: usize,
        found: usize,
    },
    #[error("the CPU backend {backend} has one device; device {index} does not exist")]
    CpuIndex { backend: &'static str, index: usize },
    #[error("{backend} device {name} could not be opened: {reason}")]
    Open {
        backend: &'static str,
        name: String,
        reason: String,
    },
}

/// What to install when a backend finds no device.
#[cfg_attr(not(feature = "wgpu"), allow(dead_code))]
const WGPU_HINT: &str = "wgpu needs a Vulkan, Metal or DX12 driver; on Debian/Ubuntu install your GPU's Vulkan driver, or Mesa's software one for testing (`apt-get install mesa-vulkan-drivers libvulkan1`)";
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
const CUDA_HINT: &str =
    "CUDA needs an NVIDIA GPU and its driver (libcuda.so); none was found on this machine";

/// One device a run can train on, as `bifsmn devices` and the Train form list it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeviceInfo {
    pub backend: Backend,
    /// Its number among the backend's devices (`--device`); `None` for a CPU backend, which
    /// has one device.
    pub index: Option<usize>,
    /// The device as its driver names it (`llvmpipe (LLVM 15.0.6, 256 bits)`, `NVIDIA ...`).
    pub name: String,
    /// A GPU card, or the CPU (CPU backends, and software drivers such as lavapipe).
    pub on_cpu: bool,
}

impl DeviceInfo {
    /// One line for a list: `wgpu #0  llvmpipe (LLVM 15.0.6, 256 bits) (software)`.
    pub fn label(&self) -> String {
        let at = self.index.map(|i| format!(" #{i}")).unwrap_or_default();
        let software = if self.on_cpu && self.backend.is_gpu() {
            " (software, runs on the CPU)"
        } else {
            ""
        };
        format!("{}{at}: {}{software}", self.backend.name(), self.name)
    }
}

/// A backend and whether this build has it, for listings that also show what is missing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BackendStatus {
    pub backend: Backend,
    /// Built in; otherwise `feature` is the cargo feature that adds it.
    pub compiled: bool,
    pub feature: Option<&'static str>,
}

/// Every backend, compiled in or not.
pub fn backend_statuses() -> Vec<BackendStatus> {
    Backend::ALL
        .iter()
        .map(|&backend| BackendStatus {
            backend,
            compiled: backend.is_compiled(),
            feature: backend.is_gpu().then(|| backend.name()),
        })
        .collect()
}

/// Every device this build can train on, CPU backends first. Opens each GPU device to ask its
/// name (a fraction of a second each); a GPU device that fails to open is left out, and a GPU
/// backend with no device contributes nothing.
pub fn list_devices() -> Vec<DeviceInfo> {
    let mut out = vec![
        DeviceInfo {
            backend: Backend::Flex,
            index: None,
            name: "CPU (burn flex)".into(),
            on_cpu: true,
        },
        DeviceInfo {
            backend: Backend::Ndarray,
            index: None,
            name: "CPU (burn ndarray)".into(),
            on_cpu: true,
        },
    ];
    for backend in [Backend::Wgpu, Backend::Cuda] {
        for (index, device) in gpu_devices(backend).into_iter().enumerate() {
            if let Ok((name, on_cpu)) = identify(backend, &device) {
                out.push(DeviceInfo {
                    backend,
                    index: Some(index),
                    name,
                    on_cpu,
                });
            }
        }
    }
    out
}

/// The plain (no autodiff) device of `backend`: its default device when `index` is `None`,
/// else its `index`th as [`list_devices`] numbers them. A GPU device is opened here, so a
/// missing or broken driver is this error rather than a panic at the first tensor.
pub fn open_device(backend: Backend, index: Option<usize>) -> Result<Device, BackendError> {
    if !backend.is_compiled() {
        return Err(BackendError::NotCompiled {
            backend: backend.name(),
        });
    }
    match backend {
        Backend::Flex | Backend::Ndarray => {
            if let Some(index) = index.filter(|&i| i != 0) {
                return Err(BackendError::CpuIndex {
                    backend: backend.name(),
                    index,
                });
            }
            Ok(cpu_device(backend))
        }
        Backend::Wgpu | Backend::Cuda => {
            let found = gpu_devices(backend);
            if found.is_empty() {
                return Err(BackendError::NoDevice {
                    backend: backend.name(),
                    hint: hint(backend),
                });
            }
            let device = match index {
                None => default_gpu_device(backend),
                Some(i) => Some(found.get(i).cloned().ok_or(BackendError::NoSuchIndex {
                    backend: backend.name(),
                    index: i,
                    found: found.len(),
                })?),
            }
            .ok_or(BackendError::NotCompiled {
                backend: backend.name(),
            })?;
            identify(backend, &device)?;
            Ok(device)
        }
    }
}

fn cpu_device(backend: Backend) -> Device {
    match backend {
        Backend::Ndarray => {
            #[allow(deprecated)] // kept as the comparison backend
            Device::ndarray()
        }
        _ => Device::flex(),
    }
}

#[cfg_attr(not(any(feature = "wgpu", feature = "cuda")), allow(dead_code))]
fn hint(backend: Backend) -> &'static str {
    match backend {
        Backend::Cuda => CUDA_HINT,
        _ => WGPU_HINT,
    }
}

/// The GPU devices of `backend` that this build reaches, in burn's enumeration order (the
/// numbering of `--device`). Empty for a backend not compiled in.
fn gpu_devices(backend: Backend) -> Vec<Device> {
    match backend {
        #[cfg(feature = "wgpu")]
        Backend::Wgpu => wgpu_apis::devices(),
        #[cfg(feature = "cuda")]
        Backend::Cuda => Device::enumerate(burn::tensor::DeviceType::Cuda).into_vec(),
        _ => Vec::new(),
    }
}

/// The device burn picks for `backend` by itself (wgpu prefers a high-power GPU; CUDA takes
/// device 0). `None` for a backend not compiled in.
fn default_gpu_device(backend: Backend) -> Option<Device> {
    match backend {
        #[cfg(feature = "wgpu")]
        Backend::Wgpu => wgpu_apis::default_device(),
        #[cfg(feature = "cuda")]
        Backend::Cuda => Some(Device::cuda(burn::prelude::DeviceIndex::Default)),
        _ => None,
    }
}

/// wgpu devices pinned to the graphics APIs training works on. burn's `Device::wgpu` leaves the
/// API to wgpu, which falls back to OpenGL where Vulkan has no device; burn's reductions need
/// float atomics that OpenGL lacks, and training there panics inside the runtime ("Atomic add
/// not supported by the client for f32", seen with llvmpipe's OpenGL). So OpenGL is never used.
#[cfg(feature = "wgpu")]
mod wgpu_apis {
    use burn::backend::{CubeDevice, WgpuBackend, WgpuDevice, WgpuDeviceKind};
    use burn::prelude::Device;

    #[cfg(target_os = "macos")]
    const APIS: &[WgpuBackend] = &[WgpuBackend::Metal];
    #[cfg(target_os = "windows")]
    const APIS: &[WgpuBackend] = &[WgpuBackend::Vulkan, WgpuBackend::Dx12];
    #[cfg(not(any(target_os = "macos", target_os = "windows")))]
    const APIS: &[WgpuBackend] = &[WgpuBackend::Vulkan];

    /// Every adapter of every API in [`APIS`], each kind of adapter in turn.
    pub(super) fn devices() -> Vec<Device> {
        APIS.iter().flat_map(|&api| on(api)).collect()
    }

    /// wgpu's pick (a high-power GPU first) on the first API that has any device.
    pub(super) fn default_device() -> Option<Device> {
        let api = APIS.iter().copied().find(|&api| !on(api).is_empty())?;
        Some(Device::new(CubeDevice::Wgpu(
            WgpuDevice::new(WgpuDeviceKind::DefaultDevice).on(api),
        )))
    }

    fn on(api: WgpuBackend) -> Vec<Device> {
        let mut found: Vec<Device> = Vec::new();
        for kind in [
            WgpuDeviceKind::DiscreteGpu(0),
            WgpuDeviceKind::IntegratedGpu(0),
            WgpuDeviceKind::VirtualGpu(0),
            WgpuDeviceKind::Cpu,
            WgpuDeviceKind::Other(0),
        ] {
            let seed = CubeDevice::Wgpu(WgpuDevice::new(kind).on(api));
            for id in CubeDevice::enumerate(seed.to_id()) {
                let device = Device::new(CubeDevice::from_id(id));
                if !found.contains(&device) {
                    found.push(device);
                }
            }
        }
        found
    }
}

/// Open `device` and return its name and whether it runs on the CPU (a software driver). The
/// runtime panics when a driver refuses the device; that becomes [`BackendError::Open`].
#[cfg(any(feature = "wgpu", feature = "cuda"))]
fn identify(backend: Backend, device: &Device) -> Result<(String, bool), BackendError> {
    let probed = catch_unwind(AssertUnwindSafe(|| device.identity()));
    match probed {
        Ok(Some(identity)) => Ok((identity.name, identity.physical.is_none())),
        Ok(None) => Ok((format!("{device:?}"), false)),
        Err(panic) => Err(BackendError::Open {
            backend: backend.name(),
            name: format!("{device:?}"),
            reason: panic_text(panic.as_ref()),
        }),
    }
}

#[cfg(not(any(feature = "wgpu", feature = "cuda")))]
fn identify(backend: Backend, device: &Device) -> Result<(String, bool), BackendError> {
    // No GPU backend in this build: no GPU device exists to reach here.
    Err(BackendError::Open {
        backend: backend.name(),
        name: format!("{device:?}"),
        reason: "no GPU backend in this build".into(),
    })
}

/// The message a panic carried.
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "the driver panicked".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_backends_are_listed_first_and_open() {
        let devices = list_devices();
        assert_eq!(devices[0].backend, Backend::Flex);
        assert_eq!(devices[1].backend, Backend::Ndarray);
        assert!(open_device(Backend::Flex, None).is_ok());
        assert!(open_device(Backend::Flex, Some(0)).is_ok());
        let err = open_device(Backend::Flex, Some(1)).unwrap_err().to_string();
        assert!(err.contains("device 1 does not exist"), "{err}");
    }

    #[test]
    fn a_backend_missing_from_the_build_names_its_feature() {
        let statuses = backend_statuses();
        for backend in [Backend::Wgpu, Backend::Cuda] {
            let status = statuses.iter().find(|s| s.backend == backend).unwrap();
            assert_eq!(status.feature, Some(backend.name()));
            if !status.compiled {
                let err = open_device(backend, None).unwrap_err().to_string();
                assert!(
                    err.contains(&format!("--features {}", backend.name())),
                    "{err}"
                );
            }
        }
        assert!(
            statuses
                .iter()
                .take(2)
                .all(|s| s.compiled && s.feature.is_none())
        );
    }
}
