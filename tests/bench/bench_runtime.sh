#!/usr/bin/env bash
# create + start + delete latency of ima-runc against runc on the busybox
# bundle (overlay rootfs of two layers, as engines give it), modes off, measure
# and enforce, with a warm layer cache. Runs are paired (runc, then ima-runc,
# N times) so that drift on a shared machine hits both; prints medians and
# ratios. Goals: off <= 1.02x; measure and enforce <= 1.15x or <= +20 ms.
#   bash tests/bench/bench_runtime.sh [BUILD_DIR] [N]
source "$(dirname "$0")/../lib/common.sh"
IMASHIM_BUILD=${1:-$IMASHIM_BUILD}
IMA_RUNC=$IMASHIM_BUILD/ima-runc
N=${2:-${BENCH_N:-21}}
source "$IMASHIM_SRC/tests/lib/image.sh"
source "$IMASHIM_SRC/tests/lib/engines.sh"
[ "$(id -u)" = 0 ] || { echo "bench_runtime: needs root"; exit 0; }

B=$TEST_TMP/bundle
run_tmpfs "$TEST_TMP/run" || exit 1
ROOT=$TEST_TMP/run/runc
make_overlay_bundle "$B" /bin/true >/dev/null

now_ns() { date +%s%N; }
# one RUNTIME ID: create+start+delete as engines call them (with a pid file);
# prints nanoseconds or fails.
one() {
  local rt=$1 id=$2 t0 t1
  t0=$(now_ns)
  "$rt" --root "$ROOT" create --bundle "$B" --pid-file "$TEST_TMP/$id.pid" "$id" >/dev/null 2>"$TEST_TMP/err" &&
    "$rt" --root "$ROOT" start "$id" 2>>"$TEST_TMP/err" &&
    "$rt" --root "$ROOT" delete --force "$id" 2>>"$TEST_TMP/err" || return 1
  t1=$(now_ns)
  echo $((t1 - t0))
}
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

printf '%-8s %12s %14s %8s %10s  %s\n' mode "runc ms" "ima-runc ms" ratio "delta ms" goal
for mode in off measure enforce; do
  node_config "{\"mode\": \"$mode\", \"state_root\": \"$TEST_TMP/run/imashim\"}"
  # Warm-up: fills the layer cache, page cache and runc's state dir.
  if ! one "$IMA_RUNC" warm-$mode >/dev/null; then
    printf '%-8s unavailable: %s\n' "$mode" "$(tr '\n' ' ' <"$TEST_TMP/err")"
    runc --root "$ROOT" delete --force warm-$mode >/dev/null 2>&1
    continue
  fi
  : >"$TEST_TMP/runc.ns"; : >"$TEST_TMP/ima.ns"
  for ((i = 0; i < N; i++)); do
    one runc r-$mode-$i >>"$TEST_TMP/runc.ns"
    one "$IMA_RUNC" i-$mode-$i >>"$TEST_TMP/ima.ns"
  done
  r=$(median <"$TEST_TMP/runc.ns"); m=$(median <"$TEST_TMP/ima.ns")
  awk -v r="$r" -v m="$m" -v mode="$mode" 'BEGIN {
    ratio = m / r; delta = (m - r) / 1e6
    goal = (mode == "off") ? (ratio <= 1.02 ? "met (<=1.02x)" : "missed (<=1.02x)") \
                           : ((ratio <= 1.15 || delta <= 20) ? "met (<=1.15x or <=+20ms)" : "missed (<=1.15x or <=+20ms)")
    printf "%-8s %12.2f %14.2f %8.3f %10.2f  %s\n", mode, r / 1e6, m / 1e6, ratio, delta, goal }'
done
echo "($N paired runs per mode; CPUs not pinned; $(nproc) CPUs; runc $(runc --version | head -1 | awk '{print $3}'))"
