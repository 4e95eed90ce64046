#!/usr/bin/env bash
# Builds the local Debian images the sandbox needs, offline from Docker Hub:
#   paddleocr-fleet/debian12-systemd:local  systemd + sshd host (bookworm) that molecule and `make demo` converge
#   paddleocr-fleet/debian11-systemd:local  the same on bullseye (Python 3.9, systemd 247, docker.io 20.10.5):
#                                           the generation closest to Ubuntu 20.04 this machine can build
#   paddleocr-fleet/python-base:local       base of the OCR image (bookworm, saved as a tarball the role loads): what
#                                           python:3.11-slim-bookworm, the role's default base, holds (Debian's
#                                           minimal system and Python with venv), no host packages
# Each comes from a debootstrap rootfs, all of them debootstrapped side by side; rerunning is a no-op while the
# images exist and carry their recipe's key (label org.paddleocr-fleet.rootfs), so a changed recipe replaces them.
# SANDBOX_SUITES (default "bookworm bullseye") limits the host images to those suites: `make demo` needs bookworm
# only.
set -euo pipefail

CACHE_DIR=${PADDLEOCR_FLEET_CACHE:-$HOME/.cache/paddleocr-fleet}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_IMAGE=${SANDBOX_BASE_IMAGE:-paddleocr-fleet/python-base:local}
BASE_ARCHIVE="$CACHE_DIR/images/python-base.tar"
# sudo and openssh-server: hosts are reached like servers, over SSH as a sudo user.
PACKAGES=systemd,systemd-sysv,dbus,sudo,openssh-server,python3,python3-venv,python3-apt,ca-certificates,iproute2,procps,curl,gnupg,libgomp1
# libgomp1: Paddle links it (the role's paddleocr_image_system_packages would install it on any base).
BASE_PACKAGES=python3,python3-venv,ca-certificates,libgomp1
# Bump when a rootfs recipe (the hosts', the base's) changes without a package change.
RECIPE=3
BASE_RECIPE=1
KEY=$(echo "$PACKAGES $RECIPE" | sha256sum | cut -c1-12)
BASE_KEY=$(echo "$BASE_PACKAGES $BASE_RECIPE" | sha256sum | cut -c1-12)
KEY_LABEL=org.paddleocr-fleet.rootfs

mkdir -p "$CACHE_DIR/images"

# rootfs SUITE [base]: path of the suite's host rootfs tarball (or the image base's), debootstrapped once.
rootfs() {
  local suite=$1 kind=${2:-host} packages=$PACKAGES key=$KEY tar work
  [ "$kind" = base ] && { packages=$BASE_PACKAGES; key=$BASE_KEY; }
  tar="$CACHE_DIR/images/$suite-rootfs-$key.tar"
  if [ ! -s "$tar" ]; then
    command -v debootstrap >/dev/null || { echo "debootstrap missing: apt-get install debootstrap" >&2; exit 1; }
    work=$(mktemp -d)
    echo "debootstrap $suite ($kind) from $MIRROR (a few minutes, once)" >&2
    debootstrap --variant=minbase --include="$packages" "$suite" "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log" >&2; rm -rf "$work"; exit 1; }
    if [ "$kind" = host ]; then host_setup "$work/rootfs"; else slim "$work/rootfs"; fi
    printf 'deb %s %s main\ndeb %s %s-updates main\n' "$MIRROR" "$suite" "$MIRROR" "$suite" >"$work/rootfs/etc/apt/sources.list"
    rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
    # An old mtime tells apt's cache_valid_time that the (emptied) lists need an update, as on a fresh server.
    touch -d 2000-01-01 "$work/rootfs/var/lib/apt/lists"
    tar -C "$work/rootfs" -cf "$tar.tmp" .
    mv "$tar.tmp" "$tar"
    rm -rf "$work"
  fi
  echo "$tar"
}

# host_setup ROOT: what a host's rootfs gets beyond its packages.
host_setup() {
  local root=$1
  # A container has no consoles or udev to settle: these units only slow boot or fail.
  for unit in getty.target systemd-udevd.service systemd-udev-trigger.service systemd-modules-load.service \
      systemd-remount-fs.service sys-kernel-config.mount sys-kernel-debug.mount; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
  done
  # Every host makes its own SSH host keys at first boot (cloud-init's job on a real server): none are baked in.
  rm -f "$root"/etc/ssh/ssh_host_*
  cat >"$root/etc/systemd/system/sandbox-ssh-host-keys.service" <<'UNIT'
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
  mkdir -p "$root/etc/systemd/system/ssh.service.wants"
  ln -sf ../sandbox-ssh-host-keys.service "$root/etc/systemd/system/ssh.service.wants/"
}

# slim ROOT: Debian's slim variant (debian:bookworm-slim, under python:3.11-slim-bookworm): no documentation but the
# copyright files, no manuals, no translations, now and for every package installed later (debuerreotype's
# slimify list).
slim() {
  local root=$1
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
DPKG
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/groff/* "$root"/usr/share/info/* "$root"/usr/share/linda/* \
    "$root"/usr/share/lintian/overrides/* "$root"/usr/share/locale/* "$root"/usr/share/man/*
}

# current IMAGE [KEY]: whether IMAGE exists, built from this recipe (the hosts' unless KEY).
current() {
  [ "$(docker image inspect --format "{{index .Config.Labels \"$KEY_LABEL\"}}" "$1" 2>/dev/null)" = "${2:-$KEY}" ]
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
current "$BASE_IMAGE" "$BASE_KEY" || { rootfs bookworm base >/dev/null & pids+=($!); }
for pid in "${pids[@]}"; do wait "$pid"; done
for suite in $SUITES; do host_image "$suite" "${HOST_IMAGE[$suite]}"; done

if ! current "$BASE_IMAGE" "$BASE_KEY" || [ ! -s "$BASE_ARCHIVE" ]; then
  docker import --change 'CMD ["/bin/bash"]' --change "LABEL $KEY_LABEL=$BASE_KEY" "$(rootfs bookworm base)" "$BASE_IMAGE"
  docker save "$BASE_IMAGE" -o "$BASE_ARCHIVE.tmp"
  mv "$BASE_ARCHIVE.tmp" "$BASE_ARCHIVE"
  echo "built $BASE_IMAGE ($BASE_ARCHIVE)"
fi
