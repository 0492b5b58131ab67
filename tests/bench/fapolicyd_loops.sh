#!/usr/bin/env bash
# The loops of bench_monitor.sh under fapolicyd, for a side-by-side figure.
# fapolicyd reads compiled-in paths (/etc/fapolicyd, /var/lib/fapolicyd,
# /run/fapolicyd, /run/fapolicyd.pid), so this script must run in a private
# mount namespace (bench_monitor.sh calls it through `unshare -m
# --propagation private`): private directories are bind-mounted over those
# paths there, and the daemon only marks the overlay mounted there (watch_fs =
# overlay), so nothing outside this namespace is watched or changed.
# fapolicyd decides by integrity: every file of the image is in its trust
# file with its sha256 (integrity = sha256), untrusted files are denied, the
# rest is allowed.
#   unshare -m --propagation private bash fapolicyd_loops.sh WORK LOWER RUNS EXECS OPENS FIRST PIN
# Prints, per paired run, "plain EXEC OPEN FIRST" and "fapolicyd EXEC OPEN FIRST RSS_KB" (ns per iteration).
set -uo pipefail
work=$1 lower=$2 runs=$3 execs=$4 opens=$5 first=$6 pin=$7

[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] || { echo "fapolicyd: not in a private mount namespace" >&2; exit 2; }
mkdir -p "$work"/{etc,lib,run,upper,work,root}
mount -t tmpfs tmpfs /run || exit 2  # /run/fapolicyd.pid, .state and the fifo stay in this namespace
mkdir -p /run/fapolicyd /etc/fapolicyd /var/lib/fapolicyd
mount --bind "$work/etc" /etc/fapolicyd && mount --bind "$work/lib" /var/lib/fapolicyd || exit 2
root=$work/root
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$work/upper,workdir=$work/work" "$root" || exit 2

user=root  # fapolicyd cannot drop to its own user here (capng: "Cannot change to uid")
chown "$user:" /var/lib/fapolicyd /run/fapolicyd
cat >/etc/fapolicyd/fapolicyd.conf <<EOF
permissive = 0
nice_val = 0
q_size = 640
uid = $user
gid = $user
do_stat_report = 0
detailed_report = 0
db_max_size = 50
subj_cache_size = 1549
obj_cache_size = 8191
watch_fs = overlay
trust = file
integrity = sha256
syslog_format = rule,dec,perm,auid,pid,exe,:,path,ftype,trust
rpm_sha256_only = 0
allow_filesystem_mark = 0
EOF
printf 'deny_audit perm=any all : trust=0\nallow perm=any all : all\n' >/etc/fapolicyd/fapolicyd.rules
mkdir -p /etc/fapolicyd/trust.d
# "path size sha256" for every file of the image, as fapolicyd sees the paths.
(cd "$root" && find . -type f -printf '%P\n' | while read -r f; do
  echo "$root/$f $(stat -c %s "$f") $(sha256sum "$f" | cut -d' ' -f1)"
done) >/etc/fapolicyd/fapolicyd.trust
echo x >"$root/data/untrusted"  # not in the trust file

p=""
[ "$pin" = 1 ] && p="taskset -c 0"
loops() {
  echo "$($p "$root/bin/loops" exec "$root/bin/busybox" "$execs") $(cat "$root/data/4k" >/dev/null; $p "$root/bin/loops" open "$root/data/4k" "$opens") $($p "$root/bin/loops" first "$root/data/fresh" "$first")"
}
fapd=""
stop() {
  [ -n "$fapd" ] || return 0
  kill -TERM "$fapd" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$fapd" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$fapd" 2>/dev/null
  wait "$fapd" 2>/dev/null
  fapd=""
}
trap stop EXIT
start() {
  rm -f /run/fapolicyd.pid /var/lib/fapolicyd/*
  fapolicyd --debug-deny 2>"$work/fapolicyd.log" &
  fapd=$!
  for _ in $(seq 300); do  # ready once it listens (it loads the trust file first)
    grep -q "Starting to listen for events" "$work/fapolicyd.log" && break
    kill -0 "$fapd" 2>/dev/null || break
    sleep 0.1
  done
  grep -q "Starting to listen for events" "$work/fapolicyd.log" || { echo "fapolicyd did not start:" >&2; tail -5 "$work/fapolicyd.log" >&2; stop; return 1; }
  [ "$pin" = 1 ] && taskset -a -p -c 0 "$fapd" >/dev/null
  return 0
}

for _ in $(seq "$runs"); do
  echo "plain $(loops)"
  start || exit 3
  # A file not in the trust file is denied: fapolicyd really decides here.
  if cat "$root/data/untrusted" >/dev/null 2>&1; then echo "fapolicyd: an untrusted file was allowed" >&2; exit 3; fi
  r=$(loops)
  echo "fapolicyd $r $(awk '/VmHWM/ {print $2}' "/proc/$fapd/status")"
  stop
done
