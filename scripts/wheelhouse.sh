#!/usr/bin/env bash
# Fills the wheelhouse the OCR image builds install from (fetched once): exactly the wheels of
# roles/paddleocr_image/files/requirements.lock plus the CPU paddle wheel, no more (the image installs
# them with --no-deps), so the directory holds what a build needs and an air-gapped site copies that.
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
# Into a new directory, taking what the old one has: wheels a lock no longer lists do not linger.
fresh=$(mktemp -d "$CACHE_DIR/wheelhouse.new.XXXXXX")
trap 'rm -rf "$fresh"' EXIT
if ! "$PIP" wheel --quiet --no-deps --no-index --find-links "$WHEELHOUSE" -w "$fresh" -r "$LOCK" "$PADDLE" 2>/dev/null; then
  echo "== fetching wheels into $WHEELHOUSE (once)"
  "$PIP" wheel --quiet --no-deps --find-links "$WHEELHOUSE" -w "$fresh" -r "$LOCK" "$PADDLE"
fi
echo "$want" >"$fresh/.complete"
chmod 755 "$fresh"
rm -rf "$WHEELHOUSE"
mv "$fresh" "$WHEELHOUSE"
trap - EXIT
echo "wheelhouse complete: $WHEELHOUSE ($(du -sh "$WHEELHOUSE" | cut -f1))"
