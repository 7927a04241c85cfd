# lib.sh: what the benchmarks share — sourced; the build's programs on PATH, a scratch directory,
# timing a command, and the figures in one form for bench/run's summary.
# Each benchmark: . "$(dirname "$0")/lib.sh"; then its runs, each result through figure.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 1
B=${B:-build}
BIN="$TOP/$B/bin"
PATH="$BIN:$TOP/$B/bench:$TOP/$B/tests:$PATH"
export B PATH
BENCH_NAME=$(basename "$0" .sh)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pageturn-$BENCH_NAME.XXXXXX") || exit 1
# BENCH_FIGURES: the file bench/run collects the figures in; run alone, a benchmark prints its own at exit.
if [ -n "${BENCH_FIGURES:-}" ]; then BENCH_OWN=0; else BENCH_OWN=1; BENCH_FIGURES="$TMP/figures"; fi
bench_cleanup() {
	[ "$BENCH_OWN" = 1 ] && [ -s "$BENCH_FIGURES" ] && { echo "figures:"; cat "$BENCH_FIGURES"; }
	rm -rf "$TMP"
}
trap bench_cleanup EXIT

# bench_fail MESSAGE: says what failed, on stderr, and ends the benchmark with exit 1.
bench_fail() { echo "$BENCH_NAME: $*" >&2; exit 1; }

# measure CMD...: runs CMD with its standard output discarded; sets M_S (elapsed seconds),
# M_CPU (user + system seconds) and M_KB (peak RSS in KB, the largest of CMD and the children
# it waited for). A failing CMD ends the benchmark.
measure() {
	/usr/bin/time -f '%e %U %S %M' -o "$TMP/time" "$@" >/dev/null || bench_fail "failed: $*"
	set -- $(tail -1 "$TMP/time")
	M_S=$1
	M_CPU=$(awk -v u="$2" -v s="$3" 'BEGIN { printf "%.2f", u + s }')
	M_KB=$4
}

# calc EXPR [FORMAT]: prints awk's value of EXPR (default format %.2f).
calc() { awk "BEGIN { printf \"${2:-%.2f}\", ($1) }"; }

# figure NAME VALUE UNIT [RATIO PEER [GOAL]]: one line of the summary. RATIO compares this figure
# with PEER, the program or size the issue names, written "RATIO x PEER": for a speed, the peer's
# time over ours (above 1: faster than the peer); for a size, ours over the peer's. GOAL (">= 1.0",
# "<= 2") is checked against RATIO, or against VALUE when there is no ratio (RATIO "-").
figure() {
	_f_name=$1 _f_value=$2 _f_unit=$3 _f_ratio=${4:--} _f_peer=${5:--} _f_goal=${6:-}
	_f_cmp="" _f_against=$_f_value
	if [ "$_f_ratio" != - ]; then _f_cmp="$_f_ratio x $_f_peer"; _f_against=$_f_ratio
	elif [ "$_f_peer" != - ]; then _f_cmp="($_f_peer)"
	fi
	if [ -n "$_f_goal" ]; then
		_f_met=$(awk -v v="$_f_against" -v op="${_f_goal%% *}" -v g="${_f_goal#* }" 'BEGIN {
			v += 0; g += 0
			ok = (op == ">=") ? v >= g : (op == "<=") ? v <= g : (op == ">") ? v > g : (op == "<") ? v < g : -1
			print ok < 0 ? "?" : ok ? "met" : "missed" }')
		_f_cmp="${_f_cmp:+$_f_cmp  }(goal $_f_goal: $_f_met)"
	fi
	printf '%-42s %10s %-13s %s\n' "$_f_name" "$_f_value" "$_f_unit" "$_f_cmp" | sed 's/ *$//' >>"$BENCH_FIGURES"
}
