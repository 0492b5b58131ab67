#!/usr/bin/env bash
# ima-runc driven directly as runc is: create/start/exec/kill/delete, run in
# the foreground (the container's exit code), run -d, run -t. Each container's
# measurement log must list what it ran; a file changed in a lower layer after
# the layer was labelled must be refused in enforce mode, and recorded.
source "$(dirname "$0")/../lib/common.sh"
source "$IMASHIM_SRC/tests/lib/image.sh"
source "$IMASHIM_SRC/tests/lib/engines.sh"
need_root
need_tools "apt-get install runc" runc

ROOT=$TEST_TMP/runc-root
LOG=$TEST_TMP/runc-log.json
B=$TEST_TMP/bundle
make_overlay_bundle "$B" /bin/sh -c '/bin/hello; exec sleep 30'
node_config '{"mode": "measure"}'
R() { "$IMA_RUNC" --root "$ROOT" --log "$LOG" --log-format json "$@"; }
status_of() { runc --root "$ROOT" state "$1" 2>/dev/null | jq -r .status; }
wait_status() {  # wait_status ID STATUS: up to 10 s
  local i
  for ((i = 0; i < 100; i++)); do [ "$(status_of "$1")" = "$2" ] && return 0; sleep 0.1; done
  return 1
}

# --- create / start / exec / kill / delete ---
R create --bundle "$B" --pid-file "$TEST_TMP/c1.pid" c1 >"$TEST_TMP/c1.out" 2>&1
check "create: exit 0" test $? -eq 0
check_eq "create: container is created" created "$(status_of c1)"
check "create: state dir records the init pid" \
  test "$(jq -r .pid "$(state_dir_of c1)/state.json")" = "$(cat "$TEST_TMP/c1.pid")"
check "start: exit 0" R start c1
check "start: running" wait_status c1 running
# The monitor's stderr lives in the state dir and reaches the log dir only when
# something was written: as if the monitor had warned.
monitor=$(pgrep -f "ima-monitor run --config $(state_dir_of c1)/monitor.json" | head -1)
check "monitor's stderr: in the state dir, not on the log disk" \
  test -e "$(state_dir_of c1)/monitor.log" -a ! -e "$(log_dir_of c1)/monitor.log"
echo "imashim-test: a warning" >>"/proc/$monitor/fd/2"
check_eq "exec: output from the container" "imashim test image" "$(R exec c1 /bin/cat /etc/imashim-test)"
check "kill: exit 0" R kill c1 KILL
check "kill: stopped" wait_status c1 stopped
check "delete: exit 0" R delete c1
check "delete: no runc container, no state" nothing_left c1 "$ROOT"
check_eq "create+start: the container printed" "hello from layer 2" "$(cat "$TEST_TMP/c1.out")"
check "log kept after delete" test -s "$(log_dir_of c1)/container.json"
check_eq "monitor's stderr kept in the log dir" "imashim-test: a warning" "$(cat "$(log_dir_of c1)/monitor.log" 2>&1)"
check "log: /bin/hello measured" measured c1 /bin/hello
check "log: /bin/busybox measured" measured c1 /bin/busybox

# --- run: foreground, the container's exit code ---
bundle_set "$B" '.process.args = ["/bin/sh", "-c", "/bin/hello; exit 7"]'
out=$(cd "$B" && R run c2 2>&1); rc=$?
check_eq "run: output" "hello from layer 2" "$out"
check_eq "run: the container's exit code" 7 "$rc"
check "run: deleted after exit" nothing_left c2 "$ROOT"
check "run: /bin/hello measured" measured c2 /bin/hello

# --- run -d ---
bundle_set "$B" '.process.args = ["/bin/sleep", "30"]'
check "run -d: exit 0" R run -d --bundle "$B" c3
check "run -d: running" wait_status c3 running
check "run -d: state dir" test -s "$(state_dir_of c3)/state.json"
check_eq "run -d: exec in it" "imashim test image" "$(R exec c3 /bin/cat /etc/imashim-test)"
R kill c3 KILL && wait_status c3 stopped
check "run -d: delete" R delete c3
check "run -d: nothing left" nothing_left c3 "$ROOT"
check "run -d: busybox measured" measured c3 /bin/busybox

# --- run -t: ima-runc proxies the console it receives, like runc run ---
bundle_set "$B" '.process.terminal = true | .process.args = ["/bin/sh", "-c", "tty; /bin/hello"]'
# (script(1) gives ima-runc a terminal; it echoes "^@" first, as it does for runc.)
out=$(cd "$B" && script -qec "$IMA_RUNC --root $ROOT run c4" /dev/null | tr -d '\r' | sed 's/^\^@//')
check "run -t: the container has a tty" grep -q '^/dev/pts/' <<<"$out"
check "run -t: output through the console" grep -qx "hello from layer 2" <<<"$out"
check "run -t: nothing left" nothing_left c4 "$ROOT"

# --- tampering in a lower layer after labelling: refused in enforce mode ---
bundle_set "$B" '.process.terminal = false | .process.args = ["/bin/hello"]'
printf '#!/bin/sh\necho "tampered"\n' >"$LAYER2/bin/hello"
node_config '{"mode": "enforce"}'
out=$(cd "$B" && R run c5 2>&1); rc=$?
check "enforce: the tampered file did not run" test "$rc" -ne 0 -a "${out#*tampered}" = "$out"
check "enforce: refusal recorded" refused c5 /bin/hello
check "enforce: nothing left" nothing_left c5 "$ROOT"
finish
