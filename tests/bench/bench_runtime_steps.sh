#!/usr/bin/env bash
# create / start / delete latency per command, runtimes interleaved (one
# container of each in turn, so that the load of a shared machine hits all of
# them alike), on the busybox overlay bundle of bench_runtime.sh; prints the
# median of each command and of their total, in ms.
#   bash tests/bench/bench_runtime_steps.sh MODE N RUNTIME...
#   e.g. bash tests/bench/bench_runtime_steps.sh measure 31 runc build/ima-runc /tmp/old/ima-runc
source "$(dirname "$0")/../lib/common.sh"
source "$IMASHIM_SRC/tests/lib/image.sh"
source "$IMASHIM_SRC/tests/lib/engines.sh"
[ "$(id -u)" = 0 ] || { echo "bench_runtime_steps: needs root"; exit 0; }
[ $# -ge 3 ] || { echo "usage: $0 MODE N RUNTIME..."; exit 2; }
mode=$1 N=$2
shift 2
B=$TEST_TMP/bundle
run_tmpfs "$TEST_TMP/run" || exit 1
ROOT=$TEST_TMP/run/runc
make_overlay_bundle "$B" /bin/true >/dev/null
node_config "{\"mode\": \"$mode\", \"state_root\": \"$TEST_TMP/run/imashim\"}"
now_us() { echo $(($(date +%s%N) / 1000)); }
# one RUNTIME ID: prints create, start, delete and total microseconds.
one() {
  local rt=$1 id=$2 t0 t1 t2 t3
  t0=$(now_us)
  "$rt" --root "$ROOT" create --bundle "$B" --pid-file "$TEST_TMP/$id.pid" "$id" >/dev/null 2>>"$TEST_TMP/err" || return 1
  t1=$(now_us)
  "$rt" --root "$ROOT" start "$id" 2>>"$TEST_TMP/err" || return 1
  t2=$(now_us)
  "$rt" --root "$ROOT" delete --force "$id" 2>>"$TEST_TMP/err" || return 1
  t3=$(now_us)
  echo "$((t1 - t0)) $((t2 - t1)) $((t3 - t2)) $((t3 - t0))"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
k=0
for rt in "$@"; do  # warm-up: layer cache, page cache
  one "$rt" warm-$k >/dev/null || { echo "$rt: $(tr '\n' ' ' <"$TEST_TMP/err")"; exit 1; }
  k=$((k + 1))
done
for ((i = 0; i < N; i++)); do
  k=0
  for rt in "$@"; do
    one "$rt" c$k-$i >>"$TEST_TMP/t$k" || { echo "$rt: $(tr '\n' ' ' <"$TEST_TMP/err")"; exit 1; }
    k=$((k + 1))
  done
done
printf '%-40s %8s %8s %8s %8s\n' runtime create start delete total
k=0
for rt in "$@"; do
  printf '%-40s' "$rt"
  for c in 1 2 3 4; do printf ' %8.1f' "$(awk -v c=$c '{ print $c / 1000 }' "$TEST_TMP/t$k" | median)"; done
  echo
  k=$((k + 1))
done
echo "(mode $mode, $N containers each, interleaved; load average $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs)"
