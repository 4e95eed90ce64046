#!/usr/bin/env bash
# make test: every step of the suite, none skipped; a step that fails or cannot run fails the run.
# Steps that share nothing run side by side in lanes (most of a step's time is waiting on the network, the
# disk or a service coming up, not computing): the caches fill while `make check` runs; the fleet, default and
# gpu_stack scenarios, the integration tests and the slow unit tests run beside each other. Each step's output
# goes to build/test-logs/<step>.log and is printed whole when the step ends. The run ends with a table of every
# step's start and wall time.
set -uo pipefail
cd "$(dirname "$0")/.."

LOGS=build/test-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"
TIMES=$LOGS/times.tsv
RUN_START=$(date +%s)

# step NAME TARGET...: `make TARGET...` with its output in NAME.log, printed when it ends; its times recorded.
step() {
  local name=$1 start rc
  shift
  start=$(date +%s)
  echo "== $(date +%T) started $name: make $*"
  make --no-print-directory "$@" >"$LOGS/$name.log" 2>&1
  rc=$?
  printf '%s\t%s\t%s\t%s\n' "$name" $((start - RUN_START)) $(($(date +%s) - start)) "$rc" >>"$TIMES"
  {
    flock 9
    echo "== $(date +%T) output of $name (make $*):"
    cat "$LOGS/$name.log"
    echo "== $(date +%T) $name $([ "$rc" -eq 0 ] && echo passed || echo "FAILED (exit $rc)") in $(($(date +%s) - start)) s"
  } 9>"$LOGS/.print.lock"
  return "$rc"
}

# after NAME: waits until the step NAME (in another lane) has ended; fails when it failed.
after() {
  local rc
  until rc=$(awk -F'\t' -v name="$1" '$1 == name {print $4}' "$TIMES" 2>/dev/null) && [ -n "$rc" ]; do
    sleep 2
  done
  [ "$rc" -eq 0 ]
}

# lane "NAME:TARGET[+TARGET...] @NAME ...": its steps in order (@NAME: wait for that step of another lane),
# stopping at the first failure.
lane() {
  local spec
  for spec in $1; do
    if [ "${spec:0:1}" = @ ]; then
      after "${spec:1}" || return 1
      continue
    fi
    # shellcheck disable=SC2046
    step "${spec%%:*}" $(tr + ' ' <<<"${spec#*:}") || return 1
  done
}

# phase LANE...: the lanes side by side; fails when any lane failed.
phase() {
  local pids=() rc=0 pid
  for spec in "$@"; do
    lane "$spec" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do
    wait "$pid" || rc=1
  done
  return "$rc"
}

table() {
  echo
  echo "== make test: $(($(date +%s) - RUN_START)) s in all ($(date -u +%F)), $1"
  printf '| %-22s | %8s | %8s | %s\n' step "start s" "wall s" result
  printf '|%s|%s|%s|%s\n' ------------------------ ---------- ---------- --------
  while IFS=$'\t' read -r name start wall rc; do
    printf '| %-22s | %8s | %8s | %s\n' "$name" "$start" "$wall" "$([ "$rc" -eq 0 ] && echo passed || echo "FAILED ($rc)")"
  done <"$TIMES"
}

finish() {
  if [ "$1" -eq 0 ]; then table "every step passed"; else table "FAILED"; fi
  exit "$1"
}

# The controller first (venv and Docker engine): every lane needs it.
phase "bootstrap:bootstrap" || finish 1
# Then every lane at once. The caches (sandbox images, wheelhouse, model mirror, registry, the built collection, the
# operator's venv) fill first in the fleet's lane, beside `make check`; the steps that read them wait for that
# (@inputs), and INPUTS= keeps each from refreshing a cache another lane is reading. The scenarios and the
# integration tests have their own hosts, volumes, ports and image names (the fleet's release and the GPU
# stand-in image both build on the controller's engine); the fleet, the longest, starts first.
export INPUTS=
phase "inputs:sandbox-inputs+registry+collection+operator fleet:molecule-fleet" \
  "check:check @inputs default:molecule-default integration:integration" \
  "@inputs gpu_stack:molecule-gpu-stack unit-slow:unit-slow" || finish 1
finish 0
