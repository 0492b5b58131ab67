#!/usr/bin/env bash
# podman keeps its own runtime (runc) and runs ima-oci-hook from the shipped
# hooks.d files (packaging/hooks.d, paths and IMASHIM_CONFIG adjusted):
# containers annotated org.imashim.enable=true are measured, others are not;
# a lower-layer file changed after labelling is refused in enforce mode.
source "$(dirname "$0")/../lib/common.sh"
source "$IMASHIM_SRC/tests/lib/image.sh"
source "$IMASHIM_SRC/tests/lib/engines.sh"
need_root
need_tools "apt-get install podman runc umoci" podman conmon runc umoci

node_config '{"mode": "measure"}'
HOOKS=$TEST_TMP/hooks.d
mkdir -p "$HOOKS"
for f in imashim-annotated.json imashim-annotated-poststop.json; do
  jq --arg p "$IMA_OCI_HOOK" --arg c "IMASHIM_CONFIG=$IMASHIM_CONFIG" '.hook.path = $p | .hook.env = [$c]' \
    "$IMASHIM_SRC/packaging/hooks.d/$f" >"$HOOKS/$f"
done
make_oci_image "$TEST_TMP/layout" latest
oci_archive "$TEST_TMP/layout" latest "$TEST_TMP/image.tar"
podman_ load -q -i "$TEST_TMP/image.tar" >/dev/null && podman_ tag localhost/latest:latest imashim/busybox
RUN=(podman_ --hooks-dir "$HOOKS" run --runtime runc)

out=$("${RUN[@]}" --name ph1 --annotation org.imashim.enable=true imashim/busybox /bin/sh -c '/bin/hello; exit 3' 2>&1); rc=$?
check_eq "hook: output" "hello from layer 2" "$out"
check_eq "hook: the container's exit code" 3 "$rc"
id=$(podman_ inspect -f '{{.Id}}' ph1)
podman_ rm ph1 >/dev/null
check "hook poststop: no imashim state left" nothing_left "$id"
check "hook: finalized log kept" test -s "$(log_dir_of "$id")/container.json"
check "log: /bin/hello measured" measured "$id" /bin/hello
check "log: /bin/busybox measured" measured "$id" /bin/busybox

out=$("${RUN[@]}" --name ph2 imashim/busybox /bin/hello 2>&1); rc=$?
id2=$(podman_ inspect -f '{{.Id}}' ph2)
podman_ rm ph2 >/dev/null
check_eq "no annotation: runs without imashim" "hello from layer 2 0" "$out $rc"
check "no annotation: no log" test ! -e "$(log_dir_of "$id2")"

out=$("${RUN[@]}" --rm --annotation org.imashim.enable=true --annotation org.imashim.mode=sideways imashim/busybox /bin/true 2>&1); rc=$?
check "bad annotation: podman fails" test "$rc" -ne 0
check "bad annotation: podman shows the hook's message" grep -q 'org.imashim.mode' <<<"$out"
check "bad annotation: no container left" test -z "$(podman_ ps -aq)"

layer=$(lower_layer_with "$id" /bin/hello)
check "layers: the image layer recorded" test -n "$layer"
tamper "$layer/bin/hello"
out=$("${RUN[@]}" --name ph3 --annotation org.imashim.enable=true --annotation org.imashim.mode=enforce \
  imashim/busybox /bin/hello 2>&1); rc=$?
id3=$(podman_ inspect -f '{{.Id}}' ph3 2>/dev/null)
check "enforce: the tampered file did not run" test "$rc" -ne 0 -a "${out#*tampered}" = "$out"
check "enforce: refusal recorded" refused "$id3" /bin/hello
podman_ rm -f ph3 >/dev/null 2>&1
check "enforce: nothing left" nothing_left "$id3"
finish
