#!/usr/bin/env bash
# Builds the local Debian images the sandbox needs, offline from Docker Hub:
#   paddleocr-fleet/debian12-systemd:local  systemd + sshd host (bookworm) that molecule and `make demo` converge
#   paddleocr-fleet/debian11-systemd:local  the same on bullseye (Python 3.9, systemd 247, docker.io 20.10.5):
#                                           the generation closest to Ubuntu 20.04 this machine can build
#   paddleocr-fleet/python-base:local       base of the OCR image (bookworm, saved as a tarball the role loads)
# Each comes from one debootstrap rootfs per suite, the suites debootstrapped side by side; rerunning is a no-op
# while the images exist and carry the current recipe's key (label org.paddleocr-fleet.rootfs), so a changed recipe
# replaces them. SANDBOX_SUITES (default "bookworm bullseye") limits the host images to those suites: `make demo`
# needs bookworm only.
set -euo pipefail

CACHE_DIR=${PADDLEOCR_FLEET_CACHE:-$HOME/.cache/paddleocr-fleet}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_IMAGE=${SANDBOX_BASE_IMAGE:-paddleocr-fleet/python-base:local}
BASE_ARCHIVE="$CACHE_DIR/images/python-base.tar"
# sudo and openssh-server: hosts are reached like servers, over SSH as a sudo user.
PACKAGES=systemd,systemd-sysv,dbus,sudo,openssh-server,python3,python3-venv,python3-apt,ca-certificates,iproute2,procps,curl,gnupg,libgomp1
# Bump when the rootfs recipe changes without a package change.
RECIPE=3
KEY=$(echo "$PACKAGES $RECIPE" | sha256sum | cut -c1-12)
KEY_LABEL=org.paddleocr-fleet.rootfs

mkdir -p "$CACHE_DIR/images"

# rootfs SUITE: path of the suite's rootfs tarball, debootstrapped once.
rootfs() {
  local suite=$1 tar work
  tar="$CACHE_DIR/images/$suite-rootfs-$KEY.tar"
  if [ ! -s "$tar" ]; then
    command -v debootstrap >/dev/null || { echo "debootstrap missing: apt-get install debootstrap" >&2; exit 1; }
    work=$(mktemp -d)
    echo "debootstrap $suite from $MIRROR (a few minutes, once)" >&2
    debootstrap --variant=minbase --include="$PACKAGES" "$suite" "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log" >&2; rm -rf "$work"; exit 1; }
    # A container has no consoles or udev to settle: these units only slow boot or fail.
    for unit in getty.target systemd-udevd.service systemd-udev-trigger.service systemd-modules-load.service \
        systemd-remount-fs.service sys-kernel-config.mount sys-kernel-debug.mount; do
      ln -sf /dev/null "$work/rootfs/etc/systemd/system/$unit"
    done
    printf 'deb %s %s main\ndeb %s %s-updates main\n' "$MIRROR" "$suite" "$MIRROR" "$suite" >"$work/rootfs/etc/apt/sources.list"
    # Every host makes its own SSH host keys at first boot (cloud-init's job on a real server): none are baked in.
    rm -f "$work/rootfs"/etc/ssh/ssh_host_*
    cat >"$work/rootfs/etc/systemd/system/sandbox-ssh-host-keys.service" <<'UNIT'
[Unit]
Description=Generate this sandbox host's own SSH host keys (first boot)
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=ssh.service
UNIT
    mkdir -p "$work/rootfs/etc/systemd/system/ssh.service.wants"
    ln -sf ../sandbox-ssh-host-keys.service "$work/rootfs/etc/systemd/system/ssh.service.wants/"
    rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
    # An old mtime tells apt's cache_valid_time that the (emptied) lists need an update, as on a fresh server.
    touch -d 2000-01-01 "$work/rootfs/var/lib/apt/lists"
    tar -C "$work/rootfs" -cf "$tar.tmp" .
    mv "$tar.tmp" "$tar"
    rm -rf "$work"
  fi
  echo "$tar"
}

# current IMAGE: whether IMAGE exists, built from this recipe.
current() {
  [ "$(docker image inspect --format "{{index .Config.Labels \"$KEY_LABEL\"}}" "$1" 2>/dev/null)" = "$KEY" ]
}

# host_image SUITE IMAGE: the systemd host image of a suite.
host_image() {
  local suite=$1 image=$2 tar
  current "$image" && { echo "sandbox image present: $image"; return; }
  tar=$(rootfs "$suite")
  docker import --change 'CMD ["/lib/systemd/systemd"]' --change 'ENV container=docker' --change "LABEL $KEY_LABEL=$KEY" \
    "$tar" "$image"
  echo "built $image"
}

SUITES=${SANDBOX_SUITES:-bookworm bullseye}
declare -A HOST_IMAGE=(
  [bookworm]=${SANDBOX_HOST_IMAGE:-paddleocr-fleet/debian12-systemd:local}
  [bullseye]=${SANDBOX_HOST_IMAGE_DEBIAN11:-paddleocr-fleet/debian11-systemd:local}
)
# The rootfs of every suite still missing, side by side (each is mostly a wait on the mirror).
pids=()
for suite in $SUITES; do
  [ -n "${HOST_IMAGE[$suite]:-}" ] || { echo "unknown suite '$suite' (bookworm, bullseye)" >&2; exit 2; }
  current "${HOST_IMAGE[$suite]}" || { rootfs "$suite" >/dev/null & pids+=($!); }
done
for pid in "${pids[@]}"; do wait "$pid"; done
for suite in $SUITES; do host_image "$suite" "${HOST_IMAGE[$suite]}"; done

if ! current "$BASE_IMAGE" || [ ! -s "$BASE_ARCHIVE" ]; then
  docker import --change 'CMD ["/bin/bash"]' --change "LABEL $KEY_LABEL=$KEY" "$(rootfs bookworm)" "$BASE_IMAGE"
  docker save "$BASE_IMAGE" -o "$BASE_ARCHIVE.tmp"
  mv "$BASE_ARCHIVE.tmp" "$BASE_ARCHIVE"
  echo "built $BASE_IMAGE ($BASE_ARCHIVE)"
fi
