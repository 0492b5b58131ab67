#!/usr/bin/env bash
# imactl baseline and drift on two real kernel logs (Debian's IMA kernel under
# QEMU, before and after /etc/kubernetes/kubelet.conf changed), and on a container's log.
source "$(dirname "$0")/../lib/common.sh"
D=$IMASHIM_SRC/tests/fixtures/node/drift
need_tools "parses imactl's JSON" jq
echo '{"log_root": "'"$TEST_TMP/logs"'"}' >"$TEST_TMP/config.json"
export IMASHIM_CONFIG=$TEST_TMP/config.json

"$IMACTL" baseline create --log "$D/before.binary_runtime_measurements" -o "$TEST_TMP/base.json" >"$TEST_TMP/out"; rc=$?
check_eq "baseline create: exit 0" 0 "$rc"
check_eq "baseline: the five measured files" 5 "$(jq '.files|length' "$TEST_TMP/base.json")"
"$IMACTL" drift --baseline "$TEST_TMP/base.json" --log "$D/before.binary_runtime_measurements" >/dev/null; rc=$?
check_eq "drift against the same log: exit 0" 0 "$rc"
"$IMACTL" drift --baseline "$TEST_TMP/base.json" --log "$D/after.binary_runtime_measurements" --json >"$TEST_TMP/drift.json"; rc=$?
check_eq "drift after the change: exit 1" 1 "$rc"
check_eq "drift names exactly kubelet.conf, changed, a watched CIS worker-node file" \
  "/etc/kubernetes/kubelet.conf changed true" "$(jq -r '[.items[]|"\(.path) \(.kind) \(.watched)"]|join(";")' "$TEST_TMP/drift.json")"
"$IMACTL" drift --baseline "$TEST_TMP/base.json" --log "$D/after.binary_runtime_measurements" >"$TEST_TMP/drift.txt"
check "text report: was/now digests" grep -q 'now sha256:4176e9cd' "$TEST_TMP/drift.txt"
"$IMACTL" drift --baseline "$TEST_TMP/base.json" --log "$D/after.binary_runtime_measurements" --profile none --watched-only >/dev/null; rc=$?
check_eq "--watched-only with nothing watched: exit 0" 0 "$rc"

# A container's log under the node config's log_root.
mkdir -p "$TEST_TMP/logs/c1"
cp "$D/after.binary_runtime_measurements" "$TEST_TMP/logs/c1/binary_runtime_measurements"
"$IMACTL" drift --baseline "$TEST_TMP/base.json" --container c1 >/dev/null; rc=$?
check_eq "drift --container reads <log_root>/<id>: exit 1" 1 "$rc"
"$IMACTL" drift --baseline "$TEST_TMP/base.json" --container nope 2>"$TEST_TMP/err"; rc=$?
check_eq "an unknown container: exit 2" 2 "$rc"
check "the error names the missing log" grep -q "container \`nope\`: no measurement log at $TEST_TMP/logs/nope" "$TEST_TMP/err"
echo '{"files": {}}' >"$TEST_TMP/bad.json"
"$IMACTL" drift --baseline "$TEST_TMP/bad.json" --log "$D/after.binary_runtime_measurements" 2>"$TEST_TMP/err"; rc=$?
check_eq "a file that is not a baseline: exit 2" 2 "$rc"
head -c 700 "$D/after.binary_runtime_measurements" >"$TEST_TMP/torn"
"$IMACTL" drift --baseline "$TEST_TMP/base.json" --log "$TEST_TMP/torn" 2>"$TEST_TMP/err"; rc=$?
check_eq "a torn log: exit 2" 2 "$rc"
check "the error names the log and the entry" grep -q "torn.*entry" "$TEST_TMP/err"
finish
