#!/usr/bin/env bash
# Hostile trees label nothing outside themselves: symlinks to host files and
# directories, `..` links, bind mounts inside the tree, symlinks swapped in while the
# walk runs. Special and unreadable files are reported with reasons; the run goes on.
source "$(dirname "$0")/../lib/common.sh"
need_root "security.ima, bind mounts and mknod need root"
need_tools "package attr" getfattr

host=$TEST_TMP/host      # stands for the host's files
tree=$TEST_TMP/layer     # the hostile layer
mkdir -p "$host/dir/sub" "$tree/etc" "$tree/a/b"
echo secret >"$host/shadow"; echo x >"$host/dir/file"; echo y >"$host/dir/sub/deep"
echo ok >"$tree/etc/ok"
ln -s "$host/shadow" "$tree/etc/shadow-abs"
ln -s "$host/dir" "$tree/hostdir"
ln -s ../../../host/shadow "$tree/a/b/dotdot"
ln -s .. "$tree/a/up"
ln -s "$tree/a/up/../../host/dir" "$tree/a/chain"
mkdir "$tree/bind-dir"; mount --bind "$host/dir" "$tree/bind-dir"; on_exit umount -l "$tree/bind-dir"
: >"$tree/bind-file"; mount --bind "$host/shadow" "$tree/bind-file"; on_exit umount -l "$tree/bind-file"
mkfifo "$tree/fifo"
mknod "$tree/null" c 1 3
mknod "$tree/blk" b 7 200
perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => $ARGV[0], Listen => 1) or die' "$tree/sock"
echo frozen >"$tree/etc/immutable"
chattr +i "$tree/etc/immutable" && on_exit chattr -i "$tree/etc/immutable" || need chattr "immutable attribute on the test filesystem"

host_xattrs() { getfattr -R -h -d -m - "$host" 2>/dev/null | grep -v '^#' | sort; }
host_before=$(host_xattrs)

"$IMACTL" label "$tree" >"$TEST_TMP/out" 2>&1; rc=$?
cat "$TEST_TMP/out"
check_eq "a tree with unlabelable files exits 1 (run completed)" 1 "$rc"
check_eq "host files' xattrs unchanged" "$host_before" "$(host_xattrs)"
check "the tree's own file is labelled" getfattr -n security.ima "$tree/etc/ok" --absolute-names -h -d >/dev/null
check "bind-mounted directory: not crossed" grep -q '^  skipped /bind-dir: mount point: not crossed' "$TEST_TMP/out"
check "bind-mounted file: not crossed" grep -q '^  skipped /bind-file: mount point: not crossed' "$TEST_TMP/out"
check "fifo reported" grep -q '^  skipped /fifo: fifo: not a regular file' "$TEST_TMP/out"
check "socket reported" grep -q '^  skipped /sock: socket: not a regular file' "$TEST_TMP/out"
check "character device reported" grep -q '^  skipped /null: character device: not a regular file' "$TEST_TMP/out"
check "block device reported" grep -q '^  skipped /blk: block device: not a regular file' "$TEST_TMP/out"
check "immutable file reported with the reason" grep -q '^  unlabelable /etc/immutable: set security.ima: not permitted' "$TEST_TMP/out"
check "symlinks counted, not followed" grep -q '5 symlinks (not followed)' "$TEST_TMP/out"

# Unreadable files and directories: as an unprivileged user, --check reports them and goes on.
"$IMACTL" label --check "$tree" >/dev/null 2>&1  # (labels present for the rest)
chmod 755 "$TEST_TMP"; chmod 000 "$tree/etc/ok"; mkdir -m 000 "$tree/closed"
setpriv --reuid 65534 --regid 65534 --clear-groups "$IMACTL" label --check "$tree" >"$TEST_TMP/unpriv" 2>&1; rc=$?
check_eq "unreadable files: --check exits 1" 1 "$rc"
check "unreadable file reported" grep -q '^  unlabelable /etc/ok: cannot open: Permission denied' "$TEST_TMP/unpriv"
check "unreadable directory reported" grep -q '^  unlabelable /closed: cannot open: Permission denied' "$TEST_TMP/unpriv"
chmod 644 "$tree/etc/ok"

# A symlink swapped in for a directory (and back) while labelling runs, many times.
mkdir -p "$tree/race"; for i in $(seq 1 50); do echo "$i" >"$tree/race/f$i"; done
( while :; do
    mv -T "$tree/race" "$tree/race.real" 2>/dev/null
    ln -s "$host/dir" "$tree/race" 2>/dev/null
    rm -f "$tree/race"
    mv -T "$tree/race.real" "$tree/race" 2>/dev/null
  done ) &
racer=$!
on_exit "kill $racer"
# Files that vanish mid-walk: created and removed in a loop.
( while :; do for i in 1 2 3 4 5 6 7 8; do echo v >"$tree/vanish$i"; done; rm -f "$tree"/vanish*; done ) &
vanisher=$!
on_exit "kill $vanisher"
errors=0
for i in $(seq 1 30); do
  "$IMACTL" label --force "$tree" >"$TEST_TMP/race-out" 2>&1; rc=$?
  [ "$rc" -le 1 ] || { errors=$((errors + 1)); cat "$TEST_TMP/race-out"; }
done
kill "$racer" "$vanisher"; wait "$racer" "$vanisher" 2>/dev/null
check_eq "30 runs racing symlink swaps and vanishing files: none stopped with an error" 0 "$errors"
check_eq "host files' xattrs still unchanged" "$host_before" "$(host_xattrs)"
finish
