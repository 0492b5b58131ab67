# Shared by tests/integration/test_fanotify_*.sh: real runc containers on an
# overlay rootfs, with the fanotify monitor attached between `runc create` and
# `runc start` (what ima-runc create does), through `ima-monitor attach`.
# Source after tests/lib/common.sh.

IMA_MONITOR=$IMASHIM_BUILD/ima-monitor
RUNC_ROOT=$TEST_TMP/runc
LOWER=$TEST_TMP/lower

fano_prereqs() {
  need_root
  need_tools "apt-get install runc jq" runc jq
  [ -x /bin/busybox ] || need busybox-static "apt-get install busybox-static"
  [ -x "$IMA_MONITOR" ] || need ima-monitor "build the project first"
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || need overlayfs "kernel without overlayfs"
  mkdir -p "$RUNC_ROOT"
}

# The image: busybox plus a second binary and a few data files.
fano_image() {
  make_busybox_rootfs "$LOWER"
  mkdir -p "$LOWER/usr/local/bin"
  { cat /bin/busybox; printf 'second binary'; } >"$LOWER/usr/local/bin/busybox2"
  chmod 755 "$LOWER/usr/local/bin/busybox2"
  echo v1 >"$LOWER/etc/conf"
  echo good >"$LOWER/etc/good"
}

# fano_start ID MODE POLICY_FILE SCRIPT [ima-monitor attach options...]
# Creates the container (stdout/stderr in $TEST_TMP/c/ID/out), attaches, starts.
# FANO_MOUNTS: a JSON array of extra OCI mounts[] entries (volumes), default none.
fano_start() {
  local id=$1 mode=$2 policy=$3 script=$4
  shift 4
  local c=$TEST_TMP/c/$id
  mkdir -p "$c/upper" "$c/work" "$c/bundle/rootfs" "$c/log"
  mount -t overlay overlay -o "lowerdir=$LOWER,upperdir=$c/upper,workdir=$c/work" "$c/bundle/rootfs" || return 1
  on_exit "umount -l '$c/bundle/rootfs'"
  (cd "$c/bundle" && runc spec) || return 1
  jq --arg s "$script" --argjson m "${FANO_MOUNTS:-[]}" \
    '.process.terminal=false | .process.args=["/bin/sh","-c",$s] | .root.readonly=false | .mounts += $m' \
    "$c/bundle/config.json" >"$c/config.json" && mv "$c/config.json" "$c/bundle/config.json"
  runc --root "$RUNC_ROOT" create --bundle "$c/bundle" "$id" </dev/null >"$c/out" 2>&1 || return 1
  on_exit "runc --root '$RUNC_ROOT' delete -f '$id'"
  local pid
  pid=$(runc --root "$RUNC_ROOT" state "$id" | jq -r .pid)
  echo "$pid" >"$c/init.pid"
  if ! "$IMA_MONITOR" attach --id "$id" --pid "$pid" --policy "$policy" --mode "$mode" \
      --log-dir "$c/log" --state-file "$c/attachment.json" "$@" >"$c/attach.out" 2>&1; then
    cat "$c/attach.out"
    return 1
  fi
  local mpid
  mpid=$(jq -r .monitor_pid "$c/attachment.json")
  echo "$mpid" >"$c/monitor.pid"
  on_exit "kill -9 $mpid"
  runc --root "$RUNC_ROOT" start "$id"
}

# fano_wait ID [seconds]: waits until the container stopped.
fano_wait() {
  local id=$1 t=${2:-20} i
  for ((i = 0; i < t * 20; i++)); do
    [ "$(runc --root "$RUNC_ROOT" state "$id" 2>/dev/null | jq -r .status)" = stopped ] && return 0
    sleep 0.05
  done
  return 1
}

# fano_monitor_gone ID [seconds]: the container's monitor has exited.
fano_monitor_gone() {
  local id=$1 t=${2:-5} i mpid
  mpid=$(cat "$TEST_TMP/c/$id/monitor.pid")
  for ((i = 0; i < t * 20; i++)); do
    kill -0 "$mpid" 2>/dev/null || return 0
    [ "$(awk '{print $3}' /proc/$mpid/stat 2>/dev/null)" = Z ] && return 0
    sleep 0.05
  done
  return 1
}

fano_log() { cat "$TEST_TMP/c/$1/log/ascii_runtime_measurements" 2>/dev/null; }
# Entries of the log whose path (last field) is exactly $2.
fano_count() { fano_log "$1" | awk -v p="$2" '$NF == p' | wc -l; }
# The events.jsonl record for path $2 with decision $3: its cause.
fano_cause() {
  jq -r --arg p "$2" --arg d "$3" 'select(.path == $p and .decision == $d) | .cause' \
    "$TEST_TMP/c/$1/log/events.jsonl" | head -1
}
fano_detach() {
  "$IMA_MONITOR" detach --state-file "$TEST_TMP/c/$1/attachment.json" --log-dir "$TEST_TMP/c/$1/log"
}
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
# quiet CMD...: runs a command, its output only shown when it fails.
quiet() {
  local out
  if out=$("$@" 2>&1); then return 0; fi
  echo "$out" | tail -5
  return 1
}
# has_record ID JQ-FILTER: events.jsonl of container ID has a record matching the filter.
has_record() { [ -n "$(jq -c "select($2)" "$TEST_TMP/c/$1/log/events.jsonl")" ]; }
