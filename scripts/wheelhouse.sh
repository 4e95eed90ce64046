#!/usr/bin/env bash
# Fills the wheelhouse the OCR image builds install from (fetched once): exactly the wheels of
# roles/paddleocr_image/files/requirements.lock plus the CPU paddle wheel, those of the paddleocr3 runtime
# (requirements-paddleocr3.lock and its paddle), and for the GPU image the
# pinned CUDA libraries of flavour cu118 with the GPU STAND-IN paddle (below); no more (the image installs
# them with --no-deps), so the directory holds what a build needs and an air-gapped site copies that.
# Runs offline when the wheelhouse is complete; air-gapped users copy the directory over.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE_DIR=${PADDLEOCR_FLEET_CACHE:-$HOME/.cache/paddleocr-fleet}
WHEELHOUSE="$CACHE_DIR/wheelhouse"
PADDLE=${PADDLE_PACKAGE:-paddlepaddle==3.3.1}
PIP=${PIP:-.venv/bin/pip}
LOCK=roles/paddleocr_image/files/requirements.lock
# The paddleocr3 runtime's image: its own lock and the CPU Paddle the role picks for it.
LOCK3=roles/paddleocr_image/files/requirements-paddleocr3.lock
PADDLE3=paddlepaddle==3.2.2
# STAND-IN for paddlepaddle-gpu 3.x (cu118), which only Paddle's own index has (unreachable here): PyPI's
# paddlepaddle-gpu 2.6.2, also built for CUDA 11.8, with the two packages it imports that 3.x does not.
# tests/integration/gpu_image_standin.yml builds the GPU image with the same pins.
CUDA_LOCK=roles/paddleocr_image/files/cuda-cu118.lock
GPU_STANDIN=(paddlepaddle-gpu==2.6.2 decorator==5.3.1 astor==0.8.1)

python_version=$(${PIP%pip}python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$python_version" != "3.11" ]; then
  echo "the image's lock is for Python 3.11; this controller has $python_version" >&2
  exit 1
fi
mkdir -p "$WHEELHOUSE"
stamp="$WHEELHOUSE/.complete"
want=$( (cat "$LOCK" "$LOCK3" "$CUDA_LOCK"; echo "$PADDLE $PADDLE3 ${GPU_STANDIN[*]}") | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "wheelhouse complete: $WHEELHOUSE ($(du -sh "$WHEELHOUSE" | cut -f1))"
  exit 0
fi
# Into a new directory, taking what the old one has: wheels a lock no longer lists do not linger.
fresh=$(mktemp -d "$CACHE_DIR/wheelhouse.new.XXXXXX")
trap 'rm -rf "$fresh"' EXIT
# In steps, as the images install them: the hash-pinned locks (pip checks every file's hash), then Paddle
# (one pip call per lock and per Paddle version: pip refuses two pins of one package in one call).
wheels() {
  "$PIP" wheel --quiet --no-deps "$@" --find-links "$WHEELHOUSE" -w "$fresh" -r "$LOCK" -r "$CUDA_LOCK" \
    && "$PIP" wheel --quiet --no-deps "$@" --find-links "$WHEELHOUSE" -w "$fresh" -r "$LOCK3" \
    && "$PIP" wheel --quiet --no-deps "$@" --find-links "$WHEELHOUSE" -w "$fresh" "$PADDLE" "${GPU_STANDIN[@]}" \
    && "$PIP" wheel --quiet --no-deps "$@" --find-links "$WHEELHOUSE" -w "$fresh" "$PADDLE3"
}
if ! wheels --no-index 2>/dev/null; then
  echo "== fetching wheels into $WHEELHOUSE (once)"
  wheels
fi
echo "$want" >"$fresh/.complete"
chmod 755 "$fresh"
rm -rf "$WHEELHOUSE"
mv "$fresh" "$WHEELHOUSE"
trap - EXIT
echo "wheelhouse complete: $WHEELHOUSE ($(du -sh "$WHEELHOUSE" | cut -f1))"
