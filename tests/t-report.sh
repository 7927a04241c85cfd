#!/bin/sh
# t-report.sh: pipelines/report's learning curve — a viewBox, x ticks in sessions with their unit, a y
# label, a 95% band per line, marks at the hot swaps, and a panel of pageturn minus popular per block
# with its interval; each block's interval comes from feed-sim's report (curve_ci95).
. "$(dirname "$0")/lib.sh"
cd "$T_TMP" || exit 1
mkdir d
for p in random popular greedy-oracle; do
	feed-sim -q -n 600 -s 2 --curve 100 --no-events -p "$p" -r "d/loop-$p.json"
done
# The learner: a policy that changes version twice, as q-score does when q-train publishes.
feed-sim -q -n 600 -s 2 --curve 100 --no-events -p popular -e softmax:1 -r d/online-pageturn.json
jq '.swaps = [{"session": 150, "version": 2}, {"session": 420, "version": 3}]' d/online-pageturn.json >x && mv x d/online-pageturn.json
eq "feed-sim: one interval a block" "$(jq '[.curve, .curve_ci95] | map(length)' -c d/loop-popular.json)" "[6,6]"
ok "feed-sim: the intervals are positive" jq -e '.curve_ci95 | all(. > 0)' d/loop-popular.json
pipelines=$TOP/pipelines
"$pipelines/report" d >table 2>err
eq "report: exit 0" "$?" 0
S=d/curve.svg
ok "a viewBox" grep -q '<svg [^>]*viewBox="0 0 [0-9]* [0-9]*"' $S
eq "x ticks at the block boundaries, in sessions" "$(grep -c 'class="xtick"' $S)" 7
ok "... with their unit" grep -q '>sessions (one point a block of 100 sessions)<' $S
ok "a y label" grep -q 'class="ylabel"[^>]*>return per session' $S
eq "a band per line" "$(grep -c 'class="band"' $S)" "$(grep -c 'class="series"' $S)"
eq "four lines: the learner and three baselines" "$(grep -c 'class="series"' $S)" 4
eq "a mark at each hot swap" "$(grep -c 'class="swap"' $S)" 2
ok "the difference panel" grep -q '<g class="diff">' $S
eq "... an interval a block" "$(grep -c 'class="interval"' $S)" 6
ok "... around pageturn minus popular" grep -q 'class="difference"' $S
# Well formed: every element opened is closed (the SVG is flat but for <svg> and <g>).
eq "the SVG is well formed: <g> and <svg> closed" "$(grep -c '^<g ' $S) $(grep -c '^</g>' $S) $(grep -c '^</svg>' $S)" "1 1 1"
# A report it cannot read fails the run, and no curve is drawn from part of it.
cp -R d bad && echo '{"curve": [1,' >bad/online-pageturn.json && rm -f bad/curve.svg
"$pipelines/report" bad >/dev/null 2>err
ok "a broken report: exit non-zero" test $? -ne 0
ok "... and no curve" test ! -e bad/curve.svg
t_done
