#!/usr/bin/env bash
# Installs what building, running and testing the workbench need on Debian/Ubuntu, and only
# what is missing: a second run with everything present takes well under a second.
#
#   packaging/bootstrap.sh          # build + run + test dependencies
#
# Needs root (or sudo) only when something must be installed.
set -euo pipefail

packages=(
  # Build: C toolchain, pkg-config, ALSA (cpal), OpenSSL + zlib (ssh2/libssh2).
  build-essential pkg-config libasound2-dev libssl-dev zlib1g-dev
  # Run the GUI (eframe/glow loads these with dlopen).
  libx11-xcb1 libxcursor1 libxi6 libxrandr2 libxkbcommon-x11-0 libgl1 libgl1-mesa-dri
  libegl1 libegl-mesa0
  # Cross-build and emulate the aarch64 board runner; a throwaway sshd is the test board.
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user openssh-server openssh-client
  # The wgpu backend's test trains on Mesa's software Vulkan driver (lavapipe).
  mesa-vulkan-drivers libvulkan1
  # Headless GUI checks, audio tools used by fixtures and docs, packaging checks.
  xvfb xauth sox libsox-fmt-all flac espeak-ng desktop-file-utils dpkg-dev file
  # `bifsmn data synth`: Festival with every English voice Debian ships, and the word list
  # the negative vocabulary comes from. (flite and the asterisk sounds are deliberately not
  # here: they are kept for independent evaluation only.)
  festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts wamerican
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "bootstrap: cargo not found; install Rust with rustup (https://rustup.rs), then rerun" >&2
  exit 1
fi

if command -v rustup >/dev/null 2>&1; then
  if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    echo "bootstrap: adding the aarch64-unknown-linux-gnu target"
    rustup target add aarch64-unknown-linux-gnu
  fi
fi

# sshd refuses to start without its privilege-separation directory (the test board needs it).
if [[ ! -d /run/sshd ]]; then
  if [[ $(id -u) -eq 0 ]]; then mkdir -p -m 0755 /run/sshd; else sudo mkdir -p -m 0755 /run/sshd; fi
fi
