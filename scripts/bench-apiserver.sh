#!/usr/bin/env bash
# Runs the API server benchmark with release builds beside a local etcd and refreshes the
# "API server" section of BENCHMARKS.md (raw numbers: target/bench/apiserver.json).
#
# Extra arguments go to apiserver-bench (see `apiserver-bench --help`), e.g.
#   scripts/bench-apiserver.sh --only store,etcd --concurrent-ops 5000
# Run it on an otherwise idle machine: every run records the load average before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
target="${CARGO_TARGET_DIR:-target}"

cargo build --release -p kubevirtd -p bench --bin kubevirtd --bin apiserver-bench

if ! command -v etcd >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq etcd-server
fi

work="$(mktemp -d)"
etcd_pid=""
cleanup() {
    if [ -n "$etcd_pid" ]; then
        kill "$etcd_pid" 2>/dev/null || true
        wait "$etcd_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# A loopback port nothing listens on.
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 20000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
}
client_port="$(free_port)"
peer_port="$(free_port)"
while [ "$peer_port" = "$client_port" ]; do peer_port="$(free_port)"; done
client_url="http://127.0.0.1:$client_port"
peer_url="http://127.0.0.1:$peer_port"

# Default durability (WAL fsync per commit), loopback only.
etcd --name bench --data-dir "$work/etcd" \
    --listen-client-urls "$client_url" --advertise-client-urls "$client_url" \
    --listen-peer-urls "$peer_url" --initial-advertise-peer-urls "$peer_url" \
    --initial-cluster "bench=$peer_url" \
    >"$work/etcd.log" 2>&1 &
etcd_pid=$!

"$target/release/apiserver-bench" \
    --kubevirtd "$target/release/kubevirtd" \
    --etcd-url "$client_url" \
    --work-dir "$work" \
    --json target/bench/apiserver.json \
    --markdown BENCHMARKS.md \
    "$@"
