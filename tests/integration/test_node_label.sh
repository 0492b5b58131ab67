#!/usr/bin/env bash
# imactl node policy and node label on a node tree: the policy and boot line of
# each profile; only the filesystems the profile appraises are labelled, one at a
# time; --check finds a file changed after labelling.
source "$(dirname "$0")/../lib/common.sh"
FIX=$IMASHIM_SRC/tests/fixtures/node
need_tools "parses imactl's JSON" jq
need_tools "package attr" getfattr
need_root

# node policy on the CIS guide's node.
"$IMACTL" node policy --profile cis-ubuntu-20.04 --root "$FIX/ubuntu-20.04" >"$TEST_TMP/cis.policy" 2>"$TEST_TMP/cis.notes"; rc=$?
check_eq "node policy cis-ubuntu-20.04: exit 0" 0 "$rc"
check "the policy goes to stdout, rules with their recommendation" grep -q '^# CIS Ubuntu 20.04' "$TEST_TMP/cis.policy"
check "the boot line goes to stderr" grep -qF 'boot line: GRUB_CMDLINE_LINUX="ima_policy=tcb ima_template=ima-ng ima_hash=sha256 ima_appraise=fix rootflags=i_version"' "$TEST_TMP/cis.notes"
if command -v "$IMACTL" >/dev/null && "$IMACTL" policy --help >/dev/null 2>&1; then
  check "imactl policy check accepts it" "$IMACTL" policy check "$TEST_TMP/cis.policy"
fi
"$IMACTL" node policy --profile k8s-worker --write "$TEST_TMP/ima-policy" --root "$FIX/ubuntu-20.04" >"$TEST_TMP/out"; rc=$?
check_eq "node policy --write: exit 0" 0 "$rc"
check "--write writes the policy file" grep -q 'CIS Kubernetes' "$TEST_TMP/ima-policy"
check "--write leaves no temp file" test ! -e "$TEST_TMP/ima-policy.tmp"
check_eq "node policy tcb --json: a built-in booted with ima_policy=tcb" "true ima_policy=tcb ima_template=ima-ng ima_hash=sha256 rootflags=i_version" \
  "$("$IMACTL" node policy --profile tcb --json --root "$FIX/ubuntu-20.04" 2>/dev/null | jq -r '"\(.builtin) \(.boot_line)"')"

# A node tree: /data is an ext4 filesystem to label, /run a tmpfs, /boot/efi a vfat.
node=$TEST_TMP/node
mkdir -p "$node/proc/self" "$node/data/bin" "$node/data/etc" "$node/run" "$node/boot/efi"
cat >"$node/proc/self/mounts" <<'M'
/dev/vdz1 /data ext4 rw,relatime 0 0
tmpfs /run tmpfs rw,nosuid 0 0
/dev/vdz2 /boot/efi vfat rw 0 0
M
for i in 1 2 3; do echo "program $i" >"$node/data/bin/p$i"; done
echo "config" >"$node/data/etc/conf"
echo "runtime state" >"$node/run/state"
plan=$("$IMACTL" node label --dry-run --json --root "$node")
check_eq "dry run: only /data is labelled" "/data" "$(jq -r '[.[]|select(.label).target]|join(",")' <<<"$plan")"
check_eq "dry run: tmpfs skipped as a pseudo filesystem" "pseudo filesystem: no stored files" \
  "$(jq -r '.[]|select(.target=="/run").reason' <<<"$plan")"
"$IMACTL" node label --root "$node" >"$TEST_TMP/label.out"; rc=$?
check_eq "node label: exit 0" 0 "$rc"
check "node label says which filesystem it labels" grep -q '^labelling /data (ext4, /dev/vdz1)' "$TEST_TMP/label.out"
check "a file on /data has security.ima" getfattr -n security.ima "$node/data/bin/p2"
check "the tmpfs file has no label" test -z "$(getfattr -n security.ima "$node/run/state" 2>/dev/null)"
"$IMACTL" node label --root "$node" --check >"$TEST_TMP/check.out"; rc=$?
check_eq "node label --check after labelling: exit 0" 0 "$rc"
echo "tampered" >>"$node/data/bin/p3"
"$IMACTL" node label --root "$node" --check --json >"$TEST_TMP/check.json"; rc=$?
check_eq "node label --check after a change: exit 1" 1 "$rc"
check_eq "the changed file is named by its node path" "/data/bin/p3 changed" \
  "$(jq -r '.[0].report.findings[]|select(.finding=="changed")|"\(.path) \(.finding)"' "$TEST_TMP/check.json")"
finish
