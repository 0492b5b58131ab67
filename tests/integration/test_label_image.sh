#!/usr/bin/env bash
# imactl image label: an OCI layout's layers rewritten with SCHILY.xattr.security.ima
# PAX records, config diff_ids, manifest and index updated. Independent readers check
# it: GNU tar and umoci (which verifies digests) extract the labels; containerd imports
# the image (verifying diff_ids), unpacks the labels into its snapshots, and a
# container started with plain runc sees them on its lower layers.
source "$(dirname "$0")/../lib/common.sh"
source "$IMASHIM_SRC/tests/lib/image.sh"
source "$IMASHIM_SRC/tests/lib/engines.sh"
need_root
need_tools "apt-get install umoci ima-evm-utils jq attr" umoci evmctl jq getfattr

label_hex() { getfattr --only-values -n security.ima "$1" 2>/dev/null | od -An -v -tx1 | tr -d ' \n'; }

layout=$TEST_TMP/layout
make_oci_image "$layout" latest
old_manifest=$(jq -r '.manifests[0].digest' "$layout/index.json")
"$IMACTL" image label "$layout:latest" --manifest-dir "$TEST_TMP/manifests" --json >"$TEST_TMP/out.json"; rc=$?
check_eq "image label exits 0" 0 "$rc"
new_manifest=$(jq -r '.manifests[0].digest' "$layout/index.json")
check "index.json points at a new manifest" [ "$new_manifest" != "$old_manifest" -a "$new_manifest" = "$(jq -r .manifest "$TEST_TMP/out.json")" ]
check_eq "the tag is kept" latest "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$layout/index.json")"
mblob=$layout/blobs/sha256/${new_manifest#sha256:}
check_eq "manifest blob digest matches its name" "${new_manifest#sha256:}" "$(sha256sum "$mblob" | cut -d' ' -f1)"
check_eq "manifest annotated with the algorithm" sha256 "$(jq -r '.annotations["org.imashim.label.algo"]' "$mblob")"
check_eq "two layers labelled" 2 "$(jq '.layers | length' "$TEST_TMP/out.json")"

# GNU tar reads the PAX records: every regular file's label is evmctl's.
layer2=$(jq -r '.layers[1].digest' "$mblob")
mkdir "$TEST_TMP/x"
tar --xattrs --xattrs-include='security.ima' -xzf "$layout/blobs/sha256/${layer2#sha256:}" -C "$TEST_TMP/x" 2>"$TEST_TMP/tar.err"
check_eq "GNU tar extracts the labelled layer" 0 "$?"
# Any warning is shown; one about the PAX records or xattrs fails the suite.
[ -s "$TEST_TMP/tar.err" ] && sed 's/^/  tar said: /' "$TEST_TMP/tar.err"
check "GNU tar reads the labels' PAX records without complaint" \
  bash -c '! grep -qiE "xattr|keyword|SCHILY|security\.ima|extended header" "$1"' _ "$TEST_TMP/tar.err"
check_eq "layer 2 /bin/hello label = evmctl's" "$(evmctl ima_hash -a sha256 -n "$TEST_TMP/x/bin/hello" 2>/dev/null)" \
  "$(label_hex "$TEST_TMP/x/bin/hello")"
diff_id=$(jq -r '.layers[1].diff_id' "$TEST_TMP/out.json")
check_eq "diff_id = sha256 of the uncompressed layer" "$diff_id" \
  "sha256:$(gzip -dc "$layout/blobs/sha256/${layer2#sha256:}" | sha256sum | cut -d' ' -f1)"
check "per-layer manifest written" grep -q ' /bin/hello$' "$TEST_TMP/manifests/${diff_id#sha256:}.manifest"

# umoci checks blob digests and diff_ids while unpacking, and applies the xattrs.
umoci unpack --image "$layout:latest" "$TEST_TMP/bundle" >/dev/null 2>"$TEST_TMP/umoci.err"; rc=$?
check_eq "umoci unpacks the labelled image" 0 "$rc"
bad=0; n=0
while IFS= read -r -d '' f; do
  n=$((n + 1))
  [ "$(label_hex "$f")" = "$(evmctl ima_hash -a sha256 -n "$f" 2>/dev/null)" ] || bad=$((bad + 1))
done < <(find "$TEST_TMP/bundle/rootfs" -type f -print0)
check_eq "umoci-unpacked rootfs: all $n labels equal evmctl's" 0 "$bad"

# Errors name the input.
"$IMACTL" image label "$layout:nope" 2>"$TEST_TMP/err"; rc=$?
check_eq "unknown tag: exit 2" 2 "$rc"
check "unknown tag: the message lists the tags" grep -q "has no image tagged \`nope\` (tags: latest)" "$TEST_TMP/err"
"$IMACTL" image label "$TEST_TMP/x" 2>"$TEST_TMP/err"; rc=$?
check_eq "not a layout: exit 2" 2 "$rc"

# containerd: import (diff_ids verified while unpacking), snapshots carry the labels.
command -v containerd >/dev/null && command -v ctr >/dev/null || need containerd "apt-get install containerd"
start_containerd || { fail "containerd did not start"; finish; }
oci_archive "$layout" latest "$TEST_TMP/image.tar"
ctr_ image import --base-name imashim/labelled "$TEST_TMP/image.tar" >"$TEST_TMP/import" 2>&1; rc=$?
check_eq "ctr image import of the labelled image" 0 "$rc"
snap=$TEST_TMP/containerd/root/io.containerd.snapshotter.v1.overlayfs/snapshots
hello=$(ls "$snap"/*/fs/bin/hello 2>/dev/null | head -1)
check "containerd unpacked the labelled layer" [ -n "$hello" ]
check_eq "containerd snapshot: /bin/hello carries the label" "$(evmctl ima_hash -a sha256 -n "$hello" 2>/dev/null)" "$(label_hex "$hello")"
ctr_ run -d imashim/labelled:latest lab1 /bin/sleep 60 >/dev/null 2>&1
on_exit "ctr_ task kill -s KILL lab1; sleep 0.5; ctr_ task delete lab1; ctr_ container rm lab1"
pid=$(ctr_ task ls 2>/dev/null | awk '$1 == "lab1" { print $2 }')
check "a container of the labelled image runs" [ -n "$pid" ]
check_eq "in the running container, busybox (lower layer) has its label" \
  "$(evmctl ima_hash -a sha256 -n "/proc/$pid/root/bin/busybox" 2>/dev/null)" "$(label_hex "/proc/$pid/root/bin/busybox")"
finish
