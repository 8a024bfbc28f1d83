#!/usr/bin/env bash
# Times a real guest's boot through kubevirtd against bare QEMU with the same command line, and
# the memory our processes add per running VMI; refreshes the "Boot time and memory per VMI"
# section of BENCHMARKS.md (raw numbers: target/bench/boot.json).
#
# Extra arguments go to boot-bench (see `boot-bench --help`), e.g.
#   scripts/bench-boot.sh --runs 10 --vmis 10 --accel tcg
# Run it on an otherwise idle machine: every run records the load average.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
target="${CARGO_TARGET_DIR:-target}"

./scripts/build-test-guest.sh >/dev/null
guest="${XDG_CACHE_HOME:-$HOME/.cache}/kubevirt-rs/test-guest"
cargo build --release -p kubevirtd -p virt-launcher -p bench --bin kubevirtd --bin virt-launcher --bin boot-bench

mkdir -p target/bench
"$target/release/boot-bench" \
    --kubevirtd "$target/release/kubevirtd" \
    --guest "$guest" \
    --json target/bench/boot.json \
    --markdown BENCHMARKS.md \
    "$@"
