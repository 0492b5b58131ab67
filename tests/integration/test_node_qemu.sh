#!/usr/bin/env bash
# imactl doctor, baseline and drift inside a real IMA kernel (Debian's, under
# QEMU TCG with an emulated TPM), one boot: doctor reports IMA, the boot policy
# and the TPM (PCR 10 = the log's replay); a baseline of the kernel's log, then
# a CIS worker-node file changes, and drift names exactly that file.
source "$(dirname "$0")/../lib/common.sh"
QEMU_MEM=${QEMU_MEM:-512}
source "$IMASHIM_SRC/tests/lib/qemu.sh"
[ -x "$IMACTL" ] || need imactl "build the project first"
need_tools "parses imactl's JSON" jq
need_tools "package e2fsprogs" mkfs.ext4

qemu_kernel_fetch
QEMU_INITRD=$TEST_TMP/initrd.gz
qemu_initramfs "$QEMU_INITRD"
qemu_swtpm_start "$TEST_TMP/tpm" || exit 1
share=$TEST_TMP/share
disk=$TEST_TMP/disk
mkdir -p "$share" "$disk"/etc/kubernetes "$disk"/var/lib/kubelet
# Debian installs the kernel's config in /boot; the guest gets it the same way.
cp "$QEMU_KCONFIG" "$share/kconfig"
printf 'apiVersion: v1\nkind: Config\n' >"$disk/etc/kubernetes/kubelet.conf"
printf 'kind: KubeletConfiguration\n' >"$disk/var/lib/kubelet/config.yaml"
mkfs.ext4 -q -F -d "$disk" "$TEST_TMP/disk.img" 16M >/dev/null
cat >"$share/run.sh" <<'GUEST'
. /guest-lib.sh
mkdir -p /boot /node /etc/kubernetes /var/lib/kubelet
cp /host/kconfig /boot/config-$(uname -r)
mount -t ext4 /dev/vda /node
for d in /etc/kubernetes /var/lib/kubelet; do mount -o bind /node$d $d; done
read_node_files() { cat /etc/kubernetes/kubelet.conf /var/lib/kubelet/config.yaml >/dev/null; }
o=/host/out
imactl doctor --json >$o/doctor.json; echo $? >$o/doctor.rc
read_node_files
imactl baseline create -o /tmp/baseline.json >$o/baseline.txt 2>&1; echo $? >$o/baseline.rc
read_node_files
imactl drift --baseline /tmp/baseline.json --json >$o/nodrift.json 2>&1; echo $? >$o/nodrift.rc
echo "rotateCertificates: true" >>/etc/kubernetes/kubelet.conf
read_node_files
imactl drift --baseline /tmp/baseline.json --json >$o/drift.json 2>&1; echo $? >$o/drift.rc
g_done
GUEST
qemu_boot "$share" "ima_policy=tcb ima_template=ima-ng ima_hash=sha256" "${QEMU_TPM_ARGS[@]}" \
  -drive "file=$TEST_TMP/disk.img,format=raw,if=virtio"
qemu_collect "$share"
o=$share/out
status() { jq -r --arg id "$1" '.checks[]|select(.id==$id).status' "$o/doctor.json" 2>/dev/null; }
detail() { jq -r --arg id "$1" '.checks[]|select(.id==$id).detail' "$o/doctor.json" 2>/dev/null; }
check_eq "doctor in the guest: kernel IMA" ok "$(status kernel.ima)"
check_eq "doctor in the guest: the kernel's config from /boot" ok "$(status kernel.config)"
check_eq "doctor in the guest: no CONFIG_IMA_WRITE_POLICY (Debian's kernel)" warn "$(status kernel.ima_write_policy)"
check_eq "doctor in the guest: the boot policy" "ima_policy=tcb" "$(detail boot.ima_policy)"
check_eq "doctor in the guest: hash from the boot line" "sha256 (ima_hash= on the boot line)" "$(detail ima.hash)"
check_eq "doctor in the guest: TPM 2.0" "tpm0, TPM 2.x" "$(detail tpm.present)"
check_eq "doctor in the guest: PCR 10 equals the log's replay" ok "$(status tpm.pcr10)"
check_eq "doctor in the guest: host backend" host "$(jq -r .backend "$o/doctor.json" 2>/dev/null)"
check_eq "baseline of the kernel's log: exit 0" 0 "$(cat "$o/baseline.rc" 2>/dev/null)"
if ! "$IMACTL" drift --help >/dev/null 2>&1; then
  echo "skip - drift checks: imactl drift is not built yet"
  finish
fi
check_eq "drift before any change: none (exit 0)" "0 false" \
  "$(cat "$o/nodrift.rc" 2>/dev/null) $(jq -r .drifted "$o/nodrift.json" 2>/dev/null)"
check_eq "drift after kubelet.conf changed: exit 1" 1 "$(cat "$o/drift.rc" 2>/dev/null)"
check_eq "drift names exactly the changed file, flagged as a CIS worker-node file" \
  "/etc/kubernetes/kubelet.conf changed true" \
  "$(jq -r '[.items[] | "\(.path) \(.kind) \(.watched)"] | join(";")' "$o/drift.json" 2>/dev/null)"
finish
