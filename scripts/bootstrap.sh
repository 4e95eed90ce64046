#!/usr/bin/env bash
# Prepares a controller: the Python venv with the pinned tooling, and a Docker engine.
# On a root Debian/Ubuntu machine with no engine answering it installs docker.io (and
# debootstrap for the sandbox images) and, where PID 1 is not systemd, starts dockerd itself.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/venv.sh

need_packages=()
command -v docker >/dev/null 2>&1 && command -v dockerd >/dev/null 2>&1 || need_packages+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need_packages+=(debootstrap)
# The font the tests render their documents with.
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_packages+=(fonts-dejavu-core)
if [ ${#need_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "== installing ${need_packages[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_packages[@]}" >/dev/null
  else
    echo "missing ${need_packages[*]}: install them (root and apt-get are needed to do it here)" >&2
    exit 1
  fi
fi

if ! docker info >/dev/null 2>&1; then
  if [ -d /run/systemd/system ]; then
    systemctl start docker
  else
    echo "== starting dockerd in the background (no systemd here); log: /var/log/dockerd.log"
    nohup dockerd >/var/log/dockerd.log 2>&1 &
  fi
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not come up; see /var/log/dockerd.log" >&2; exit 1; }
fi
echo "== controller ready: ${VENV:-.venv}, docker $(docker version --format '{{.Server.Version}}')"
