#!/usr/bin/env bash
# imactl policy check|show|explain|generate: output and exit codes as an operator sees them.
source "$(dirname "$0")/../lib/common.sh"
[ -x "$IMACTL" ] || need imactl "build the project first"
[ -x /bin/busybox ] || need busybox "package busybox-static"
t=$TEST_TMP

# check: valid policy exits 0; a bad rule exits 1 with FILE:LINE:COL and the token.
printf '# ok\nmeasure func=BPRM_CHECK mask=MAY_EXEC\n' >"$t/good.policy"
"$IMACTL" policy check "$t/good.policy" >"$t/out" 2>&1
check_eq "policy check of a valid policy exits 0" 0 $?
printf 'measure func=BPRM_CHECK\nappraise func=FILE_CHECK appraise_type=imasig|modsig\n' >"$t/bad.policy"
"$IMACTL" policy check "$t/bad.policy" >"$t/out" 2>/dev/null
check_eq "policy check of an invalid policy exits 1" 1 $?
check_eq "the diagnostic names file, line, column and token" \
  "$t/bad.policy:2:26: error: \`appraise_type=imasig|modsig\`: not allowed in a rule with func=FILE_CHECK" "$(cat "$t/out")"
printf 'measure func=CRITICAL_DATA\n' >"$t/new.policy"
"$IMACTL" policy check --kernel 5.10 "$t/new.policy" >"$t/out" 2>/dev/null
check_eq "--kernel 5.10 rejects func=CRITICAL_DATA" 1 $?
"$IMACTL" policy check --kernel debian-12 "$t/new.policy" >/dev/null 2>&1
check_eq "--kernel debian-12 accepts it" 0 $?
"$IMACTL" policy check --json "$t/bad.policy" >"$t/json" 2>/dev/null
check "policy check --json reports the error's column" grep -q '"column": 26' "$t/json"
"$IMACTL" policy check "$t/missing.policy" >/dev/null 2>"$t/err"
check_eq "policy check of a missing file exits 2" 2 $?
check "and names the file" grep -q "missing.policy" "$t/err"

# show: every built-in and profile, accepted back by check --kernel debian-12.
for p in tcb original_tcb appraise_tcb secure_boot critical_data fail_securely 'tcb|appraise_tcb' cis-ubuntu-20.04 k8s-worker; do
  "$IMACTL" policy show --profile "$p" >"$t/show.policy" 2>"$t/err" &&
    "$IMACTL" policy check --kernel debian-12 "$t/show.policy" >/dev/null 2>&1
  check_eq "policy show --profile $p prints a policy Debian 12's kernel accepts" 0 $?
done
"$IMACTL" policy show --profile k8s-worker --watched >"$t/watched"
check "k8s-worker watches the kubelet kubeconfig" grep -q '^/etc/kubernetes/kubelet.conf	' "$t/watched"
"$IMACTL" policy show --profile nope >/dev/null 2>&1
check_eq "an unknown profile exits 2" 2 $?

# explain: which rule decides.
"$IMACTL" policy explain --profile tcb --func BPRM_CHECK --mask MAY_EXEC --uid 1000 >"$t/explain"
check "explain names the deciding tcb rule" grep -q '^measure  yes  rule 15: measure func=BPRM_CHECK mask=MAY_EXEC$' "$t/explain"
"$IMACTL" policy explain --profile tcb --func FILE_CHECK --mask MAY_READ --uid 1000 --fsmagic proc --json >"$t/explain.json"
check "explain --json: a proc file is not measured, by rule 0" grep -q '"rule_index": 0' "$t/explain.json"

# generate: a busybox image, then tighten and a refused loosening.
make_busybox_rootfs "$t/rootfs"
echo '{"config":{"Entrypoint":["/bin/sh"]}}' >"$t/config.json"
"$IMACTL" policy generate --rootfs "$t/rootfs" --image-config "$t/config.json" --mode enforce >"$t/gen.policy" 2>"$t/err"
check_eq "policy generate exits 0" 0 $?
check "the generated policy appraises what executes" grep -q '^appraise func=BPRM_CHECK mask=MAY_EXEC appraise_algos=sha256$' "$t/gen.policy"
"$IMACTL" policy check --kernel debian-12 "$t/gen.policy" >/dev/null 2>&1
check_eq "the generated policy passes check for Debian 12's kernel" 0 $?
check "every generated rule has a comment above it" \
  awk '/^#/ {c=1; next} /./ { if (!c) exit 1; c=0 }' "$t/gen.policy"
"$IMACTL" policy generate --rootfs "$t/rootfs" --mode enforce --annotation org.imashim.mode=measure >/dev/null 2>"$t/err"
check_eq "an annotation that loosens the mode exits 2" 2 $?
check "and names the annotation" grep -q "org.imashim.mode=measure would loosen" "$t/err"
"$IMACTL" policy generate --rootfs "$t/rootfs" --annotation 'org.imashim.policy=dont_measure' >/dev/null 2>"$t/err"
check_eq "an inline dont_ rule exits 2" 2 $?
ln -s / "$t/rootfs/hostroot"
"$IMACTL" policy generate --rootfs "$t/rootfs" >"$t/gen2.policy" 2>&1
check "a symlink to / in the image is not followed" grep -q "has 1 program (/bin/busybox)" "$t/gen2.policy"
finish
