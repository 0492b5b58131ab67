#!/usr/bin/env bash
# ima-runc with a TPM in the node config: real runc containers on an overlay
# rootfs, measured by the backend, anchored at start, while running and at
# delete; attested and verified against the layers' manifests. Then the TPM
# goes away: on_failure=require refuses to start containers, prefer runs them
# with their logs marked unanchored.
source "$(dirname "$0")/../lib/common.sh"
source "$IMASHIM_SRC/tests/lib/image.sh"
source "$IMASHIM_SRC/tests/lib/engines.sh"
source "$IMASHIM_SRC/tests/lib/swtpm.sh"
need_root
need_tools "apt-get install runc jq" runc jq
start_swtpm || exit 1

ROOT=$TEST_TMP/runc-root
B=$TEST_TMP/bundle
make_overlay_bundle "$B" /bin/sh -c '/bin/hello'
R() { "$IMA_RUNC" --root "$ROOT" "$@"; }
tpm_config() {  # tpm_config ON_FAILURE [TCTI]
  node_config "$(jq -n --arg t "${2:-$SWTPM_TCTI}" --arg f "$1" \
    '{mode: "measure", tpm: {tcti: $t, pcr: 23, on_failure: $f, anchor_every_events: 1, anchor_every_seconds: 1}}')"
}
anchor_procs() { ps -eo stat=,comm= | awk '$1 !~ /^Z/ && $2 == "ima-anchor"' | grep -c .; }
no_anchor_proc() {  # up to 3 s for a stopping anchor process to be gone (zombies do not count)
  local i
  for i in $(seq 30); do [ "$(anchor_procs)" = 0 ] && return 0; sleep 0.1; done
  return 1
}
anchors_of() {  # anchors_of ID: "event entries" per anchor of ID in the node anchor log
  awk -v id="$1" '$4 == id {print $6}' "$IMASHIM_ROOT/logs/@anchor/ascii_runtime_measurements" |
    while read -r hex; do printf '%b\n' "$(sed 's/../\\x&/g' <<<"$hex")"; done
}
# The runtime must be able to run a plain container before TPM anchoring can be shown.
node_config '{"mode": "measure"}'
probe=$(cd "$B" && R run probe 2>&1) || need "ima-runc that runs containers" "a plain container fails: $probe"
tpm_config require

# --- a short container: start and delete anchors ---
out=$(cd "$B" && R run c1 2>&1); rc=$?
check_eq "run c1 with the TPM: exit 0" 0 "$rc"
check "c1: the backend measured /bin/hello" measured c1 /bin/hello
check "c1: a start anchor" grep -q "event=start" <<<"$(anchors_of c1)"
check "c1: a final anchor at delete" grep -q "event=delete" <<<"$(anchors_of c1 | tail -n1)"
check "c1: no unanchored marker" test ! -e "$(log_dir_of c1)/unanchored"
check "c1: nothing left (no anchor process either)" no_anchor_proc

# --- a running container: anchored while it runs ---
bundle_set "$B" '.process.args = ["/bin/sh", "-c", "/bin/hello; sleep 1.5; /bin/cat /etc/imashim-test; sleep 1.5"]'
check "run -d c2" eval 'R run -d --bundle "$B" c2 </dev/null >"$TEST_TMP/c2.out" 2>&1'
for i in $(seq 50); do anchors_of c2 | grep -q "event=periodic" && break; sleep 0.1; done
check "c2: anchored periodically while running" grep -q "event=periodic" <<<"$(anchors_of c2)"
check "c2: the anchor process runs" test "$(anchor_procs)" -gt 0
for i in $(seq 60); do [ "$(runc --root "$ROOT" state c2 2>/dev/null | jq -r .status)" = stopped ] && break; sleep 0.1; done
check "c2: delete" R delete c2
check "c2: final anchor after the periodic ones" grep -q "event=delete" <<<"$(anchors_of c2 | tail -n1)"
check "c2: the anchor process is gone" no_anchor_proc

# --- attest and verify both, against the image's layer manifests when the runtime recorded them ---
NONCE=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
check "attest c1 c2" "$IMACTL" attest --container c1 --container c2 --nonce "$NONCE" -o "$TEST_TMP/b.json"
tpm2_readpublic -c 0x81000a11 -f pem -o "$TEST_TMP/ak.pem" >/dev/null 2>&1
out=$("$IMACTL" verify "$TEST_TMP/b.json" --nonce "$NONCE" --ak-pub "$TEST_TMP/ak.pem"); rc=$?
check_eq "verify: real container logs pass" 0 "$rc"
[ "$rc" = 0 ] || echo "$out"
mapfile -t manifests < <(jq -r '.request.manifests[]? // empty' "$(log_dir_of c1)/container.json" 2>/dev/null)
if [ "${#manifests[@]}" -gt 0 ]; then
  refs=()
  for m in "${manifests[@]}"; do refs+=(--reference "$m"); done
  out=$("$IMACTL" verify "$TEST_TMP/b.json" --nonce "$NONCE" --ak-pub "$TEST_TMP/ak.pem" "${refs[@]}"); rc=$?
  check_eq "verify against the layer manifests: every file known and right" 0 "$rc"
  [ "$rc" = 0 ] || echo "$out"
else
  echo "note - the runtime recorded no layer manifests (measure mode without a labeller): reference check skipped"
fi

# --- the TPM goes away ---
stop_swtpm
out=$(cd "$B" && R run c3 2>&1); rc=$?
check "require, no TPM: the container does not start" test "$rc" -ne 0
check "require, no TPM: the error says why" grep -q "TPM" <<<"$out$(cat "$ROOT"/*.log 2>/dev/null)"
check "require, no TPM: nothing left" nothing_left c3 "$ROOT"
bundle_set "$B" '.process.args = ["/bin/hello"]'
tpm_config prefer
out=$(cd "$B" && R run c4 2>&1); rc=$?
check "prefer, no TPM: the container runs" test "$rc" = 0 -a -n "$(grep -x 'hello from layer 2' <<<"$out")"
check "prefer, no TPM: its log is marked unanchored" grep -q "TPM unavailable" "$(log_dir_of c4)/unanchored"
check "prefer, no TPM: the log is still written" measured c4 /bin/hello

# The TPM is back: the verifier reports c4 as not anchored.
start_swtpm swtpm || exit 1
tpm_config prefer
check "attest after the TPM is back" "$IMACTL" attest --container c4 --nonce "$NONCE" -o "$TEST_TMP/b4.json"
out=$("$IMACTL" verify "$TEST_TMP/b4.json" --nonce "$NONCE"); rc=$?
check_eq "verify: an unanchored log fails (exit 1)" 1 "$rc"
check "verify: says the node could not anchor it" grep -q "could not anchor" <<<"$out"
finish
