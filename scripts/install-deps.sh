#!/usr/bin/env bash
# Installs every package imashim needs to build, test, benchmark and run its demo on Debian 12.
# Idempotent: apt-get skips what is already installed. Run as root.
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config git
  libssl-dev libtss2-dev libseccomp-dev libcap-dev libattr1-dev
  nlohmann-json3-dev catch2 libcli11-dev libfmt-dev
  libarchive-dev libmount-dev libaudit-dev libtomlplusplus-dev libcap-ng-dev
  clang-14 libfuzzer-14-dev ccache
)
test_pkgs=(
  ima-evm-utils attr runc containerd podman docker.io
  swtpm swtpm-tools tpm2-tools busybox-static umoci skopeo
  qemu-system-x86 kmod e2fsprogs cpio xz-utils zstd
  fapolicyd uidmap iproute2 jq
  openssl
)

want=()
for p in "${build_pkgs[@]}" "${test_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || want+=("$p")
done
if [ "${#want[@]}" -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Services shipped by these packages must not start on the build machine: the
# project starts its own daemons on private roots and sockets.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get install -y -qq --no-install-recommends "${want[@]}"
# fapolicyd's package also enables its service for the next boot: the benchmark runs private instances only.
printf '%s\n' "${want[@]}" | grep -qx fapolicyd && { systemctl disable --quiet fapolicyd.service || true; }
echo "install-deps: installed ${#want[@]} packages"
