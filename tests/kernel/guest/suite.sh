# The kernel suite's guest side (runs as /host/run.sh). The host prepared:
#   /host/policies/*.policy   policies to check (one rule per line)
#   /host/verdicts.tsv        accept|reject<TAB>rule, the expected verdicts
#   /host/appraise.policy     the policy loaded for real at the end
#   /host/labels.tsv          path<TAB>expect(open|EACCES)<TAB>cause  for files on /dev/vda
#   /host/gaps                checks the host could not prepare (missing commands)
#   /host/host_backend.sh     the host backend end to end (containers under ima-runc)
. /guest-lib.sh
. /host/host_backend.sh
mkdir -p /tmp/w
[ -f /host/gaps ] && while IFS= read -r g; do g_skip "$g"; done </host/gaps

# --- the kernel and TPM we booted
g_check "securityfs has ima/" test -e $IMA/ascii_runtime_measurements
g_check "the TPM's PCR 10 is readable (sha1 and sha256 banks)" test -e /sys/class/tpm/tpm0/pcr-sha256/10 -a -e /sys/class/tpm/tpm0/pcr-sha1/10
agg=$(head -n 1 $IMA/ascii_runtime_measurements | awk '{print $4}')
g_check "boot_aggregate is not zero ($agg)" test -n "${agg#sha256:}" -a "${agg#sha256:}" != "$(printf '%064d' 0)"

imactl kernel detect >/tmp/w/detect 2>&1
g_check "backend detection picks host on mainline IMA ($(sed -n 2p /tmp/w/detect | cut -c1-60)...)" grep -q '^backend: host$' /tmp/w/detect

# --- the measurement log: imactl against the kernel's own log and PCRs
mount -t ext4 /dev/vda /mnt
/mnt/measured/prog >/dev/null && cat /mnt/measured/data >/dev/null
exec 3>>/mnt/measured/data; cat /mnt/measured/data >/dev/null; exec 3>&-   # an open_writers violation
log_checks() {
  # Snapshot: only initramfs programs (never measured) run between the reads.
  pcr10 sha1 >/tmp/w/sha1.0; pcr10 sha256 >/tmp/w/sha256.0
  cat $IMA/binary_runtime_measurements >/tmp/w/binary
  cat $IMA/ascii_runtime_measurements >/tmp/w/ascii
  pcr10 sha1 >/tmp/w/sha1; pcr10 sha256 >/tmp/w/sha256
  if ! cmp -s /tmp/w/sha256.0 /tmp/w/sha256; then g_fail "log snapshot: PCR 10 moved while copying"; return; fi
  g_check "the kernel's log has the disk's program, data and a violation ($(grep -c . /tmp/w/ascii) entries)" \
    sh -c "grep -q ' /mnt/measured/prog\$' /tmp/w/ascii && grep -q '^10 0\{40\} ' /tmp/w/ascii"
  if [ ! -f /host/have-log ]; then g_skip "imactl log show/replay are not built: log checks not run"; return; fi
  local bank
  for bank in sha1 sha256; do
    imactl log replay --bank $bank --pcr "$bank:$(cat /tmp/w/$bank)" /tmp/w/binary >/tmp/w/replay.$bank 2>&1
    g_check "imactl log replay of the kernel's binary log = PCR 10 of the TPM ($bank bank)" test $? = 0
  done
  imactl log replay --bank sha256 --pcr "sha256:$(printf '%064d' 0)" /tmp/w/binary >/dev/null 2>&1
  g_check_eq "imactl log replay against a wrong PCR 10 value exits 1" 1 $?
  imactl log show /tmp/w/binary >/tmp/w/show 2>/tmp/w/show.err
  g_check "imactl log show prints the kernel's ascii log byte for byte" cmp /tmp/w/show /tmp/w/ascii
}
log_checks

# --- policies: the kernel's verdicts, nothing loaded
for p in /host/policies/*.policy; do
  [ -e "$p" ] || continue
  name=$(basename "$p" .policy)
  imactl kernel check-policy "$p" >/tmp/w/v.$name 2>/tmp/w/e.$name
  rc=$?
  n=$(grep -c . /tmp/w/v.$name)
  bad=$(grep -v '^accept' /tmp/w/v.$name | head -n 3 | tr '\t\n' ' ')
  g_check "the kernel accepts every rule of policy $name ($n rules)${bad:+; rejected: $bad}" test "$rc" = 0 -a "$n" -gt 0
done
if [ -f /host/verdicts.tsv ]; then
  cut -f 2- /host/verdicts.tsv >/tmp/w/table.policy
  imactl kernel check-policy /tmp/w/table.policy >/tmp/w/table.kernel 2>/tmp/w/table.err
  cp /tmp/w/table.kernel /host/out/verdicts.kernel.tsv
  dmesg | grep -i -e 'ima' -e 'audit' >/host/out/verdicts.dmesg
  i=0
  while IFS="$(printf '\t')" read -r want rule; do
    i=$((i + 1))
    got=$(sed -n "${i}p" /tmp/w/table.kernel | cut -f 1)
    g_check_eq "verdict table line $i: kernel = imashim for [$rule]" "$want" "$got"
  done </host/verdicts.tsv
fi

# --- the host backend, before the load: a container measured under the boot's tcb policy
host_e2e_measure
host_e2e_tamper

# --- the one real load of this boot, then appraisal of labelled files
if [ -f /host/appraise.policy ]; then
  if [ -f /host/ima-key.der ]; then
    keyctl newring _ima @u >/tmp/w/ring && keyctl padd asymmetric imashim-test %keyring:_ima </host/ima-key.der >/dev/null
    g_check "test key added to the _ima keyring (CONFIG_INTEGRITY_TRUSTED_KEYRING is off)" test $? = 0
  fi
  g_check "the kernel loads the appraise policy" imactl kernel load-policy /host/appraise.policy
  g_check "the policy file is gone after the load (one policy per boot)" test ! -e $IMA/policy
  while IFS="$(printf '\t')" read -r path want cause; do
    dmesg -c >/dev/null
    if cat "/mnt/$path" >/dev/null 2>/tmp/w/err; then got=open; else got=EACCES; fi
    grep -q 'Permission denied' /tmp/w/err || [ $got = open ] || got="error: $(cat /tmp/w/err)"
    g_check_eq "open $path under ima_appraise=enforce: $want" "$want" "$got"
    if [ -n "$cause" ]; then
      g_check "dmesg names cause=$cause for $path" sh -c "dmesg | grep -q 'cause=$cause'"
    fi
  done </host/labels.tsv
  dmesg | grep -e 'integrity' -e 'ima' >/host/out/appraise.dmesg
  # --- the host backend under the loaded policy: the tampered image file is refused
  host_e2e_enforce
fi
g_done
