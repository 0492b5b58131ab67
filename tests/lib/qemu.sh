# Boots Debian's own IMA kernel under QEMU (TCG) for the kernel suites.
# Source after tests/lib/common.sh. Nothing is installed on the host: the
# kernel package is downloaded into a cache dir and extracted there; swtpm runs
# on a socket under the suite's temp dir and is stopped by PID.
#
#   qemu_kernel_fetch                      sets QEMU_KVER, QEMU_KROOT, QEMU_VMLINUZ
#   qemu_initramfs OUT                     busybox + modules + imashim binaries + guest lib
#   qemu_swtpm_start DIR                   sets QEMU_TPM_ARGS
#   qemu_boot SHARE CMDLINE [qemu args]    runs SHARE/run.sh in the guest; 9p-shared SHARE
#   qemu_collect SHARE                     turns the guest's result lines into pass/fail

QEMU_CACHE=${IMASHIM_KERNEL_CACHE:-$IMASHIM_BUILD/kernel-cache}
QEMU_MEM=${QEMU_MEM:-512}
QEMU_TIMEOUT=${QEMU_TIMEOUT:-300}
# Modules the guest loads at boot, dependencies first (resolved by modprobe).
QEMU_MODULES=(virtio_pci virtio_blk ext4 9p 9pnet_virtio overlay sha512_generic)
# Host binaries brought into the guest with their shared libraries.
QEMU_HOST_TOOLS=(/usr/bin/keyctl)

# The versioned package that linux-image-amd64 depends on, e.g. linux-image-6.1.0-56-amd64.
_qemu_kernel_package() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

qemu_kernel_fetch() {
  need_tools "package qemu-system-x86" qemu-system-x86_64
  need_tools "package kmod" depmod
  local pkg
  pkg=$(_qemu_kernel_package)
  [ -n "$pkg" ] || need linux-image-amd64 "apt-cache does not know the package (apt-get update?)"
  mkdir -p "$QEMU_CACHE"
  QEMU_KROOT=$QEMU_CACHE/$pkg
  (
    flock 8
    if [ ! -e "$QEMU_KROOT/.ready" ]; then
      rm -rf "$QEMU_KROOT" "$QEMU_CACHE"/dl && mkdir -p "$QEMU_CACHE/dl"
      (cd "$QEMU_CACHE/dl" && apt-get download -q "$pkg" >&2) || exit 1
      dpkg -x "$QEMU_CACHE"/dl/"$pkg"_*.deb "$QEMU_KROOT" || exit 1
      depmod -b "$QEMU_KROOT" "$(ls "$QEMU_KROOT/lib/modules")" || exit 1
      rm -rf "$QEMU_CACHE/dl"
      touch "$QEMU_KROOT/.ready"
    fi
  ) 8>"$QEMU_CACHE/.lock" || need "$pkg" "could not download and extract it"
  QEMU_KVER=$(ls "$QEMU_KROOT/lib/modules")
  QEMU_VMLINUZ=$QEMU_KROOT/boot/vmlinuz-$QEMU_KVER
  QEMU_KCONFIG=$QEMU_KROOT/boot/config-$QEMU_KVER
}

# Copies a binary and every shared library ldd names, at the same paths.
_qemu_copy_with_libs() {
  local bin=$1 root=$2 dest=${3:-$1} lib
  mkdir -p "$root$(dirname "$dest")" && cp -L "$bin" "$root$dest"
  strip --strip-debug "$root$dest" 2>/dev/null  # the initramfs unpacks into guest RAM
  for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*'); do
    [ -e "$root$lib" ] && continue
    mkdir -p "$root$(dirname "$lib")" && cp -L "$lib" "$root$lib"
  done
}

# qemu_initramfs OUT: a cpio.gz with busybox, the modules, imashim's binaries
# (as /usr/bin/imactl...; ima-runc execs ima-runc-full from its own directory), host tools, and /init which runs /host/run.sh.
qemu_initramfs() {
  local out=$1 root=$TEST_TMP/initramfs m b
  rm -rf "$root" && mkdir -p "$root"
  make_busybox_rootfs "$root"
  mkdir -p "$root/host" "$root/mnt" "$root/lib/modules"
  : >"$root/modules.load"
  for m in "${QEMU_MODULES[@]}"; do
    modprobe -d "$QEMU_KROOT" -S "$QEMU_KVER" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
  done | awk '!seen[$0]++' | while read -r m; do
    cp "$m" "$root/lib/modules/" && echo "/lib/modules/$(basename "$m")" >>"$root/modules.load"
  done
  for b in imactl ima-runc ima-runc-full ima-runc-tpm ima-oci-hook; do
    [ -x "$IMASHIM_BUILD/$b" ] && _qemu_copy_with_libs "$IMASHIM_BUILD/$b" "$root" "/usr/bin/$b"
  done
  for b in "${QEMU_HOST_TOOLS[@]}"; do
    [ -x "$b" ] && _qemu_copy_with_libs "$b" "$root"
  done
  cp "$IMASHIM_SRC/tests/kernel/guest/init" "$root/init" && chmod +x "$root/init"
  cp "$IMASHIM_SRC/tests/kernel/guest/lib.sh" "$root/guest-lib.sh"
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
}

# qemu_swtpm_start DIR: a TPM 2.0 emulator for one boot, stopped at exit.
qemu_swtpm_start() {
  local dir=$1
  need_tools "package swtpm" swtpm
  mkdir -p "$dir/state"
  swtpm socket --tpm2 --tpmstate dir="$dir/state" --ctrl type=unixio,path="$dir/sock" \
    --pid file="$dir/pid" --log file="$dir/log" --flags startup-clear >/dev/null 2>&1 &
  local pid=$! i
  on_exit "kill $pid"
  for i in $(seq 50); do [ -S "$dir/sock" ] && break; sleep 0.1; done
  [ -S "$dir/sock" ] || { echo "swtpm did not start: $(cat "$dir/log" 2>/dev/null)"; return 1; }
  QEMU_TPM_ARGS=(-chardev "socket,id=chrtpm,path=$dir/sock" -tpmdev emulator,id=tpm0,chardev=chrtpm
    -device tpm-tis,tpmdev=tpm0)
}

# qemu_boot SHARE CMDLINE [extra qemu args...]: boots the initramfs at
# $QEMU_INITRD; the guest runs SHARE/run.sh with SHARE mounted at /host and
# writes SHARE/out/. The serial console goes to SHARE/console.log.
# no_timer_check: on a loaded host the TCG guest's timer IRQ can come too late
# for the kernel's boot-time check, which then panics ("IO-APIC + timer doesn't work").
qemu_boot() {
  local share=$1 cmdline=$2
  shift 2
  mkdir -p "$share/out"
  timeout "$QEMU_TIMEOUT" qemu-system-x86_64 -accel tcg -m "$QEMU_MEM" -nodefaults -display none \
    -no-reboot -serial "file:$share/console.log" -monitor none \
    -kernel "$QEMU_VMLINUZ" -initrd "$QEMU_INITRD" \
    -append "console=ttyS0 panic=-1 quiet no_timer_check $cmdline" \
    -virtfs "local,path=$share,mount_tag=host0,security_model=none" \
    "$@" </dev/null
}

# qemu_collect SHARE: each "ok   - ..." / "FAIL - ..." line the guest wrote
# becomes one check here ("skip - ..." too, as a failure in CI); a guest that
# did not finish is one failure.
qemu_collect() {
  local share=$1 line
  if [ -f "$share/out/results" ]; then
    while IFS= read -r line; do
      case $line in
        "ok   - "*) pass "${line#ok   - }" ;;
        "FAIL - "*) fail "${line#FAIL - }" ;;
        # A check the suite could not run (a missing imashim command): a failure in CI.
        "skip - "*) if [ "${CI:-}" = true ]; then fail "${line#skip - }"; else echo "$line"; fi ;;
      esac
    done <"$share/out/results"
  fi
  if [ -f "$share/out/done" ]; then
    pass "guest ran to the end"
  else
    fail "guest did not finish; console:"
    tail -n 30 "$share/console.log" 2>/dev/null | sed 's/^/    /'
  fi
}
