#!/usr/bin/env bash
# imactl doctor on this machine's real root and on the node fixture trees.
source "$(dirname "$0")/../lib/common.sh"
FIX=$IMASHIM_SRC/tests/fixtures/node
need_tools "parses doctor's JSON" jq

# This build machine: no kernel IMA, fanotify permission events → fanotify backend.
out=$("$IMACTL" doctor --json); rc=$?
if [ -e /sys/kernel/security/ima ]; then
  echo "skip - real-root checks: this kernel has IMA"
else
  check_eq "real root: measure mode is ready (exit 0)" 0 "$rc"
  check_eq "real root: backend is fanotify" fanotify "$(jq -r .backend <<<"$out")"
  check_eq "real root: kernel.ima is a warning" warn "$(jq -r '.checks[]|select(.id=="kernel.ima").status' <<<"$out")"
  check_eq "real root: fanotify check ok" ok "$(jq -r '.checks[]|select(.id=="kernel.fanotify").status' <<<"$out")"
fi
"$IMACTL" doctor >"$TEST_TMP/text"; rc=$?
check "real root: text report ends with the verdict" grep -q '^mode measure: this node is' "$TEST_TMP/text"

# The CIS guide's node: Ubuntu 20.04, 5.4 kernel with IMA, no IMA_WRITE_POLICY, no ima_ boot parameters.
out=$("$IMACTL" doctor --json --root "$FIX/ubuntu-20.04"); rc=$?
check_eq "guide node: measure mode ready with warnings (exit 0)" 0 "$rc"
check_eq "guide node: host backend" host "$(jq -r .backend <<<"$out")"
check_eq "guide node: CONFIG_IMA_WRITE_POLICY fix" \
  "build the kernel with CONFIG_IMA_WRITE_POLICY=y, or load the final policy at boot: imactl node policy --profile <name> --write /etc/ima/ima-policy (systemd loads it)" \
  "$(jq -r '.checks[]|select(.id=="kernel.ima_write_policy").fix' <<<"$out")"
check_eq "guide node: the GRUB line to use" \
  'set GRUB_CMDLINE_LINUX="ima_policy=tcb ima_template=ima-ng ima_hash=sha256 rootflags=i_version" in /etc/default/grub, run update-grub and reboot' \
  "$(jq -r '.checks[]|select(.id=="boot.ima_policy").fix' <<<"$out")"
"$IMACTL" doctor --root "$FIX/ubuntu-20.04" --mode enforce >"$TEST_TMP/enforce"; rc=$?
check_eq "guide node: not ready to enforce (exit 1)" 1 "$rc"
check "guide node: enforce boot line labels first (ima_appraise=fix)" \
  grep -q 'GRUB_CMDLINE_LINUX="ima_policy=tcb|appraise_tcb ima_template=ima-ng ima_hash=sha256 ima_appraise=fix rootflags=i_version"' "$TEST_TMP/enforce"

# A node without IMA, config in /proc/config.gz: fanotify; a configured host backend fails.
out=$("$IMACTL" doctor --json --root "$FIX/no-ima" --mode enforce); rc=$?
check_eq "no-IMA node: enforce is ready on fanotify (exit 0)" "0 fanotify" "$rc $(jq -r .backend <<<"$out")"
check_eq "no-IMA node: the node config's mode (enforce) and backend are checked" "enforce fanotify" \
  "$("$IMACTL" doctor --json --root "$FIX/no-ima" | jq -r '.mode + " " + .backend')"
"$IMACTL" doctor --root "$FIX/no-ima" --backend host >/dev/null; rc=$?
check_eq "no-IMA node: configured host backend is not ready (exit 1)" 1 "$rc"
# Debian's IMA kernel as the QEMU harness boots it: the real log replays to the TPM's PCR 10.
out=$("$IMACTL" doctor --json --root "$FIX/debian-qemu"); rc=$?
check_eq "Debian IMA kernel: ready, host backend" "0 host" "$rc $(jq -r .backend <<<"$out")"
check_eq "Debian IMA kernel: PCR 10 equals the log's replay" ok "$(jq -r '.checks[]|select(.id=="tpm.pcr10").status' <<<"$out")"
"$IMACTL" doctor --root /nonexistent 2>"$TEST_TMP/err"; rc=$?
check_eq "a missing root is an error (exit 2)" 2 "$rc"
check "the error names the root" grep -q '/nonexistent' "$TEST_TMP/err"
finish
