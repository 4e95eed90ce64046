#!/usr/bin/env bash
# make test: every step of the suite, none skipped; a step that fails or cannot run fails the run.
# Steps that share nothing run side by side in lanes, so that no core idles while a step waits on a service
# coming up: the caches fill while `make check` runs; the fleet, default and gpu_stack scenarios, the integration
# tests and the slow unit tests run beside each other. Each step's output goes to build/test-logs/<step>.log and is
# printed whole when the step ends. The run ends with a table of every step's start, wall time and CPU time, and
# how busy the machine's cores were.
set -uo pipefail
cd "$(dirname "$0")/.."

LOGS=build/test-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"
TIMES=$LOGS/times.tsv
RUN_START=$(date +%s)

# The machine's busy and total CPU time so far, in clock ticks (all cores, from /proc/stat: idle and iowait are
# not busy).
cpu_ticks() {
  awk '/^cpu / {total = 0; for (i = 2; i <= NF; i++) total += $i; print total - $5 - $6, total}' /proc/stat
}
read -r RUN_BUSY RUN_TOTAL < <(cpu_ticks)

# step NAME TARGET...: `make TARGET...` with its output in NAME.log, printed when it ends; its times recorded.
step() {
  local name=$1 start rc
  shift
  start=$(date +%s)
  echo "== $(date +%T) started $name: make $*"
  # The CPU time of the step's own processes (make and what it waited for: ansible, molecule, pytest, the docker
  # CLI), not of the daemons it drives (the Docker engine, the sandbox hosts and their services, the registry).
  local TIMEFORMAT='%U %S' cpu
  { time make --no-print-directory "$@" >"$LOGS/$name.log" 2>&1; } 2>"$LOGS/.$name.cpu"
  rc=$?
  cpu=$(awk '{printf "%.0f", $1 + $2}' "$LOGS/.$name.cpu")
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" $((start - RUN_START)) $(($(date +%s) - start)) "$rc" "$cpu" >>"$TIMES"
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
  local busy total
  read -r busy total < <(cpu_ticks)
  echo "== make test: $(($(date +%s) - RUN_START)) s in all ($(date -u +%F)), $1"
  echo "== the machine's $(nproc) cores were busy $(( 100 * (busy - RUN_BUSY) / (total - RUN_TOTAL) )) % of the run," \
    "$(( (busy - RUN_BUSY) / $(getconf CLK_TCK) )) CPU s; each step's own processes' CPU time below (cpu s)"
  printf '| %-22s | %8s | %8s | %8s | %s\n' step "start s" "wall s" "cpu s" result
  printf '|%s|%s|%s|%s|%s\n' ------------------------ ---------- ---------- ---------- --------
  while IFS=$'\t' read -r name start wall rc cpu; do
    printf '| %-22s | %8s | %8s | %8s | %s\n' "$name" "$start" "$wall" "$cpu" \
      "$([ "$rc" -eq 0 ] && echo passed || echo "FAILED ($rc)")"
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
