#!/usr/bin/env bash
# Sets up a fresh machine and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
# Integration tests start real kubevirtd processes; keep concurrency modest on small machines.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}"
cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast
