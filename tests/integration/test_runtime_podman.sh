#!/usr/bin/env bash
# podman with `--runtime ima-runc` (a path, and a name that `imactl engine setup`
# registered): output and exit code, the measurement log,
# podman showing imashim's errors, and a lower-layer file changed after
# labelling refused in enforce mode (the org.imashim.mode annotation).
source "$(dirname "$0")/../lib/common.sh"
source "$IMASHIM_SRC/tests/lib/image.sh"
source "$IMASHIM_SRC/tests/lib/engines.sh"
need_root
need_tools "apt-get install podman umoci" podman conmon umoci

node_config '{"mode": "measure"}'
RT=$(podman_runtime "$IMA_RUNC")
make_oci_image "$TEST_TMP/layout" latest
oci_archive "$TEST_TMP/layout" latest "$TEST_TMP/image.tar"
podman_ load -q -i "$TEST_TMP/image.tar" >/dev/null && podman_ tag localhost/latest:latest imashim/busybox
RUN=(podman_ run --runtime "$RT")

out=$("${RUN[@]}" --name pm1 imashim/busybox /bin/sh -c '/bin/hello; exit 6' 2>&1); rc=$?
check_eq "podman run: output" "hello from layer 2" "$out"
check_eq "podman run: the container's exit code" 6 "$rc"
id=$(podman_ inspect -f '{{.Id}}' pm1)
podman_ rm pm1 >/dev/null
check "podman rm: no imashim state left" nothing_left "$id"
check "log: /bin/hello measured" measured "$id" /bin/hello
check "log: /bin/busybox measured" measured "$id" /bin/busybox

# The runtime by name, registered in podman's containers.conf by imactl.
"$IMACTL" engine setup podman --config "$TEST_TMP/podman/containers.conf" --binary "$RT" >/dev/null
check "engine setup podman: the rest of containers.conf kept" grep -q '^cgroup_manager = "cgroupfs"' "$TEST_TMP/podman/containers.conf"
out=$(podman_ run --runtime ima-runc --name pm-byname imashim/busybox /bin/hello 2>&1); rc=$?
check_eq "podman run --runtime ima-runc (by name): output" "hello from layer 2" "$out"
id=$(podman_ inspect -f '{{.Id}}' pm-byname)
podman_ rm pm-byname >/dev/null
check "runtime by name: /bin/hello measured" measured "$id" /bin/hello

out=$("${RUN[@]}" --rm --annotation org.imashim.policy='dont_measure func=BPRM_CHECK' imashim/busybox /bin/true 2>&1); rc=$?
check "loosening annotation: podman fails" test "$rc" -ne 0
check "loosening annotation: podman shows imashim's message" grep -q 'org.imashim.policy' <<<"$out"
check "loosening annotation: no container left" test -z "$(podman_ ps -aq)"

layer=$(lower_layer_with "$id" /bin/hello)
check "layers: the image layer recorded" test -n "$layer"
tamper "$layer/bin/hello"
out=$("${RUN[@]}" --name pm2 --annotation org.imashim.mode=enforce imashim/busybox /bin/hello 2>&1); rc=$?
id2=$(podman_ inspect -f '{{.Id}}' pm2 2>/dev/null)
check "enforce: the tampered file did not run" test "$rc" -ne 0 -a "${out#*tampered}" = "$out"
check "enforce: refusal recorded" refused "$id2" /bin/hello
podman_ rm -f pm2 >/dev/null 2>&1
check "enforce: nothing left" nothing_left "$id2"
out=$("${RUN[@]}" --rm --annotation org.imashim.mode=enforce imashim/busybox /bin/cat /etc/imashim-test 2>&1); rc=$?
check_eq "enforce: untouched files still run" "imashim test image 0" "$out $rc"
finish
