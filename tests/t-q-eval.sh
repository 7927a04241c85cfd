#!/bin/sh
# t-q-eval.sh: q-eval — usage, bad input to the dead letters, candidates and refusals, the logged
# policy's self-check, a simulated truth, paired comparisons, the Open Bandit Dataset against the
# Open Bandit Pipeline and the figures of q-eval(1), and the page's examples.
. "$(dirname "$0")/lib.sh"
cd "$T_TMP" || exit 1
MAN="$TOP/man/q-eval.1"

# ---- usage ----
for h in -h --help; do
	q-eval $h >out 2>err
	eq "$h exits 0" "$?" 0
	ok "$h prints the synopsis on standard output" grep -q "^usage: q-eval" out
	ok "$h says nothing on standard error" test ! -s err
done
sed -n '/^\.Sh SYNOPSIS/,/^\.Sh DESCRIPTION/p' "$MAN" | grep -o 'Fl -[a-z0-9-]*' | sed 's/^Fl -/--/' | sort -u >page
q-eval --help | grep -o -- '--[a-z0-9-]*' | sort -u >help
eq "the man page's SYNOPSIS and --help name the same long options" "$(comm -3 page help | tr -d '\t' | tr '\n' ' ')" ""
for bad in "" "-p" "-p random --no-such-option" "-p random -n x" "-p random -e nosuch" "-p random --logging softmax" \
    "-p random --propensities both" "-p random --clip 0" "-p random -g 2" "--compare random" "-p random extra"; do
	# shellcheck disable=SC2086
	q-eval $bad </dev/null >out 2>err
	eq "q-eval $bad: exit 2" "$?" 2
	ok "q-eval $bad: nothing on standard output" test ! -s out
	ok "q-eval $bad: a reason on standard error" test -s err
done
echo '{}' | q-eval -p popular:softmax:zero -n 0 >out 2>err
eq "a bad exploration setting: exit 1" "$?" 1
ok "a bad exploration setting: says which" grep -q "softmax:zero: not an exploration setting" err
echo '{}' | q-eval -p table:nosuch.ndjson -n 0 >out 2>err
eq "an unreadable table: exit 1" "$?" 1

# ---- no page at all: every estimate null, with the reason ----
q-eval -p random -p logged -n 10 </dev/null >out 2>err
eq "no input: exit 0" "$?" 0
eq "no input: every estimate null, with the reason" "$(jq -r '"\(.estimate) \(.reason)"' out | sort -u)" "null no logged page"

# ---- bad input: rejected with its reason and counted, never a crash or a silent drop ----
A='"click":0,"pay":0'
cat >bad.ndjson <<EOF2
{"mdp_id":"a","seq":0,"action":[{"item_id":"x","pos":0,"propensity":0.5,"click":1,"pay":0},{"item_id":"y","pos":1,"propensity":0.5,$A}]}
{"mdp_id":"a","seq":1,"action":[{"item_id":"x","pos":0,"propensity":0,$A}]}
{"mdp_id":"a","seq":2,"action":[{"item_id":"x","pos":0,"propensity":1.5,$A}]}
{"mdp_id":"b","seq":0,"action":[{"item_id":"x","pos":0,"click":1,"pay":1},{"item_id":"y","pos":1,"propensity":0.5,$A}]}
{"mdp_id":"b","seq":1,"action":[
{"mdp_id":"a","seq":0,"action":[{"item_id":"z","pos":0,"propensity":0.5,$A}]}
{"mdp_id":"c","seq":0,"action":[{"item_id":"x","pos":0,"propensity":0.5,$A},{"item_id":"y","pos":0,"propensity":0.5,$A}]}
{"mdp_id":"c","seq":1,"action":[{"item_id":"x","pos":0,"propensity":"high",$A}]}
{"item_id":"x","pos":0,"request_id":"r","user_id":"u","page":0,"click":0}
EOF2
q-eval -p logged -n 0 -i bad.ndjson --dead-letter dl.ndjson --stats st.json >out 2>err
eq "bad input: exit 0" "$?" 0
eq "bad input: counters" "$(jq -c '[.in, .rejected, .bad_propensity, .pages, .pages_no_propensity, .items_no_propensity]' st.json)" \
    "[9,7,2,2,1,1]"
eq "bad input: the reasons" "$(jq -r .reason dl.ndjson | sed 's/ at column.*//' | tr '\n' '|')" \
    "action[0]: propensity 0 of item x at pos 0: outside (0, 1]|action[0]: propensity 1.5 of item x at pos 0: outside (0, 1]|bad JSON|a second transition a seq 0|pos 0: two items|action[0]: field 'propensity': expected a number|a sample among transitions: one kind a run|"
eq "bad input: the sources" "$(jq -r .source dl.ndjson | tr '\n' ' ')" \
    "bad.ndjson:2 bad.ndjson:3 bad.ndjson:5 bad.ndjson:6 bad.ndjson:7 bad.ndjson:8 bad.ndjson:9 "
eq "a page without propensities: the direct method alone" \
    "$(jq -c 'select(.estimator == "DM" or .estimator == "IPS") | [.estimator, .units, .dm_only]' out | tr '\n' ' ')" \
    '["DM",4,1] ["IPS",2,1] '
ok "and said so on standard error" grep -q "1 page(s) without propensities: the direct method alone uses them" err
q-eval -p logged -n 0 -i bad.ndjson --strict >/dev/null 2>&1
eq "--strict: a rejected line makes exit 1" "$?" 1

# Against the declared logging policy, with the candidates of an action set.
for i in w x y z; do echo "{\"item_id\":\"$i\"}"; done >abcd.ndjson
cat >uni.ndjson <<EOF2
{"mdp_id":"u","seq":0,"action":[{"item_id":"x","pos":0,"propensity":0.25,"click":1,"pay":0},{"item_id":"y","pos":1,"propensity":0.3333333,$A}]}
{"mdp_id":"u","seq":1,"action":[{"item_id":"x","pos":0,"propensity":0.25,$A},{"item_id":"y","pos":1,"propensity":0.25,$A}]}
{"mdp_id":"u","seq":2,"action":[{"item_id":"q","pos":0,"propensity":0.25,$A}]}
{"mdp_id":"v","seq":0,"action":[{"item_id":"x","pos":0,"propensity":0.625,$A},{"item_id":"y","pos":1,"propensity":0.1666667,$A}]}
EOF2
q-eval -p random -n 0 -a abcd.ndjson --logging uniform -i uni.ndjson --dead-letter dl2.ndjson --stats st2.json >/dev/null 2>&1
eq "uniform: the reasons" "$(jq -r .reason dl2.ndjson | tr '\n' '|')" \
    "pos 1: propensity 0.25, but uniform logging over 4 candidates gives 0.3333333|item q at pos 0: not among the candidates of the action set|pos 0: propensity 0.625, but uniform logging over 4 candidates gives 0.25|"
eq "uniform: counted" "$(jq -c '[.rejected, .bad_propensity, .pages, .action_set]' st2.json)" "[3,2,1,4]"
q-eval -p random -n 0 -a abcd.ndjson --logging epsilon:0.5 -i uni.ndjson --dead-letter dl3.ndjson >/dev/null 2>&1
eq "epsilon:0.5: the pages that fit are kept" "$(jq -r .source dl3.ndjson | tr '\n' ' ')" "uni.ndjson:1 uni.ndjson:2 uni.ndjson:3 "
eq "epsilon:0.5: why the first does not fit" "$(head -1 dl3.ndjson | jq -r .reason)" \
    "pos 0: propensity 0.25, but epsilon-greedy (epsilon 0.5) over the 4 candidates left gives 0.125 or 0.625"

# Samples: a page is checked whole at the end, and dead-lettered as it was grouped.
cat >samples.ndjson <<EOF2
{"request_id":"r1","user_id":"u","session_id":"s","page":0,"pos":1,"item_id":"y","propensity":0.25,$A}
{"request_id":"r1","user_id":"u","session_id":"s","page":0,"pos":0,"item_id":"x","propensity":0.25,$A}
{"request_id":"r2","user_id":"u","session_id":"s","page":1,"pos":0,"item_id":"x","propensity":0.25,"click":1,"pay":0}
{"request_id":"r2","user_id":"u","session_id":"s","page":1,"pos":1,"item_id":"z","propensity":0.3333333,$A}
{"request_id":"r2","user_id":"u","session_id":"s","page":1,"pos":1,"item_id":"w","propensity":0.3333333,$A}
{"request_id":"r2","user_id":"v","session_id":"s","page":1,"pos":2,"item_id":"w","propensity":0.5,$A}
EOF2
q-eval -p random -n 0 -a abcd.ndjson --logging uniform -i samples.ndjson --dead-letter dl4.ndjson --stats st4.json >out 2>/dev/null
eq "samples: the reasons" "$(jq -r .reason dl4.ndjson | tr '\n' '|')" \
    "a second sample of request r2 at pos 1|request r2: its samples disagree on the session or the page number|pos 1: propensity 0.25, but uniform logging over 4 candidates gives 0.3333333|"
eq "samples: the page refused at the end, as grouped, from its first sample's line" "$(tail -1 dl4.ndjson | jq -c '[.source, (.raw | fromjson)]')" \
    '["samples.ndjson:1",{"request_id":"r1","items":[{"item_id":"x","pos":0,"propensity":0.25},{"item_id":"y","pos":1,"propensity":0.25}]}]'
eq "samples: one page kept, of two items" "$(jq -c '[.pages, .items, .bad_propensity]' st4.json)" "[1,2,1]"
printf '%s\n' '{"request_id":"r\"q","user_id":"u","page":0,"pos":0,"item_id":"x\\y","propensity":0.3,"click":0}' >quote.ndjson
q-eval -p logged -n 0 --logging uniform -i quote.ndjson --dead-letter dl6.ndjson >/dev/null 2>&1
eq "samples: a refused page's ids are escaped in its record" "$(jq -r '.raw | fromjson | "\(.request_id) \(.items[0].item_id)"' dl6.ndjson)" 'r"q x\y'

# ---- candidates: from the requests, never guessed ----
qeval-logs -n 300 -s 2 -L softmax:1 -R req.ndjson >tr.ndjson
q-eval -p random -p logged -n 0 -i tr.ndjson -e IPS --stats st5.json >out 2>err
eq "without candidates: random refuses every page, with the reason" \
    "$(jq -c 'select(.policy == "random") | [.estimate, .refused, .reason]' out)" \
    "[null,$(lines tr.ndjson),\"the policy needs the pages' candidates (--requests or --action-set)\"]"
ok "without candidates: the logged policy needs none" test "$(jq 'select(.policy == "logged") | .refused' out)" = 0
sed 1d req.ndjson >req-1.ndjson
q-eval -p random -n 0 -r req-1.ndjson -i tr.ndjson -e IPS,RIPS,SDR --stats st6.json >out 2>err
eq "a page without its request: refused and counted" "$(jq -c '[.pages_without_request, .refused, .requests]' st6.json)" \
    "[1,1,$(lines req-1.ndjson)]"
eq "its session drops out of the session estimators" "$(jq -r 'select(.estimator == "SDR") | .units' out)" 299
ok "said so on standard error" grep -q "1 page(s) without a request in --requests: no candidates" err
jq -c 'select(.request_id == "r1-0") | .candidates |= .[1:]' req.ndjson >req-bad.ndjson
sed 1d req.ndjson | grep -v '"r1-0"' >>req-bad.ndjson
q-eval -p random -n 0 -r req-bad.ndjson -i tr.ndjson -e IPS --dead-letter dl5.ndjson --stats st7.json >/dev/null 2>&1
ok "a shown item that is not a candidate of its request: dead-lettered" \
    grep -q "not among the candidates of request r1-0" dl5.ndjson

# ---- the logged policy: every importance estimator is the logs' own mean ----
qeval-logs -n 2000 -s 4 -L softmax:1 -R req.ndjson >tr.ndjson
item=$(jq -s '[.[].action[] | .click + .pay] | add / length' tr.ndjson)
page=$(jq -s '[.[] | [.action[] | .click + .pay] | add] | add / length' tr.ndjson)
ret=$(jq -s 'group_by(.mdp_id) | map(sort_by(.seq) | reduce .[] as $t ({r: 0, d: 1}; .r += .d * ([$t.action[] | .click + .pay] | add) | .d *= 0.9) | .r) | add / length' tr.ndjson)
q-eval -p logged -r req.ndjson -i tr.ndjson -n 0 >out
for e in IPS SNIPS DR SNDR Switch-DR; do
	ok "logged: $e is the mean item reward" awk -v a="$(jq "select(.estimator == \"$e\") | .estimate" out)" -v b="$item" \
	    'BEGIN { exit !(a - b < 1e-6 * b && b - a < 1e-6 * b) }'
done
for e in IIPS RIPS; do
	ok "logged: $e is the mean page reward" awk -v a="$(jq "select(.estimator == \"$e\") | .estimate" out)" -v b="$page" \
	    'BEGIN { exit !(a - b < 1e-6 * b && b - a < 1e-6 * b) }'
done
for e in PDIS WPDIS SDR; do
	ok "logged: $e is the mean discounted return" awk -v a="$(jq "select(.estimator == \"$e\") | .estimate" out)" -v b="$ret" \
	    'BEGIN { exit !(a - b < 1e-6 * b && b - a < 1e-6 * b) }'
done

# ---- the settings: each one shows where it should ----
q-eval -p random -r req.ndjson -i tr.ndjson -n 0 -e IPS,RIPS >noclip.out
q-eval -p random -r req.ndjson -i tr.ndjson -n 0 -e IPS,RIPS --clip 2 >clip.out
eq "--clip: the largest weight as it was, those cut counted, their share said" \
    "$(jq -s -c 'map(select(.estimator == "IPS")) | [.[0].max_weight == .[1].max_weight, .[0].clipped == 0, .[1].clipped > 0, .[1].clipped_share > 0]' noclip.out clip.out)" \
    "[true,true,true,true]"
eq "--clip: the cascade's estimate moves" "$(jq -s 'map(select(.estimator == "RIPS") | .estimate) | .[0] > .[1]' noclip.out clip.out)" true
clicks=$(jq -s '[.[].action[].click] | add / length' tr.ndjson)
ok "--w-pay 0: the reward is the click" awk -v a="$(q-eval -p logged -r req.ndjson -i tr.ndjson -n 0 -e IPS --w-pay 0 | jq .estimate)" -v b="$clicks" \
    'BEGIN { exit !(a - b < 1e-6 * b && b - a < 1e-6 * b) }'
eq "--dros-lambda 0 is DM, --switch-tau 0 is DM where every weight is positive" \
    "$(q-eval -p random -r req.ndjson -i tr.ndjson -n 0 -e DM,DRos,Switch-DR --dros-lambda 0 --switch-tau 0 | jq -s 'map(.estimate) | (.[0] - .[1] | fabs) < 1e-9 and (.[0] - .[2] | fabs) < 1e-9')" true
first=$(jq -s '[.[] | select(.seq == 0) | [.action[] | .click + .pay] | add] | add / length' tr.ndjson)
ok "-g 0: a session's return is its first page's reward" awk -v a="$(q-eval -p logged -r req.ndjson -i tr.ndjson -n 0 -e PDIS -g 0 | jq .estimate)" -v b="$first" \
    'BEGIN { exit !(a - b < 1e-6 * b && b - a < 1e-6 * b) }'
qeval-logs -n 2000 -s 9 -L softmax:1 -R req9.ndjson >tr9.ndjson
q-eval -p popular -r req.ndjson -i tr.ndjson -n 0 -e DM >pop-in.out
q-eval -p popular -r req.ndjson -i tr.ndjson -n 0 -e DM --popularity tr.ndjson >pop-same.out
q-eval -p popular -r req.ndjson -i tr.ndjson -n 0 -e DM --popularity tr9.ndjson >pop-held.out
same_file "--popularity of the evaluated logs: as without it" pop-same.out pop-in.out
ok "--popularity of other logs: another ranking" sh -c "! cmp -s pop-held.out pop-in.out"
ok "--smooth: the direct method moves with the model's prior" sh -c "! cmp -s pop-in.out \$(q-eval -p popular -r req.ndjson -i tr.ndjson -n 0 -e DM --smooth 0 >pop-s0.out; echo pop-s0.out)"
q-eval -p popular:softmax:0.5 -r req.ndjson -i tr.ndjson -n 0 -e SDR --mc-draws 8 >mc8.out
q-eval -p popular:softmax:0.5 -r req.ndjson -i tr.ndjson -n 0 -e SDR --mc-draws 512 >mc512.out
ok "--mc-draws: the marginals' draws change the direct part, a little" \
    sh -c "jq -s -e 'map(.estimate) | .[0] != .[1] and ((.[0] - .[1]) / .[1] | fabs) < 0.05' mc8.out mc512.out >/dev/null"

# ---- a simulated truth: the uniform policy's values from logs of a softmax ranking ----
# Five logs: the cascade's and sequential DR's intervals hold the truth in at least four (on 100
# logs they did in 91 and 90); per-decision IS, plain and weighted, whose session ratios are
# heavy-tailed here (their intervals held it in 72 and 75 of 100), average within 10% of it.
qeval-logs -T -n 400000 -s 77 >truth.json
for s in 1 2 3 4 5; do
	qeval-logs -n 4000 -s $s -L softmax:1 -R req$s.ndjson >tr$s.ndjson
	q-eval -p random -r req$s.ndjson -i tr$s.ndjson -n 200 -s 5 -e RIPS,PDIS,WPDIS,SDR >sim$s.out
done
cat sim?.out >sim.out
for e in RIPS SDR; do
	if [ $e = RIPS ]; then t=$(jq .page truth.json); else t=$(jq .return truth.json); fi
	ok "random, $e: the 95% interval holds the truth $t in 4 of 5 logs or more" \
	    sh -c "test \$(jq -s 'map(select(.estimator == \"$e\") | select(.ci_low <= $t and $t <= .ci_high)) | length' sim.out) -ge 4"
done
for e in PDIS WPDIS; do
	t=$(jq .return truth.json)
	ok "random, $e: the mean over 5 logs within 10% of the truth $t" \
	    sh -c "jq -s -e 'map(select(.estimator == \"$e\") | .estimate) | add / length | (. - $t) / $t | fabs < 0.1' sim.out >/dev/null"
done
cp req1.ndjson req.ndjson
cp tr1.ndjson tr.ndjson
q-eval -p random -r req.ndjson -i tr.ndjson -n 0 -e item >out
ok "random: the item-position estimators refuse nothing" sh -c "jq -s -e 'map(select(.level == \"item\") | .units == $(jq -s '[.[].action | length] | add' tr.ndjson)) | all' out >/dev/null"

# ---- the same resamples: a seed gives the same intervals, another seed others ----
q-eval -p random -p popular -r req.ndjson -i tr.ndjson -s 5 -n 100 >a.out
q-eval -p random -p popular -r req.ndjson -i tr.ndjson -s 5 -n 100 >b.out
q-eval -p random -p popular -r req.ndjson -i tr.ndjson -s 6 -n 100 >c.out
same_file "the same seed: the same output" b.out a.out
ok "another seed: other intervals" sh -c "! cmp -s a.out c.out"
eq "the estimates do not depend on the replicates" "$(jq -c '[.estimate]' a.out | cksum)" "$(jq -c '[.estimate]' c.out | cksum)"

# ---- --compare: the paired difference on the same replicates ----
q-eval --compare popular random -r req.ndjson -i tr.ndjson -n 200 -e IPS,SDR >cmp.out
eq "compare: both policies, then the differences" "$(jq -r '.policy // "\(.compare[0]) - \(.compare[1])"' cmp.out | tr '\n' ' ')" \
    "popular popular random random popular - random popular - random "
ok "compare: the difference is the difference of the estimates" sh -c "jq -s -e '
    (.[] | select(.compare and .estimator == \"IPS\") | .difference) as \$d |
    ([.[] | select(.policy == \"popular\" and .estimator == \"IPS\") | .estimate][0] -
     [.[] | select(.policy == \"random\" and .estimator == \"IPS\") | .estimate][0]) as \$e |
    (\$d - \$e | fabs) < 1e-6' cmp.out >/dev/null"
q-eval --compare logged logged -r req.ndjson -i tr.ndjson -n 50 -e IPS >cmp2.out 2>/dev/null
eq "compare a policy with itself: 0, with the interval [0, 0]" \
    "$(jq -c 'select(.compare) | [.difference, .ci_low, .ci_high]' cmp2.out)" "[0,0,0]"

# ---- output: the table, the stats ----
q-eval -t -p random -r req.ndjson -i tr.ndjson -n 20 -e IPS,PI >tab.out
eq "the table: a heading and a line per result" "$(awk '{ print $1, $2 }' tab.out | tr '\n' '|')" \
    "policy estimator|random IPS|random PI|"
ok "the table: an estimate that cannot be made says why" grep -q "(the pseudo-inverse estimator needs uniform logging (--logging uniform))" tab.out
q-eval -p random -r req.ndjson -i tr.ndjson -n 0 --stats st8.json -e IPS >/dev/null
eq "the stats: what was read" "$(jq -c '[.pages, .sessions, .items, .requests, .refused]' st8.json)" \
    "[$(lines tr.ndjson),4000,$(jq -s '[.[].action | length] | add' tr.ndjson),$(lines req.ndjson),0]"

# ---- the Open Bandit Dataset ----
OBD="$DATA/obd"
if [ -f "$OBD/random/men/men.csv" ] && [ -f "$OBD/bts/men/men.csv" ]; then
	obd-convert -n r "$OBD/random/men/men.csv" >random-men.ndjson
	obd-convert -t -n r "$OBD/random/men/men.csv" >random-men-t.ndjson
	obd-convert -p men "$OBD/prior_bts_men.yaml" >prior.ndjson
	eq "OBD: 10,000 rows, 46 clicks" "$(jq -s '[length, (map(.click) | add)]' -c random-men.ndjson)" "[10000,46]"
	eq "OBD: the truth, BTS's CTR in its own logs" "$(obd-convert -n b "$OBD/bts/men/men.csv" | jq -s 'map(.click) | add / length')" "0.0069"
	M="--propensities marginal --logging uniform"
	# shellcheck disable=SC2086
	q-eval -p thompson:prior.ndjson $M -i random-men.ndjson -n 1000 -s 1 >obd.out
	# shellcheck disable=SC2086
	q-eval -p thompson:prior.ndjson $M -i random-men-t.ndjson -n 1000 -s 1 >obd-t.out
	same_file "OBD: samples and transitions give the same results" obd-t.out obd.out
	ips=$(jq 'select(.estimator == "IPS") | .estimate' obd.out)
	snips=$(jq 'select(.estimator == "SNIPS") | .estimate' obd.out)
	ok "OBD: IPS $ips is the Open Bandit Pipeline's 0.004540 to 0.5%" awk -v a="$ips" 'BEGIN { exit !((a - 0.004540) ^ 2 < (0.005 * 0.004540) ^ 2) }'
	ok "OBD: SNIPS $snips is the Open Bandit Pipeline's 0.004610 to 0.5%" awk -v a="$snips" 'BEGIN { exit !((a - 0.004610) ^ 2 < (0.005 * 0.004610) ^ 2) }'
	ok "OBD: IPS is within 0.5% of the Pipeline's Monte-Carlo table too (0.0045336)" awk -v a="$ips" 'BEGIN { exit !((a - 0.0045336) ^ 2 < (0.005 * 0.0045336) ^ 2) }'
	eq "OBD: one-item pages: IIPS, RIPS, PI and PDIS are IPS, WPDIS is SNIPS, SDR is DR" \
	    "$(jq -s -c 'map({(.estimator): .estimate}) | add | [.IIPS == .IPS, .RIPS == .IPS, .PI == .IPS, .PDIS == .IPS, .WPDIS == .SNIPS, .SDR == .DR]' obd.out)" \
	    "[true,true,true,true,true,true]"
	# The figures of q-eval(1): estimate, interval and relative error of each item-position estimator.
	fig() { printf '%.6f\n' "$1"; }
	for e in DM IPS SNIPS DR SNDR Switch-DR DRos; do
		got=$(jq -r "select(.estimator == \"$e\") | \"\(.estimate) \(.ci_low) \(.ci_high)\"" obd.out |
		    awk '{ printf "%.6f [%.6f, %.6f] %.3f", $1, $2, $3, ($1 - 0.0069 < 0 ? 0.0069 - $1 : $1 - 0.0069) / 0.0069 }')
		want=$(sed -n "/^\.It $e Ta /{s/^\.It $e Ta //;s/ Ta / /g;p;q}" "$MAN")
		eq "q-eval(1), OBD table: $e" "$got" "$want"
	done
	# Tables that follow BTS's logged propensities over time.
	row() {
		obd-convert -w "$1" -s "$2" "$OBD/bts/men/men.csv" >win.ndjson
		# shellcheck disable=SC2086
		q-eval -p table:win.ndjson $M -i random-men.ndjson -n 0 -e IPS,SNIPS,DR |
		    jq -r .estimate | awk '{ v[NR] = $1 } END { printf "%.6f %.6f %.6f %.3f", v[1], v[2], v[3], (0.0069 - v[1]) / 0.0069 }'
	}
	for w in "1 1" "1 24" "24 24" "168 168"; do
		set -- $w
		want=$(sed -n "/^\.It $1 h, $2 h Ta /{s/^\.It $1 h, $2 h Ta //;s/ Ta / /g;p;q}" "$MAN")
		eq "q-eval(1), OBD windows: step $1 h, span $2 h" "$(row "$1" "$2")" "$want"
	done
	obd-convert -w 24 -s 24 "$OBD/bts/men/men.csv" >win24.ndjson
	# shellcheck disable=SC2086
	q-eval --compare table:win24.ndjson thompson:prior.ndjson $M -i random-men.ndjson -n 1000 -s 1 -e IPS >cmp.out
	eq "q-eval(1), OBD: the paired difference of the daily table and the prior's" \
	    "$(jq -r 'select(.compare) | "\(.difference) \(.ci_low) \(.ci_high)"' cmp.out | awk '{ printf "%.5f [%.5f, %.5f]", $1, $2, $3 }')" \
	    "$(sed -n 's/.* is \([0-9.]*\) with the interval$/\1/p' "$MAN") $(sed -n 's/^\[\\(mi\([0-9.]*\), \([0-9.]*\)\]\.$/[-\1, \2]/p' "$MAN")"
else
	echo "skipped: the Open Bandit Dataset (no $OBD)"
fi

# ---- Kafka: read until idle ----
if [ -x "$TBIN/kafka-mock" ] && command -v kcat >/dev/null 2>&1; then
	bg kafka-mock -q -f ports -p 2 -t logs >/dev/null 2>&1
	wait_until 10 test -s ports
	br=$(cat ports)
	qeval-logs -n 300 -s 8 >small.ndjson	# the mock broker keeps a few MB a partition
	kcat -q -P -b "$br" -t logs -p 0 <small.ndjson 2>/dev/null
	q-eval -p logged -i kafka:logs -b "$br" -G qe -n 0 -e IPS --idle-exit 2s --stats stk.json >k.out 2>k.err &
	qpid=$!
	exits "Kafka: q-eval stops once its input is idle" "$qpid" 0 k.err
	eq "Kafka: every page read" "$(tail -1 stk.json | jq .pages)" "$(lines small.ndjson)"
	q-eval -p logged -n 0 -e IPS -i small.ndjson >f.out
	same_file "Kafka: the same estimate as from the file" k.out f.out
else
	echo "skipped: Kafka (no kafka-mock or kcat)"
fi

# ---- the examples of q-eval(1) ----
sed -n '/^\.Sh EXAMPLES/,/^\.Sh/p' "$MAN" | awk '
	/^\.Bd/ { inb = 1; next }
	/^\.Ed/ { inb = 0; next }
	!inb { next }
	cont { l = $0; sub(/^[ \t]+/, "", l); cmd = cmd " " l }
	!cont && /^\$ / { cmd = substr($0, 3) }
	cont || /^\$ / { if (cmd ~ /[ \t]*\\e$/) { sub(/[ \t]*\\e$/, "", cmd); cont = 1 } else { cont = 0; print cmd } }' >examples
eq "q-eval(1): three examples" "$(lines examples)" 3
cp tr.ndjson transitions.ndjson
cp req.ndjson requests.ndjson
[ -f random-men.ndjson ] || { echo "skipped: q-eval(1)'s OBD example"; sed -i '/random-men/d' examples; }
n=0
while read -r cmd; do
	n=$((n + 1))
	sh -c "$cmd" >ex$n.out 2>ex$n.err
	eq "q-eval(1) example $n exits 0: $cmd" "$?" 0
	ok "q-eval(1) example $n writes results" test -s ex$n.out
done <examples
if [ -f ex3.out ]; then
	want=$(sed -n '/^\.Sh EXAMPLES/,/^\.Sh/p' "$MAN" | grep '^{"policy"' | sed 's/\.\.\.$//')
	ok "q-eval(1) example 3: the output shown" sh -c "head -1 ex3.out | grep -qF '$want'"
fi
# ---- a model version as the target: the probabilities q-score served with ----
feed-sim -q -n 300 -s 1 -p popular -e softmax:1 | log-collect -q | online-join -q | experience-collect -q >m-trans.ndjson
q-train --offline -q -i m-trans.ndjson -m m-models --epochs 1 --seed 1 >/dev/null
feed-sim -q -n 200 -s 2 -c "q-score -q -m m-models --explore softmax:0.5sd --seed 3" --requests m-req.ndjson |
	log-collect -q | online-join -q | experience-collect -q >m-logs.ndjson
q-eval -m m-models --explore softmax:0.5sd -p logged -r m-req.ndjson -i m-logs.ndjson -n 20 -e IPS,RIPS,PDIS,SDR >out 2>err
eq "model target: exit 0" "$?" 0
eq "model target: every page judged" "$(jq -r 'select(.policy == "model:m-models") | .refused' out | sort -u)" 0
ok "model target on the pages q-score served under the same setting: every weight 1 (q-score's 7 digits)" \
    jq -se '[.[] | select(.policy == "model:m-models") | .max_weight] | all(. > 0.99999 and . < 1.00003)' out
eq "model target: its IPS, RIPS and PDIS are the logs' own" \
    "$(jq -r 'select(.policy == "model:m-models" and .estimator != "SDR") | "\(.estimator) \(.estimate)"' out | cut -c1-12 | tr '\n' ' ')" \
    "$(jq -r 'select(.policy == "logged" and .estimator != "SDR") | "\(.estimator) \(.estimate)"' out | cut -c1-12 | tr '\n' ' ')"
ok "model target: SDR with the model's own values within 5% of the logs' return" \
    jq -se '(map(select(.estimator == "SDR")) | (.[0].estimate / .[1].estimate)) | (. > 0.95 and . < 1.05)' out
q-eval -m m-models --explore softmax:2 -p logged -r m-req.ndjson -i m-logs.ndjson -n 0 -e IPS >out2 2>err
ok "model target under another setting: weights that are not 1" \
    jq -se '[.[] | select(.policy == "model:m-models") | .max_weight] | all(. > 1.01)' out2
q-eval -m m-models -i m-logs.ndjson -n 0 -e IPS >out 2>err
eq "model target without the requests: every page refused, with the reason" \
    "$(jq -r '"\(.refused) \(.reason)"' out)" "593 the policy needs the pages' candidates (--requests or --action-set)"
q-eval -m m-models --model-version 9 -i m-logs.ndjson -n 0 >out 2>err
eq "model target: a version that does not exist: exit 1" "$?" 1
ok "model target: a version that does not exist: says which" grep -q "0000000009" err
q-eval -m m-models --explore softmax -i m-logs.ndjson -n 0 >out 2>err
eq "model target: a bad --explore: exit 2" "$?" 2

# ---- recorded: the simulator's own policies, from the choices each request recorded ----
feed-sim -q -n 200 -s 3 -p popular --requests r-req.ndjson | log-collect -q | online-join -q | experience-collect -q >r-logs.ndjson
q-eval -p recorded:popular -p recorded:greedy-oracle -p recorded:nosuch -p logged -r r-req.ndjson -i r-logs.ndjson \
    -n 0 -e IPS,PDIS >out 2>err
eq "recorded: exit 0" "$?" 0
eq "recorded: popular on its own pages (every weight 1) gives the logs' own IPS and PDIS" \
    "$(jq -r 'select(.policy == "recorded:popular") | "\(.estimator) \(.estimate) \(.max_weight)"' out | tr '\n' ' ')" \
    "$(jq -r 'select(.policy == "logged") | "\(.estimator) \(.estimate) \(.max_weight)"' out | tr '\n' ' ')"
eq "recorded: greedy-oracle never shows popular's page: PDIS 0" \
    "$(jq -r 'select(.policy == "recorded:greedy-oracle" and .estimator == "PDIS") | .estimate' out)" 0
eq "recorded: a name no request recorded: every page refused, with the reason" \
    "$(jq -r 'select(.policy == "recorded:nosuch") | .refused > 0 and (.reason | test("request"))' out | sort -u)" true

# ---- the accuracy study on the simulator, small (the full one: q-eval(1)) ----
"$TOP/tests/qeval-accuracy" -n 300 -S 2 -t 1000 -b 50 -j 2 -o acc >table 2>err
eq "accuracy study: exit 0" "$?" 0
eq "accuracy study: every policy's SDR against its truth" "$(awk '$2 == "SDR" { print $1 }' table | tr '\n' ' ')" \
    "logged recorded:popular recorded:greedy-oracle model:greedy "
eq "accuracy study: the logging policy's session estimates are its truth, inside their intervals, in both seeds" \
    "$(awk '$1 == "logged" && $3 == "session" { print $2, $9, $10 }' table | tr '\n' ' ')" "PDIS 2 2 WPDIS 2 2 SDR 2 2 "

t_done
