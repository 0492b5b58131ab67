#!/usr/bin/env bash
# containerd runs containers through ima-runc (`ctr run --runc-binary`):
# output and exit code as under runc, a measurement log listing what ran, an
# error containerd shows, and a lower-layer file changed after labelling
# refused in enforce mode (asked for by the org.imashim.mode annotation).
source "$(dirname "$0")/../lib/common.sh"
source "$IMASHIM_SRC/tests/lib/image.sh"
source "$IMASHIM_SRC/tests/lib/engines.sh"
need_root
need_tools "apt-get install containerd umoci" containerd ctr umoci

node_config '{"mode": "measure"}'
start_containerd || { fail "containerd did not start"; finish; }
make_oci_image "$TEST_TMP/layout" latest
oci_archive "$TEST_TMP/layout" latest "$TEST_TMP/image.tar"
ctr_ image import --base-name imashim/busybox "$TEST_TMP/image.tar" >/dev/null
IMAGE=imashim/busybox:latest
RUN=(ctr_ run --rm --runtime io.containerd.runc.v2 --runc-binary "$IMA_RUNC")

out=$("${RUN[@]}" "$IMAGE" cd1 /bin/sh -c '/bin/hello; exit 5' 2>&1); rc=$?
check_eq "ctr run: output" "hello from layer 2" "$out"
check_eq "ctr run: the container's exit code" 5 "$rc"
check "ctr run: no container left" test -z "$(ctr_ containers ls -q)"
check "ctr run: no imashim state left" nothing_left cd1
check "log: /bin/hello measured" measured cd1 /bin/hello
check "log: /bin/busybox measured" measured cd1 /bin/busybox
check "layers: the overlay's lower dirs recorded" eval "lower_layer_with cd1 /bin/hello >/dev/null"

# An imashim error reaches the ctr user.
out=$("${RUN[@]}" --annotation org.imashim.mode=sideways "$IMAGE" cd2 /bin/true 2>&1); rc=$?
check "bad annotation: ctr fails" test "$rc" -ne 0
check "bad annotation: ctr shows imashim's message" grep -q 'org.imashim.mode' <<<"$out"
check "bad annotation: nothing left" test -z "$(ctr_ containers ls -q)"
check "bad annotation: no state" nothing_left cd2

# Tampering with a labelled lower layer.
layer=$(lower_layer_with cd1 /bin/hello)
tamper "$layer/bin/hello"
out=$("${RUN[@]}" --annotation org.imashim.mode=enforce "$IMAGE" cd3 /bin/hello 2>&1); rc=$?
check "enforce: the tampered file did not run" test "$rc" -ne 0 -a "${out#*tampered}" = "$out"
check "enforce: refusal recorded" refused cd3 /bin/hello
check "enforce: nothing left" test -z "$(ctr_ containers ls -q)"
check "enforce: no state" nothing_left cd3
out=$("${RUN[@]}" --annotation org.imashim.mode=enforce "$IMAGE" cd4 /bin/cat /etc/imashim-test 2>&1); rc=$?
check_eq "enforce: untouched files still run" "imashim test image 0" "$out $rc"
finish
