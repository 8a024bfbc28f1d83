#!/usr/bin/env bash
# Sets up a fresh machine, builds kubevirtd and virtctl, imports the test guest as a container
# disk image, starts kubevirtd (real QEMU guests: KVM when usable, else TCG), creates the VM in
# examples/vm-demo.yaml, starts it and waits until its VMI is Running.
# kubevirtd then stays in the foreground; Ctrl+C stops the VM and the server.
#
#   scripts/demo.sh [kubevirtd flags...]     e.g. --listen 127.0.0.1:7443, --accel tcg
#
# KUBEVIRTD_DATA_DIR picks the data directory (default: ./.kubevirtd).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
cargo build --release -p kubevirtd -p virt-launcher -p virtctl
bin="$PWD/target/release"
if [ -n "${CARGO_TARGET_DIR:-}" ]; then bin="$CARGO_TARGET_DIR/release"; fi
export PATH="$bin:$PATH"

data_dir="${KUBEVIRTD_DATA_DIR:-$PWD/.kubevirtd}"
guest="${XDG_CACHE_HOME:-$HOME/.cache}/kubevirt-rs/test-guest"
image="kubevirt-rs/test-guest:latest"
mkdir -p "$data_dir"
kubevirtd image import "$image" "$guest/disk.qcow2" --data-dir "$data_dir"

kubevirtd --data-dir "$data_dir" "$@" >"$data_dir/kubevirtd.out" &
server=$!
export KUBECONFIG="$data_dir/kubeconfig"
cleanup() {
  trap - EXIT INT TERM
  if kill -0 "$server" 2>/dev/null; then
    echo
    echo "stopping the demo VM and kubevirtd"
    kubectl patch vm demo --type merge -p '{"spec":{"runStrategy":"Halted"}}' >/dev/null 2>&1 || true
    kubectl wait vmi/demo --for=delete --timeout=30s >/dev/null 2>&1 || true
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
}
trap cleanup EXIT INT TERM

# The kubeconfig is rewritten on every start; wait for this server's.
for _ in $(seq 1 300); do
  grep -q '^export KUBECONFIG=' "$data_dir/kubevirtd.out" 2>/dev/null &&
    kubectl get --raw /readyz >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { echo "kubevirtd exited; see the messages above" >&2; exit 1; }
  sleep 0.2
done

kubectl apply -f examples/vm-demo.yaml
# With an SSH key of yours, the guest authorizes it for root (cloud-init user-data script), so
# `virtctl ssh root@vm/demo` gets in.
ssh_key=""
for k in "$HOME/.ssh/id_ed25519" "$HOME/.ssh/id_ecdsa" "$HOME/.ssh/id_rsa"; do
  if [ -f "$k.pub" ]; then ssh_key="$k"; break; fi
done
if [ -n "$ssh_key" ] && ! kubectl get vm demo -o jsonpath='{.spec.template.spec.volumes[*].name}' |
  grep -qw cloudinit; then
  # Base64 so that nothing in the key needs JSON escaping.
  user_data="$(printf '#!/bin/sh\nmkdir -p /root/.ssh\nchmod 700 /root/.ssh\necho %s >>/root/.ssh/authorized_keys\nchmod 600 /root/.ssh/authorized_keys\n' "'$(cat "$ssh_key.pub")'" | base64 -w0)"
  patch='[{"op":"add","path":"/spec/template/spec/domain/devices/disks/-","value":{"name":"cloudinit","disk":{"bus":"virtio"}}},'
  patch+='{"op":"add","path":"/spec/template/spec/volumes/-","value":{"name":"cloudinit","cloudInitNoCloud":{"userDataBase64":"'"$user_data"'"}}}]'
  kubectl patch vm demo --type=json -p "$patch" >/dev/null
fi
virtctl start demo || true
echo "waiting for the VMI to run (a few seconds with KVM, longer with software emulation)"
for _ in $(seq 1 300); do
  kubectl get vmi demo >/dev/null 2>&1 && break
  sleep 0.5
done
kubectl wait vmi/demo --for=jsonpath='{.status.phase}'=Running --timeout=300s >/dev/null
kubectl get vm,vmi
if kubectl get vmi demo -o jsonpath='{.status.conditions[?(@.type=="SoftwareEmulation")].message}' |
  grep -q .; then
  echo
  echo "note: KVM is not usable here, so the guest runs with QEMU's software emulation (TCG):"
  kubectl get vmi demo -o jsonpath='{.status.conditions[?(@.type=="SoftwareEmulation")].message}'
  echo
fi
cat <<MSG

The demo VM is running. In another shell:
  export KUBECONFIG=$KUBECONFIG PATH=$bin:\$PATH
  kubectl get vm,vmi              # the VM and its running instance
  virtctl console demo            # the guest's serial console: press Enter for "guest# ",
                                  # Ctrl+] detaches; 'poweroff' ends the VMI (it restarts)
  virtctl stop demo               # graceful shutdown (ACPI)
MSG
if [ -n "$ssh_key" ]; then
  cat <<MSG
  virtctl ssh root@vm/demo -i $ssh_key   # the guest's SSH server, through port-forward
MSG
fi
cat <<MSG

kubevirtd runs in the foreground (log: $data_dir/kubevirtd.out and below); Ctrl+C stops the VM and kubevirtd.
MSG
wait "$server"
