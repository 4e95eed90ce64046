#!/usr/bin/env bash
# Creates or refreshes the virtualenv with the pinned controller tooling and the project package
# (no root needed): VENV=DIR, default .venv in the checkout. Rebuilt when the pins change.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
stamp="$VENV/.requirements.sha256"
want=$(cat requirements-dev.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "== creating $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet -r requirements-dev.txt -e .
  echo "$want" >"$stamp"
fi
