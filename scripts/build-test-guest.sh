#!/usr/bin/env bash
# Builds the small Linux guest used by the QEMU tests and as the default demo guest.
#
#   scripts/build-test-guest.sh [out-dir]
#
# Outputs (default out-dir: ${XDG_CACHE_HOME:-~/.cache}/kubevirt-rs/test-guest):
#   vmlinuz      Debian's cloud kernel (for firmware.kernelBoot)
#   initrd.img   a busybox initramfs whose /init:
#                  - prints "kubevirt-rs test guest: boot complete" on the serial console,
#                  - reads cloud-init user-data from a disk labelled cidata (NoCloud) or
#                    config-2 (ConfigDrive), prints its sha256 and first line, and runs it
#                    when it is a shell script,
#                  - powers off on an ACPI power-button press (busybox acpid),
#                  - offers a root shell on ttyS0 with the prompt "guest# ", where `poweroff`
#                    and `reboot` act at once,
#                  - runs an SSH server (dropbear) on port 22 once the network is up: root
#                    logs in by public key from /root/.ssh/authorized_keys (a user-data script
#                    can install it), host keys are generated at first connection, and
#                    scp works in both its SFTP (default) and legacy modes.
#   disk.qcow2   a bootable disk (SYSLINUX on FAT) with the same kernel and initramfs, usable
#                as a containerDisk: `kubevirtd image import <ref> disk.qcow2`.
#
# Idempotent: does nothing when the three outputs exist. Installs missing Debian packages
# with apt-get (as root, or through sudo). Builds aside and moves the finished files into
# place at the end, so a half-built guest is never seen in out-dir.
set -euo pipefail

out="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/kubevirt-rs/test-guest}"
marker="kubevirt-rs test guest"

# Bumped whenever the guest's contents change, so cached guests are rebuilt.
guest_version=4
if [[ -s "$out/vmlinuz" && -s "$out/initrd.img" && -s "$out/disk.qcow2" ]] &&
  [[ "$(cat "$out/version" 2>/dev/null)" == "$guest_version" ]]; then
  echo "test guest already built in $out"
  exit 0
fi

sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

need=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
command -v qemu-img >/dev/null 2>&1 || need+=(qemu-utils)
installed busybox-static || need+=(busybox-static)
command -v cpio >/dev/null 2>&1 || need+=(cpio)
command -v genisoimage >/dev/null 2>&1 || command -v xorriso >/dev/null 2>&1 || need+=(genisoimage)
command -v mkfs.fat >/dev/null 2>&1 || need+=(dosfstools)
command -v mcopy >/dev/null 2>&1 || need+=(mtools)
command -v syslinux >/dev/null 2>&1 || need+=(syslinux)
[ -f /usr/lib/syslinux/modules/bios/ldlinux.c32 ] || need+=(syslinux-common)
# The guest's SSH server, SFTP server and legacy scp, copied from the host with their libraries.
[ -x /usr/sbin/dropbear ] || need+=(dropbear-bin)
[ -x /usr/lib/openssh/sftp-server ] || need+=(openssh-sftp-server)
[ -x /usr/bin/scp ] || need+=(openssh-client)

updated=0
apt_update() {
  if [ "$updated" -eq 0 ]; then
    $sudo_cmd apt-get update -qq
    updated=1
  fi
}
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt_update
  $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi

kernel_package() {
  apt-cache depends linux-image-cloud-amd64 2>/dev/null |
    awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
pkg="$(kernel_package)"
if [ -z "$pkg" ]; then
  apt_update
  pkg="$(kernel_package)"
fi
if [ -z "$pkg" ]; then
  echo "cannot find the Debian cloud kernel package (linux-image-cloud-amd64)" >&2
  exit 1
fi

work="$(mktemp -d)"
mkdir -p "$out"
# On the output's file system, so the final moves are renames.
stage="$(mktemp -d "$out/.build.XXXXXX")"
trap 'rm -rf "$work" "$stage"' EXIT
# apt-get download writes as the unprivileged _apt user when it can.
chmod 0777 "$work"

echo "downloading $pkg"
(cd "$work" && apt-get download -qq "$pkg" 2>/dev/null)
dpkg-deb -x "$work"/"$pkg"_*.deb "$work/kernel"
kver="${pkg#linux-image-}"
moddir="$work/kernel/lib/modules/$kver/kernel"

root="$work/root"
mkdir -p "$root"/{bin,sbin,etc/acpi/PWRF,proc,sys,dev,mnt,tmp,root,run,var/log,usr/local/bin}
mkdir -p "$root"/{lib/modules,usr/share/udhcpc,usr/bin,usr/sbin,usr/lib/openssh,etc/dropbear}
cp /bin/busybox "$root/bin/busybox"

# Copies a dynamically linked program to the same path in the guest, with the libraries and
# the loader ldd names (a library already copied is copied again, harmlessly).
copy_program() {
  cp "$1" "$root$1"
  for lib in $(ldd "$1" | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}
copy_program /usr/sbin/dropbear
copy_program /usr/lib/openssh/sftp-server
copy_program /usr/bin/scp
# Debian's dropbear runs the SFTP subsystem from its compiled-in path.
ln -s openssh/sftp-server "$root/usr/lib/sftp-server"
mkdir -p -m 0700 "$root/root/.ssh"
chmod 0700 "$root/root"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
echo '/bin/sh' >"$root/etc/shells"

# Load order matters: insmod does not resolve dependencies.
modules=(
  drivers/virtio/virtio_ring drivers/virtio/virtio
  drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci_modern_dev
  drivers/virtio/virtio_pci drivers/block/virtio_blk
  drivers/cdrom/cdrom fs/isofs/isofs
  drivers/acpi/button drivers/input/evdev
  drivers/misc/pvpanic/pvpanic drivers/misc/pvpanic/pvpanic-mmio
  drivers/misc/pvpanic/pvpanic-pci
  net/core/failover drivers/net/net_failover drivers/net/virtio_net
  drivers/net/ethernet/intel/e1000/e1000
  drivers/char/hw_random/virtio-rng
)
: >"$root/etc/modules"
for m in "${modules[@]}"; do
  if [ -f "$moddir/$m.ko" ]; then
    cp "$moddir/$m.ko" "$root/lib/modules/"
    basename "$m" >>"$root/etc/modules"
  fi
done

cat >"$root/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/usr/local/bin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
while read -r m; do insmod "/lib/modules/\$m.ko" 2>/dev/null; done </etc/modules
hostname testguest
acpid -c /etc/acpi -l /dev/null
# busybox poweroff/reboot/halt signal PID 1; traps run while PID 1 waits below.
trap '/bin/busybox poweroff -f' USR2
trap '/bin/busybox reboot -f' TERM
trap '/bin/busybox halt -f' USR1
echo "$marker: boot complete"
/etc/cloud-init.sh
for nic in /sys/class/net/eth*; do
  # The link must be up before DHCP, or udhcpc retries "Network is down" forever.
  [ -e "\$nic" ] && ip link set "\${nic##*/}" up && udhcpc -b -q -S -t 5 -s /usr/share/udhcpc/default.script -i "\${nic##*/}" >/dev/null 2>&1
done
# SSH: public-key logins only, host keys made at the first connection, quiet on the console.
/usr/sbin/dropbear -F -R -s -p 22 -P /run/dropbear.pid </dev/null >/dev/null 2>&1 &
(while :; do setsid cttyhack sh -l; done) &
while :; do wait; done
EOF

cat >"$root/etc/cloud-init.sh" <<EOF
#!/bin/sh
# NoCloud (label cidata) or ConfigDrive (label config-2), as KubeVirt generates them.
dev=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
  dev="\$(findfs LABEL=cidata 2>/dev/null || findfs LABEL=config-2 2>/dev/null)" && break
  dev=""
  sleep 0.1
done
if [ -z "\$dev" ]; then
  echo "$marker: no cloud-init disk"
  exit 0
fi
mkdir -p /mnt/cloud-init
mount -t iso9660 -o ro "\$dev" /mnt/cloud-init || exit 0
ud=/mnt/cloud-init/user-data
[ -f "\$ud" ] || ud=/mnt/cloud-init/openstack/latest/user_data
if [ ! -f "\$ud" ]; then
  echo "$marker: cloud-init disk without user-data"
  exit 0
fi
sum="\$(sha256sum "\$ud" | cut -d' ' -f1)"
first="\$(head -n 1 "\$ud")"
echo "$marker: cloud-init user-data sha256=\$sum first-line=\$first"
for md in /mnt/cloud-init/meta-data; do
  [ -f "\$md" ] || continue
  name="\$(sed -n 's/^local-hostname: *//p' "\$md" | head -n 1)"
  [ -n "\$name" ] && hostname "\$name"
done
case "\$first" in
  '#!'*) sh "\$ud" ;;
esac
exit 0
EOF

cat >"$root/etc/acpi/PWRF/00000080" <<EOF
#!/bin/sh
echo "$marker: power button pressed, powering off" >/dev/console
sync
poweroff -f
EOF

# PID 1 is a shell script, so the usual signal-to-init path of poweroff/reboot is replaced by
# acting at once.
for cmd in poweroff reboot halt; do
  printf '#!/bin/sh\nsync\nexec /bin/busybox %s -f\n' "$cmd" >"$root/usr/local/bin/$cmd"
done

cat >"$root/etc/profile" <<'EOF'
export PATH=/usr/local/bin:/bin
export PS1='guest# '
# The shell prefers busybox applets over PATH; functions come first.
poweroff() { sync; /bin/busybox poweroff -f; }
reboot() { sync; /bin/busybox reboot -f; }
halt() { sync; /bin/busybox halt -f; }
EOF

cat >"$root/usr/share/udhcpc/default.script" <<'EOF'
#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    ip link set "$interface" up
    for r in $router; do ip route add default via "$r" dev "$interface"; done
    : >/etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf; done
    ;;
esac
EOF

chmod 0755 "$root/init" "$root/etc/cloud-init.sh" "$root/etc/acpi/PWRF/00000080" \
  "$root"/usr/local/bin/* "$root/usr/share/udhcpc/default.script"

tmp_initrd="$stage/initrd.img"
# Owned by root in the guest whoever builds it: dropbear refuses keys in a home of another owner.
(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -9) >"$tmp_initrd"
tmp_kernel="$stage/vmlinuz"
cp "$work/kernel/boot/vmlinuz-$kver" "$tmp_kernel"

# A partitionless FAT disk with SYSLINUX in its boot sector: BIOS boots it like a superfloppy.
kib=$(( ($(stat -c %s "$tmp_kernel") + $(stat -c %s "$tmp_initrd")) / 1024 + 4096 ))
raw="$work/disk.raw"
mkfs.fat -n TESTGUEST -C "$raw" "$kib" >/dev/null
syslinux --install "$raw"
cat >"$work/syslinux.cfg" <<'EOF'
SERIAL 0 115200
DEFAULT guest
PROMPT 0
TIMEOUT 0
LABEL guest
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND console=ttyS0 quiet panic=-1
EOF
export MTOOLS_SKIP_CHECK=1
mcopy -i "$raw" "$work/syslinux.cfg" ::/syslinux.cfg
mcopy -i "$raw" "$tmp_kernel" ::/vmlinuz
mcopy -i "$raw" "$tmp_initrd" ::/initrd.img
qemu-img convert -f raw -O qcow2 "$raw" "$stage/disk.qcow2"
echo "$guest_version" >"$stage/version"

# Each rename is atomic; the version goes last, so it never names files of another version.
rm -f "$out/version"
mv "$tmp_kernel" "$out/vmlinuz"
mv "$tmp_initrd" "$out/initrd.img"
mv "$stage/disk.qcow2" "$out/disk.qcow2"
mv "$stage/version" "$out/version"
echo "test guest ($kver) built in $out"
