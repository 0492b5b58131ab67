# Container engines on private roots and sockets under $TEST_TMP, stopped by PID
# at exit. Source after common.sh. Never touches the host's engines or config.
#   start_containerd                 → $CTR_SOCK; ctr_ ARGS... runs ctr against it
#   start_dockerd RUNTIME_PATH       → docker_ ARGS... (Debian's /usr/bin/docker client), runtime "ima-runc"
#                                      registered by `imactl engine setup docker`
#   podman_ ARGS...                  podman with private --root/--runroot, ulimits, no network, cgroupfs
# Each start_* waits until the daemon answers (≤ 30 s) and returns non-zero if it does not.

ENGINE_NS=imashim-test
DOCKER_CLIENT=/usr/bin/docker

_wait_for() {  # _wait_for SECONDS CMD...: retries CMD every 0.1 s
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

# _stop_pid PID: TERM, then KILL after 10 s.
_stop_pid() {
  local pid=$1 i
  kill "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
}

start_containerd() {
  local dir=$TEST_TMP/containerd
  mkdir -p "$dir/root" "$dir/state"
  CTR_SOCK=$dir/containerd.sock
  cat >"$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTR_SOCK"
[ttrpc]
  address = "$CTR_SOCK.ttrpc"
[debug]
  address = "$dir/debug.sock"
[metrics]
  address = ""
TOML
  containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
  CONTAINERD_PID=$!
  on_exit "_stop_pid $CONTAINERD_PID"
  _wait_for 30 ctr --address "$CTR_SOCK" version || { tail -20 "$dir/containerd.log"; return 1; }
}

ctr_() { ctr --address "$CTR_SOCK" --namespace "$ENGINE_NS" "$@"; }

# start_dockerd RUNTIME_PATH: dockerd on the containerd started above.
start_dockerd() {
  local runtime=$1 dir=$TEST_TMP/docker
  mkdir -p "$dir/data" "$dir/exec"
  DOCKER_SOCK=$dir/docker.sock
  jq -n --arg data "$dir/data" --arg exec "$dir/exec" --arg pid "$dir/docker.pid" \
    --arg host "unix://$DOCKER_SOCK" --arg ctrd "$CTR_SOCK" '{
      "data-root": $data, "exec-root": $exec, "pidfile": $pid, "hosts": [$host],
      "containerd": $ctrd, "containerd-namespace": "imashim-docker", "containerd-plugins-namespace": "imashim-docker-p",
      "iptables": false, "ip6tables": false, "bridge": "none", "ip-forward": false, "ip-masq": false,
      "userland-proxy": false, "storage-driver": "overlay2", "log-driver": "json-file"}' >"$dir/daemon.json"
  "$IMACTL" engine setup docker --config "$dir/daemon.json" --binary "$runtime" >/dev/null || return 1
  dockerd --config-file "$dir/daemon.json" >"$dir/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  on_exit "_stop_pid $DOCKERD_PID"
  _wait_for 30 docker_ version || { tail -20 "$dir/dockerd.log"; return 1; }
}

docker_() { "$DOCKER_CLIENT" -H "unix://$DOCKER_SOCK" "$@"; }

# podman_ ARGS...: every podman call gets the private roots. podman gives the
# runtime a clean environment: use podman_runtime to pass IMASHIM_CONFIG.
podman_() {
  local dir=$TEST_TMP/podman
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir/root" "$dir/runroot" "$dir/tmp"
    on_exit "podman_ system reset -f"
    on_exit "podman_ rm -af -t 0"
  fi
  [ -f "$dir/containers.conf" ] || cat >"$dir/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$dir/events.log"
tmp_dir = "$dir/tmp"
CONF
  [ -f "$dir/storage.conf" ] || cat >"$dir/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$dir/root"
runroot = "$dir/runroot"
CONF
  CONTAINERS_CONF=$dir/containers.conf CONTAINERS_STORAGE_CONF=$dir/storage.conf \
    podman --root "$dir/root" --runroot "$dir/runroot" --storage-driver overlay \
    --cgroup-manager cgroupfs "$@"
}

# podman_runtime RUNTIME: prints a runtime path for `podman --runtime` that runs
# RUNTIME with this shell's IMASHIM_CONFIG (podman does not pass our environment on).
podman_runtime() {
  local w=$TEST_TMP/podman-runtime/$(basename "$1")
  mkdir -p "${w%/*}"
  printf '#!/bin/sh\nIMASHIM_CONFIG=%s exec %s "$@"\n' "${IMASHIM_CONFIG:-}" "$1" >"$w"
  chmod +x "$w"
  echo "$w"
}

# --- imashim's node config and what it leaves on disk, for runtime tests ---
IMASHIM_ROOT=$TEST_TMP/imashim
export IMASHIM_CONFIG=$IMASHIM_ROOT/config.json

# node_config JSON: writes the node config, roots under $IMASHIM_ROOT (JSON's keys win).
node_config() {
  local extra=${1:-'{}'}
  mkdir -p "$IMASHIM_ROOT"
  jq -n --arg r "$IMASHIM_ROOT" --argjson extra "$extra" \
    '{state_root: ($r + "/run"), log_root: ($r + "/logs"), layer_cache_root: ($r + "/layers")} + $extra' \
    >"$IMASHIM_CONFIG"
}

# run_tmpfs DIR: a private tmpfs at DIR, as /run is on a node, where runc's
# root (/run/runc, containerd's /run/containerd/runc) and imashim's state_root
# (/run/imashim) live; the benchmarks keep both there.
run_tmpfs() {
  mkdir -p "$1" && mount -t tmpfs -o size=256m,mode=0755 tmpfs "$1" && on_exit "umount -l '$1'"
}

state_dir_of() { echo "$IMASHIM_ROOT/run/$1"; }
log_dir_of() { echo "$IMASHIM_ROOT/logs/$1"; }

# measured ID PATH: the container's ascii log has an entry for PATH (last field).
measured() {
  local log
  log=$(log_dir_of "$1")/ascii_runtime_measurements
  [ -s "$log" ] && awk -v p="$2" '$NF == p { found = 1 } END { exit !found }' "$log"
}

# refused ID PATH: the container's decision log recorded PATH as refused.
refused() {
  local ev
  ev=$(log_dir_of "$1")/events.jsonl
  [ -s "$ev" ] && jq -e --arg p "$2" 'select((.path // .file // "") | endswith($p)) | select(((.decision // .verdict // .action // "") | ascii_downcase) | test("den|refus|block"))' "$ev" >/dev/null
}

# nothing_left ID [RUNC_ROOT]: no imashim state, no runc container, no monitor.
nothing_left() {
  local id=$1 root=${2:-}
  [ ! -e "$(state_dir_of "$id")" ] || { echo "state dir left: $(state_dir_of "$id")"; return 1; }
  if [ -n "$root" ] && runc --root "$root" state "$id" >/dev/null 2>&1; then echo "runc container left: $id"; return 1; fi
  if pgrep -f "ima-monitor.*$id" >/dev/null; then echo "monitor left for $id"; return 1; fi
  return 0
}

# lower_layer_with ID PATH: the lower layer dir of container ID (as recorded by
# imashim) that holds PATH.
lower_layer_with() {
  local rec dir
  rec=$(log_dir_of "$1")/container.json
  [ -s "$rec" ] || rec=$(state_dir_of "$1")/state.json
  for dir in $(jq -r '.layers.lower[]' "$rec" 2>/dev/null); do
    [ -e "$dir$2" ] && { echo "$dir"; return 0; }
  done
  return 1
}

# tamper FILE: changes a file's content behind the labeller's back.
tamper() {
  printf '#!/bin/sh\necho "tampered"\n' >"$1"
}
