#!/usr/bin/env bash
# imashim against a real IMA kernel (Debian's, under QEMU TCG with swtpm), one boot:
# measurement log vs PCR 10, the kernel's verdict on every policy imashim
# produces and on the verdict table, then the one real policy load of the boot
# and appraisal of labelled, tampered and unlabelled files on an ext4 disk.
source "$(dirname "$0")/../lib/common.sh"
source "$IMASHIM_SRC/tests/lib/qemu.sh"
[ -x "$IMACTL" ] || need imactl "build the project first"
need_tools "package e2fsprogs" mkfs.ext4
need_tools "package ima-evm-utils" evmctl
need_tools "package runc (brought into the guest for the host backend's containers)" runc
QEMU_HOST_TOOLS+=("$(command -v runc)")

share=$TEST_TMP/share
mkdir -p "$share/policies" "$share/out"
: >"$share/gaps"
gap() { echo "$*" >>"$share/gaps"; }

# Policies imashim produces: the built-in and CIS profiles, and a generated image policy.
profiles=(tcb appraise_tcb secure_boot critical_data fail_securely cis-ubuntu-20.04 k8s-worker)
for p in "${profiles[@]}"; do
  "$IMACTL" policy show --profile "$p" >"$share/policies/$p.policy" 2>"$TEST_TMP/err" ||
    { rm -f "$share/policies/$p.policy"; gap "imactl policy show --profile $p failed: $(head -n 1 "$TEST_TMP/err")"; continue; }
  if ! grep -qv -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$share/policies/$p.policy"; then
    echo "note - profile $p has no rules (a boot flag only): no kernel verdict to ask for"
    rm -f "$share/policies/$p.policy"
  fi
done
if "$IMACTL" log --help 2>/dev/null | grep -q replay && "$IMACTL" log --help | grep -q show; then
  touch "$share/have-log"
else
  gap "imactl log show/replay are not built"
fi
# A generated image policy: derived from a busybox rootfs.
make_busybox_rootfs "$TEST_TMP/image"
"$IMACTL" policy generate --rootfs "$TEST_TMP/image" >"$share/policies/generated-image.policy" 2>"$TEST_TMP/err" ||
  { rm -f "$share/policies/generated-image.policy"; gap "imactl policy generate failed: $(head -n 1 "$TEST_TMP/err")"; }
verdicts=$IMASHIM_SRC/tests/fixtures/policy/verdicts.tsv
[ -f "$verdicts" ] && cp "$verdicts" "$share/verdicts.tsv" || gap "no verdict table at tests/fixtures/policy/verdicts.tsv"

# The test disk: files labelled on the host (security.ima is copied by mkfs.ext4 -d).
uuid=7a1c0e8e-6b1f-4d0e-9a55-1d3c0ffee001
src=$TEST_TMP/disk
mkdir -p "$src"/{evm,imashim,plain,measured}
printf '#!/bin/sh\necho measured\n' >"$src/measured/prog" && chmod +x "$src/measured/prog"
echo "read by root" >"$src/measured/data"
: >"$share/labels.tsv"
expect() { printf '%s\t%s\t%s\n' "$1" "$2" "${3:-}" >>"$share/labels.tsv"; }
echo "labelled by evmctl" >"$src/evm/sha256"
evmctl ima_hash -a sha256 "$src/evm/sha256" >/dev/null 2>&1 && expect evm/sha256 open
echo "tampered after evmctl labelled it" >"$src/evm/tampered"
evmctl ima_hash -a sha256 "$src/evm/tampered" >/dev/null 2>&1 && echo more >>"$src/evm/tampered" &&
  expect evm/tampered EACCES invalid-hash
echo "never labelled" >"$src/plain/unlabelled" && expect plain/unlabelled EACCES missing-hash
# Signed labels: without CONFIG_INTEGRITY_TRUSTED_KEYRING the kernel looks for
# the key in a keyring named _ima that userspace creates.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TEST_TMP/key.pem" -outform DER -out "$share/ima-key.der" \
  -days 2 -subj "/CN=imashim test IMA key" -addext keyUsage=digitalSignature 2>/dev/null
echo "signed by evmctl" >"$src/evm/signed"
evmctl ima_sign -a sha256 --key "$TEST_TMP/key.pem" "$src/evm/signed" >/dev/null 2>&1 && expect evm/signed open
echo "signed, then tampered" >"$src/evm/signed-tampered"
evmctl ima_sign -a sha256 --key "$TEST_TMP/key.pem" "$src/evm/signed-tampered" >/dev/null 2>&1 &&
  echo more >>"$src/evm/signed-tampered" && expect evm/signed-tampered EACCES invalid-signature
# The same with imactl label: digests (sha256, sha512) and signatures.
label() {  # label DIR [imactl label options...]
  local dir=$1; shift
  "$IMACTL" label "$dir" "$@" >"$TEST_TMP/label.out" 2>&1 ||
    { gap "imactl label $* failed: $(head -n 1 "$TEST_TMP/label.out")"; return 1; }
}
for algo in sha256 sha512; do
  d=$src/imashim-$algo
  mkdir -p "$d" && echo "labelled by imactl ($algo)" >"$d/good" && echo "to be tampered ($algo)" >"$d/tampered"
  if label "$d" --algo "$algo"; then
    echo more >>"$d/tampered"
    expect "imashim-$algo/good" open
    expect "imashim-$algo/tampered" EACCES invalid-hash
  fi
done
d=$src/imashim-signed
mkdir -p "$d" && echo "signed by imactl" >"$d/good" && echo "signed, to be tampered" >"$d/tampered"
if label "$d" --algo sha256 --sign "$TEST_TMP/key.pem" --cert "$share/ima-key.der"; then
  echo more >>"$d/tampered"
  expect imashim-signed/good open
  expect imashim-signed/tampered EACCES invalid-signature
fi
# An image layer for the host backend's containers (labelled in the guest by ima-runc).
layer=$src/image/layer0
make_busybox_rootfs "$layer"
mkdir -p "$layer/app"
printf '#!/bin/sh\necho hello from the image\n' >"$layer/app/hello"
printf '#!/bin/sh\necho tool from the image\n' >"$layer/app/tool"
chmod +x "$layer/app/hello" "$layer/app/tool"
echo "image data" >"$layer/app/data"
mkfs.ext4 -q -F -U "$uuid" -d "$src" "$TEST_TMP/disk.img" 24M >/dev/null
cat >"$share/appraise.policy" <<POLICY
# loaded for real at the end of the guest run
measure func=BPRM_CHECK
measure func=FILE_CHECK mask=MAY_READ uid=0
appraise func=FILE_CHECK fsuuid=$uuid
appraise func=BPRM_CHECK fsuuid=$uuid
# containers' files: every file on an overlayfs (0x794c7630), executed or read
# (mask=MAY_READ: an exec's own open is a FILE_CHECK with MAY_EXEC, appraised
# there before BPRM_CHECK could measure it)
appraise func=BPRM_CHECK fsmagic=0x794c7630
appraise func=FILE_CHECK mask=MAY_READ fsmagic=0x794c7630
POLICY

qemu_kernel_fetch
QEMU_INITRD=$TEST_TMP/initrd.gz
qemu_initramfs "$QEMU_INITRD"
qemu_swtpm_start "$TEST_TMP/tpm" || { fail "swtpm did not start"; finish; }
cp "$IMASHIM_SRC/tests/kernel/guest/suite.sh" "$share/run.sh"
cp "$IMASHIM_SRC/tests/kernel/guest/host_backend.sh" "$share/host_backend.sh"
start=$(date +%s)
qemu_boot "$share" "ima_policy=tcb ima_template=ima-ng ima_hash=sha256 ima_appraise=enforce" \
  "${QEMU_TPM_ARGS[@]}" -drive "file=$TEST_TMP/disk.img,format=raw,if=virtio"
echo "guest boot and run: $(($(date +%s) - start)) s"
qemu_collect "$share"
if [ -n "${IMASHIM_KERNEL_KEEP:-}" ]; then rm -rf "$IMASHIM_KERNEL_KEEP" && cp -r "$share" "$IMASHIM_KERNEL_KEEP"; fi
finish
