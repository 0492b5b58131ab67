#!/usr/bin/env bash
# The runtime demo: a busybox container under ima-runc (driven as runc is), its
# measurement log, then a file of a lower image layer changed after labelling
# and the same container refused in enforce mode. Everything lives in a temp
# dir (its own runc root, imashim roots and node config) removed at exit.
#   bash scripts/demo-runtime.sh [BUILD_DIR]
set -uo pipefail
IMASHIM_SRC=$(cd "$(dirname "$0")/.." && pwd)
IMASHIM_BUILD=$(cd "${1:-$IMASHIM_SRC/build}" && pwd)
source "$IMASHIM_SRC/tests/lib/common.sh"
source "$IMASHIM_SRC/tests/lib/image.sh"
source "$IMASHIM_SRC/tests/lib/engines.sh"
[ "$(id -u)" = 0 ] || { echo "demo-runtime: run as root (it creates containers)"; exit 1; }

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ROOT=$TEST_TMP/runc-root
B=$TEST_TMP/bundle
make_overlay_bundle "$B" /bin/sh -c '/bin/hello; cat /etc/imashim-test; ls /bin | wc -l'

say "a busybox bundle whose rootfs is an overlay of two image layers"
echo "layers: $B/layers/1 (busybox), $B/layers/2 (/bin/hello, /etc/imashim-test)"

say "node config ($IMASHIM_CONFIG): mode measure"
node_config '{"mode": "measure"}'
cat "$IMASHIM_CONFIG"

say "ima-runc run demo1   (as an engine would call runc)"
(cd "$B" && "$IMA_RUNC" --root "$ROOT" run demo1)
echo "exit code: $?"

say "its measurement log: $(log_dir_of demo1)/ascii_runtime_measurements"
if [ -s "$(log_dir_of demo1)/ascii_runtime_measurements" ]; then
  cat "$(log_dir_of demo1)/ascii_runtime_measurements"
else
  echo "(no log: see the error above)"
fi
ls "$(log_dir_of demo1)" 2>/dev/null

say "someone changes /bin/hello in the lower layer after it was labelled"
tamper "$LAYER2/bin/hello"
cat "$LAYER2/bin/hello"

say "node config: mode enforce; ima-runc run demo2"
node_config '{"mode": "enforce"}'
bundle_set "$B" '.process.args = ["/bin/hello"]'
(cd "$B" && "$IMA_RUNC" --root "$ROOT" run demo2)
echo "exit code: $?"

say "the refusal, as recorded in $(log_dir_of demo2)/events.jsonl"
if [ -s "$(log_dir_of demo2)/events.jsonl" ]; then
  grep -F 'hello' "$(log_dir_of demo2)/events.jsonl" || cat "$(log_dir_of demo2)/events.jsonl"
else
  echo "(no events: see the error above)"
fi
if refused demo2 /bin/hello; then echo "=> /bin/hello was refused and recorded"; else echo "=> no refusal recorded"; fi
say "nothing left running: runc list"
runc --root "$ROOT" list
