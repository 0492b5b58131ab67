#!/usr/bin/env bash
# TPM anchoring cost with a private swtpm (not a timed test; prints figures):
#  1. library level (tests/bench/tpm_anchor_cost.cpp): per container start/stop,
#     anchors/s, log appends/s with anchoring every 64 events vs. off;
#  2. end to end: `ima-runc run` of a busybox container, with the TPM section in
#     the node config vs. without (paired, alternating runs; medians).
# Usage: bench_tpm.sh BUILD_DIR [RUNS]
set -uo pipefail
IMASHIM_BUILD=$(cd "${1:?build dir}" && pwd)
RUNS=${2:-15}
source "$(dirname "$0")/../lib/common.sh"
source "$IMASHIM_SRC/tests/lib/swtpm.sh"
start_swtpm || exit 1
echo "CPUs: $(nproc) (not pinned); swtpm $(swtpm --version 2>&1 | grep -o 'version [0-9.]*' | head -n1 | cut -d' ' -f2) over TCP on 127.0.0.1"

echo "-- library level"
"$IMASHIM_BUILD/tests/tpm_anchor_cost" "$SWTPM_TCTI" "$TEST_TMP/lib" || exit 1

echo "-- end to end: ima-runc run (busybox, measure mode), $RUNS runs each"
if [ "$(id -u)" != 0 ] || ! command -v runc >/dev/null || ! command -v jq >/dev/null; then
  echo "skipped: needs root, runc and jq"
  exit 0
fi
source "$IMASHIM_SRC/tests/lib/image.sh"
source "$IMASHIM_SRC/tests/lib/engines.sh"
# The library part extended PCR 23 for anchor logs of its own; the node below starts a new one.
tpm2_pcrreset 23 >/dev/null 2>&1
B=$TEST_TMP/bundle
make_overlay_bundle "$B" /bin/hello >/dev/null
ROOT=$TEST_TMP/runc-root
ms() { date +%s%N; }
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
: >"$TEST_TMP/off" && : >"$TEST_TMP/on"
for i in $(seq "$RUNS"); do
  for mode in off on; do
    if [ "$mode" = on ]; then
      node_config "$(jq -n --arg t "$SWTPM_TCTI" '{mode: "measure", tpm: {tcti: $t, on_failure: "require"}}')"
    else
      node_config '{"mode": "measure"}'
    fi
    t0=$(ms)
    (cd "$B" && "$IMA_RUNC" --root "$ROOT" run "b$mode$i" >/dev/null 2>&1) || { echo "ima-runc run failed ($mode)"; exit 1; }
    echo $((($(ms) - t0) / 1000)) >>"$TEST_TMP/$mode"
  done
done
off=$(median <"$TEST_TMP/off")
on=$(median <"$TEST_TMP/on")
awk -v a="$off" -v b="$on" 'BEGIN {
  printf "container run (create+start+wait+delete): without TPM %.1f ms, with TPM anchoring %.1f ms (median), +%.1f ms, ratio %.2f\n",
    a / 1000, b / 1000, (b - a) / 1000, b / a }'

echo "-- fanotify monitor events/s with anchoring on vs. off (every event: anchor_every_events=1, and the default 64)"
# Distinct executables: each exec is a BPRM_CHECK measurement (the default profile measures execs).
mkdir -p "$B/layers/2/data"
for i in $(seq 400); do printf '#!/bin/sh\n# %s\n' "$i" >"$B/layers/2/data/s$i"; chmod 755 "$B/layers/2/data/s$i"; done
bundle_set "$B" '.process.args = ["/bin/sh", "-c", "for f in /data/*; do $f; done"]'
events_run() {  # events_run NAME CONFIG: prints "<entries> <ms>"
  node_config "$2"
  local t0 t1 n
  t0=$(ms)
  (cd "$B" && "$IMA_RUNC" --root "$ROOT" run "$1" >/dev/null 2>&1) || { echo "0 1"; return; }
  t1=$(ms)
  n=$(grep -c . "$(log_dir_of "$1")/ascii_runtime_measurements" 2>/dev/null || echo 0)
  echo "$n $(((t1 - t0) / 1000000))"
}
base='{"mode": "measure", "backend": "fanotify"}'
for i in 1 2 3; do
  for mode in off every64 every1; do
    case $mode in
      off) cfg=$base ;;
      every64) cfg=$(jq --arg t "$SWTPM_TCTI" '. + {tpm: {tcti: $t, anchor_every_events: 64, anchor_every_seconds: 10}}' <<<"$base") ;;
      every1) cfg=$(jq --arg t "$SWTPM_TCTI" '. + {tpm: {tcti: $t, anchor_every_events: 1, anchor_every_seconds: 1}}' <<<"$base") ;;
    esac
    read -r n t < <(events_run "e$mode$i" "$cfg")
    echo "$mode $n $t" >>"$TEST_TMP/events"
  done
done
for mode in off every64 every1; do
  awk -v m="$mode" '$1 == m && $3 > 0 {print $2 * 1000 / $3, $2}' "$TEST_TMP/events" | sort -n |
    awk -v m="$mode" '{r[NR] = $1; n = $2} END {printf "  %-8s %6.0f events/s (median of %d runs, %d log entries per run)\n", m, r[int((NR + 1) / 2)], NR, n}'
done
echo "  (the whole container run, create to delete, is timed: events/s = log entries / run time)"
