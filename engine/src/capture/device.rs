//! Finding input devices and choosing a stream configuration they accept.
//!
//! This is the only place that talks to cpal's host and device objects; the rest of the
//! program sees names, [`NativeConfig`] and [`SampleKind`].

use std::fmt;
use std::str::FromStr;

use cpal::traits::{DeviceTrait, HostTrait};
use cpal::{BufferSize, SampleFormat, StreamConfig, SupportedStreamConfigRange};
use serde::Serialize;

use super::CaptureError;

/// Sample formats the capture path can read (every integer and float PCM format cpal has,
/// except 64-bit integers and DSD).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleKind {
    I8,
    I16,
    I24,
    I32,
    U8,
    U16,
    U24,
    U32,
    F32,
    F64,
}

impl SampleKind {
    /// Every readable format.
    pub const ALL: [SampleKind; 10] = [
        Self::I8,
        Self::I16,
        Self::I24,
        Self::I32,
        Self::U8,
        Self::U16,
        Self::U24,
        Self::U32,
        Self::F32,
        Self::F64,
    ];

    /// Lower-case name (`i16`, `f32`, ...), as cpal prints it.
    pub fn name(self) -> &'static str {
        match self {
            Self::I8 => "i8",
            Self::I16 => "i16",
            Self::I24 => "i24",
            Self::I32 => "i32",
            Self::U8 => "u8",
            Self::U16 => "u16",
            Self::U24 => "u24",
            Self::U32 => "u32",
            Self::F32 => "f32",
            Self::F64 => "f64",
        }
    }

    pub(crate) fn from_cpal(f: SampleFormat) -> Option<SampleKind> {
        Some(match f {
            SampleFormat::I8 => Self::I8,
            SampleFormat::I16 => Self::I16,
            SampleFormat::I24 => Self::I24,
            SampleFormat::I32 => Self::I32,
            SampleFormat::U8 => Self::U8,
            SampleFormat::U16 => Self::U16,
            SampleFormat::U24 => Self::U24,
            SampleFormat::U32 => Self::U32,
            SampleFormat::F32 => Self::F32,
            SampleFormat::F64 => Self::F64,
            _ => return None,
        })
    }

    pub(crate) fn to_cpal(self) -> SampleFormat {
        match self {
            Self::I8 => SampleFormat::I8,
            Self::I16 => SampleFormat::I16,
            Self::I24 => SampleFormat::I24,
            Self::I32 => SampleFormat::I32,
            Self::U8 => SampleFormat::U8,
            Self::U16 => SampleFormat::U16,
            Self::U24 => SampleFormat::U24,
            Self::U32 => SampleFormat::U32,
            Self::F32 => SampleFormat::F32,
            Self::F64 => SampleFormat::F64,
        }
    }
}

impl fmt::Display for SampleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SampleKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|k| k.name() == lower)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|k| k.name()).collect();
                format!("unknown sample format {s:?} (one of {})", names.join(", "))
            })
    }
}

/// A device's stream format: what the callback receives before conversion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct NativeConfig {
    pub sample_rate: u32,
    pub channels: u16,
    pub format: SampleKind,
}

impl fmt::Display for NativeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} Hz, {} ch, {}",
            self.sample_rate, self.channels, self.format
        )
    }
}

/// One input device as listed for the user.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InputDeviceInfo {
    /// Human-readable name (ALSA: the first line of the PCM's description).
    pub name: String,
    /// The backend's identifier (ALSA: the PCM name, e.g. `default`, `hw:CARD=0,DEV=0`).
    /// Either this or `name` selects the device.
    pub id: String,
    /// Whether this is the system's default input.
    pub is_default: bool,
    /// The device's preferred format, if it could be queried.
    pub default_config: Option<NativeConfig>,
    /// Why the preferred format could not be queried (device busy, not really an input...).
    pub config_error: Option<String>,
}

impl InputDeviceInfo {
    /// `name (id)`, or just the id when they are equal: how devices are named in messages.
    pub fn label(&self) -> String {
        label(&self.name, &self.id)
    }
}

fn label(name: &str, id: &str) -> String {
    if name == id {
        id.to_string()
    } else {
        format!("{name} ({id})")
    }
}

/// A device found by [`find_input_device`].
pub(crate) struct FoundDevice {
    pub device: cpal::Device,
    pub name: String,
    pub id: String,
}

impl FoundDevice {
    pub fn label(&self) -> String {
        label(&self.name, &self.id)
    }
}

fn host() -> Result<cpal::Host, CaptureError> {
    // `default_host` cannot fail on Linux (ALSA is always "available"); on other platforms a
    // missing audio service shows up later as a device error.
    Ok(cpal::default_host())
}

fn describe(device: &cpal::Device) -> (String, String) {
    let id = device
        .id()
        .map(|id| id.id().to_string())
        .unwrap_or_else(|_| "?".into());
    let name = device
        .description()
        .map(|d| d.name().to_string())
        .unwrap_or_else(|_| id.clone());
    (name, id)
}

/// Input-capable devices, the default one first. ALSA prints `cannot find card` lines to
/// stderr on machines without a sound card; they are harmless.
fn input_devices() -> Result<Vec<FoundDevice>, CaptureError> {
    let host = host()?;
    let mut out: Vec<FoundDevice> = Vec::new();
    if let Some(device) = host.default_input_device() {
        let (name, id) = describe(&device);
        out.push(FoundDevice { device, name, id });
    }
    let devices = host
        .input_devices()
        .map_err(|e| CaptureError::NoHost(e.to_string()))?;
    for device in devices {
        let (name, id) = describe(&device);
        if !out.iter().any(|d| d.id == id) {
            out.push(FoundDevice { device, name, id });
        }
    }
    Ok(out)
}

/// Every input device with its preferred format. Querying opens each device briefly.
pub fn list_input_devices() -> Result<Vec<InputDeviceInfo>, CaptureError> {
    let host = host()?;
    let default_id = host.default_input_device().map(|d| describe(&d).1);
    Ok(input_devices()?
        .into_iter()
        .map(|d| {
            let (default_config, config_error) = match d.device.default_input_config() {
                Ok(c) => match SampleKind::from_cpal(c.sample_format()) {
                    Some(format) => (
                        Some(NativeConfig {
                            sample_rate: c.sample_rate(),
                            channels: c.channels(),
                            format,
                        }),
                        None,
                    ),
                    None => (
                        None,
                        Some(format!("unreadable format {}", c.sample_format())),
                    ),
                },
                Err(e) => (None, Some(e.to_string())),
            };
            InputDeviceInfo {
                is_default: default_id.as_deref() == Some(d.id.as_str()),
                name: d.name,
                id: d.id,
                default_config,
                config_error,
            }
        })
        .collect())
}

/// The device named `name` (its id or its name, case-insensitive; else a unique substring of
/// either), or the default input device for `None`.
pub(crate) fn find_input_device(name: Option<&str>) -> Result<FoundDevice, CaptureError> {
    let Some(wanted) = name else {
        let device = host()?
            .default_input_device()
            .ok_or(CaptureError::NoInputDevice)?;
        let (name, id) = describe(&device);
        return Ok(FoundDevice { device, name, id });
    };
    let mut devices = input_devices()?;
    let w = wanted.to_lowercase();
    if let Some(i) = devices
        .iter()
        .position(|d| d.id.to_lowercase() == w || d.name.to_lowercase() == w)
    {
        return Ok(devices.swap_remove(i));
    }
    let hits: Vec<usize> = (0..devices.len())
        .filter(|&i| {
            devices[i].id.to_lowercase().contains(&w) || devices[i].name.to_lowercase().contains(&w)
        })
        .collect();
    match hits.as_slice() {
        [i] => Ok(devices.swap_remove(*i)),
        [] => Err(CaptureError::DeviceNotFound {
            name: wanted.to_string(),
            available: devices.iter().map(FoundDevice::label).collect(),
        }),
        _ => Err(CaptureError::AmbiguousDevice {
            name: wanted.to_string(),
            matches: hits.iter().map(|&i| devices[i].label()).collect(),
        }),
    }
}

/// What the caller asked for; `None` fields take the device's preference.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Request {
    pub sample_rate: Option<u32>,
    pub channels: Option<u16>,
    pub format: Option<SampleKind>,
}

/// The supported ranges in a few lines: formats with the same channel counts and rates are
/// grouped (`i16, f32: 1-2 ch, 8000-48000 Hz`). Devices such as ALSA's `null` report every
/// format with 1-64 channels, which would otherwise be hundreds of entries.
fn summarize(ranges: &[SupportedStreamConfigRange]) -> Vec<String> {
    use std::collections::BTreeMap;
    let span = |lo: u32, hi: u32, unit: &str| {
        if lo == hi {
            format!("{lo} {unit}")
        } else {
            format!("{lo}-{hi} {unit}")
        }
    };
    /// Channel counts and rate ranges of one format.
    type Support = (Vec<u16>, Vec<(u32, u32)>);
    let mut per_format: BTreeMap<String, Support> = BTreeMap::new();
    for r in ranges {
        let e = per_format.entry(r.sample_format().to_string()).or_default();
        if !e.0.contains(&r.channels()) {
            e.0.push(r.channels());
        }
        let rates = (r.min_sample_rate(), r.max_sample_rate());
        if !e.1.contains(&rates) {
            e.1.push(rates);
        }
    }
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for (format, (mut channels, mut rates)) in per_format {
        channels.sort_unstable();
        rates.sort_unstable();
        let contiguous = channels.windows(2).all(|w| w[1] == w[0] + 1);
        let ch = match (channels.first(), channels.last()) {
            (Some(&a), Some(&b)) if contiguous => span(a as u32, b as u32, "ch"),
            _ => format!(
                "{} ch",
                channels
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join("/")
            ),
        };
        let hz: Vec<String> = rates.iter().map(|&(a, b)| span(a, b, "Hz")).collect();
        let desc = format!("{ch}, {}", hz.join(" or "));
        match groups.iter_mut().find(|g| g.0 == desc) {
            Some(g) => g.1.push(format),
            None => groups.push((desc, vec![format])),
        }
    }
    groups
        .into_iter()
        .map(|(desc, formats)| format!("{}: {desc}", formats.join("/")))
        .collect()
}

/// Pick the stream configuration: the device's default, with the requested fields replaced.
/// When the device cannot report a default, the best supported range is used instead.
pub(crate) fn choose_config(
    found: &FoundDevice,
    req: Request,
) -> Result<(StreamConfig, NativeConfig), CaptureError> {
    let device = found.label();
    let ranges: Result<Vec<SupportedStreamConfigRange>, String> = found
        .device
        .supported_input_configs()
        .map(|r| r.collect())
        .map_err(|e| e.to_string());
    let base = match found.device.default_input_config() {
        Ok(c) => (c.sample_rate(), c.channels(), c.sample_format()),
        Err(default_err) => {
            // Some devices (and ALSA's `default` without a sound card) have no default;
            // fall back to their best range, or report both failures.
            let best = ranges.as_ref().ok().and_then(|rs| {
                rs.iter()
                    .filter(|r| SampleKind::from_cpal(r.sample_format()).is_some())
                    .max_by(|a, b| a.cmp_default_heuristics(b))
                    .copied()
            });
            match best {
                Some(r) => {
                    let c = r
                        .try_with_standard_sample_rate()
                        .unwrap_or_else(|| r.with_max_sample_rate());
                    (c.sample_rate(), c.channels(), c.sample_format())
                }
                None => {
                    return Err(CaptureError::Query {
                        device,
                        reason: match &ranges {
                            Err(e) if *e != default_err.to_string() => {
                                format!("{default_err}; {e}")
                            }
                            _ => default_err.to_string(),
                        },
                    });
                }
            }
        }
    };
    let format = match req.format {
        Some(k) => k,
        None => SampleKind::from_cpal(base.2).ok_or_else(|| CaptureError::UnsupportedFormat {
            device: device.clone(),
            format: base.2.to_string(),
        })?,
    };
    let native = NativeConfig {
        sample_rate: req.sample_rate.unwrap_or(base.0),
        channels: req.channels.unwrap_or(base.1),
        format,
    };
    if native.sample_rate == 0 || native.channels == 0 {
        return Err(CaptureError::UnsupportedConfig {
            device,
            requested: native.to_string(),
            reason: "sample rate and channels must be positive".into(),
            supported: Vec::new(),
        });
    }
    // Only an explicit request is checked here: the device's own default is accepted as is.
    if req != Request::default()
        && let Ok(rs) = &ranges
        && !rs.is_empty()
        && !rs.iter().any(|r| {
            r.channels() == native.channels
                && r.sample_format() == native.format.to_cpal()
                && r.contains_rate(native.sample_rate)
        })
    {
        return Err(CaptureError::UnsupportedConfig {
            device,
            requested: native.to_string(),
            reason: "no supported configuration matches".into(),
            supported: summarize(rs),
        });
    }
    let config = StreamConfig {
        channels: native.channels,
        sample_rate: native.sample_rate,
        buffer_size: BufferSize::Default,
    };
    Ok((config, native))
}

/// The device's supported formats, summarised (for error messages).
pub(crate) fn supported_descriptions(found: &FoundDevice) -> Vec<String> {
    found
        .device
        .supported_input_configs()
        .map(|rs| summarize(&rs.collect::<Vec<_>>()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_kinds_round_trip_through_names_and_cpal() {
        for k in SampleKind::ALL {
            assert_eq!(k.name().parse::<SampleKind>().unwrap(), k);
            assert_eq!(SampleKind::from_cpal(k.to_cpal()), Some(k));
        }
        assert!("s16".parse::<SampleKind>().is_err());
        assert_eq!(SampleKind::from_cpal(SampleFormat::DsdU8), None);
    }

    #[test]
    fn supported_ranges_are_summarised_by_format_group() {
        use cpal::SupportedBufferSize::Unknown;
        let r = |ch, lo, hi, f| SupportedStreamConfigRange::new(ch, lo, hi, Unknown, f);
        let mut ranges = Vec::new();
        for f in [SampleFormat::I16, SampleFormat::F32] {
            for ch in 1..=64 {
                ranges.push(r(ch, 4000, 192_000, f));
            }
        }
        ranges.push(r(2, 48_000, 48_000, SampleFormat::I32));
        ranges.push(r(4, 44_100, 44_100, SampleFormat::I32));
        assert_eq!(
            summarize(&ranges),
            vec![
                "f32/i16: 1-64 ch, 4000-192000 Hz".to_string(),
                "i32: 2/4 ch, 44100 Hz or 48000 Hz".to_string(),
            ]
        );
    }

    #[test]
    fn a_device_name_that_does_not_exist_is_an_error_naming_it() {
        match find_input_device(Some("no-such-microphone-42")) {
            Err(CaptureError::DeviceNotFound { name, .. }) => {
                assert_eq!(name, "no-such-microphone-42")
            }
            Err(other) => {
                // A machine without ALSA at all reports the host instead; still an error value.
                assert!(matches!(other, CaptureError::NoHost(_)), "{other}");
            }
            Ok(d) => panic!("found {}", d.label()),
        }
    }
}
