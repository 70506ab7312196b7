//! `bifsmn devices`: the devices training can use, numbered as `train --device` takes them,
//! and the GPU backends this build was made without.

use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use super::output::print_json;
use bifsmn_engine::train::devices::{BackendStatus, backend_statuses};
use bifsmn_engine::train::{DeviceInfo, list_devices, open_device};

/// `devices` options.
#[derive(Debug, Args)]
pub struct DevicesArgs {
    /// Print JSON instead of a list.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Report {
    devices: Vec<DeviceInfo>,
    backends: Vec<BackendStatus>,
}

pub fn run(args: DevicesArgs) -> anyhow::Result<ExitCode> {
    let report = Report {
        devices: list_devices(),
        backends: backend_statuses(),
    };
    if args.json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    for device in &report.devices {
        outln!("{}", device.label());
    }
    for status in &report.backends {
        let name = status.backend.name();
        match (status.compiled, status.feature) {
            (false, Some(feature)) => {
                outln!("{name}: not in this build (rebuild with --features {feature})")
            }
            (true, Some(_)) if !report.devices.iter().any(|d| d.backend == status.backend) => {
                // Opening it says why: no driver (and what to install), or a refused device.
                if let Err(e) = open_device(status.backend, None) {
                    outln!("{e}");
                }
            }
            _ => {}
        }
    }
    Ok(ExitCode::SUCCESS)
}
