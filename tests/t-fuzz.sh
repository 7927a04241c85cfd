#!/bin/sh
# t-fuzz.sh: every libFuzzer target replays its regression inputs and seeds, then fuzzes briefly.
# (make fuzz runs each target longer: FUZZ_SECONDS, 30 by default; CI runs it too.)
. "$(dirname "$0")/lib.sh"

# A fuzz build of its own per build directory, so that test runs side by side do not race.
FUZZ_OUT="$TOP/$B-fuzz"
export FUZZ_OUT
targets=$(cd "$TOP/tests/fuzz" && ls fuzz_*.c | sed 's/\.c$//')

ok "regression inputs and seeds replay cleanly" "$TOP/tests/fuzz/run" -r
# Two targets at a time, a few seconds each; each says how it went on a line of its own.
"$TOP/tests/fuzz/run" -j 2 -t "${T_FUZZ_SECONDS:-4}" >"$T_TMP/fuzz.out" 2>&1
for t in $targets; do
	if grep -q "^$t: [1-9][0-9]* executions in .*, no crash$" "$T_TMP/fuzz.out"; then
		t_pass "$t: a short run finds no crash"
	else
		t_fail "$t: a short run finds no crash" "$(grep "$t" "$T_TMP/fuzz.out" | head -5)"
	fi
done
t_done
