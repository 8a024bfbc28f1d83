#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine needs to build, test and run kubevirt-rs.
# Idempotent: only missing pieces are installed.
set -euo pipefail

need=()
command -v kubectl >/dev/null 2>&1 || need+=(kubectl)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v curl >/dev/null 2>&1 || need+=(curl)

if ((${#need[@]})); then
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq "${need[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
