#!/usr/bin/env bash
# fanotify backend, measure mode, real runc containers: what the container runs
# and reads is in its own log, with container paths, once per file version;
# the log verifies with imactl and evmctl; a killed monitor is a recorded gap.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/fanotify_common.sh"
fano_prereqs
fano_image

policy=$TEST_TMP/measure.policy
printf 'measure func=BPRM_CHECK\nmeasure func=FILE_CHECK mask=MAY_READ\n' >"$policy"

script='/usr/local/bin/busybox2 true; /usr/local/bin/busybox2 true; /bin/true; cat /etc/conf >/dev/null
echo v2 >>/etc/conf; cat /etc/conf >/dev/null; cat /etc/conf >/dev/null; echo done'
check "container m1 created, monitor attached, started" fano_start m1 measure "$policy" "$script" \
  --record "$TEST_TMP/m1.events"
check "container m1 ran to the end" fano_wait m1
check_eq "container output" done "$(cat "$TEST_TMP/c/m1/out")"
check "the monitor exits after the container's init" fano_monitor_gone m1

check_eq "/bin/busybox measured once (every applet is busybox)" 1 "$(fano_count m1 /bin/busybox)"
check_eq "the second binary measured once though run twice" 1 "$(fano_count m1 /usr/local/bin/busybox2)"
check_eq "busybox digest is the file's sha256" "sha256:$(sha256_of "$LOWER/bin/busybox")" \
  "$(fano_log m1 | awk '$NF == "/bin/busybox" {print $4}')"
check_eq "a file changed inside the container is measured again" 2 "$(fano_count m1 /etc/conf)"
check_eq "... with its new digest" "sha256:$(sha256_of "$TEST_TMP/c/m1/upper/etc/conf")" \
  "$(fano_log m1 | awk '$NF == "/etc/conf" {d=$4} END {print d}')"
check "no host path in the log" bash -c "! grep -q '$TEST_TMP' '$TEST_TMP/c/m1/log/ascii_runtime_measurements'"
check "template ima-ng, PCR 10" bash -c "awk '\$1 != 10 || \$3 != \"ima-ng\" {exit 1}' '$TEST_TMP/c/m1/log/ascii_runtime_measurements'"
check "events.jsonl records the measurements" has_record m1 '.path == "/usr/local/bin/busybox2" and .action == "measure" and .container == "m1"'

log=$TEST_TMP/c/m1/log
check "imactl log replay matches the pcrs file" quiet "$IMACTL" log replay --pcrs "$log/pcrs" "$log/binary_runtime_measurements"
if command -v evmctl >/dev/null; then
  check "evmctl ima_measurement verifies both banks" quiet evmctl ima_measurement --pcrs "sha256,$log/pcrs-sha256" \
    --pcrs "sha1,$log/pcrs-sha1" "$log/binary_runtime_measurements"
else
  need evmctl "apt-get install ima-evm-utils"
fi
# The recorded session replays through the same engine into the same log.
mkdir -p "$TEST_TMP/replay"
jq --arg d "$TEST_TMP/replay" '.log_dir = $d' "$log/monitor.json" >"$TEST_TMP/replay.json"
check "the recorded events replay" quiet "$IMA_MONITOR" replay --events "$TEST_TMP/m1.events" --config "$TEST_TMP/replay.json"
check_eq "the replayed log has the same measurements" "$(awk '{print $4, $5}' "$log/ascii_runtime_measurements" | sort)" \
  "$(awk '{print $4, $5}' "$TEST_TMP/replay/ascii_runtime_measurements" | sort)"
check "detach finalizes the log" fano_detach m1
check "detach is idempotent" fano_detach m1
check "imactl still verifies after detach" quiet "$IMACTL" log replay --pcrs "$log/pcrs" "$log/binary_runtime_measurements"

# A monitor killed in measure mode: the container runs on, the gap is a violation entry.
check "container m2 started" fano_start m2 measure "$policy" 'sleep 1; cat /etc/conf >/dev/null; echo still-running'
kill -9 "$(cat "$TEST_TMP/c/m2/monitor.pid")"
check "m2 runs on after its monitor is killed" fano_wait m2
check_eq "m2 finished its work" still-running "$(cat "$TEST_TMP/c/m2/out")"
check "the gap is a violation entry in m2's log" bash -c "grep -q ' monitor-died:unmonitored\$' '$TEST_TMP/c/m2/log/ascii_runtime_measurements'"
check "m2's log still verifies" quiet "$IMACTL" log replay --pcrs "$TEST_TMP/c/m2/log/pcrs" "$TEST_TMP/c/m2/log/binary_runtime_measurements"

# Bad input: a policy the kernel would refuse fails attach with the reason.
echo 'measure func=NOT_A_HOOK' >"$TEST_TMP/bad.policy"
if fano_start m3 measure "$TEST_TMP/bad.policy" 'true' >"$TEST_TMP/m3.err" 2>&1; then
  fail "a bad policy fails attach"
else
  check "a bad policy fails attach, naming the policy" grep -q 'policy' "$TEST_TMP/c/m3/attach.out"
fi
# A process of the host (no mount namespace of its own) is refused: marking it would watch the host.
sleep 30 &
host_pid=$!
on_exit "kill $host_pid"
if "$IMA_MONITOR" attach --id host --pid "$host_pid" --policy "$policy" --log-dir "$TEST_TMP/host-log" >"$TEST_TMP/host.out" 2>&1; then
  fail "attach to a host process is refused"
else
  check "attach to a host process is refused, saying why" grep -q "shares the host's mount namespace" "$TEST_TMP/host.out"
fi
finish
