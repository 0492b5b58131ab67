#!/usr/bin/env bash
# Benchmark of imactl label on a tree like a distribution rootfs: files copied from
# /usr until at least 20,000 files and 500 MB, generated in the build dir and removed
# afterwards. Compares, in one run:
#   cold labelling (imactl label --layer, all CPUs)      vs  evmctl ima_hash once per file (find -exec)
#   imactl's hashing throughput                          vs  sha256sum of the same files on all CPUs
#   warm run of the labelled layer (layer cache)         vs  cold run
# The page cache is warm for every contender (files just copied; caches are not dropped).
set -euo pipefail
build=${1:-build}
imactl=$(cd "$build" && pwd)/imactl
[ "$(id -u)" = 0 ] || { echo "bench_label: needs root (security.ima)"; exit 0; }
command -v evmctl >/dev/null || { echo "bench_label: needs evmctl (ima-evm-utils)"; exit 1; }
min_files=${BENCH_MIN_FILES:-20000}
min_bytes=${BENCH_MIN_BYTES:-524288000}
sample=${BENCH_EVMCTL_SAMPLE:-2000}
work=$(mktemp -d "$(cd "$build" && pwd)/bench-label.XXXXXX")
trap 'rm -rf "$work"' EXIT
tree=$work/layer
cpus=$(nproc)

now() { date +%s.%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# The tree: regular files of /usr in find order until both minimums are reached.
(find /usr -xdev -type f -printf '%s %P\n' 2>/dev/null || true) |
  awk -v nf="$min_files" -v nb="$min_bytes" '{ n++; b += $1; sub(/^[0-9]+ /, ""); print } n >= nf && b >= nb { exit }' \
  >"$work/list"
mkdir -p "$tree"
tar -C /usr --files-from="$work/list" -cf - 2>/dev/null | tar -C "$tree" -xf - || true
files=$(find "$tree" -type f | wc -l)
bytes=$(find "$tree" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
echo "tree: $files files, $((bytes / 1048576)) MiB (copied from /usr), $cpus CPUs, page cache warm"

# 1. Cold: no labels, empty cache.
t0=$(now); "$imactl" label --layer --cache-root "$work/cache" "$tree" >"$work/cold.out"; t1=$(now)
cold=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
grep -q " $files files" "$work/cold.out" || { echo "unexpected cold report:"; cat "$work/cold.out"; exit 1; }
echo "imactl label (cold):           $(printf %.2f "$cold") s  ($(awk -v b="$bytes" -v t="$cold" 'BEGIN { printf "%.0f", b / t / 1048576 }') MiB/s)"

# 2. Warm: the same layer again, through the cache.
t0=$(now); "$imactl" label --layer --cache-root "$work/cache" "$tree" >"$work/warm.out"; t1=$(now)
warm=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
grep -q 'layer already labelled' "$work/warm.out" || { echo "warm run missed the cache:"; cat "$work/warm.out"; exit 1; }
echo "imactl label (warm, cached):   $(printf %.3f "$warm") s"

# 3. Labelled tree without the cache: every file re-hashed and compared, nothing written.
t0=$(now); "$imactl" label "$tree" >/dev/null; t1=$(now)
relabel=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
echo "imactl label (no cache, labels present): $(printf %.2f "$relabel") s"

# 4. evmctl ima_hash once per file, the guide's find -exec, on a sample; extrapolated.
(find "$tree" -type f || true) | head -n "$sample" >"$work/sample"
n=$(wc -l <"$work/sample")
sbytes=$(tr '\n' '\0' <"$work/sample" | xargs -0 stat -c %s | awk '{ s += $1 } END { print s }')
t0=$(now); while IFS= read -r f; do evmctl ima_hash -a sha256 "$f" >/dev/null 2>&1; done <"$work/sample"; t1=$(now)
evm_sample=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
evm=$(awk -v s="$evm_sample" -v n="$n" -v f="$files" 'BEGIN { print s * f / n }')
echo "evmctl ima_hash per file:      $(printf %.2f "$evm_sample") s for a sample of $n files ($((sbytes / 1048576)) MiB) -> $(printf %.1f "$evm") s extrapolated by file count to $files files"

# 5. The hashing limit: sha256sum on all CPUs.
t0=$(now); find "$tree" -type f -print0 | xargs -0 -P "$cpus" -n 256 sha256sum >/dev/null; t1=$(now)
sums=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
echo "sha256sum on $cpus CPUs:          $(printf %.2f "$sums") s  ($(awk -v b="$bytes" -v t="$sums" 'BEGIN { printf "%.0f", b / t / 1048576 }') MiB/s)"

echo "ratios:"
echo "  cold imactl vs evmctl per file:     $(ratio "$evm" "$cold")x faster   (goal >= 20x)"
echo "  imactl throughput / sha256sum's:    $(ratio "$sums" "$cold")        (goal >= 0.8)"
echo "  warm (cached) / cold:               $(awk -v w="$warm" -v c="$cold" 'BEGIN { printf "%.2f%%", 100 * w / c }')      (goal <= 2%)"
