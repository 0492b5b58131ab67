# Test images built locally (no registry): a runc bundle, and a two-layer
# busybox OCI image for containerd/docker/podman. Source after common.sh.
#   make_bundle DIR [CMD...]            runc bundle: DIR/config.json + DIR/rootfs (busybox), terminal off
#   make_oci_image LAYOUT TAG           OCI layout, two layers: busybox, then /etc/imashim-test + /bin/hello
#   oci_archive LAYOUT TAG OUT.tar      the layout as a tar (`ctr image import`, `podman load`)
#   rootfs_tar OUT.tar                  the same files flattened (`docker import`)
# The second layer's /bin/hello is a shell script that prints "hello from layer 2":
# tests tamper with it in the lower layer after it was labelled.

IMAGE_HELLO_TEXT="hello from layer 2"

# make_bundle DIR [CMD...]: a runc bundle whose process runs CMD (default: echo hello).
make_bundle() {
  local dir=$1; shift
  [ $# -gt 0 ] || set -- echo hello
  mkdir -p "$dir"
  make_busybox_rootfs "$dir/rootfs"
  _layer2_files "$dir/rootfs"
  (cd "$dir" && runc spec)
  local args
  args=$(printf '%s\n' "$@" | jq -R . | jq -s .)
  jq --argjson a "$args" '.process.args = $a | .process.terminal = false | .root.readonly = false' \
    "$dir/config.json" >"$dir/config.json.new" && mv "$dir/config.json.new" "$dir/config.json"
}

# bundle_set DIR JQ-EXPR: edits a bundle's config.json.
bundle_set() {
  jq "$2" "$1/config.json" >"$1/config.json.new" && mv "$1/config.json.new" "$1/config.json"
}

_layer2_files() {
  mkdir -p "$1/etc" "$1/bin"
  echo "imashim test image" >"$1/etc/imashim-test"
  printf '#!/bin/sh\necho "%s"\n' "$IMAGE_HELLO_TEXT" >"$1/bin/hello"
  chmod 755 "$1/bin/hello"
}

# make_oci_image LAYOUT TAG: two layers with umoci (no registry, no daemon).
make_oci_image() {
  local layout=$1 tag=$2 work
  work=$(mktemp -d "$TEST_TMP/umoci.XXXXXX")
  umoci init --layout "$layout" >/dev/null
  umoci new --image "$layout:$tag" >/dev/null
  umoci unpack --rootless --image "$layout:$tag" "$work/b1" >/dev/null
  make_busybox_rootfs "$work/b1/rootfs"
  umoci repack --image "$layout:$tag" "$work/b1" >/dev/null
  umoci unpack --rootless --image "$layout:$tag" "$work/b2" >/dev/null
  _layer2_files "$work/b2/rootfs"
  umoci repack --image "$layout:$tag" "$work/b2" >/dev/null
  umoci config --image "$layout:$tag" --config.cmd /bin/sh --config.cmd -c \
    --config.cmd 'echo hello' --config.env PATH=/bin:/usr/bin:/sbin:/usr/sbin >/dev/null
  umoci gc --layout "$layout" >/dev/null
  rm -rf "$work"
}

oci_archive() {
  tar -C "$1" -cf "$3" .
}

rootfs_tar() {
  local dir
  dir=$(mktemp -d "$TEST_TMP/flat.XXXXXX")
  make_busybox_rootfs "$dir"
  _layer2_files "$dir"
  tar -C "$dir" -cf "$1" .
  rm -rf "$dir"
}

# make_overlay_bundle DIR [CMD...]: like make_bundle, but the rootfs is an overlay
# mount of two lower layers (DIR/layers/1 busybox, DIR/layers/2 the test files)
# as engines give runc; unmounted at exit. LAYER2=DIR/layers/2.
make_overlay_bundle() {
  local dir=$1; shift
  make_bundle "$dir" "$@"
  mkdir -p "$dir/layers/1" "$dir/layers/2" "$dir/layers/upper" "$dir/layers/work"
  mv "$dir/rootfs/bin/hello" "$dir/layers/2.hello"
  mv "$dir/rootfs/etc/imashim-test" "$dir/layers/2.test"
  cp -a "$dir/rootfs/." "$dir/layers/1/"
  rm -rf "$dir/rootfs" && mkdir "$dir/rootfs"
  mkdir -p "$dir/layers/2/bin" "$dir/layers/2/etc"
  mv "$dir/layers/2.hello" "$dir/layers/2/bin/hello"
  mv "$dir/layers/2.test" "$dir/layers/2/etc/imashim-test"
  mount -t overlay overlay \
    -o "lowerdir=$dir/layers/2:$dir/layers/1,upperdir=$dir/layers/upper,workdir=$dir/layers/work" "$dir/rootfs"
  on_exit "umount -l '$dir/rootfs'"
  LAYER2=$dir/layers/2
}
