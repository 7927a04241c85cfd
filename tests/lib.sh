# lib.sh: helpers for the shell tests — sourced, counts cases, ends with "N passed, N failed".
# Each test script: . "$(dirname "$0")/lib.sh"; then cases; then t_done.
set -u
T_PASSED=0
T_FAILED=0
TOP=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-build}
BIN="$TOP/$B/bin"
TBIN="$TOP/$B/tests"
DATA=${PAGETURN_DATA:-"$TOP/../shared/data"}	# a clone elsewhere: PAGETURN_DATA=.../shared/data
PATH="$BIN:$TBIN:$PATH"
export PATH
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pageturn-test.XXXXXX")
T_PIDS=""
t_cleanup() {
	for _t_p in $T_PIDS; do kill "$_t_p" 2>/dev/null; done
	# T_KEEP=1: a failed test leaves its files for a look.
	if [ -n "${T_KEEP:-}" ] && [ "$T_FAILED" -gt 0 ]; then
		echo "kept: $T_TMP" >&2
	else
		rm -rf "$T_TMP"
	fi
}
trap t_cleanup EXIT

t_pass() { T_PASSED=$((T_PASSED + 1)); [ -n "${T_VERBOSE:-}" ] && echo "ok - $1"; return 0; }
t_fail() { T_FAILED=$((T_FAILED + 1)); echo "FAIL - $1" >&2; shift; for _t_m in "$@"; do echo "    $_t_m" >&2; done; return 0; }

# ok DESC CMD...: passes when CMD exits 0.
ok() { _t_d=$1; shift; if "$@"; then t_pass "$_t_d"; else t_fail "$_t_d" "command: $*"; fi; }
# notok DESC CMD...: passes when CMD exits non-zero.
notok() { _t_d=$1; shift; if "$@"; then t_fail "$_t_d" "command succeeded: $*"; else t_pass "$_t_d"; fi; }
# eq DESC GOT WANT
eq() { if [ "$2" = "$3" ]; then t_pass "$1"; else t_fail "$1" "got:  $2" "want: $3"; fi; }
# same_file DESC GOT WANT: files equal
same_file() {
	if cmp -s "$2" "$3"; then t_pass "$1"; else t_fail "$1" "$(diff "$3" "$2" | head -20)"; fi
}
# run_case DESC WANT_STATUS STDIN_FILE WANT_STDOUT_FILE CMD...: the OpenBSD regress shape.
run_case() {
	_t_d=$1 _t_want=$2 _t_in=$3 _t_wantout=$4; shift 4
	"$@" <"$_t_in" >"$T_TMP/case.out" 2>"$T_TMP/case.err"; _t_st=$?
	if [ "$_t_st" != "$_t_want" ]; then t_fail "$_t_d" "exit $_t_st, want $_t_want" "$(head -5 "$T_TMP/case.err")"; return; fi
	if [ -n "$_t_wantout" ] && ! cmp -s "$T_TMP/case.out" "$_t_wantout"; then
		t_fail "$_t_d" "$(diff "$_t_wantout" "$T_TMP/case.out" | head -20)"; return
	fi
	t_pass "$_t_d"
}
# lines FILE: number of lines
lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
# bg CMD...: starts CMD in the background, remembered for cleanup; its pid in $!
bg() { "$@" & T_PIDS="$T_PIDS $!"; }

# wait_until SECS CMD...: runs CMD every 0.1 s until it succeeds; fails after SECS.
wait_until() {
	_w_n=$(($1 * 10)); shift
	while [ $_w_n -gt 0 ]; do
		"$@" && return 0
		sleep 0.1; _w_n=$((_w_n - 1))
	done
	return 1
}
# wait_exit PID SECS: sets WSTATUS to PID's exit status, or to 124 after killing it when it outlives SECS.
wait_exit() {
	_w_n=$(($2 * 10))
	while [ $_w_n -gt 0 ] && kill -0 "$1" 2>/dev/null; do sleep 0.1; _w_n=$((_w_n - 1)); done
	if kill -0 "$1" 2>/dev/null; then
		kill -KILL "$1"; wait "$1"; WSTATUS=124
	else
		wait "$1"; WSTATUS=$?
	fi
}
# exits DESC PID STATUS LOG: PID (a background child) exits with STATUS within EXIT_WAIT seconds
# (default 15); else the case fails and LOG's last lines are shown.
exits() {
	wait_exit "$2" "${EXIT_WAIT:-15}"
	eq "$1" "$WSTATUS" "$3"
	[ "$WSTATUS" = "$3" ] || tail -5 "$4" | sed 's/^/    | /' >&2
}

# A sanitizer's report in any file of the test (a process's captured standard error) fails it:
# with ASan linked in, UBSan writes to standard error whatever its log_path says. A test that
# makes reports on purpose sets T_SAN_SCAN=0.
SAN_REPORT='runtime error: |ERROR: (Address|Leak)Sanitizer'
T_SAN_SCAN=1
t_done() {
	case "$T_SAN_SCAN$B" in
	1*-san)
		_t_r=$(grep -rlIE "$SAN_REPORT" "$T_TMP" 2>/dev/null | head -3 | tr '\n' ' ')
		[ -z "$_t_r" ] || t_fail "a sanitizer report in $_t_r" "$(grep -hE -A4 "$SAN_REPORT" $_t_r | head -15)"
		;;
	esac
	echo "$T_PASSED passed, $T_FAILED failed"
	[ "$T_FAILED" -eq 0 ]
}
