# Guest-side test helpers: every check appends one "ok   - " or "FAIL - " line
# to /host/out/results; the host turns them into its own checks.
RESULTS=/host/out/results
g_pass() { echo "ok   - $*" >>"$RESULTS"; echo "ok   - $*"; }
g_fail() { echo "FAIL - $*" >>"$RESULTS"; echo "FAIL - $*"; }
g_skip() { echo "skip - $*" >>"$RESULTS"; echo "skip - $*"; }
# g_check "description" command...
g_check() { local d=$1; shift; if "$@"; then g_pass "$d"; else g_fail "$d"; fi; }
# g_check_eq "description" expected actual
g_check_eq() { if [ "$2" = "$3" ]; then g_pass "$1"; else g_fail "$1: expected [$2], got [$3]"; fi; }
# g_done: marks the guest run complete (the host fails the suite without it).
g_done() { sync; touch /host/out/done; sync; }
IMA=/sys/kernel/security/ima
# PCR 10 of a bank as lower-case hex without separators.
pcr10() { echo "$(tr -d " \n" <"/sys/class/tpm/tpm0/pcr-$1/10" | tr "A-F" "a-f")"; }
