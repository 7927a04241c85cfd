#!/bin/sh
# t-demo.sh: the demo loop end to end at a small size — record counts agree along the pipeline,
# models are published online and served, and the report is complete.
. "$(dirname "$0")/lib.sh"

# A step that fails inside a pipeline fails the demo, at once and saying which: here online-join
# (a pipeline's status would be experience-collect's alone).
mkdir -p "$T_TMP/fake/bin"
for t in "$BIN"/*; do ln -s "$t" "$T_TMP/fake/bin/"; done
rm "$T_TMP/fake/bin/online-join"
printf '#!/bin/sh\necho "online-join: cannot archive" >&2\nexit 1\n' >"$T_TMP/fake/bin/online-join"
chmod +x "$T_TMP/fake/bin/online-join"
B="$T_TMP/fake" "$TOP/pipelines/demo" -s -o "$T_TMP/bad" >"$T_TMP/bad.out" 2>"$T_TMP/bad.err"
eq "a failed online-join: the demo exits 1" "$?" 1
ok "... saying which step failed" grep -q '^demo: startup.online-join failed (exit 1)' "$T_TMP/bad.err"
ok "... before training on nothing" test ! -e "$T_TMP/bad/models"

out="$T_TMP/demo"
ok "pipelines/demo -s runs" sh -c "B=$B '$TOP/pipelines/demo' -s -o '$out' >'$T_TMP/table' 2>'$T_TMP/err'"
[ -f "$T_TMP/err" ] && tail -5 "$T_TMP/err" >&2

shown=$(jq -r .impressions "$out/startup.json")
pages=$(jq -r .pages "$out/startup.json")
archived=$(find "$out/archive" -name '*.ndjson.gz' -exec zcat {} + | wc -l | tr -d ' ')
eq "every shown item became one archived sample" "$archived" "$shown"
eq "every page became one transition" "$(lines "$out/startup-transitions.ndjson")" "$pages"
eq "no dead letters from the simulator's events" "$(lines "$out/dead-letters.ndjson")" 0
ok "no archive file left half-written" sh -c "! find '$out/archive' -name '.*' -o -name '_*' | grep -q ."

nver=$(ls "$out/models" | wc -l)
ok "q-train --online published versions after the offline one ($nver)" [ "$nver" -ge 2 ]
ok "the myopic learner published too" [ "$(ls "$out/models-myopic" | wc -l)" -ge 2 ]
online=$(ls "$out/models" | tail -1 | sed 's/^0*//')
eq "the online evaluation was served by the newest version" "$(jq -r .policy "$out/eval-pageturn-online.json")" "v$online"
for p in random popular greedy-oracle greedy-oracle-mood-hidden pageturn-offline pageturn-online pageturn-myopic; do
	ok "table has $p" grep -q "^$p " "$T_TMP/table"
done
ok "the curve is an SVG with a line per learner and per baseline" sh -c "[ \$(grep -c '<polyline class=\"series\"' '$out/curve.svg') -eq 5 ]"
eq "the baselines ran on the loop's sessions, block by block" \
	"$(jq -s -c 'map([.sessions, (.curve | length)]) | unique' "$out"/loop-random.json "$out"/loop-popular.json "$out"/loop-greedy-oracle.json)" \
	"$(jq -c '[[.sessions, (.curve | length)]]' "$out"/online-pageturn.json)"

# The drifting world: the same loop with each category's appeal swinging over days; the three
# periods follow each other in simulated time (each starts where the one before ended).
dout="$T_TMP/drift"
ok "pipelines/demo -w drifting -s runs" sh -c "B=$B '$TOP/pipelines/demo' -w drifting -s -o '$dout' >'$T_TMP/dtable' 2>'$T_TMP/derr'"
[ -f "$T_TMP/derr" ] && tail -5 "$T_TMP/derr" >&2
ok "drifting: the table has pageturn-online" grep -q "^pageturn-online " "$T_TMP/dtable"
eq "drifting: the periods start one after the other" \
    "$(jq -s -c 'map(.start_ms) | [.[1] - .[0], .[2] - .[1]]' "$dout/startup.json" "$dout/online-pageturn.json" "$dout/eval-pageturn-online.json")" \
    "[3000000,3000000]"
# What --stats counts, not what the log says: the click head's log-loss is a gauge only when it learns.
ok "drifting: the online learner's click head learned" \
    sh -c "tail -1 '$dout/stats-pageturn' | jq -e '.click_logloss != null and .updates > 0' >/dev/null"
ok "drifting: the online learner's steps have a horizon" grep -q "with a step horizon of" "$dout/log-pageturn"
t_done
