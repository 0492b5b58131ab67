#!/usr/bin/env bash
# imactl engine setup against the engines' own readers: containerd's
# `config dump` of the file it edited (config.toml as `containerd config
# default` writes it), idempotence, conflicts, --dry-run, and `engine show`.
# docker and podman read what it writes in test_runtime_docker.sh and
# test_runtime_podman.sh, which start real daemons on it.
source "$(dirname "$0")/../lib/common.sh"
need_tools "apt-get install containerd" containerd

etc=$TEST_TMP/root/etc/containerd
mkdir -p "$etc"
cfg=$etc/config.toml
containerd config default >"$cfg"
cp "$cfg" "$TEST_TMP/orig.toml"

out=$("$IMACTL" engine setup containerd --config "$cfg" --binary "$IMA_RUNC" --default --dry-run 2>&1); rc=$?
check_eq "--dry-run: exit 0" 0 "$rc"
check "--dry-run: prints the runtime" grep -q "BinaryName = \"$IMA_RUNC\"" <<<"$out"
check "--dry-run: writes nothing" cmp -s "$cfg" "$TEST_TMP/orig.toml"

out=$("$IMACTL" engine setup containerd --config "$cfg" --binary "$IMA_RUNC" --default 2>&1); rc=$?
check_eq "setup: exit 0" 0 "$rc"
check "setup: says what changed" grep -q "default_runtime_name: runc → ima-runc" <<<"$out"
check "setup: the previous file kept" cmp -s "$cfg.imashim-backup" "$TEST_TMP/orig.toml"

# containerd's own reading of the result: the merged config it would run with.
dump=$(containerd --config "$cfg" config dump 2>"$TEST_TMP/dump.err"); rc=$?
check_eq "containerd config dump: reads the file" 0 "$rc"
section() {  # section HEADER: the key lines of one table of the dump
  awk -v h="[$1]" '$0 ~ /^ *\[/ { on = ($1 == h) ; next } on' <<<"$dump"
}
check "containerd sees BinaryName" grep -qx " *BinaryName = \"$IMA_RUNC\"" \
  <<<"$(section 'plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ima-runc.options')"
check "containerd sees the runc v2 shim" grep -qx ' *runtime_type = "io.containerd.runc.v2"' \
  <<<"$(section 'plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ima-runc')"
check "containerd sees the default" grep -qx ' *default_runtime_name = "ima-runc"' \
  <<<"$(section 'plugins."io.containerd.grpc.v1.cri".containerd')"
check "containerd keeps runc's runtime" grep -q 'runtime_type = "io.containerd.runc.v2"' \
  <<<"$(section 'plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc')"

# Every line of the original is still there, in order; only the default changed.
n=$(wc -l <"$TEST_TMP/orig.toml")
changed=$(diff <(head -n "$n" "$cfg") "$TEST_TMP/orig.toml" | grep -c '^[<>]')
check_eq "the operator's lines kept: one line changed" 2 "$changed"

cp "$cfg" "$TEST_TMP/after.toml"
out=$("$IMACTL" engine setup containerd --config "$cfg" --binary "$IMA_RUNC" --default 2>&1); rc=$?
check_eq "second setup: exit 0" 0 "$rc"
check "second setup: already set up" grep -q "already set up" <<<"$out"
check "second setup: file unchanged" cmp -s "$cfg" "$TEST_TMP/after.toml"

out=$("$IMACTL" engine setup containerd --config "$cfg" --binary /bin/true 2>&1); rc=$?
check_eq "another binary under the same name: exit 2" 2 "$rc"
check "another binary: the message names the file and the binary" \
  grep -q "$cfg already has a runtime \`ima-runc\` with BinaryName $IMA_RUNC" <<<"$out"
check "another binary: file unchanged" cmp -s "$cfg" "$TEST_TMP/after.toml"

printf 'version = 2\n[plugins\n' >"$TEST_TMP/broken.toml"
out=$("$IMACTL" engine setup containerd --config "$TEST_TMP/broken.toml" --binary "$IMA_RUNC" 2>&1); rc=$?
check_eq "broken TOML: exit 2" 2 "$rc"
check "broken TOML: file and line named" grep -q "broken.toml:2:" <<<"$out"

out=$("$IMACTL" engine setup crio 2>&1); rc=$?
check_eq "unknown engine: exit 2" 2 "$rc"

out=$("$IMACTL" engine show --root "$TEST_TMP/root")
check "engine show: containerd runs ima-runc by default" \
  grep -q "^containerd .*ima-runc as runtime ima-runc (default)" <<<"$out"
check "engine show: docker not present" grep -q "^docker .*not present" <<<"$out"
finish
