#!/usr/bin/env bash
# imactl events on a fixture log root and audit log; the auditd rules file is well formed.
source "$(dirname "$0")/../lib/common.sh"
FIX=$IMASHIM_SRC/tests/fixtures/node/events
RULES=$IMASHIM_SRC/config/audit/imashim.rules
need_tools "parses imactl's JSON" jq

cat >"$TEST_TMP/config.json" <<JSON
{"log_root": "$FIX/log", "state_root": "$FIX/state"}
JSON
export IMASHIM_CONFIG=$TEST_TMP/config.json

out=$("$IMACTL" events --audit-log "$FIX/audit.log" --json); rc=$?
check_eq "events: exit 0" 0 "$rc"
check_eq "events: monitor events and integrity records" 8 "$(grep -c . <<<"$out")"
check_eq "events: a kernel appraisal failure attributed to its container by rootfs" c2 \
  "$(jq -r 'select(.path|endswith("/bin/evil")).container' <<<"$out")"
check_eq "events: the monitor's audit record keeps its container" c1 \
  "$(jq -r 'select(.path=="/bin/x").container' <<<"$out")"
out=$("$IMACTL" events c1 --audit-log "$FIX/audit.log"); rc=$?
check_eq "events c1: three events" 3 "$(grep -c . <<<"$out")"
check "events c1: the denied exec is shown with its cause" grep -q '/usr/bin/tampered cause=invalid-hash result=deny' <<<"$out"
"$IMACTL" events nope --no-audit 2>"$TEST_TMP/err"; rc=$?
check_eq "events for an unknown container: exit 2" 2 "$rc"
"$IMACTL" events --audit-log "$TEST_TMP/none.log" >/dev/null 2>"$TEST_TMP/err"; rc=$?
check "a missing audit log is a warning, not an error" test "$rc" = 0 -a -n "$(grep 'no audit log at' "$TEST_TMP/err")"

# The rules file: only -w PATH -p PERMS -k KEY and -a always,exit -F arch=b64 -S syscalls [-F ...] -k KEY lines,
# and every syscall named exists on this architecture.
unistd=$(echo '#include <asm/unistd_64.h>' | cpp -dM 2>/dev/null)
bad=0
while read -r line; do
  case "$line" in ''|'#'*) continue ;; esac
  if [[ $line =~ ^-w\ /[^\ ]+\ -p\ [rwxa]+\ -k\ [a-z0-9-]+$ ]]; then continue; fi
  if [[ $line =~ ^-a\ always,exit\ -F\ arch=b64\ -S\ ([a-z_0-9,]+)(\ -F\ [a-z]+[!=\<\>]+[a-z0-9]+)*\ -k\ [a-z0-9-]+$ ]]; then
    for sc in ${BASH_REMATCH[1]//,/ }; do
      grep -q "__NR_$sc " <<<"$unistd" || { echo "unknown syscall $sc"; bad=1; }
    done
    continue
  fi
  echo "malformed rule: $line"; bad=1
done <"$RULES"
check "audit rules are well formed and name real syscalls" test "$bad" = 0
check "audit rules watch the IMA policy" grep -q -- '-w /sys/kernel/security/ima/policy -p wa -k ima-policy' "$RULES"
finish
