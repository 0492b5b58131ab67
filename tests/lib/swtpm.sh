# A private software TPM for the tpm suites: swtpm over TCP on 127.0.0.1, a free
# port chosen at random, its state under TEST_TMP, stopped by PID at exit.
# Source tests/lib/common.sh first. After start_swtpm: SWTPM_TCTI, SWTPM_PORT,
# SWTPM_PID; TPM2TOOLS_TCTI is exported for tpm2-tools.

_port_free() { ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# start_swtpm [NAME]: starts one swtpm; NAME (default "swtpm") names its state dir.
start_swtpm() {
  local name=${1:-swtpm} dir port try
  need_tools "package swtpm is not installed" swtpm
  command -v tpm2_pcrread >/dev/null || need tpm2-tools "package tpm2-tools is not installed"
  dir=$TEST_TMP/$name
  mkdir -p "$dir"
  for try in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 40000))
    _port_free "$port" && _port_free $((port + 1)) || continue
    swtpm socket --tpm2 --tpmstate dir="$dir" \
      --server type=tcp,port="$port",bindaddr=127.0.0.1 \
      --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
      --flags not-need-init,startup-clear --log file="$dir/log" >/dev/null 2>&1 &
    SWTPM_PID=$!
    on_exit "kill $SWTPM_PID; wait $SWTPM_PID"
    SWTPM_PORT=$port
    SWTPM_TCTI="swtpm:host=127.0.0.1,port=$port"
    export TPM2TOOLS_TCTI=$SWTPM_TCTI
    local i
    for i in $(seq 50); do
      kill -0 "$SWTPM_PID" 2>/dev/null || break
      tpm2_pcrread sha256:23 >/dev/null 2>&1 && return 0
      sleep 0.1
    done
    kill "$SWTPM_PID" 2>/dev/null; wait "$SWTPM_PID" 2>/dev/null
  done
  echo "FAIL - could not start swtpm (see $dir/log)"
  return 1
}

# stop_swtpm: stops the TPM started last (to test "TPM unavailable").
stop_swtpm() {
  kill "$SWTPM_PID" 2>/dev/null
  wait "$SWTPM_PID" 2>/dev/null
  return 0
}
