#!/usr/bin/env bash
# Anchor -> replay -> quote -> verify with a private swtpm, for several
# containers; every kind of tampering the issue names is detected; the quote
# and the AK check out with tpm2-tools, which share no code with imashim.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/swtpm.sh"

MAKE_LOG=$IMASHIM_BUILD/tests/imashim-test-make-log
[ -x "$IMACTL" ] && [ -x "$MAKE_LOG" ] || need build "imactl and imashim-test-make-log are not built"
need_tools "package jq is not installed" jq
start_swtpm || exit 1

LOGS=$TEST_TMP/logs
write_config() {  # write_config ON_FAILURE [TCTI]
  cat >"$TEST_TMP/config.json" <<EOF
{"log_root": "$LOGS", "state_root": "$TEST_TMP/run",
 "tpm": {"tcti": "${2:-$SWTPM_TCTI}", "pcr": 23, "on_failure": "$1"}}
EOF
}
write_config require
export IMASHIM_CONFIG=$TEST_TMP/config.json

# Three containers; c1 is anchored while running, then all three at delete.
"$MAKE_LOG" "$LOGS/c1" /bin/sh=busybox /bin/ls=busybox
"$MAKE_LOG" "$LOGS/c2" /bin/sh=busybox /usr/bin/app=app-v1 /etc/app.conf=conf
"$MAKE_LOG" "$LOGS/c3" /bin/sh=busybox
check "anchor a running container" "$IMACTL" anchor --container c1 >/dev/null
"$MAKE_LOG" "$LOGS/c1" /bin/cat=busybox /etc/passwd=root
check "anchor every container at delete" "$IMACTL" anchor --all --event delete >/dev/null
check_eq "the anchor log holds 4 anchors" 4 "$(grep -c . "$LOGS/@anchor/ascii_runtime_measurements")"

NONCE=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
check "attest --all" "$IMACTL" attest --all --nonce "$NONCE" -o "$TEST_TMP/bundle.json"
tpm2_readpublic -c 0x81000a11 -f pem -o "$TEST_TMP/ak.pem" >/dev/null 2>&1
check "tpm2-tools reads the AK at its persistent handle" test -s "$TEST_TMP/ak.pem"

# Independent checks of the quote and PCR with tpm2-tools.
B=$TEST_TMP/bundle.json
jq -r .quote.attest "$B" | base64 -d >"$TEST_TMP/attest.bin"
jq -r .quote.signature "$B" | base64 -d >"$TEST_TMP/sig.bin"
check "tpm2_checkquote accepts the quote with the AK and nonce" \
  eval tpm2_checkquote -u "$TEST_TMP/ak.pem" -m "$TEST_TMP/attest.bin" -s "$TEST_TMP/sig.bin" -g sha256 -q "$NONCE" ">/dev/null"
pcr=$(tpm2_pcrread sha256:23 | awk '/23:/ {print tolower($2)}')
check_eq "the bundle's PCR 23 is the TPM's" "0x$(jq -r .pcr_value "$B")" "$pcr"

# An independent replay of the anchor log in shell: PCR = sha256(PCR || sha256(template data)).
hex_to_bin() { local h=$1 i; for ((i = 0; i < ${#h}; i += 2)); do printf "\\x${h:i:2}"; done; }
replay_sha256() {
  local f=$1 off=0 total pcr
  pcr=$(printf '%064d' 0)
  total=$(stat -c %s "$f")
  while [ "$off" -lt "$total" ]; do
    local nlen dlen d
    nlen=$(od -An -tu4 -j $((off + 24)) -N4 "$f" | tr -d ' ')
    dlen=$(od -An -tu4 -j $((off + 28 + nlen)) -N4 "$f" | tr -d ' ')
    d=$(tail -c +$((off + 33 + nlen)) "$f" | head -c "$dlen" | sha256sum | cut -d' ' -f1)
    pcr=$(hex_to_bin "$pcr$d" | sha256sum | cut -d' ' -f1)
    off=$((off + 32 + nlen + dlen))
  done
  echo "0x$pcr"
}
check_eq "the anchor log replays (in shell) to the TPM's PCR 23" "$pcr" "$(replay_sha256 "$LOGS/@anchor/binary_runtime_measurements")"

out=$("$IMACTL" verify "$B" --nonce "$NONCE" --ak-pub "$TEST_TMP/ak.pem"); rc=$?
check_eq "verify: an honest bundle passes" 0 "$rc"
check "verify: three containers, all ok" test "$(grep -c '^container c[123]: ok' <<<"$out")" = 3
json=$("$IMACTL" verify "$B" --nonce "$NONCE" --ak-pub "$TEST_TMP/ak.pem" --json)
check_eq "verify --json: c1 anchored twice, 4 entries" "2 4 true" \
  "$(jq -r '.containers[0] | "\(.anchors) \(.anchored_entries) \(.final_anchor)"' <<<"$json")"

# Reference digests: a Keylime runtime policy written by hand (the export is tested in test_keylime_export.sh).
d() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
cat >"$TEST_TMP/policy.json" <<EOF
{"meta": {"version": 1, "generator": 0}, "release": 0,
 "digests": {"/bin/sh": ["$(d busybox)"], "/bin/ls": ["$(d busybox)"], "/bin/cat": ["$(d busybox)"],
             "/etc/passwd": ["$(d root)"], "/usr/bin/app": ["$(d app-v2)"]},
 "excludes": ["/etc/app\\\\.conf"], "keyrings": {},
 "ima": {"ignored_keyrings": [], "log_hash_alg": "sha1", "dm_policy": null}, "ima-buf": {}, "verification-keys": ""}
EOF
out=$("$IMACTL" verify "$B" --nonce "$NONCE" --ak-pub "$TEST_TMP/ak.pem" --keylime-policy "$TEST_TMP/policy.json"); rc=$?
check_eq "verify with a Keylime policy: a wrong digest fails" 1 "$rc"
check "the report names the file and says wrong digest" grep -q "/usr/bin/app: wrong digest" <<<"$out"
check "the excluded file is not reported" test "$(grep -c 'app.conf' <<<"$out")" = 0

# Tampering: each case on a copy of the node's logs, attested again, must fail verification.
tamper_case() {  # tamper_case NAME EXPECTED-TEXT COMMAND...: COMMAND edits $CASE
  local name=$1 expect=$2; shift 2
  CASE=$TEST_TMP/case-$RANDOM
  cp -a "$LOGS" "$CASE"
  "$@"
  local n
  n=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  "$IMACTL" attest --all --nonce "$n" --log-root "$CASE" -o "$CASE.json" 2>/dev/null
  out=$("$IMACTL" verify "$CASE.json" --nonce "$n" --ak-pub "$TEST_TMP/ak.pem"); rc=$?
  check_eq "detected: $name (exit 1)" 1 "$rc"
  check "detected: $name (report says: $expect)" grep -q "$expect" <<<"$out"
}
flip_byte() {  # flip one byte of the digest of entry 1 of c2
  local f=$CASE/c2/binary_runtime_measurements size
  size=$(stat -c %s "$f")
  printf '\xff' | dd of="$f" bs=1 seek=$((size - 20)) conv=notrunc status=none
}
entry_sizes() {  # byte size of each entry of a log (ima-ng: 4+20+4+name+4+data)
  local f=$1 off=0 total
  total=$(stat -c %s "$f")
  while [ "$off" -lt "$total" ]; do
    local nlen dlen
    nlen=$(od -An -tu4 -j $((off + 24)) -N4 "$f" | tr -d ' ')
    dlen=$(od -An -tu4 -j $((off + 28 + nlen)) -N4 "$f" | tr -d ' ')
    echo $((32 + nlen + dlen))
    off=$((off + 32 + nlen + dlen))
  done
}
swap_first_two() {
  local f=$CASE/c2/binary_runtime_measurements a b
  { read -r a; read -r b; } < <(entry_sizes "$f")
  { tail -c +$((a + 1)) "$f" | head -c "$b"; head -c "$a" "$f"; tail -c +$((a + b + 1)) "$f"; } >"$f.new"
  mv "$f.new" "$f"
}
drop_last() {
  local f=$CASE/c2/binary_runtime_measurements last
  last=$(entry_sizes "$f" | tail -n1)
  truncate -s -"$last" "$f"
}
swap_logs() {
  mv "$CASE/c1/binary_runtime_measurements" "$CASE/tmp"
  mv "$CASE/c2/binary_runtime_measurements" "$CASE/c1/binary_runtime_measurements"
  mv "$CASE/tmp" "$CASE/c2/binary_runtime_measurements"
}
truncate_anchor_log() {
  local f=$CASE/@anchor/binary_runtime_measurements last
  last=$(entry_sizes "$f" | tail -n1)
  truncate -s -"$last" "$f"
}
tamper_case "one byte of a container log changed" "do not replay to the anchored virtual PCR" flip_byte
tamper_case "two entries reordered" "do not replay to the anchored virtual PCR" swap_first_two
tamper_case "the last entry dropped" "entries were dropped" drop_last
tamper_case "two containers' logs swapped" "c2: FAILED" swap_logs
tamper_case "the node anchor log truncated" "does not replay to the quoted PCR" truncate_anchor_log

out=$("$IMACTL" verify "$B" --nonce "$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')" --ak-pub "$TEST_TMP/ak.pem"); rc=$?
check_eq "detected: an old quote replayed (exit 1)" 1 "$rc"
check "detected: an old quote replayed (nonce mismatch)" grep -q "nonce mismatch" <<<"$out"
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl ec -pubout -out "$TEST_TMP/other.pem" 2>/dev/null
out=$("$IMACTL" verify "$B" --nonce "$NONCE" --ak-pub "$TEST_TMP/other.pem"); rc=$?
check_eq "detected: a quote signed by another key (exit 1)" 1 "$rc"

# Bad input is an error (exit 2) that names it.
echo '{"format": "something else"}' >"$TEST_TMP/bad.json"
err=$("$IMACTL" verify "$TEST_TMP/bad.json" 2>&1); rc=$?
check_eq "verify: not a bundle -> exit 2" 2 "$rc"
check "verify: the error says what is wrong" grep -q "not an imashim attestation bundle" <<<"$err"
err=$("$IMACTL" attest --container nosuch --nonce 00 -o "$TEST_TMP/x.json" 2>&1); rc=$?
check "attest: an unknown container is an error naming it" test "$rc" = 2 -a -n "$(grep nosuch <<<"$err")"

# TPM gone: a clear error, nothing written.
stop_swtpm
err=$("$IMACTL" attest --all --nonce "$NONCE" -o "$TEST_TMP/gone.json" 2>&1); rc=$?
check_eq "attest without a TPM: exit 2" 2 "$rc"
check "attest without a TPM: says the TPM is unavailable and names the TCTI" \
  grep -q "TPM unavailable.*$SWTPM_TCTI" <<<"$err"
check "attest without a TPM: no bundle written" test ! -e "$TEST_TMP/gone.json"
finish
