#!/usr/bin/env bash
# Builds the local Debian 12 images the sandbox needs, offline from Docker Hub:
#   paddleocr-fleet/debian12-systemd:local  systemd host that molecule and `make demo` converge
#   paddleocr-fleet/python-base:local       base of the OCR image (saved as a tarball the role loads)
# Both come from one debootstrap rootfs; rerunning is a no-op while the images exist.
set -euo pipefail

CACHE_DIR=${PADDLEOCR_FLEET_CACHE:-$HOME/.cache/paddleocr-fleet}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
HOST_IMAGE=${SANDBOX_HOST_IMAGE:-paddleocr-fleet/debian12-systemd:local}
BASE_IMAGE=${SANDBOX_BASE_IMAGE:-paddleocr-fleet/python-base:local}
BASE_ARCHIVE="$CACHE_DIR/images/python-base.tar"
PACKAGES=systemd,systemd-sysv,dbus,sudo,python3,python3-venv,python3-apt,ca-certificates,iproute2,procps,curl,gnupg,libgomp1,libgl1,libglib2.0-0
# Bump when the rootfs recipe changes without a package change.
RECIPE=2

mkdir -p "$CACHE_DIR/images"
rootfs_tar="$CACHE_DIR/images/bookworm-rootfs-$(echo "$PACKAGES $RECIPE" | sha256sum | cut -c1-12).tar"
if [ -s "$rootfs_tar" ] && docker image inspect "$HOST_IMAGE" >/dev/null 2>&1 \
    && docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && [ -s "$BASE_ARCHIVE" ]; then
  echo "sandbox images present: $HOST_IMAGE $BASE_IMAGE"
  exit 0
fi

if [ ! -s "$rootfs_tar" ]; then
  command -v debootstrap >/dev/null || { echo "debootstrap missing: apt-get install debootstrap" >&2; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "debootstrap bookworm from $MIRROR (a few minutes, once)"
  debootstrap --variant=minbase --include="$PACKAGES" bookworm "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  # A container has no consoles or udev to settle: these units only slow boot or fail.
  for unit in getty.target systemd-udevd.service systemd-udev-trigger.service systemd-modules-load.service \
      systemd-remount-fs.service sys-kernel-config.mount sys-kernel-debug.mount; do
    ln -sf /dev/null "$work/rootfs/etc/systemd/system/$unit"
  done
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$MIRROR" "$MIRROR" >"$work/rootfs/etc/apt/sources.list"
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  # An old mtime tells apt's cache_valid_time that the (emptied) lists need an update, as on a fresh server.
  touch -d 2000-01-01 "$work/rootfs/var/lib/apt/lists"
  tar -C "$work/rootfs" -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
fi

docker import --change 'CMD ["/lib/systemd/systemd"]' --change 'ENV container=docker' "$rootfs_tar" "$HOST_IMAGE"
docker import --change 'CMD ["/bin/bash"]' "$rootfs_tar" "$BASE_IMAGE"
docker save "$BASE_IMAGE" -o "$BASE_ARCHIVE.tmp"
mv "$BASE_ARCHIVE.tmp" "$BASE_ARCHIVE"
echo "built $HOST_IMAGE and $BASE_IMAGE ($BASE_ARCHIVE)"
