#!/usr/bin/env bash
# `make demo`: a busybox container under ima-runc, its measurement log, and a
# file of a lower image layer changed after labelling refused in enforce mode.
set -euo pipefail
build=${1:-build}
exec bash "$(dirname "$0")/demo-runtime.sh" "$build"
