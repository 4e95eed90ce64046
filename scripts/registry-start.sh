#!/usr/bin/env bash
# Starts a private image registry from Debian's docker-registry package (distribution 2.x) for the
# fleet tests: the controller's engine pushes to 127.0.0.1:PORT (Docker trusts loopback
# registries over plain HTTP), sandbox hosts pull from the docker bridge address, which their
# daemon.json lists under insecure-registries. Storage lives in the cache, so layers pushed once
# are not pushed again.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
CACHE_DIR=${PADDLEOCR_FLEET_CACHE:-$HOME/.cache/paddleocr-fleet}
PORT=${REGISTRY_PORT:-5000}

if curl --silent --fail --max-time 5 "http://127.0.0.1:$PORT/v2/" >/dev/null; then
  echo "registry already serving on :$PORT"
  exit 0
fi
if ! command -v docker-registry >/dev/null; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "== installing docker-registry"
    apt-get update -qq
    # The package's init script would start a registry with its own config: keep it off.
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null || { rm -f /usr/sbin/policy-rc.d; exit 1; }
    rm -f /usr/sbin/policy-rc.d
  else
    echo "docker-registry is missing: install Debian's docker-registry package" >&2
    exit 1
  fi
fi

mkdir -p "$CACHE_DIR/registry/data"
cat >"$CACHE_DIR/registry/config.yml" <<CONFIG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $CACHE_DIR/registry/data
  delete:
    enabled: true
http:
  addr: 0.0.0.0:$PORT
CONFIG
nohup docker-registry serve "$CACHE_DIR/registry/config.yml" >"$CACHE_DIR/registry.log" 2>&1 &
wait_for_url "http://127.0.0.1:$PORT/v2/" registry "$CACHE_DIR/registry.log" || exit 1
echo "registry serving on :$PORT (push 127.0.0.1:$PORT, pull <docker0 address>:$PORT; log: $CACHE_DIR/registry.log)"
