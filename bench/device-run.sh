#!/usr/bin/env bash
# Issue 10's many-core figures in one call on the device machine (16 cores,
# no Node, no network), most important first, each step with its own time
# limit so that what finished comes back even if a later step runs long.
#
# Here:   npm run build && ../shared/tools/device-pack
# There:  the device tool's run with carry [".device"] and the command
#           bash bench/device-run.sh
#         and timeout_s 600 (the steps' limits add up to 540 s; on this
#         2-core machine the 1,2 list ran in 243 s).
#
# Writes under $OUT (what the device tool brings back), one file per step:
#   machine.txt        nproc, Node version, kernel
#   scale.md           npm run bench:scale -- 1,2,4,8,16: tiny tasks/s, p50/p99,
#                      CPU and skewed speedups, fork-join efficiency, piscina and
#                      the machine ceiling beside each, per worker count
#   bench-16.md        npm run bench -- --workers 16: every peer side by side
#                      (p99 and peak RSS at 16 workers are issue 10's targets)
#   spaced-16.md       npm run bench:spaced -- --workers 16 --peers piscina
#   <step>.err         its progress and errors; the last lines of the run say
#                      each step's exit status (124: its time limit)
#
# SPINDLE_DEVICE_WORKERS=1,2 bash bench/device-run.sh runs the same steps on
# a smaller list (how it is checked on a 2-core machine).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root/.device/out}
workers=${SPINDLE_DEVICE_WORKERS:-1,2,4,8,16}
max=${workers##*,}
mkdir -p "$out"
if [ -f "$root/.device/env.sh" ]; then
  cd "$root"
  # shellcheck disable=SC1091
  source .device/env.sh
  cd .device/app
else
  # No pack (a check on this machine): the built project itself.
  cd "$root"
  [ -d dist/bench ] || { echo "device-run: no dist/bench: run npm run build (and ../shared/tools/device-pack) first" >&2; exit 1; }
fi
{ nproc; node --version; uname -r; } > "$out/machine.txt"
cat "$out/machine.txt"

step() {
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  echo "== $name: $* (limit ${limit} s)"
  timeout "$limit" "$@" > "$out/$name.md" 2> "$out/$name.err"
  local rc=$?
  echo "   $name: rc $rc after $((SECONDS - t0)) s"
  tail -n 3 "$out/$name.err" | sed 's/^/   | /'
}

step scale 240 node dist/bench/scale.js "$workers"
step "bench-$max" 240 node dist/bench/run.js --workers "$max"
step "spaced-$max" 60 node dist/bench/spaced.js --workers "$max" --rounds 1 --peers piscina
echo "device-run: done in $SECONDS s; results in $out"
