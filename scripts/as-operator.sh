#!/usr/bin/env bash
# Runs a command the way an operator runs Ansible: as a non-root local user who may use Docker
# (group docker) but has no sudo, in that user's own copy of this checkout with its own venv.
# Run it as root (it creates the user):  scripts/as-operator.sh molecule test -s fleet
set -euo pipefail
cd "$(dirname "$0")/.."
OPERATOR=${PADDLEOCR_OPERATOR:-paddleocr-operator}
[ "$(id -u)" -eq 0 ] || { echo "as-operator.sh runs as root: it creates the operator user" >&2; exit 1; }
[ $# -gt 0 ] || { echo "usage: scripts/as-operator.sh COMMAND [ARG...]" >&2; exit 2; }

id "$OPERATOR" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$OPERATOR"
usermod --append --groups docker "$OPERATOR"
home=$(getent passwd "$OPERATOR" | cut -d: -f6)
# Without sudo, any controller-side task that tries to become root fails the run.
if command -v sudo >/dev/null && runuser -u "$OPERATOR" -- sudo -n true 2>/dev/null; then
  echo "$OPERATOR may use sudo: the production-path tests need an operator without it" >&2
  exit 1
fi

# The operator's checkout: this working tree's files (tracked and untracked-not-ignored), laid anew
# each run; its .venv stays between runs.
checkout="$home/paddleocr-fleet"
runuser -u "$OPERATOR" -- mkdir -p "$checkout"
find "$checkout" -mindepth 1 -maxdepth 1 ! -name .venv -exec rm -rf {} +
git ls-files -z --cached --others --exclude-standard \
  | tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null \
  | runuser -u "$OPERATOR" -- tar -C "$checkout" -xf -

passthrough=()
for name in CI MOLECULE_SANDBOX_IMAGE MOLECULE_SANDBOX_IMAGE_DEBIAN11 PADDLEOCR_MIRROR_URL REGISTRY_PORT PYTEST_ADDOPTS; do
  [ -n "${!name:-}" ] && passthrough+=("$name=${!name}")
done
exec runuser -u "$OPERATOR" -- env -i HOME="$home" USER="$OPERATOR" LOGNAME="$OPERATOR" LANG=C.UTF-8 \
  PATH="$checkout/.venv/bin:/usr/local/bin:/usr/bin:/bin" ANSIBLE_CONFIG="$checkout/ansible.cfg" \
  PADDLEOCR_FLEET_CACHE="$home/.cache/paddleocr-fleet" "${passthrough[@]}" \
  bash -c 'cd "$1" && shift && scripts/venv.sh && exec "$@"' as-operator "$checkout" "$@"
