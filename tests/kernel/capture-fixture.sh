#!/usr/bin/env bash
# Captures a real kernel's IMA measurement log and PCR 10 for the formats tests:
# boots Debian's kernel under QEMU with ima_policy=tcb ima_template=ima-ng
# ima_hash=sha256 and an emulated TPM, runs a few programs from an ext4 disk,
# and saves the logs and PCR 10 of the sha1 and sha256 banks.
#   usage: tests/kernel/capture-fixture.sh [OUTDIR]   (default tests/fixtures/kernel-ima)
source "$(dirname "$0")/../lib/common.sh"
source "$IMASHIM_SRC/tests/lib/qemu.sh"
out=${1:-$IMASHIM_SRC/tests/fixtures/kernel-ima}

qemu_kernel_fetch
QEMU_INITRD=$TEST_TMP/initrd.gz
qemu_initramfs "$QEMU_INITRD"
qemu_swtpm_start "$TEST_TMP/tpm" || exit 1
share=$TEST_TMP/share
mkdir -p "$share" "$TEST_TMP/disk/bin"
for n in 1 2 3; do
  printf '#!/bin/sh\necho program %s ran\n' "$n" >"$TEST_TMP/disk/bin/prog$n"
  chmod +x "$TEST_TMP/disk/bin/prog$n"
done
echo "data read by root" >"$TEST_TMP/disk/data.txt"
mkfs.ext4 -q -F -d "$TEST_TMP/disk" "$TEST_TMP/disk.img" 16M >/dev/null
cat >"$share/run.sh" <<'GUEST'
. /guest-lib.sh
mount -t ext4 /dev/vda /mnt
for p in /mnt/bin/prog1 /mnt/bin/prog2 /mnt/bin/prog3; do "$p"; done
cat /mnt/data.txt >/dev/null
# A file read by root while open for write: an open_writers violation (zero digest in the log).
exec 3>>/mnt/data.txt; cat /mnt/data.txt >/dev/null; exec 3>&-
f=/host/out/fixture
mkdir -p $f
# Only programs from the initramfs (not measured) run from here on, so the log and PCRs stay still.
pcr10 sha1 >$f/pcr-sha1.before; pcr10 sha256 >$f/pcr-sha256.before
cat $IMA/binary_runtime_measurements >$f/binary_runtime_measurements
cat $IMA/ascii_runtime_measurements >$f/ascii_runtime_measurements
pcr10 sha1 >$f/pcr-sha1.txt; pcr10 sha256 >$f/pcr-sha256.txt
g_check "PCR 10 did not move while the logs were copied" cmp -s $f/pcr-sha256.before $f/pcr-sha256.txt
rm -f $f/*.before
g_done
GUEST
qemu_boot "$share" "ima_policy=tcb ima_template=ima-ng ima_hash=sha256" "${QEMU_TPM_ARGS[@]}" \
  -drive "file=$TEST_TMP/disk.img,format=raw,if=virtio"
qemu_collect "$share"
if [ -f "$share/out/done" ] && [ -s "$share/out/fixture/binary_runtime_measurements" ]; then
  mkdir -p "$out"
  for f in binary_runtime_measurements ascii_runtime_measurements pcr-sha1.txt pcr-sha256.txt; do
    cp "$share/out/fixture/$f" "$out/$f"
  done
  echo "# captured by tests/kernel/capture-fixture.sh: Debian $QEMU_KVER under QEMU TCG, swtpm TPM 2.0," >"$out/README"
  echo "# kernel command line ima_policy=tcb ima_template=ima-ng ima_hash=sha256; three scripts run from ext4, one file read," >>"$out/README"
  echo "# then read again while open for write (an open_writers violation: zero digest)." >>"$out/README"
  echo "# PCR files: PCR 10 of the sha1 and sha256 banks (/sys/class/tpm/tpm0/pcr-sha*/10) as lower-case hex." >>"$out/README"
  check "fixture saved in $out" test -s "$out/pcr-sha256.txt"
fi
finish
