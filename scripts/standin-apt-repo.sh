#!/usr/bin/env bash
# Builds the signed STAND-IN apt repositories (NVIDIA's libnvidia-container and Docker CE are not
# reachable from here) and serves them on the docker bridge gateway, where sandbox hosts reach them.
# Used by molecule/gpu_stack (prepare). Prints the base URL on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
CACHE_DIR=${PADDLEOCR_FLEET_CACHE:-$HOME/.cache/paddleocr-fleet}
ROOT=$CACHE_DIR/standin-apt
BIND=${STANDIN_BIND:-$(ip -4 -o addr show docker0 | awk '{split($4, a, "/"); print a[1]}')}
[ -n "$BIND" ] || { echo "no docker0 address: is dockerd running?" >&2; exit 1; }
PORT=${STANDIN_PORT:-8920}
URL="http://$BIND:$PORT"

for tool in gpg dpkg-deb; do
  command -v "$tool" >/dev/null 2>&1 && continue
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "== installing gnupg dpkg" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnupg dpkg >/dev/null
  else
    echo "$tool is missing: install gnupg and dpkg" >&2
    exit 1
  fi
done

# Rebuild only when the builder changed: a rebuilt repository has a new key and new package hashes.
stamp=$(sha256sum tests/support/standin_repo.py | cut -d' ' -f1)
if [ "$(cat "$ROOT/.built-by" 2>/dev/null)" != "$stamp" ]; then
  .venv/bin/python tests/support/standin_repo.py build --out "$ROOT" >&2
  echo "$stamp" >"$ROOT/.built-by"
fi

if ! curl --silent --fail --max-time 5 "$URL/libnvidia-container/gpgkey" >/dev/null; then
  nohup .venv/bin/python tests/support/standin_repo.py serve --root "$ROOT" --bind "$BIND" --port "$PORT" \
    >"$CACHE_DIR/standin-apt.log" 2>&1 &
  echo $! >"$CACHE_DIR/standin-apt.pid"
  wait_for_url "$URL/libnvidia-container/gpgkey" "stand-in repository" "$CACHE_DIR/standin-apt.log" || exit 1
fi
echo "$URL"
