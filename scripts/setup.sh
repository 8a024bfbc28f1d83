#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine needs to build, test and run kubevirt-rs:
# kubectl, a C compiler, QEMU and the tools that build disks and the test guest, the Rust
# toolchain, and the test guest itself (cached). Idempotent: only missing pieces are installed.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi

need=()
command -v kubectl >/dev/null 2>&1 || need+=(kubectl)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
command -v qemu-img >/dev/null 2>&1 || need+=(qemu-utils)
command -v genisoimage >/dev/null 2>&1 || need+=(genisoimage)
command -v cpio >/dev/null 2>&1 || need+=(cpio)
[ -x /bin/busybox ] || command -v busybox >/dev/null 2>&1 || need+=(busybox-static)
# ssh, scp and ssh-keygen: virtctl ssh/scp run the local OpenSSH client.
command -v ssh-keygen >/dev/null 2>&1 && command -v scp >/dev/null 2>&1 || need+=(openssh-client)

if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq "${need[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi

# The small Linux guest the demo VM and the node tests boot (kernel + busybox initramfs + disk).
./scripts/build-test-guest.sh >/dev/null
