#!/usr/bin/env bash
# Runs every benchmark; each prints its own figures and ratios.
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")" && pwd)
shopt -s nullglob
for b in "$src"/bench_*.sh; do echo "== $(basename "$b")"; bash "$b" "$build"; done
for b in "$build"/tests/bench_*; do [ -x "$b" ] && { echo "== $(basename "$b")"; "$b"; }; done
