#!/usr/bin/env bash
# Sets up a fresh machine, builds kubevirtd, starts it, and creates and starts a VM.
# Leaves kubevirtd running in the foreground; Ctrl+C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
cargo build --release -p kubevirtd
data_dir="${KUBEVIRTD_DATA_DIR:-$PWD/.kubevirtd}"
mkdir -p "$data_dir"
./target/release/kubevirtd --data-dir "$data_dir" "$@" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
export KUBECONFIG="$data_dir/kubeconfig"
for _ in $(seq 1 100); do
  [ -f "$KUBECONFIG" ] && kubectl get --raw /readyz >/dev/null 2>&1 && break
  sleep 0.2
done
kubectl apply -f examples/vm-demo.yaml
kubectl patch vm demo --type merge -p '{"spec":{"runStrategy":"Always"}}'
kubectl get vm demo
echo
echo "kubevirtd is running. In another shell:"
echo "  export KUBECONFIG=$KUBECONFIG"
echo "  kubectl get vm,vmi"
wait $server
