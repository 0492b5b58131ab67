#!/usr/bin/env bash
# The formats module against an independent implementation, ima-evm-utils' evmctl:
# security.ima values evmctl writes decode and re-encode byte for byte; binary logs
# imashim writes replay in evmctl to the PCR values imashim computed; one changed byte
# is rejected by both.
source "$(dirname "$0")/../lib/common.sh"
quiet() { "$@" >/dev/null 2>&1; }

need_tools "package ima-evm-utils" evmctl
need_tools "package attr" getfattr
[ -x "$IMACTL" ] || need imactl "build first (ninja -C build)"
need_root "setting security.* xattrs needs CAP_SYS_ADMIN"

files=$TEST_TMP/files
mkdir -p "$files"
printf 'hello\n' >"$files/small"
head -c 300000 /dev/urandom >"$files/random"
: >"$files/empty"
printf 'x' >"$files/with space"

xattr_hex() { getfattr --absolute-names -n security.ima -e hex "$1" 2>/dev/null | sed -n 's/^security.ima=0x//p'; }

# 1. evmctl ima_hash → getfattr hex → imactl xattr decode → imactl xattr encode
for algo in sha1 sha256 sha512; do
  for f in small random empty "with space"; do
    path="$files/$f"
    evmctl ima_hash -a "$algo" "$path" >/dev/null 2>&1
    theirs=$(xattr_hex "$path")
    if [ -z "$theirs" ]; then fail "$algo $f: evmctl set no security.ima (filesystem without security xattrs?)"; continue; fi
    decoded=$("$IMACTL" xattr decode "$theirs")
    digest=$("$algo"sum "$path" | cut -d' ' -f1)
    check_eq "$algo '$f': imashim decodes evmctl's value" "value: $algo:$digest" "$decoded"
    ours=$("$IMACTL" xattr encode --algo "$algo" "$path" | sed 's/.*: 0x//')
    check_eq "$algo '$f': imashim's encoding is byte-identical to evmctl's" "$theirs" "$ours"
    shown=$("$IMACTL" xattr show "$path")
    check_eq "$algo '$f': xattr show reads the attribute" "$path: $algo:$digest" "$shown"
  done
done

# 2. A real v2 signature written by evmctl ima_sign decodes and re-encodes identically.
openssl genrsa -out "$TEST_TMP/key.pem" 2048 >/dev/null 2>&1
if evmctl ima_sign -a sha256 --key "$TEST_TMP/key.pem" "$files/small" >/dev/null 2>&1; then
  sig=$(xattr_hex "$files/small")
  json=$("$IMACTL" xattr decode --json "$sig")
  check_eq "evmctl signature: type 0x03" "digsig" "$(jq -r '.[0].type' <<<"$json")"
  check_eq "evmctl signature: version 2" "2" "$(jq -r '.[0].sig_version' <<<"$json")"
  check_eq "evmctl signature: algorithm sha256" "sha256" "$(jq -r '.[0].algo' <<<"$json")"
  check_eq "evmctl signature: 256-byte RSA-2048 signature" "512" "$(jq -r '.[0].signature | length' <<<"$json")"
  check_eq "evmctl signature: decoded value re-encodes to the same bytes" "$sig" "$(jq -r '.[0].hex' <<<"$json")"
else
  fail "evmctl ima_sign failed"
fi

# 3. Logs written by imashim, replayed by evmctl with imashim's PCR values.
log=$TEST_TMP/log
mkdir -p "$log"
append() { "$IMACTL" log append --binary "$log/bin" --ascii "$log/ascii" --pcrs-out "sha1,$log/pcr-sha1" \
  --pcrs-out "sha256,$log/pcr-sha256" "$@" >/dev/null; }
check "imactl log append: boot_aggregate and four files" quiet append --boot-aggregate "$files/small" "$files/random" \
  "$files/empty" "$files/with space"
check "imactl log append: a violation" quiet append --violation "$files/small"
check "imactl log append: more files after reopening" quiet append "$files/random" /bin/sh
for bank in sha256 sha1; do
  check "evmctl accepts the imashim log with imashim's $bank PCR 10" \
    quiet evmctl ima_measurement --ignore-violations --pcrs "$bank,$log/pcr-$bank" "$log/bin"
done
check "imactl log replay agrees with both PCR files" \
  quiet "$IMACTL" log replay "$log/bin" --pcrs "sha1,$log/pcr-sha1" --pcrs "sha256,$log/pcr-sha256"
"$IMACTL" log show "$log/bin" >"$log/ascii.shown"
check "imactl log show reproduces the ascii file written alongside" cmp -s "$log/ascii" "$log/ascii.shown"
check "the ascii log has one line per entry" test "$(wc -l <"$log/ascii")" = 8
# The sha1 template digest column of the ascii log is what evmctl -v prints per entry.
evmctl -v ima_measurement --ignore-violations --pcrs "sha256,$log/pcr-sha256" "$log/bin" 2>&1 |
  grep -E '^10 [0-9a-f]{40} ' >"$log/evmctl.lines" || true
check "evmctl lists the same entries as imactl log show" cmp -s "$log/evmctl.lines" "$log/ascii.shown"

# Other templates evmctl understands.
for tmpl in ima ima-sig ima-ngv2 ima-buf "d-ng|n-ng|sig"; do
  t=$TEST_TMP/t.$RANDOM
  mkdir -p "$t"
  algo=sha256; [ "$tmpl" = ima ] && algo=sha1
  "$IMACTL" log append --template "$tmpl" --algo "$algo" --binary "$t/bin" --ascii "$t/ascii" \
    --pcrs-out "sha256,$t/p256" --pcrs-out "sha1,$t/p1" "$files/small" "$files/with space" >/dev/null
  check "template $tmpl: evmctl replays the sha256 bank" quiet evmctl ima_measurement --pcrs "sha256,$t/p256" "$t/bin"
  check "template $tmpl: evmctl replays the sha1 bank" quiet evmctl ima_measurement --pcrs "sha1,$t/p1" "$t/bin"
done

# 4. One changed byte: rejected by evmctl and by imactl log replay (which names the entry).
size=$(stat -c %s "$log/bin")
for at in 40 $((size / 2)) $((size - 3)); do
  cp "$log/bin" "$log/bad"
  orig=$(od -An -tu1 -j "$at" -N1 "$log/bad" | tr -d ' ')
  printf "$(printf '\\%03o' $(((orig + 1) % 256)))" | dd of="$log/bad" bs=1 seek="$at" conv=notrunc status=none
  if evmctl ima_measurement --ignore-violations --pcrs "sha256,$log/pcr-sha256" "$log/bad" >/dev/null 2>&1; then
    fail "byte $at changed: evmctl still accepts the log"
  else
    pass "byte $at changed: evmctl rejects the log"
  fi
  out=$("$IMACTL" log replay "$log/bad" --pcrs "sha1,$log/pcr-sha1" --pcrs "sha256,$log/pcr-sha256" 2>&1)
  rc=$?
  check_eq "byte $at changed: imactl log replay fails with exit 1 or 2" "yes" "$([ $rc = 1 ] || [ $rc = 2 ] && echo yes)"
  check "byte $at changed: the report names an entry" grep -qE 'entry [0-9]+ at byte [0-9]+' <<<"$out"
done

# 5. --pcr on the command line and tpm2_pcrread-style files.
want=$(sed -n 's/^PCR-10: //p' "$log/pcr-sha256")
check "--pcr sha256:HEX matches" quiet "$IMACTL" log replay "$log/bin" --pcr "sha256:$want"
"$IMACTL" log replay "$log/bin" --pcr "sha256:$(printf '%064d' 0)" >/dev/null 2>&1
check_eq "--pcr with a wrong value exits 1" 1 $?
printf 'sha256:\n  10: 0x%s\n' "${want^^}" >"$log/tpm2.yaml"
check "tpm2_pcrread-style --pcrs file matches" quiet "$IMACTL" log replay "$log/bin" --pcrs "$log/tpm2.yaml"
json=$("$IMACTL" log replay --json "$log/bin" --pcrs "sha256,$log/pcr-sha256")
check_eq "replay --json reports ok" true "$(jq -r .ok <<<"$json")"
check_eq "show --json lists every entry" 8 "$("$IMACTL" log show --json "$log/bin" | jq length)"
odd=$(printf '%s/odd\xff name' "$files")
printf 'z' >"$odd"
"$IMACTL" log append --binary "$TEST_TMP/odd.bin" --ascii "$TEST_TMP/odd.ascii" "$odd" >/dev/null
check "show --json survives a file name that is not UTF-8" \
  test "$("$IMACTL" log show --json "$TEST_TMP/odd.bin" | jq length)" = 1
check "the ascii log keeps the raw name bytes (space as '_')" grep -q "odd$(printf '\xff')_name" "$TEST_TMP/odd.ascii"

finish
