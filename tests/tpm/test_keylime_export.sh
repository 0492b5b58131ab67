#!/usr/bin/env bash
# imactl policy export --format keylime from layer manifests written by imactl
# label; the policy has every member of Keylime's runtime policy schema; verify
# gives the same verdicts with the manifests and with the exported policy.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/swtpm.sh"
MAKE_LOG=$IMASHIM_BUILD/tests/imashim-test-make-log
need_tools "package jq is not installed" jq
need_root "imactl label writes security.ima"
start_swtpm || exit 1

# Two layers; the upper one replaces /bin/app.
L1=$TEST_TMP/layer1 L2=$TEST_TMP/layer2
mkdir -p "$L1/bin" "$L1/etc" "$L2/bin"
printf 'shell' >"$L1/bin/sh"
printf 'app v1' >"$L1/bin/app"
printf 'conf' >"$L1/etc/app.conf"
printf 'app v2' >"$L2/bin/app"
check "label layer 1 with a manifest" "$IMACTL" label "$L1" --manifest "$TEST_TMP/l1.manifest" --json >/dev/null
check "label layer 2 with a manifest" "$IMACTL" label "$L2" --manifest "$TEST_TMP/l2.manifest" --json >/dev/null
check "policy export --format keylime" \
  "$IMACTL" policy export --format keylime "$TEST_TMP/l1.manifest" "$TEST_TMP/l2.manifest" \
  --exclude '/etc/' --release 2 -o "$TEST_TMP/policy.json"
P=$TEST_TMP/policy.json
check_eq "every required member of the schema is there" \
  'digests excludes ima ima-buf keyrings meta release verification-keys' "$(jq -r 'keys_unsorted | sort | join(" ")' "$P")"
check_eq "meta: version 1, integer generator" "1 number" "$(jq -r '"\(.meta.version) \(.meta.generator | type)"' "$P")"
check_eq "ima: log_hash_alg, ignored_keyrings, dm_policy null" "sha1 array null" \
  "$(jq -r '"\(.ima.log_hash_alg) \(.ima.ignored_keyrings | type) \(.ima.dm_policy)"' "$P")"
check_eq "digests: both layers' /bin/app" 2 "$(jq '.digests["/bin/app"] | length' "$P")"
check_eq "digests: sha256 of the content" "$(printf shell | sha256sum | cut -d' ' -f1)" "$(jq -r '.digests["/bin/sh"][0]' "$P")"
check "digests: lower-case hex of 40..128 digits, as the schema wants" \
  test "$(jq -r '[.digests[][]] | map(test("^[0-9a-f]{40,128}$")) | all' "$P")" = true
check_eq "excludes and release" '["/etc/"] 2' "$(jq -c '.excludes' "$P") $(jq '.release' "$P")"
err=$("$IMACTL" policy export --format keylime "$TEST_TMP/nosuch" 2>&1); rc=$?
check "a missing manifest is an error naming it" test "$rc" = 2 -a -n "$(grep nosuch <<<"$err")"

# One container ran /bin/sh, the new /bin/app, and a file no layer has.
LOGS=$TEST_TMP/logs
"$MAKE_LOG" "$LOGS/c1" "/bin/sh=shell" "/bin/app=app v2" "/etc/app.conf=conf" "/tmp/dropped=x"
printf '{"log_root": "%s", "tpm": {"tcti": "%s"}}' "$LOGS" "$SWTPM_TCTI" >"$TEST_TMP/config.json"
export IMASHIM_CONFIG=$TEST_TMP/config.json
"$IMACTL" anchor --container c1 --event delete >/dev/null
"$IMACTL" attest --container c1 --nonce 0102030405060708 -o "$TEST_TMP/b.json" 2>/dev/null
out=$("$IMACTL" verify "$TEST_TMP/b.json" --nonce 0102030405060708 --keylime-policy "$P" --json); rc=$?
check_eq "verify with the exported policy: fails on the unknown file" 1 "$rc"
check_eq "  1 unknown (/tmp/dropped), 2 ok, 1 excluded" "2 1 0 1 /tmp/dropped" \
  "$(jq -r '.containers[0].files | "\(.ok) \(.unknown) \(.wrong_digest) \(.excluded) \(.failed[0].path)"' <<<"$out")"
out=$("$IMACTL" verify "$TEST_TMP/b.json" --nonce 0102030405060708 --reference "$TEST_TMP/l1.manifest" \
  --reference "$TEST_TMP/l2.manifest" --json); rc=$?
check_eq "verify with the manifests: same files, /etc/app.conf checked too" "1 3 1 0" \
  "$rc $(jq -r '.containers[0].files | "\(.ok) \(.unknown) \(.wrong_digest)"' <<<"$out")"
finish
