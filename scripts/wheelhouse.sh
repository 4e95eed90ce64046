#!/usr/bin/env bash
# Fills the wheelhouse the OCR image builds install from (about 700 MB, fetched once):
# every wheel of roles/paddleocr_image/files/requirements.lock plus the CPU paddle wheel.
# Runs offline when the wheelhouse is complete; air-gapped users copy the directory over.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE_DIR=${PADDLEOCR_FLEET_CACHE:-$HOME/.cache/paddleocr-fleet}
WHEELHOUSE="$CACHE_DIR/wheelhouse"
PADDLE=${PADDLE_PACKAGE:-paddlepaddle==3.3.1}
PIP=${PIP:-.venv/bin/pip}
LOCK=roles/paddleocr_image/files/requirements.lock

python_version=$(${PIP%pip}python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$python_version" != "3.11" ]; then
  echo "the image's lock is for Python 3.11; this controller has $python_version" >&2
  exit 1
fi
mkdir -p "$WHEELHOUSE"
stamp="$WHEELHOUSE/.complete"
want=$( (cat "$LOCK"; echo "$PADDLE") | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "wheelhouse complete: $WHEELHOUSE ($(du -sh "$WHEELHOUSE" | cut -f1))"
  exit 0
fi
if ! "$PIP" wheel --quiet --no-index --find-links "$WHEELHOUSE" -w "$WHEELHOUSE" -r "$LOCK" "$PADDLE" 2>/dev/null; then
  echo "== fetching wheels into $WHEELHOUSE (once)"
  "$PIP" wheel --quiet --find-links "$WHEELHOUSE" -w "$WHEELHOUSE" -r "$LOCK" "$PADDLE"
fi
echo "$want" >"$stamp"
echo "wheelhouse complete: $WHEELHOUSE ($(du -sh "$WHEELHOUSE" | cut -f1))"
