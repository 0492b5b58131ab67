#!/usr/bin/env bash
# Layers: labelled once through the cache, overlay lower directories found from
# mountinfo, and an interrupted run (kill -9) never leaves a cache record behind.
source "$(dirname "$0")/../lib/common.sh"
need_root "security.ima and overlay mounts need root"
need_tools "package ima-evm-utils: the independent reader" evmctl

cache=$TEST_TMP/cache
label_hex() { getfattr --only-values -n security.ima "$1" 2>/dev/null | od -An -v -tx1 | tr -d ' \n'; }

# Two layers, a lower one with a space in its path (mountinfo escapes it).
l1="$TEST_TMP/layers/base layer"; l2=$TEST_TMP/layers/app
make_busybox_rootfs "$l1"
mkdir -p "$l2/app"; for i in $(seq 1 40); do echo "app $i" >"$l2/app/file$i"; done
cp /usr/bin/evmctl "$l2/app/"

# A layer directory through the cache: labelled once, then a hit.
"$IMACTL" label --layer --cache-root "$cache" "$l2" >"$TEST_TMP/first" 2>&1; rc=$?
check_eq "first --layer run exits 0" 0 "$rc"
check "first run labelled 41 files" grep -q '41 files .* 41 labelled' "$TEST_TMP/first"
rec=$(ls "$cache"/*/record.json)
check "a cache record exists" [ -f "$rec" ]
man=$(dirname "$rec")/manifest
check_eq "the manifest lists 41 files" 41 "$(grep -vc '^#' "$man")"
check "manifest line format: digest size mode uid gid path" \
  grep -qx "sha256:$(sha256sum "$l2/app/file7" | cut -d' ' -f1) 6 100644 0 0 /app/file7" "$man"
check_eq "record names the manifest digest" "sha256:$(sha256sum "$man" | cut -d' ' -f1)" "$(jq -r .manifest_digest "$rec")"
"$IMACTL" label --layer --cache-root "$cache" "$l2" >"$TEST_TMP/second" 2>&1; rc=$?
check_eq "second run exits 0" 0 "$rc"
check "second run is a cache hit" grep -q 'layer already labelled (41 files' "$TEST_TMP/second"
"$IMACTL" label --layer --cache-root "$cache" --manifest "$TEST_TMP/m.out" "$l2" >/dev/null 2>&1
check "--manifest from a cache hit is the cached manifest" cmp -s "$man" "$TEST_TMP/m.out"
# Tampering after labelling: --check against content and the manifest.
echo evil >"$l2/app/file3"; echo new >"$l2/app/extra"
"$IMACTL" label --check --layer --cache-root "$cache" "$l2" >"$TEST_TMP/check" 2>&1; rc=$?
check_eq "--check on a tampered layer exits 1" 1 "$rc"
check "changed file listed" grep -q '^  changed /app/file3: ' "$TEST_TMP/check"
check "added file listed" grep -q '^  added /app/extra: not in the layer manifest' "$TEST_TMP/check"
rm "$l2/app/extra"; "$IMACTL" label --force --layer --cache-root "$cache" "$l2" >/dev/null 2>&1
"$IMACTL" label --check --layer --cache-root "$cache" "$l2" >/dev/null 2>&1; rc=$?
check_eq "--force relabels and re-records; --check is clean again" 0 "$rc"

# An overlay mount: both lower layers labelled, labels visible through the merged dir.
mkdir -p "$TEST_TMP/ovl/upper" "$TEST_TMP/ovl/work" "$TEST_TMP/ovl/merged"
mount -t overlay overlay -o "lowerdir=$l2:$l1,upperdir=$TEST_TMP/ovl/upper,workdir=$TEST_TMP/ovl/work" "$TEST_TMP/ovl/merged" \
  || need overlay "overlay mounts"
on_exit umount "$TEST_TMP/ovl/merged"
"$IMACTL" label --overlay --cache-root "$cache" "$TEST_TMP/ovl/merged" >"$TEST_TMP/ovl.out" 2>&1; rc=$?
check_eq "--overlay exits 0" 0 "$rc"
check "the app layer was a cache hit" grep -q "^$l2: layer already labelled" "$TEST_TMP/ovl.out"
check "the base layer (escaped path) was labelled" grep -q "^$l1: .* labelled" "$TEST_TMP/ovl.out"
check_eq "busybox label through the merged dir = evmctl's" "$(evmctl ima_hash -a sha256 -n "$l1/bin/busybox" 2>/dev/null)" \
  "$(label_hex "$TEST_TMP/ovl/merged/bin/busybox")"
check_eq "two layer records" 2 "$(ls "$cache"/*/record.json | wc -l)"
"$IMACTL" label --overlay --cache-root "$cache" "$TEST_TMP/ovl" >/dev/null 2>"$TEST_TMP/err"; rc=$?
check_eq "--overlay on a plain directory is an error" 2 "$rc"
check "... that says so" grep -q 'is not the mount point of an overlay filesystem' "$TEST_TMP/err"

# kill -9 in the middle of a run, then a rerun.
big=$TEST_TMP/layers/big
mkdir -p "$big"; for d in $(seq 1 10); do mkdir "$big/d$d"; for f in $(seq 1 30); do echo "$d/$f" >"$big/d$d/f$f"; done; done
IMASHIM_TEST_WALK_DELAY_MS=10 "$IMACTL" label --layer --jobs 1 --cache-root "$cache" "$big" >/dev/null 2>&1 &
pid=$!
count_labels() { getfattr -R -m security.ima --absolute-names "$big" 2>/dev/null | grep -c '^# file'; }
for i in $(seq 1 100); do [ "$(count_labels)" -ge 20 ] && break; sleep 0.05; done
kill -9 "$pid"; wait "$pid" 2>/dev/null
labelled=$(count_labels)
check "killed mid-run: some files labelled ($labelled of 300), not all" [ "$labelled" -gt 0 -a "$labelled" -lt 300 ]
key=$(printf '%x-%x' "$(stat -c %d "$big")" "$(stat -c %i "$big")")
check "killed mid-run: no record for the partial layer" [ ! -e "$cache/$key/record.json" ]
check "killed mid-run: no manifest for the partial layer" [ ! -e "$cache/$key/manifest" ]
"$IMACTL" label --layer --cache-root "$cache" "$big" >"$TEST_TMP/rerun" 2>&1; rc=$?
check_eq "rerun exits 0" 0 "$rc"
check "rerun labelled the rest and kept the rest" grep -q "300 files .* $((300 - labelled)) labelled, $labelled already labelled" "$TEST_TMP/rerun"
check "rerun recorded the layer" [ -e "$cache/$key/record.json" ]
"$IMACTL" label --check --layer --cache-root "$cache" "$big" >/dev/null 2>&1; rc=$?
check_eq "the rerun's labels all verify" 0 "$rc"
check_eq "a sample label equals evmctl's" "$(evmctl ima_hash -a sha256 -n "$big/d7/f13" 2>/dev/null)" "$(label_hex "$big/d7/f13")"

# A layer with a file that cannot be labelled is never recorded.
bad=$TEST_TMP/layers/bad; mkdir -p "$bad"; echo a >"$bad/a"; echo b >"$bad/b"
chattr +i "$bad/b" && on_exit chattr -i "$bad/b"
"$IMACTL" label --layer --cache-root "$cache" "$bad" >/dev/null 2>&1; rc=$?
key=$(printf '%x-%x' "$(stat -c %d "$bad")" "$(stat -c %i "$bad")")
check_eq "incomplete layer: exit 1, no record" "1 no" "$rc $( [ -e "$cache/$key/record.json" ] && echo yes || echo no)"
finish
