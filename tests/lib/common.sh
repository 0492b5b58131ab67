# Shared by the shell suites (tests/integration, tests/kernel, tests/tpm).
# Source it first: it sets IMASHIM_BUILD/IMASHIM_SRC, a private temp dir removed
# on exit, checks that print "N passed, N failed", and a busybox rootfs maker.
set -uo pipefail

IMASHIM_SRC=${IMASHIM_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
IMASHIM_BUILD=${IMASHIM_BUILD:-$IMASHIM_SRC/build}
IMACTL=$IMASHIM_BUILD/imactl
IMA_RUNC=$IMASHIM_BUILD/ima-runc
IMA_OCI_HOOK=$IMASHIM_BUILD/ima-oci-hook

TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/imashim-test.XXXXXX")
_cleanups=()
# Registers a command run at exit, last registered first (stop daemons by PID, unmount...).
on_exit() { _cleanups+=("$*"); }
_run_cleanups() {
  local i
  for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do eval "${_cleanups[i]}" >/dev/null 2>&1 || true; done
  rm -rf "$TEST_TMP"
}
trap _run_cleanups EXIT

_passed=0
_failed=0
pass() { _passed=$((_passed + 1)); echo "ok   - $*"; }
fail() { _failed=$((_failed + 1)); echo "FAIL - $*"; }
# check "description" command...: passes when the command succeeds.
check() { local d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; fi; }
# check_eq "description" expected actual
check_eq() {
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi
}
# Prints the closing line and exits non-zero if anything failed.
finish() {
  echo "$_passed passed, $_failed failed"
  [ "$_failed" -eq 0 ]
  exit $?
}

# Skips the suite (CTest exit code 77) unless we are in CI, where a missing
# prerequisite is a failure: CI must run every suite.
need() {
  local what=$1 why=$2
  if [ "${CI:-}" = true ]; then echo "FAIL - prerequisite missing: $what ($why)"; exit 1; fi
  echo "skip - $what: $why"; exit 77
}
# need_tools "how to get them" tool...: each tool must be on PATH.
need_tools() {
  local hint=$1 t; shift
  for t; do command -v "$t" >/dev/null || need "$t" "$hint"; done
}
# need_root ["why"]: the suite must run as root.
need_root() { [ "$(id -u)" = 0 ] || need root "${1:-this suite creates containers}"; }

# make_busybox_rootfs DIR: a whole userland from busybox-static.
make_busybox_rootfs() {
  local dir=$1
  mkdir -p "$dir"/{bin,sbin,etc,proc,sys,dev,tmp,root,usr/bin,usr/sbin}
  cp /bin/busybox "$dir/bin/busybox"
  local applet
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$dir/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/etc/passwd"
  echo 'root:x:0:' >"$dir/etc/group"
}
