#!/usr/bin/env bash
# fanotify backend: 20 containers at once, each with its own monitor and log,
# and nothing of one container in another's log.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/fanotify_common.sh"
fano_prereqs
fano_image
N=${FANO_CONTAINERS:-20}
policy=$TEST_TMP/measure.policy
printf 'measure func=BPRM_CHECK\nmeasure func=FILE_CHECK mask=MAY_READ\n' >"$policy"

# Each container gets its own file (in its upper layer) and reads it a few times.
for i in $(seq "$N"); do
  mkdir -p "$TEST_TMP/c/p$i/upper/etc"
  echo "container $i" >"$TEST_TMP/c/p$i/upper/etc/mine"
done
# fano_start runs in background subshells: register their cleanups here.
for i in $(seq "$N"); do
  on_exit "umount -l '$TEST_TMP/c/p$i/bundle/rootfs'"
  on_exit "runc --root '$RUNC_ROOT' delete -f p$i"
  on_exit "kill -9 \$(cat '$TEST_TMP/c/p$i/monitor.pid')"
done
pids=()
for i in $(seq "$N"); do
  fano_start "p$i" measure "$policy" 'for n in 1 2 3; do cat /etc/mine >/dev/null; sleep 0.2; done; echo ok' \
    >"$TEST_TMP/start-$i.out" 2>&1 &
  pids+=($!)
done
started=0
for p in "${pids[@]}"; do wait "$p" && started=$((started + 1)); done
check_eq "$N containers created, attached and started concurrently" "$N" "$started"
monitors=0
for i in $(seq "$N"); do kill -0 "$(cat "$TEST_TMP/c/p$i/monitor.pid" 2>/dev/null)" 2>/dev/null && monitors=$((monitors + 1)); done
echo "# $monitors monitors running at once"
finished=0
for i in $(seq "$N"); do fano_wait "p$i" 30 && [ "$(cat "$TEST_TMP/c/p$i/out")" = ok ] && finished=$((finished + 1)); done
check_eq "all $N ran to the end" "$N" "$finished"

own=0 cross=0 busybox=0 verified=0
for i in $(seq "$N"); do
  mine="sha256:$(sha256_of "$TEST_TMP/c/p$i/upper/etc/mine")"
  log=$TEST_TMP/c/p$i/log
  [ "$(fano_log "p$i" | awk '$NF == "/etc/mine" {print $4}')" = "$mine" ] && own=$((own + 1))
  [ "$(fano_count "p$i" /bin/busybox)" = 1 ] && busybox=$((busybox + 1))
  for j in $(seq "$N"); do
    [ "$i" = "$j" ] && continue
    grep -q "sha256:$(sha256_of "$TEST_TMP/c/p$j/upper/etc/mine")" "$log/ascii_runtime_measurements" && cross=$((cross + 1))
  done
  jq -e --arg id "p$i" 'select(.container != $id)' "$log/events.jsonl" >/dev/null && cross=$((cross + 1))
  "$IMACTL" log replay --pcrs "$log/pcrs" "$log/binary_runtime_measurements" >/dev/null 2>&1 && verified=$((verified + 1))
done
check_eq "each log has its own container's file, measured once" "$N" "$own"
check_eq "each log has /bin/busybox once" "$N" "$busybox"
check_eq "no entry or record of one container in another's log" 0 "$cross"
check_eq "every log verifies against its pcrs" "$N" "$verified"
gone=0
for i in $(seq "$N"); do fano_monitor_gone "p$i" 5 && gone=$((gone + 1)); done
check_eq "every monitor exited with its container" "$N" "$gone"
finish
