#!/usr/bin/env bash
# Runs every libFuzzer target for a few seconds each from its seed corpus.
set -euo pipefail
build=$1 seconds=${2:-30}
src=$(cd "$(dirname "$0")" && pwd)
shopt -s nullglob
ran=0
for bin in "$build"/tests/fuzz_*; do
  name=$(basename "$bin")
  corpus=$(mktemp -d)
  [ -d "$src/corpus/$name" ] && cp -r "$src/corpus/$name/." "$corpus/"
  echo "fuzz: $name for ${seconds}s"
  "$bin" -max_total_time="$seconds" -print_final_stats=1 "$corpus" 2>&1 | tail -n 4
  rm -rf "$corpus"
  ran=$((ran + 1))
done
echo "fuzz: $ran targets ran"
