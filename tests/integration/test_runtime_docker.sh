#!/usr/bin/env bash
# dockerd with ima-runc as a runtime in its daemon.json: output and exit code,
# the measurement log, docker showing imashim's errors, and a lower-layer file
# changed after labelling refused in enforce mode.
source "$(dirname "$0")/../lib/common.sh"
source "$IMASHIM_SRC/tests/lib/image.sh"
source "$IMASHIM_SRC/tests/lib/engines.sh"
need_root
need_tools "apt-get install docker.io" containerd dockerd
[ -x "$DOCKER_CLIENT" ] || need "$DOCKER_CLIENT" "apt-get install docker.io"

node_config '{"mode": "measure"}'
start_containerd || { fail "containerd did not start"; finish; }
start_dockerd "$IMA_RUNC" || { fail "dockerd did not start"; finish; }
rootfs_tar "$TEST_TMP/rootfs.tar"
docker_ import "$TEST_TMP/rootfs.tar" imashim/busybox >/dev/null
RUN=(docker_ run --network none --runtime ima-runc)

out=$("${RUN[@]}" --name dk1 imashim/busybox /bin/sh -c '/bin/hello; exit 4' 2>&1); rc=$?
check_eq "docker run: output" "hello from layer 2" "$out"
check_eq "docker run: the container's exit code" 4 "$rc"
id=$(docker_ inspect -f '{{.Id}}' dk1)
docker_ rm dk1 >/dev/null
check "docker rm: no imashim state left" nothing_left "$id"
check "log: /bin/hello measured" measured "$id" /bin/hello
check "log: /bin/busybox measured" measured "$id" /bin/busybox

node_config '{"mode": "measure", "hash_algo": "crc32"}'
out=$("${RUN[@]}" --rm imashim/busybox /bin/true 2>&1); rc=$?
check "bad node config: docker fails" test "$rc" -ne 0
check "bad node config: docker shows imashim's message" grep -q 'key "hash_algo"' <<<"$out"
check "bad node config: no container left" test -z "$(docker_ ps -aq)"

node_config '{"mode": "enforce"}'
layer=$(lower_layer_with "$id" /bin/hello)
check "layers: the image layer recorded" test -n "$layer"
tamper "$layer/bin/hello"
out=$("${RUN[@]}" --name dk2 imashim/busybox /bin/hello 2>&1); rc=$?
id2=$(docker_ inspect -f '{{.Id}}' dk2 2>/dev/null)
check "enforce: the tampered file did not run" test "$rc" -ne 0 -a "${out#*tampered}" = "$out"
check "enforce: refusal recorded" refused "$id2" /bin/hello
docker_ rm -f dk2 >/dev/null 2>&1
check "enforce: nothing left" nothing_left "$id2"
out=$("${RUN[@]}" --rm imashim/busybox /bin/cat /etc/imashim-test 2>&1); rc=$?
check_eq "enforce: untouched files still run" "imashim test image 0" "$out $rc"
finish
