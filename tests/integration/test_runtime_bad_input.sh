#!/usr/bin/env bash
# ima-runc on bad input: a clear message where the engine reads it (runc's --log
# file, in runc's JSON format, and stderr), a non-zero exit, and nothing left
# behind (no state dir, no runc container). Also: pass-through is runc itself.
source "$(dirname "$0")/../lib/common.sh"
source "$IMASHIM_SRC/tests/lib/image.sh"
source "$IMASHIM_SRC/tests/lib/engines.sh"
need_root
need_tools "apt-get install runc" runc

ROOT=$TEST_TMP/runc-root
LOG=$TEST_TMP/runc-log.json
B=$TEST_TMP/bundle
make_bundle "$B" echo hello
node_config '{}'

# try ID ARGS...: runs `ima-runc --root R --log L --log-format json ARGS`, keeps stderr and rc.
try() {
  local id=$1; shift
  : >"$LOG"
  ERR=$("$IMA_RUNC" --root "$ROOT" --log "$LOG" --log-format json "$@" 2>&1 >/dev/null)
  RC=$?
  LAST_ID=$id
}
# reported TEXT: the error reached stderr and the --log file (a JSON error line).
reported() {
  [ "$RC" -ne 0 ] && grep -qF -- "$1" <<<"$ERR" &&
    jq -e --arg t "$1" 'select(.level == "error" and (.msg | contains($t))) | .time' "$LOG" >/dev/null
}

try b1 create --bundle "$TEST_TMP/no-such-bundle" b1
check "missing bundle: reported" reported "no-such-bundle"
check "missing bundle: nothing left" nothing_left b1 "$ROOT"

mkdir -p "$TEST_TMP/broken" && cp -a "$B/rootfs" "$TEST_TMP/broken/" && echo '{"root": {"path": ' >"$TEST_TMP/broken/config.json"
try b2 create --bundle "$TEST_TMP/broken" b2
check "broken config.json: reported" reported "config.json: not a valid JSON object"
check "broken config.json: nothing left" nothing_left b2 "$ROOT"

mkdir -p "$TEST_TMP/escape" && cp "$B/config.json" "$TEST_TMP/escape/" && bundle_set "$TEST_TMP/escape" '.root.path = "../bundle/rootfs"'
try b3 create --bundle "$TEST_TMP/escape" b3
check "rootfs escaping the bundle: reported" reported "escapes the bundle"
check "rootfs escaping the bundle: nothing left" nothing_left b3 "$ROOT"

node_config '{"backend": "ebpf"}'
try b4 create --bundle "$B" b4
check "unknown backend: reported with the key" reported 'key "backend": unknown value "ebpf"'
check "unknown backend: nothing left" nothing_left b4 "$ROOT"
# Pass-through commands still work with a broken node config (kill/delete of running containers).
check "broken node config: list still works" eval "\"$IMA_RUNC\" --root \"$ROOT\" list >/dev/null 2>&1"

node_config '{}'
ERR=$(cd "$B" && env PATH=/nonexistent "$IMA_RUNC" --root "$ROOT" --log "$LOG" --log-format json create b5 2>&1); RC=$?
check "runc not found: reported" reported "runc not found"
node_config "{\"runc_path\": \"$IMA_RUNC\"}"
try b6 create --bundle "$B" b6
check "runc_path naming ima-runc itself: refused, no recursion" reported "ima-runc itself"
check "runc not found: nothing left" nothing_left b6 "$ROOT"

# A backend this kernel cannot provide (no IMA namespaces here).
node_config '{"backend": "ns-mount"}'
try b7 create --bundle "$B" b7
check "backend that cannot attach: reported" reported "ns-mount"
check "backend that cannot attach: nothing left" nothing_left b7 "$ROOT"
check_eq "backend that cannot attach: no runc container" "" "$(runc --root "$ROOT" list -q)"

# runc create fails after ima-runc started the container's monitor ahead of
# attach (an id in use): that monitor goes, the live container keeps its own.
node_config '{}'
# (the created container keeps the stdio it is given: files, not a pipe to wait on)
"$IMA_RUNC" --root "$ROOT" create --bundle "$B" d1 >"$TEST_TMP/d1.out" 2>&1
check_eq "id in use: the first container is created" 0 "$?"
monitors() { pgrep -fc "ima-monitor run --config $(state_dir_of d1)/monitor.json"; }
before=$(monitors)
state_before=$(cat "$(state_dir_of d1)/state.json")
try d1 create --bundle "$B" d1
check "id in use: runc's refusal reported" test "$RC" -ne 0
sleep 0.2
check_eq "id in use: no second monitor" "$before" "$(monitors)"
check_eq "id in use: the live container's state untouched" "$state_before" "$(cat "$(state_dir_of d1)/state.json")"
check "id in use: the live container's log untouched" test -s "$(log_dir_of d1)/policy" -a ! -e "$(log_dir_of d1)/monitor.log.tmp"
"$IMA_RUNC" --root "$ROOT" delete --force d1 >/dev/null 2>&1
check "id in use: delete leaves nothing" nothing_left d1 "$ROOT"

# Pass-through: the same output and exit code as runc.
check_eq "--version is runc's" "$(runc --version)" "$("$IMA_RUNC" --version)"
"$IMA_RUNC" --root "$ROOT" state no-such-container >/dev/null 2>&1; a=$?
runc --root "$ROOT" state no-such-container >/dev/null 2>&1; b=$?
check_eq "state of a missing container: runc's exit code" "$b" "$a"
"$IMA_RUNC" --root "$ROOT" delete no-such-container >/dev/null 2>&1; a=$?
runc --root "$ROOT" delete no-such-container >/dev/null 2>&1; b=$?
check_eq "delete of a missing container: runc's exit code" "$b" "$a"

# Mode off: the container runs as under runc, with no imashim state.
node_config '{"backend": "off"}'
out=$(cd "$B" && "$IMA_RUNC" --root "$ROOT" run off1 2>&1); rc=$?
check_eq "backend off: runc runs the container" "hello 0" "$out $rc"
check "backend off: no state, no log" test ! -e "$(state_dir_of off1)" -a ! -e "$(log_dir_of off1)"
node_config '{"mode": "off"}'
out=$(cd "$B" && "$IMA_RUNC" --root "$ROOT" run off2 2>&1); rc=$?
check_eq "mode off: runc runs the container" "hello 0" "$out $rc"
check "mode off: no state, no log" test ! -e "$(state_dir_of off2)" -a ! -e "$(log_dir_of off2)"
bundle_set "$B" '.annotations["org.imashim.mode"] = "sideways"'
try off3 create --bundle "$B" off3
check "bad mode annotation: reported naming the annotation" reported "org.imashim.mode"
check "bad mode annotation: nothing left" nothing_left off3 "$ROOT"
finish
