#!/usr/bin/env bash
# Runs the VM lifecycle scale benchmark (simulated nodes, zero boot delay) with release builds
# and refreshes the "VM lifecycle at scale" section of BENCHMARKS.md (raw numbers:
# target/bench/scale.json, server logs: target/bench/scale-logs/).
#
# Extra arguments go to scale-bench (see `scale-bench --help`), e.g.
#   scripts/bench-scale.sh --runs 1000@10,1000@burst
#   scripts/bench-scale.sh --runs 8000@10 --keep-previous --time-limit 1800
# The default runs take about half an hour. Run it on an otherwise idle machine: every run
# records the load average before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
target="${CARGO_TARGET_DIR:-target}"

cargo build --release -p kubevirtd -p bench --bin kubevirtd --bin scale-bench

# Thousands of watches and connections: raise the descriptor limit where allowed.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

"$target/release/scale-bench" \
    --kubevirtd "$target/release/kubevirtd" \
    --json target/bench/scale.json \
    --log-dir target/bench/scale-logs \
    --markdown BENCHMARKS.md \
    "$@"
