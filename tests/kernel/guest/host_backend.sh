# The host backend end to end (sourced by suite.sh, the guest side of the
# kernel suite): containers started by ima-runc with the real runc, the node
# config choosing the host backend (mainline IMA: the kernel's one policy and
# one log). The host prepared on /dev/vda (mounted at /mnt):
#   /mnt/image/layer0      a busybox image layer with /app/{hello,tool,data}, unlabelled
# Order in the boot (one policy per boot):
#   host_e2e_measure   before the policy load: container c1 under the boot's tcb policy
#                      (measure only), created/started/deleted as an engine does
#   host_e2e_tamper    changes /app/tool in the image layer (c1's overlay is gone)
#   host_e2e_enforce   after the load of a policy appraising overlayfs files:
#                      container c2 (annotated enforce) runs the untampered files,
#                      the kernel refuses the tampered one
HE=/tmp/host-e2e
HE_LAYER=/mnt/image/layer0
HE_RUNC_ROOT=/run/runc
export IMASHIM_CONFIG=$HE/node.json

# he_bundle ID ARGS [ANNOTATIONS_JSON]: an OCI bundle like `runc spec` makes
# (no terminal, no network namespace), its rootfs an overlay of the image
# layer with a fresh upper dir, mounted before create as engines do.
he_bundle() {
  local id=$1 args=$2 annotations=${3:-"{}"} b=$HE/$1
  mkdir -p "$b/rootfs" "/mnt/containers/$id/upper" "/mnt/containers/$id/work"
  mount -t overlay overlay \
    -o "lowerdir=$HE_LAYER,upperdir=/mnt/containers/$id/upper,workdir=/mnt/containers/$id/work" "$b/rootfs" ||
    return 1
  cat >"$b/config.json" <<EOF
{
  "ociVersion": "1.0.2-dev",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": $args,
    "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": false},
  "hostname": "$id",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
  ],
  "annotations": $annotations,
  "linux": {
    "resources": {"devices": [{"allow": false, "access": "rwm"}]},
    "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
    "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
}
EOF
}

# he_wait_stopped ID: polls `ima-runc state` (passed through to runc) like an engine.
he_wait_stopped() {
  local i
  for i in $(seq 100); do
    ima-runc --root $HE_RUNC_ROOT state "$1" 2>/dev/null | grep -q '"status": "stopped"' && return 0
    sleep 0.1
  done
  return 1
}

# he_entry LOG PATH: the "sha256:<hex>" of PATH's last entry in an ascii log.
he_entry() { awk -v p="$2" '$5 == p { d = $4 } END { print d }' "$1"; }

host_e2e_setup() {
  mkdir -p $HE /sys/fs/cgroup /run
  grep -q ' /sys/fs/cgroup ' /proc/mounts || mount -t cgroup2 cgroup2 /sys/fs/cgroup
  grep -q ' /run ' /proc/mounts || mount -t tmpfs -o mode=755 tmpfs /run
  cat >$IMASHIM_CONFIG <<EOF
{"backend": "host", "mode": "measure", "runc_path": "/usr/sbin/runc",
 "state_root": "/run/imashim", "log_root": "$HE/logs", "layer_cache_root": "$HE/layers"}
EOF
  g_check "runc is in the guest ($(runc --version 2>&1 | head -n 1))" runc --version
  [ -d $HE_LAYER ] || { g_fail "no image layer at $HE_LAYER"; return 1; }
  # Reference digests, read before any container ran (the lower files are not
  # in the log under these paths: they were never opened through an overlay).
  (cd $HE_LAYER && sha256sum bin/busybox app/hello app/tool app/data) >$HE/reference
}
he_ref() { awk -v p="${1#/}" '$2 == p { print "sha256:" $1 }' $HE/reference; }

# c1 (measure): ima-runc create/start/state/delete, as containerd's shim calls it.
host_e2e_measure() {
  host_e2e_setup || return
  he_bundle c1 '["/bin/sh", "-c", "/app/hello && cat /app/data && /app/tool"]' || { g_fail "overlay for c1"; return; }
  local ima=$IMA/ascii_runtime_measurements rc
  ima-runc --root $HE_RUNC_ROOT create --bundle $HE/c1 --pid-file $HE/c1.pid c1 >$HE/c1.out 2>$HE/c1.err
  rc=$?
  g_check_eq "ima-runc create c1 (host backend, measure mode) exits 0 $(head -c 200 $HE/c1.err)" 0 $rc
  [ $rc = 0 ] || return
  g_check "c1's state names the host backend" grep -q '"backend": "host"' /run/imashim/c1/state.json
  g_check "ima-runc labelled the image layer (a layer manifest is cached)" \
    sh -c "ls $HE/layers/*/manifest >/dev/null 2>&1"
  ima-runc --root $HE_RUNC_ROOT start c1 2>>$HE/c1.err
  g_check_eq "ima-runc start c1 exits 0" 0 $?
  g_check "c1 stops (ima-runc state)" he_wait_stopped c1
  ima-runc --root $HE_RUNC_ROOT delete c1 2>>$HE/c1.err
  g_check_eq "ima-runc delete c1 exits 0 $(head -c 200 $HE/c1.err)" 0 $?
  g_check_eq "c1 ran the image's programs" "hello from the image|image data|tool from the image" \
    "$(tr '\n' '|' <$HE/c1.out | sed 's/|$//')"
  cp $ima $HE/host.ascii.1
  local f log=$HE/logs/c1
  for f in /bin/busybox /app/hello /app/tool /app/data; do
    g_check_eq "the kernel's log has c1's $f with the image's digest" "$(he_ref $f)" "$(he_entry $HE/host.ascii.1 $f)"
    g_check_eq "c1's own log (host log slice) has $f with the image's digest" "$(he_ref $f)" \
      "$(he_entry $log/ascii_runtime_measurements $f)"
  done
  g_check "c1's log holds only what was logged while it lived (no boot_aggregate)" \
    sh -c "! grep -q ' boot_aggregate\$' $log/ascii_runtime_measurements"
  g_check "c1's ascii log (its binary slice as imashim prints it) is the tail of the kernel's ascii log" \
    sh -c "tail -n $(grep -c . $log/ascii_runtime_measurements) $HE/host.ascii.1 | cmp -s - $log/ascii_runtime_measurements"
  imactl log show $log/binary_runtime_measurements >$HE/c1.show 2>&1
  g_check "imactl log show reads c1's binary log (the same text as c1's ascii log)" \
    cmp -s $HE/c1.show $log/ascii_runtime_measurements
  g_check "c1's container.json is written and its state dir removed" \
    sh -c "test -s $log/container.json && test ! -e /run/imashim/c1"
  umount $HE/c1/rootfs
}

host_e2e_tamper() {
  [ -d $HE_LAYER ] || return
  echo 'echo tampered' >>$HE_LAYER/app/tool
  sync
  # Read now: after the policy load the disk's own files are appraised too.
  (cd $HE_LAYER && sha256sum app/tool) | awk '{print "sha256:" $1}' >$HE/tampered
}

# c2 (enforce, by annotation): ima-runc run in the foreground after the policy
# load; the host policy appraises every file opened or executed on an overlayfs.
host_e2e_enforce() {
  [ -f $HE/reference ] || { g_fail "host backend: c1 did not run, so c2 is not tried"; return; }
  he_bundle c2 '["/bin/sh", "-c", "/app/hello; /app/tool; echo \"tool exit $?\"; cat /app/data"]' \
    '{"org.imashim.mode": "enforce"}' || { g_fail "overlay for c2"; return; }
  dmesg -c >/dev/null
  (cd $HE/c2 && ima-runc --root $HE_RUNC_ROOT run c2) >$HE/c2.out 2>$HE/c2.err
  g_check_eq "ima-runc run c2 (host backend, enforce annotation) exits 0 $(head -c 200 $HE/c2.err)" 0 $?
  dmesg >$HE/c2.dmesg
  g_check "c2: the untampered script and busybox run under appraisal" grep -qx "hello from the image" $HE/c2.out
  g_check "c2: the untampered data file opens under appraisal" grep -qx "image data" $HE/c2.out
  g_check "c2: exec of the tampered /app/tool is refused (Permission denied, exit 126)" \
    sh -c "grep -q 'app/tool: Permission denied' $HE/c2.out $HE/c2.err && grep -qx 'tool exit 126' $HE/c2.out"
  g_check "the kernel names the tampered file: cause=invalid-hash name=\"/app/tool\"" \
    sh -c "grep 'cause=invalid-hash' $HE/c2.dmesg | grep -q 'name=\"/app/tool\"'"
  g_check "no untampered image file failed appraisal" \
    sh -c "! grep 'op=appraise_data' $HE/c2.dmesg | grep -v 'app/tool\" dev=\"overlay\"' | grep -q ."
  local log=$HE/logs/c2 now
  now=$(cat $HE/tampered)
  g_check_eq "c2's log has the tampered /app/tool's new digest (measured, then refused)" "$now" \
    "$(he_entry $log/ascii_runtime_measurements /app/tool)"
  g_check "the new digest differs from the image's" test "$now" != "$(he_ref /app/tool)"
  # Mainline IMA logs a (template, digest) once per boot: files c1 already
  # measured with the same path and content add nothing to c2's slice.
  g_check "c2's log has no second /bin/busybox entry (the kernel logs each path+digest once)" \
    sh -c "! grep -q ' /bin/busybox\$' $log/ascii_runtime_measurements"
  g_check "c2's state dir is removed after run" test ! -e /run/imashim/c2
  umount $HE/c2/rootfs
  cp $IMA/ascii_runtime_measurements $HE/host.ascii.2
  cp $HE/c1.out $HE/c1.err $HE/c2.out $HE/c2.err $HE/c2.dmesg $HE/host.ascii.* /host/out/ 2>/dev/null
  cp -r $HE/logs /host/out/host-e2e-logs 2>/dev/null
}
