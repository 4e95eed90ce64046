#!/usr/bin/env bash
# Fills the wheelhouse the OCR image builds install from (fetched once), in parts, each exactly the wheels
# one image installs (the images install them with --no-deps):
#   cpu         roles/paddleocr_image/files/requirements.lock and the CPU paddle wheel (the fleet's image)
#   paddleocr3  the paddleocr3 runtime's lock and its CPU paddle
#   onnxruntime the onnxruntime runtime's locks (no Paddle), with ONNX Runtime's plain CPU build (the CPU default) and
#               its OpenVINO build: the demo's and the default scenario's images
#   gpu         the onnxruntime runtime's GPU image: its lock with onnxruntime-gpu and the pinned CUDA libraries
#               of flavour ort-cu12
# WHEELHOUSE_PARTS (default: all four) says which; `make demo` fetches onnxruntime only. Each part is complete once
# its stamp holds the hash of its pins; a complete part is not looked at again, so later runs are offline.
# Wheels of a pin that changed stay until the directory is removed (harmless: every install is hash-pinned).
# Air-gapped users copy the directory over.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE_DIR=${PADDLEOCR_FLEET_CACHE:-$HOME/.cache/paddleocr-fleet}
WHEELHOUSE="$CACHE_DIR/wheelhouse"
PARTS=${WHEELHOUSE_PARTS:-cpu paddleocr3 onnxruntime gpu}
PIP=${PIP:-.venv/bin/pip}
declare -A LOCK=(
  [cpu]=roles/paddleocr_image/files/requirements.lock
  [paddleocr3]=roles/paddleocr_image/files/requirements-paddleocr3.lock
  [onnxruntime]="roles/paddleocr_image/files/requirements-onnxruntime-openvino.lock roles/paddleocr_image/files/requirements-onnxruntime.lock"
  [gpu]="roles/paddleocr_image/files/requirements-onnxruntime-gpu.lock roles/paddleocr_image/files/cuda-ort-cu12.lock"
)
declare -A PINS=(
  [cpu]=${PADDLE_PACKAGE:-paddlepaddle==3.3.1}
  [paddleocr3]=paddlepaddle==3.2.2
  [onnxruntime]=
  [gpu]=
)

python_version=$(${PIP%pip}python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$python_version" != "3.11" ]; then
  echo "the image's lock is for Python 3.11; this controller has $python_version" >&2
  exit 1
fi
mkdir -p "$WHEELHOUSE"
chmod 755 "$WHEELHOUSE"
for part in $PARTS; do
  [ -n "${LOCK[$part]:-}" ] || { echo "unknown wheelhouse part '$part' (cpu, paddleocr3, onnxruntime, gpu)" >&2; exit 2; }
  stamp="$WHEELHOUSE/.complete-$part"
  # shellcheck disable=SC2086 # one lock per word
  want=$( (cat ${LOCK[$part]}; echo "${PINS[$part]}") | sha256sum | cut -d' ' -f1)
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && continue
  echo "== fetching the $part wheels into $WHEELHOUSE (once)"
  # One pip call per hash-pinned lock (pip checks every file's hash) and one for the pins: pip refuses two pins
  # of one package in one call, and two locks of a part pin the same packages.
  for lock in ${LOCK[$part]}; do
    "$PIP" wheel --quiet --no-deps --find-links "$WHEELHOUSE" -w "$WHEELHOUSE" -r "$lock"
  done
  [ -z "${PINS[$part]}" ] || "$PIP" wheel --quiet --no-deps --find-links "$WHEELHOUSE" -w "$WHEELHOUSE" ${PINS[$part]}
  echo "$want" >"$stamp"
done
echo "wheelhouse has $PARTS: $WHEELHOUSE ($(du -sh "$WHEELHOUSE" | cut -f1))"
