#!/bin/sh
# t-fuzz.sh: every libFuzzer target replays its regression inputs and seeds, then fuzzes briefly.
# (make fuzz runs each target longer: FUZZ_SECONDS, 30 by default; CI runs it too.)
. "$(dirname "$0")/lib.sh"

ok "regression inputs and seeds replay cleanly" "$TOP/tests/fuzz/run" -r
for t in $(cd "$TOP/tests/fuzz" && ls fuzz_*.c | sed 's/\.c$//'); do
	ok "$t: a short run finds no crash" "$TOP/tests/fuzz/run" -t "${T_FUZZ_SECONDS:-5}" "$t"
done
t_done
