#!/usr/bin/env bash
# The built-in example. Grows with the runtime: for now, the formats at work.
set -euo pipefail
build=${1:-build}
"$build/imactl" --help
