#!/usr/bin/env bash
# imactl label writes exactly what evmctl writes (sha1, sha256, sha512), its v2
# signatures (RSA and EC) verify with evmctl ima_verify, and --check finds changed
# files, missing labels and wrong algorithms.
source "$(dirname "$0")/../lib/common.sh"
need_root "security.ima can only be set by root"
need_tools "package ima-evm-utils: the independent reader" evmctl
need_tools "package attr" getfattr

label_hex() { getfattr --only-values -n security.ima "$1" 2>/dev/null | od -An -v -tx1 | tr -d ' \n'; }

# A tree of assorted files: empty, small, odd names, 1 MiB boundaries, sparse, real binaries.
make_tree() {
  local t=$1
  mkdir -p "$t/bin" "$t/data/deep/er" "$t/odd"
  : >"$t/empty"
  printf 'hello\n' >"$t/data/hello"
  head -c $((1 << 20)) /dev/urandom >"$t/data/one-mib"
  head -c $(((1 << 20) + 1)) /dev/urandom >"$t/data/deep/one-mib-plus-one"
  head -c 4099 /dev/urandom >"$t/data/deep/er/odd-size"
  truncate -s 9M "$t/data/sparse"; printf 'x' | dd of="$t/data/sparse" bs=1 seek=3000000 conv=notrunc status=none
  printf 'space' >"$t/odd/with space"; printf 'nl' >"$t/odd/new
line"
  cp /bin/busybox /usr/bin/evmctl "$t/bin/"
}

regular_files() { find "$1" -type f -print0; }

for algo in sha1 sha256 sha512; do
  t=$TEST_TMP/tree-$algo
  make_tree "$t"
  "$IMACTL" label --algo "$algo" "$t" >"$TEST_TMP/out" 2>&1; rc=$?
  check_eq "$algo: label exits 0" 0 "$rc"
  bad=0; n=0
  while IFS= read -r -d '' f; do
    n=$((n + 1))
    want=$(evmctl ima_hash -a "$algo" -n "$f" 2>/dev/null)
    got=$(label_hex "$f")
    [ -n "$want" ] && [ "$want" = "$got" ] || { bad=$((bad + 1)); echo "  $f: evmctl $want imashim $got"; }
  done < <(regular_files "$t")
  check_eq "$algo: all $n labels byte-identical to evmctl ima_hash -n" 0 "$bad"
  "$IMACTL" label --check --algo "$algo" "$t" >/dev/null; rc=$?
  check_eq "$algo: --check on the fresh labels exits 0" 0 "$rc"
done
check "sha1 labels are type 0x01 (evmctl's legacy form)" [ "$(label_hex "$TEST_TMP/tree-sha1/data/hello" | cut -c1-2)" = 01 ]

# --check: a changed file, a removed label, another algorithm.
t=$TEST_TMP/tree-sha256
printf 'tampered\n' >"$t/data/hello"
setfattr -x security.ima "$t/empty"
"$IMACTL" label --check "$t" >"$TEST_TMP/check" 2>&1; rc=$?
check_eq "--check with a tampered file exits 1" 1 "$rc"
check "--check lists the changed file" grep -q '^  changed /data/hello: ' "$TEST_TMP/check"
check "--check lists the missing label" grep -q '^  missing-label /empty: ' "$TEST_TMP/check"
"$IMACTL" label --check --algo sha512 "$t" >"$TEST_TMP/check512" 2>&1; rc=$?
check_eq "--check --algo sha512 on sha256 labels exits 1" 1 "$rc"
check "--check reports the wrong algorithm" grep -q '^  wrong-algo /bin/busybox: labelled with sha256, expected sha512' "$TEST_TMP/check512"
# Labelling again leaves the tampered file's label alone (labels are immutable) ...
before=$(label_hex "$t/data/hello")
"$IMACTL" label "$t" >"$TEST_TMP/relabel" 2>&1; rc=$?
check_eq "label over a tampered file exits 1 and keeps the label" "1 $before" "$rc $(label_hex "$t/data/hello")"
check "... and labels the file that had none" [ "$(label_hex "$t/empty")" = "$(evmctl ima_hash -a sha256 -n "$t/empty" 2>/dev/null)" ]
# ... and --force relabels it.
"$IMACTL" label --force "$t" >/dev/null 2>&1; rc=$?
check_eq "--force relabels the tampered file" "0 $(evmctl ima_hash -a sha256 -n "$t/data/hello" 2>/dev/null)" "$rc $(label_hex "$t/data/hello")"

# Signatures: certificates with a subjectKeyIdentifier, as the kernel's .ima keyring wants them.
cat >"$TEST_TMP/x509.cnf" <<'CNF'
[ req ]
distinguished_name = dn
prompt = no
x509_extensions = v3
[ dn ]
CN = imashim test IMA signing key
[ v3 ]
basicConstraints=critical,CA:FALSE
keyUsage=digitalSignature
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
CNF
for kind in rsa ec; do
  case $kind in
    rsa) newkey=(-newkey rsa:2048) ;;
    ec) newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1) ;;
  esac
  openssl req -new -nodes -utf8 -sha256 -x509 -config "$TEST_TMP/x509.cnf" "${newkey[@]}" \
    -keyout "$TEST_TMP/$kind.key" -out "$TEST_TMP/$kind.pem" -days 2 2>/dev/null
  openssl x509 -in "$TEST_TMP/$kind.pem" -outform DER -out "$TEST_TMP/$kind.der"
  for algo in sha256 sha512; do
    t=$TEST_TMP/signed-$kind-$algo
    make_tree "$t"
    "$IMACTL" label --algo "$algo" --sign "$TEST_TMP/$kind.key" --cert "$TEST_TMP/$kind.pem" "$t" >/dev/null 2>&1; rc=$?
    check_eq "$kind $algo: signing exits 0" 0 "$rc"
    bad=0; n=0
    while IFS= read -r -d '' f; do
      n=$((n + 1))
      evmctl ima_verify -a "$algo" --key "$TEST_TMP/$kind.der" "$f" >/dev/null 2>&1 || { bad=$((bad + 1)); echo "  not verified: $f"; }
    done < <(regular_files "$t")
    check_eq "$kind $algo: evmctl ima_verify accepts all $n signatures" 0 "$bad"
    "$IMACTL" label --check --algo "$algo" --sign "$TEST_TMP/$kind.key" --cert "$TEST_TMP/$kind.pem" "$t" >/dev/null; rc=$?
    check_eq "$kind $algo: --check verifies the signatures" 0 "$rc"
  done
done
# RSA PKCS#1 v1.5 is deterministic: the value is evmctl ima_sign's, byte for byte.
f=$TEST_TMP/signed-rsa-sha256/data/hello
mine=$(label_hex "$f")
cp "$f" "$TEST_TMP/evm-signed"
evmctl ima_sign -a sha256 --key "$TEST_TMP/rsa.key" "$TEST_TMP/evm-signed" >/dev/null 2>&1
check_eq "RSA signature byte-identical to evmctl ima_sign" "$(label_hex "$TEST_TMP/evm-signed")" "$mine"
keyid=$(openssl x509 -in "$TEST_TMP/rsa.pem" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :' | tr A-F a-f | tail -c 9)
check_eq "key id = last 4 bytes of the subjectKeyIdentifier" "$keyid" "$(echo "$mine" | cut -c7-14)"
# A signature by another key is reported, not silently accepted.
"$IMACTL" label --check --sign "$TEST_TMP/ec.key" --cert "$TEST_TMP/ec.pem" "$TEST_TMP/signed-rsa-sha256" >"$TEST_TMP/other" 2>&1; rc=$?
check_eq "--check with another key exits 1" 1 "$rc"
check "... naming the key ids" grep -q "bad-signature /data/hello: signed by key $keyid" "$TEST_TMP/other"
"$IMACTL" label --sign "$TEST_TMP/rsa.key" --cert "$TEST_TMP/ec.pem" "$TEST_TMP/signed-rsa-sha256" 2>"$TEST_TMP/err" >/dev/null; rc=$?
check_eq "a key that does not match its certificate is an error (exit 2)" 2 "$rc"
check "... saying so" grep -q 'does not belong to certificate' "$TEST_TMP/err"

# JSON report.
"$IMACTL" label --json "$TEST_TMP/tree-sha512" --algo sha512 >"$TEST_TMP/json"; rc=$?
check_eq "--json exits 0" 0 "$rc"
check "--json reports the counts" grep -q '"unchanged": 10' "$TEST_TMP/json"
finish
