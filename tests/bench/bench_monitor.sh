#!/usr/bin/env bash
# The fanotify monitor's cost, inside real runc containers, monitor vs. no
# monitor, paired runs in one go: exec loop (2,000 execs of busybox true),
# open+read loop of an already measured 4 KiB file, first opens of fresh 4 KiB
# files (hashing + one event round trip), monitor RSS. Prints medians and ratios,
# and the same loops under fapolicyd (integrity = sha256) with their own paired
# baseline, side by side (tests/bench/fapolicyd_loops.sh; BENCH_FAPOLICYD=0 skips).
#   bash tests/bench/bench_monitor.sh BUILD_DIR   (root; BENCH_RUNS=5 BENCH_PIN=1 to pin to CPU 0)
set -uo pipefail
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
IMASHIM_BUILD=$build
source "$src/tests/lib/common.sh"
source "$src/tests/integration/fanotify_common.sh"
fano_prereqs
RUNS=${BENCH_RUNS:-5}
EXECS=${BENCH_EXECS:-2000}
OPENS=${BENCH_OPENS:-20000}
FIRST=${BENCH_FIRST:-500}
PIN=${BENCH_PIN:-0}

g++ -O2 -static -o "$TEST_TMP/loops" "$src/tests/bench/monitor_loops.cc" || { echo "bench: cannot build the loop helper (static libc needed)"; exit 2; }
fano_image
cp "$TEST_TMP/loops" "$LOWER/bin/loops"
mkdir -p "$LOWER/data/fresh"
head -c 4096 /dev/urandom >"$LOWER/data/4k"
for i in $(seq 0 $((FIRST - 1))); do head -c 4096 /dev/urandom >"$LOWER/data/fresh/$i"; done
policy=$TEST_TMP/bench.policy
printf 'measure func=BPRM_CHECK\nmeasure func=FILE_CHECK mask=MAY_READ\n' >"$policy"

pin=""
[ "$PIN" = 1 ] && pin="taskset -c 0"
# The container runs the three loops and prints "exec open first" in ns.
script="$pin /bin/loops exec /bin/true $EXECS; cat /data/4k >/dev/null; $pin /bin/loops open /data/4k $OPENS; $pin /bin/loops first /data/fresh $FIRST"

run_plain() {  # ID → prints the three figures; started as fano_start does (create, start, detached), without attach
  local id=$1 c=$TEST_TMP/c/$1
  mkdir -p "$c/upper" "$c/work" "$c/bundle/rootfs"
  mount -t overlay overlay -o "lowerdir=$LOWER,upperdir=$c/upper,workdir=$c/work" "$c/bundle/rootfs"
  on_exit "umount -l '$c/bundle/rootfs'"
  (cd "$c/bundle" && runc spec)
  jq --arg s "$script" '.process.terminal=false | .process.args=["/bin/sh","-c",$s] | .root.readonly=false' \
    "$c/bundle/config.json" >"$c/cfg" && mv "$c/cfg" "$c/bundle/config.json"
  runc --root "$RUNC_ROOT" create --bundle "$c/bundle" "$id" </dev/null >"$c/out" 2>&1 && runc --root "$RUNC_ROOT" start "$id"
  fano_wait "$id" 300
  tr '\n' ' ' <"$c/out"
  runc --root "$RUNC_ROOT" delete -f "$id" >/dev/null 2>&1
}
run_monitored() {  # ID → prints the three figures and the monitor's RSS (kB)
  local id=$1 c=$TEST_TMP/c/$1
  fano_start "$id" measure "$policy" "$script" >/dev/null || { echo "start failed"; return 1; }
  local mpid rss=0 r
  mpid=$(cat "$c/monitor.pid")
  [ "$PIN" = 1 ] && { taskset -a -p -c 0 "$mpid" >/dev/null; }
  while [ "$(runc --root "$RUNC_ROOT" state "$id" 2>/dev/null | jq -r .status)" = running ]; do
    r=$(awk '/VmRSS/ {print $2}' "/proc/$mpid/status" 2>/dev/null)
    [ -n "$r" ] && [ "$r" -gt "$rss" ] && rss=$r
    sleep 0.2
  done
  echo "$(tr '\n' ' ' <"$c/out") $rss"
  runc --root "$RUNC_ROOT" delete -f "$id" >/dev/null 2>&1
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

: >"$TEST_TMP/plain" && : >"$TEST_TMP/mon"
for r in $(seq "$RUNS"); do  # paired, alternating
  run_plain "plain$r" >>"$TEST_TMP/plain" && echo >>"$TEST_TMP/plain"
  run_monitored "mon$r" >>"$TEST_TMP/mon"
done
# fapolicyd: the same loops on the same image, in a private mount namespace.
fapo_skip=""
if [ "${BENCH_FAPOLICYD:-1}" != 1 ]; then
  fapo_skip="BENCH_FAPOLICYD=0"
elif ! command -v fapolicyd >/dev/null; then
  fapo_skip="fapolicyd is not installed (apt-get install fapolicyd)"
elif ! unshare -m --propagation private bash "$src/tests/bench/fapolicyd_loops.sh" "$TEST_TMP/fapolicyd" "$LOWER" \
    "$RUNS" "$EXECS" "$OPENS" "$FIRST" "$PIN" >"$TEST_TMP/fapo" 2>"$TEST_TMP/fapo.err"; then
  fapo_skip="fapolicyd could not run: $(tail -3 "$TEST_TMP/fapo.err" | tr '\n' ' ')"
fi
col() { awk -v c="$2" 'NF >= 3 {print $c}' "$1" | median; }
fcol() { awk -v k="$1" -v c="$2" '$1 == k {print $(c + 1)}' "$TEST_TMP/fapo" | median; }
pe=$(col "$TEST_TMP/plain" 1) po=$(col "$TEST_TMP/plain" 2) pf=$(col "$TEST_TMP/plain" 3)
me=$(col "$TEST_TMP/mon" 1) mo=$(col "$TEST_TMP/mon" 2) mf=$(col "$TEST_TMP/mon" 3) rss=$(col "$TEST_TMP/mon" 4)
# sha256 of 4 KiB on this machine (OpenSSL, the monitor's hash), for the first-open budget.
kps=$(openssl speed -seconds 1 -bytes 4096 sha256 2>/dev/null | awk '/^sha256/ {sub("k","",$2); print $2}')
hash_ns=$(awk -v k="$kps" 'BEGIN {printf "%.0f", 4096 / (k * 1000) * 1e9}')
entries=$(wc -l <"$TEST_TMP/c/mon1/log/ascii_runtime_measurements")

if [ -z "$fapo_skip" ]; then
  fpe=$(fcol plain 1) fpo=$(fcol plain 2) fpf=$(fcol plain 3)
  ffe=$(fcol fapolicyd 1) ffo=$(fcol fapolicyd 2) fff=$(fcol fapolicyd 3) frss=$(fcol fapolicyd 4)
else
  fpe=0 fpo=0 fpf=0 ffe=0 ffo=0 fff=0 frss=0
fi

printf '\nfanotify monitor vs. fapolicyd, %s paired runs each, medians (%s); load average: %s\n' "$RUNS" \
  "$([ "$PIN" = 1 ] && echo "all pinned to CPU 0" || echo "CPUs not pinned, $(nproc) vCPUs")" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %11s %11s %8s | %11s %11s %8s\n' "loop" "no monitor" "monitor" "ratio" "none" "fapolicyd" "ratio"
row() {  # LABEL PLAIN MON FPLAIN FAPO
  awk -v l="$1" -v a="$2" -v b="$3" -v c="$4" -v d="$5" 'BEGIN {
    printf "%-34s %8.2f µs %8.2f µs %7.3fx | ", l, a/1000, b/1000, b/a
    if (c > 0) printf "%8.2f µs %8.2f µs %7.3fx\n", c/1000, d/1000, d/c; else printf "%11s %11s %8s\n", "-", "-", "-" }'
}
row "exec of a measured binary (x$EXECS)" "$pe" "$me" "$fpe" "$ffe"
row "open+read 4 KiB, measured (x$OPENS)" "$po" "$mo" "$fpo" "$ffo"
row "first open+read 4 KiB (x$FIRST)" "$pf" "$mf" "$fpf" "$fff"
awk -v a="$pf" -v b="$mf" -v h="$hash_ns" 'BEGIN {printf "first open, monitor: +%.1f µs = sha256(4 KiB) %.1f µs + %.1f µs event round trip, log append, cache\n", (b-a)/1000, h/1000, (b-a-h)/1000}'
[ -z "$fapo_skip" ] && awk -v a="$fpf" -v b="$fff" 'BEGIN {printf "first open, fapolicyd: +%.1f µs\n", (b-a)/1000}'
echo "monitor RSS (peak, median of runs): ${rss} kB; log entries per run: $entries"
if [ -z "$fapo_skip" ]; then
  echo "fapolicyd RSS (peak, median of runs): ${frss} kB (integrity=sha256, trust=file, watch_fs=overlay, private mount namespace, not in a container)"
else
  echo "fapolicyd: skipped: $fapo_skip"
fi
