#!/bin/sh
# t-feed-sim.sh: feed-sim — determinism, event format, behaviour rules measured on its output, policies, coprocess, report, man page examples.
. "$(dirname "$0")/lib.sh"

ML="$DATA/movielens-small"
cd "$T_TMP" || exit 1

# gt DESC A B [FACTOR]: passes when A > FACTOR x B (FACTOR defaults to 1).
gt() {
	if awk -v a="$2" -v b="$3" -v f="${4:-1}" 'BEGIN { exit !(a + 0 > f * b) }'; then t_pass "$1"
	else t_fail "$1" "$2 is not > ${4:-1} x $3"; fi
}
# field FILE KEY: a number from a JSON report.
field() { jq -r ".$2" "$1"; }

# --- Usage errors and the parameter list.
while read -r args; do
	# shellcheck disable=SC2086
	run_case "usage: feed-sim $args" 2 /dev/null /dev/null feed-sim $args
done <<EOF
-p nosuch
-P nosuch=1
-P fatigue=x
-k 0
-n -3
-e epsilon:2
-e greedy
--ratings ratings.csv
--user-set nobody
--start yesterday
-c true -U http://127.0.0.1:1/
-U http://127.0.0.1:1/ --policy-wait x
--w-pay x
extra-argument
EOF
feed-sim --list-params >params
ok "--list-params lists the parameters" grep -q '^fatigue  *0.3 ' params
eq "--list-params: one line each" "$(wc -l <params | tr -d ' ')" "$(grep -c '	P(' "$TOP/tools/feed-sim/world.c")"

# --- Determinism: same seed, same bytes; another seed or eval seed, other bytes.
feed-sim -q -n 200 -s 3 >a.ndjson
feed-sim -q -n 200 -s 3 >b.ndjson
feed-sim -q -n 200 -s 4 >c.ndjson
feed-sim -q -n 200 -s 9 >d.ndjson
feed-sim -q -n 200 -s 3 --eval-seed 9 >d2.ndjson
feed-sim -q -n 200 -s 3 --world-seed 2 >e.ndjson
same_file "same seed, same bytes" b.ndjson a.ndjson
notok "another seed, other bytes" cmp -s a.ndjson c.ndjson
notok "another seed, other sessions" cmp -s a.ndjson d.ndjson
same_file "--eval-seed is -s" d2.ndjson d.ndjson
jq -c 'select(.type == "impression") | .items[] | [.item_id, .features]' a.ndjson | sort -u >fa
jq -c 'select(.type == "impression") | .items[] | [.item_id, .features]' d.ndjson | sort -u >fd
eq "another seed, the same world" "$(sort fa fd | uniq | cut -d, -f1 | uniq -d | wc -l | tr -d ' ')" 0
jq -c 'select(.type == "impression") | .items[] | [.item_id, .features]' e.ndjson | sort -u >fe
eq "another world seed, another world: no item keeps its features" \
	"$(comm -12 fa fe | wc -l | tr -d ' ') $(cut -d, -f1 fa | sort -u >ia; cut -d, -f1 fe | sort -u >ie; comm -12 ia ie | wc -l | awk '{ print ($1 > 10) }')" "0 1"
# common random numbers: another policy meets the same sessions (users, start times) and the same coins
feed-sim -q -n 200 -s 3 -p random >r.ndjson
for f in a r; do jq -r 'select(.type == "impression" and .page == 0) | "\(.session_id) \(.user_id) \(.ts)"' $f.ndjson | sort >$f.starts; done
same_file "another policy, the same sessions" r.starts a.starts
feed-sim -q -n 200 -s 3 -p popular -P fatigue=0.45 >f.ndjson
for f in a f; do jq -r 'select(.type == "click" and (.request_id | endswith("-0"))) | "\(.request_id) \(.item_id)"' $f.ndjson | sort >$f.c0; done
eq "a small change of the model changes few clicks on first pages (the same coins)" \
	"$(comm -3 a.c0 f.c0 | wc -l | awk -v n="$(lines a.c0)" '{ print ($1 > 0 && $1 < n / 10) }')" 1
feed-sim -q -n 200 -s 3 -o a.ndjson.gz
ok "gzip output" sh -c 'gunzip -c a.ndjson.gz | cmp -s - a.ndjson'
feed-sim -q -n 3 --start 2025-01-02T03:04:05Z 2>/dev/null | head -1 >first
eq "--start sets simulated time" "$(jq .ts first)" 1735787045000

# --- The events: format, order, and agreement with the report.
feed-sim -n 500 -s 5 -p popular -e epsilon:0.3 -r rep.json >ev.ndjson 2>summary
ok "summary line" grep -Eq '^feed-sim: popular/epsilon:0.3: 500 sessions, [0-9.]+ pages/session, CTR [0-9.]+, pays/click [0-9.]+, return [0-9.]+ \+- [0-9.]+ \(95% CI\)$' summary
eq "report: sessions" "$(field rep.json sessions)" 500
eq "report: impressions are pages" "$(grep -c '"type":"impression"' ev.ndjson)" "$(field rep.json pages)"
eq "report: clicks" "$(grep -c '"type":"click"' ev.ndjson)" "$(field rep.json clicks)"
eq "report: pays" "$(grep -c '"type":"pay"' ev.ndjson)" "$(field rep.json pays)"
eq "report: events" "$(lines ev.ndjson)" "$(field rep.json events)"
eq "report: the CI holds the mean" "$(jq '.return_ci95[0] < .return_mean and .return_mean < .return_ci95[1]' rep.json)" true
eq "report: return = clicks + pays" "$(jq '(.return_mean * .sessions - .clicks - .pays) | fabs < 0.01' rep.json)" true
feed-sim -q -n 500 -s 5 -p popular -e epsilon:0.3 --no-events --w-click 0.5 --w-pay 3 -r w.json
eq "--w-click, --w-pay weigh the return" "$(jq '(.return_mean * .sessions - 0.5 * .clicks - 3 * .pays) | fabs < 0.01' w.json) $(jq -c '[.w_click, .w_pay]' w.json)" "true [0.5,3]"
eq "report: fields" "$(jq -r 'keys_unsorted | join(" ")' rep.json)" \
	"policy world items users user_set world_seed seed k sessions pages pages_per_session impressions clicks pays ctr pay_rate amount sweet_click_share w_click w_pay return_mean return_sd return_ci95 events start_ms end_ms curve_block curve curve_ci95 swaps params"
eq "events in time order" "$(jq -s '[.[].ts] | . == sort' ev.ndjson)" true
eq "impressions: fields, 10 items, positions, features of 22, context of 5" \
	"$(jq -c 'select(.type == "impression") | [(keys_unsorted | join(",")), (.items | length), ([.items[].pos] == [range(10)]), ([.items[].features | length] | unique), (.context | length), (.request_id | test("^r5-[0-9]+-[0-9]+$")), (.session_id | test("^s5-[0-9]+$"))]' ev.ndjson | sort -u)" \
	'["type,ts,request_id,user_id,session_id,page,context,policy,items",10,true,[22],5,true,true]'
# the last dim (8) features are the item's unit latent vector; --param content=0 leaves them out
eq "features end with a unit latent vector" \
	"$(jq -c 'select(.type == "impression") | .items[].features[14:] | (map(. * .) | add) - 1 | fabs < 1e-4' ev.ndjson | sort -u)" true
feed-sim -q -n 20 -s 5 -p popular --param content=0 >ev0.ndjson
eq "--param content=0: features of 14" "$(jq -c 'select(.type == "impression") | [.items[].features | length] | unique' ev0.ndjson | sort -u)" "[14]"

eq "epsilon propensities: greedy picks and explorations" \
	"$(jq -r 'select(.type == "impression") | .items[] | .propensity | if . > 0.7 then "top" elif . < 0.01 then "explore" else "other" end' ev.ndjson | sort -u | tr '\n' ' ')" "explore top "
# every click names an item of its impression, after it; every pay follows a click on its item
jq -r 'select(.type == "impression") | .ts as $t | .request_id as $r | .items[] | "\($r) \(.item_id) \($t)"' ev.ndjson | sort >shown
jq -r 'select(.type == "click") | "\(.request_id) \(.item_id) \(.ts)"' ev.ndjson | sort >clicked
jq -r 'select(.type == "pay") | "\(.request_id) \(.item_id) \(.ts)"' ev.ndjson | sort >paid
for f in shown clicked paid; do awk '{ print $1 "/" $2, $3 }' $f | sort >$f.k; done
eq "clicks join their impressions, later" "$(join shown.k clicked.k | awk '$3 > $2' | wc -l | tr -d ' ')" "$(lines clicked)"
eq "pays follow their clicks" "$(join clicked.k paid.k | awk '$3 > $2' | wc -l | tr -d ' ')" "$(lines paid)"
eq "clicks of a page come in page order" \
	"$(jq -r 'select(.type == "impression") | .request_id as $r | .items[] | "\($r)/\(.item_id) \(.pos)"' ev.ndjson | sort >pos.k
	jq -r 'select(.type == "click") | "\(.request_id)/\(.item_id) \(.ts)"' ev.ndjson | sort | join pos.k - |
	awk '{ split($1, a, "/"); print a[1], $3, $2 }' | sort -k1,1 -k2,2n | awk '$1 == r && $3 < p { bad++ } { r = $1; p = $3 } END { print bad + 0 }')" 0
eq "at most one click per shown item" "$(cut -d' ' -f1,2 clicked | uniq -d | wc -l | tr -d ' ')" 0
eq "pages of a session are 0, 1, 2, ... in time" \
	"$(jq -r 'select(.type == "impression") | "\(.session_id) \(.page)"' ev.ndjson | awk '{ if ($2 != n[$1] + 0) bad++; n[$1]++ } END { print bad + 0 }')" 0
if [ -x "$BIN/log-collect" ]; then
	log-collect -q --dead-letter dl.ndjson <ev.ndjson >events.ndjson
	eq "log-collect accepts every event" "$(lines events.ndjson) $(lines dl.ndjson)" "$(lines ev.ndjson) 0"
fi
feed-sim -q -n 2 -o /dev/full 2>/dev/null
eq "a write error: exit 1" "$?" 1

# --- Behaviour rules, measured on the events of a random policy.
feed-sim -q -n 1000 -s 2 -p random >rnd.ndjson
jq -r 'select(.type == "click") | "\(.request_id)/\(.item_id)"' rnd.ndjson | sort -u >rclicks
# one line per shown item: session page pos category clicked
jq -r 'select(.type == "impression") | . as $i | .items[] | "\($i.session_id) \($i.page) \(.pos) \(.features[2:12] | index(1)) \($i.request_id)/\(.item_id)"' rnd.ndjson |
	awk 'NR == FNR { c[$1] = 1; next } { print $1, $2, $3, $4, ($5 in c) ? 1 : 0 }' rclicks - >rshown
ctr0=$(awk '$3 == 0 { n++; c += $5 } END { print c / n }' rshown)
ctr9=$(awk '$3 == 9 { n++; c += $5 } END { print c / n }' rshown)
gt "position bias: CTR at position 0 ($ctr0) well above position 9 ($ctr9)" "$ctr0" "$ctr9" 2
# fatigue: items whose category was shown twice or more above them on the page are clicked less
fat=$(awk '{ k = $1 "/" $2; if (k != last) { delete seen; last = k } n[seen[$4] >= 2]++; c[seen[$4] >= 2] += $5; seen[$4]++ }
	END { printf "%g %g", c[0] / n[0], c[1] / n[1] }' rshown)
gt "fatigue: fresh categories ($fat) clicked more than repeated ones" "${fat% *}" "${fat#* }" 1.2
# leaving: a page with two clicks or more is turned more often than one without
turn=$(awk '{ k = $1 "/" $2; cl[k] += $5; pg[$1] = ($2 > pg[$1]) ? $2 : pg[$1] }
	END { for (k in cl) { split(k, a, "/"); q = (cl[k] >= 2) + (cl[k] > 0); n[q]++; if (a[2] < pg[a[1]]) t[q]++ }
	printf "%g %g", t[2] / n[2], t[0] / n[0] }' rshown)
gt "leaving: pages with 2+ clicks turned ($turn) more than pages without" "${turn% *}" "${turn#* }" 1.05
feed-sim -q -n 400 -p popular --no-events -r def.json
feed-sim -q -n 400 -p popular --no-events -P turn_click=0 -r tc0.json
feed-sim -q -n 400 -p popular --no-events -P turn_click=1 -r tc1.json
feed-sim -q -n 400 -p popular --no-events -P turn_page=0.3 -r bored.json
gt "leaving: sessions shorten without the page-quality term" "$(field def.json pages_per_session)" "$(field tc0.json pages_per_session)" 1.05
gt "leaving: sessions grow with its weight" "$(field tc1.json pages_per_session)" "$(field def.json pages_per_session)" 1.2
gt "leaving: boredom shortens sessions" "$(field def.json pages_per_session)" "$(field bored.json pages_per_session)" 1.1
# intent: after a click, items of the clicked category are clicked more — the more so, the more intent shifts
intent_ratio() {
	jq -r 'select(.type == "click") | "\(.request_id)/\(.item_id)"' "$1" | sort -u >ic
	jq -r 'select(.type == "impression") | . as $i | .items[] | "\($i.session_id) \($i.page) \(.features[2:12] | index(1)) \($i.request_id)/\(.item_id)"' "$1" |
		awk 'NR == FNR { c[$1] = 1; next }
		{ k = $1 "/" $2; if (k != last) { if (pending != "") lastcat[s] = pending; pending = ""; last = k; s = $1 }
		  cl = ($4 in c); if ($1 in lastcat) { m = ($3 == lastcat[$1]); n[m]++; h[m] += cl }
		  if (cl) pending = $3 }
		END { printf "%g", (h[1] / n[1]) / (h[0] / n[0]) }' ic -
}
feed-sim -q -n 1000 -s 2 -p random -P intent_shift=0 >rnd0.ndjson
r1=$(intent_ratio rnd.ndjson)
r0=$(intent_ratio rnd0.ndjson)
gt "intent shift: the clicked category's lift ($r1) exceeds that without shift ($r0)" "$r1" "$r0" 1.15

# --- Policies on the same users and draws: the ordering the learner is measured against.
for p in random popular greedy-oracle lt-oracle; do
	feed-sim -q -n 600 -p $p --no-events -r "$p.json"
	eq "$p: no events, the report still counts" "$(field "$p.json" sessions) $(field "$p.json" events)" "600 0"
done
gt "popular beats random" "$(field popular.json return_mean)" "$(field random.json return_mean)" 1.3
gt "greedy-oracle beats popular" "$(field greedy-oracle.json return_mean)" "$(field popular.json return_mean)" 1.3
gt "lt-oracle beats greedy-oracle clearly (the long-term gap)" "$(field lt-oracle.json return_ci95[0])" "$(field greedy-oracle.json return_ci95[1])" 1.2
gt "lt-oracle keeps users longer" "$(field lt-oracle.json pages_per_session)" "$(field greedy-oracle.json pages_per_session)" 2
gt "greedy-oracle clicks more per item than lt-oracle (myopic)" "$(field greedy-oracle.json ctr)" "$(field lt-oracle.json ctr)"
gt "greedy-oracle serves more sweets" "$(field greedy-oracle.json sweet_click_share)" "$(field lt-oracle.json sweet_click_share)" 1.5
feed-sim -q -n 600 -p greedy-oracle -P oracle_intent=0 --no-events -r blind.json
gt "the state matters: knowing the intent is worth reward" "$(field greedy-oracle.json return_mean)" "$(field blind.json return_mean)" 1.1
feed-sim -q -n 600 -p greedy-oracle -P oracle_intent=2 --no-events -r seen.json
gt "an oracle that knows only what the clicks show of the intent ranks below one that knows the mood" "$(field greedy-oracle.json return_mean)" "$(field seen.json return_mean)" 1.05
gt "... and above one blind to the intent" "$(field seen.json return_mean)" "$(field blind.json return_mean)" 1.05
feed-sim -q -n 1 -P oracle_intent=3 --no-events 2>err; st=$?
eq "oracle_intent 3: refused" "$st $(cat err)" "2 feed-sim: --param oracle_intent: must be 0, 1 or 2"
feed-sim -q -n 600 -p greedy-oracle -P oracle_taste=0 --no-events -r notaste.json
feed-sim -q -n 600 -p greedy-oracle -P oracle_taste=0 -P oracle_intent=0 --no-events -r items.json
gt "without the user's taste, the intent still lifts the oracle above item traits alone" "$(field notaste.json return_mean)" "$(field items.json return_mean)" 1.2
gt "... and above popular" "$(field notaste.json return_mean)" "$(field popular.json return_mean)" 1.2
eq "curve: one block per 1000 sessions" "$(jq '.curve | length' random.json)" 1
feed-sim -q -n 600 -p random --no-events --curve 200 -r curve.json
eq "curve: blocks of 200 sessions" "$(jq '.curve | length' curve.json)" 3
feed-sim -q -n 100 -p random -k 5 --candidates 50 | jq -r 'select(.type == "impression") | .items[0].propensity, .items[4].propensity' | sort -u >props
eq "random propensities: 1/(candidates - pos)" "$(tr '\n' ' ' <props)" "0.02 0.0217391 "
feed-sim -q -n 100 -p popular -e softmax:0.5 | jq -r 'select(.type == "impression") | .items[].propensity' | awk '$1 <= 0 || $1 > 1 { bad++ } END { print bad + 0 }' >bad
eq "softmax propensities in (0, 1]" "$(cat bad)" 0

# --- User sets.
feed-sim -q -n 300 --user-set heldout | jq -r 'select(.type == "impression") | .user_id' | sort -u >held
feed-sim -q -n 300 --user-set train | jq -r 'select(.type == "impression") | .user_id' | sort -u >train
eq "held-out and training users are disjoint" "$(comm -12 held train | wc -l | tr -d ' ')" 0
gt "training users outnumber held-out ones" "$(lines train)" "$(lines held)" 1.3

# --- External policy as a coprocess: requests in, responses out.
FIRSTK='jq -c --unbuffered "{request_id, items: [.candidates[:.k][] | {item_id, q: 0}]}"'
feed-sim -n 40 -s 6 -r ext.json --history-len 10000 -c "tee req.ndjson | $FIRSTK" >ext.ndjson 2>ext.err
eq "coprocess: exit 0" "$?" 0
eq "coprocess: one request per page" "$(lines req.ndjson)" "$(grep -c '"type":"impression"' ext.ndjson)"
eq "coprocess: request fields, 200 candidates with features, k" \
	"$(jq -c '[(keys_unsorted | join(",")), (.candidates | length), (.candidates[0] | keys_unsorted | join(",")), (.candidates[0].features | length), .k, (.context | length)]' req.ndjson | sort -u)" \
	'["request_id,user_id,hist,context,candidates,k",200,"item_id,features",22,10,5]'
eq "coprocess: the shown items are the policy's" \
	"$(head -1 req.ndjson | jq -c '[.candidates[:10][].item_id]')" \
	"$(grep -m1 '"type":"impression"' ext.ndjson | jq -c '[.items[].item_id]')"
eq "coprocess: policy name and propensity default" \
	"$(jq -r 'select(.type == "impression") | "\(.policy) \(.items[0].propensity)"' ext.ndjson | sort -u)" "external 1"
# hist: the items clicked on earlier pages of the session, in page then position order
jq -r 'select(.type == "click") | "\(.request_id)/\(.item_id)"' ext.ndjson | sort -u >eclicks
jq -r 'select(.type == "impression") | . as $i | .items[] | "\($i.session_id) \($i.page) \($i.request_id) \($i.request_id)/\(.item_id) \(.item_id)"' ext.ndjson |
	awk 'NR == FNR { c[$1] = 1; next } { if (!($3 in seen)) { seen[$3] = 1; print $3, h[$1] } if ($4 in c) h[$1] = h[$1] " " $5 }' eclicks - |
	sort >hist.want
jq -r '"\(.request_id) \(.hist | map(" " + .) | join(""))"' req.ndjson | sort >hist.got
same_file "coprocess: hist is the session's earlier clicks" hist.got hist.want
feed-sim -q -n 40 -s 6 --history-len 2 -c "tee req2.ndjson | $FIRSTK" >/dev/null
eq "coprocess: --history-len keeps the last clicks" "$(jq -c '.hist' req.ndjson | tail -1 | jq -c '.[-2:]') $(jq '.hist | length' req2.ndjson | sort -u | tail -1)" "$(jq -c '.hist' req2.ndjson | tail -1) 2"
if [ -x "$BIN/online-join" ] && [ -x "$BIN/experience-collect" ]; then
	feed-sim -q -n 100 -s 6 -c "tee req3.ndjson | $FIRSTK" | log-collect -q | online-join -q | experience-collect -q >tr.ndjson
	jq -r '"\(.request_id) \(.hist | join(","))"' req3.ndjson | sort >h.req
	jq -r '"\(.request_id) \(.state.hist | join(","))"' tr.ndjson | sort >h.tr
	same_file "the pipeline's states carry the hist the policy was asked with" h.tr h.req
fi
eq "coprocess: some requests carry a history" "$(jq -r 'select(.hist | length > 0) | .request_id' req.ndjson | wc -l | awk '{ print ($1 > 5) }')" 1
feed-sim -q -n 40 -s 6 -c "$FIRSTK" >ext2.ndjson
same_file "coprocess: deterministic" ext2.ndjson ext.ndjson
feed-sim -q -n 5 -c 'jq -c --unbuffered "{request_id, model_version: 7, items: [.candidates[:.k][] | {item_id, q: 1, propensity: 0.5}]}"' >v7.ndjson
eq "coprocess: a model version names the policy" \
	"$(jq -r 'select(.type == "impression") | "\(.policy) \(.items[3].propensity)"' v7.ndjson | sort -u)" "v7 0.5"
feed-sim -q -n 5 -c 'jq -c --unbuffered "{request_id, items: [{item_id: \"i999999\", q: 1}]}"' >/dev/null 2>bad.err
eq "coprocess: an item that is not a candidate: exit 1" "$?" 1
ok "coprocess: ... with the reason" grep -q 'not a candidate' bad.err
feed-sim -q -n 5 -c 'jq -c --unbuffered "{request_id, items: [.candidates[:3][] | {item_id, q: 0}]}"' >/dev/null 2>short.err
eq "coprocess: too few items: exit 1" "$?" 1
feed-sim -q -n 5 -c 'read -r line; exit 0' >/dev/null 2>gone.err
eq "coprocess: a policy that ends: exit 1" "$?" 1
ok "coprocess: ... with the reason" grep -q 'ended before answering' gone.err

# --- q-score as the policy, as a coprocess and over HTTP: the same pages.
if [ -x "$BIN/q-score" ] && [ -x "$TBIN/qscore-mkmodel" ]; then
	qscore-mkmodel -m models -C 5 -X 22 -n 2000 -c 1 >/dev/null 2>&1
	feed-sim -q -n 60 -c 'q-score -q -m models' -r qc.json >qc.ndjson
	eq "q-score coprocess: exit 0, the served version names the policy" "$? $(field qc.json policy) $(field qc.json model_version)" "0 v1 1"
	bg q-score -q -m models --listen 127.0.0.1:0 --port-file port
	for i in $(seq 50); do [ -s port ] && break; sleep 0.1; done
	feed-sim -q -n 60 -U "http://127.0.0.1:$(cat port)/v1/score" >qh.ndjson
	eq "q-score over HTTP: exit 0" "$?" 0
	same_file "q-score over HTTP: the same events as the coprocess" qh.ndjson qc.ndjson
	t0=$(date +%s%N)
	feed-sim -q -n 5 -U http://127.0.0.1:1/v1/score --policy-wait 0.5 >/dev/null 2>nobody.err
	eq "HTTP: nobody listens: exit 1" "$?" 1
	ok "... after the wait, with the reason" grep -q 'not ready for r1-0-0 (nobody listens, or 503) after 0.5 s' nobody.err
	gt "... which it waited" "$(( ($(date +%s%N) - t0) / 1000000 ))" 450
	feed-sim -q -n 5 -c 'q-score -q -m models' -P categories=4 >/dev/null 2>qbad.err
	eq "q-score refuses features of another size: exit 1" "$?" 1
	ok "... with q-score's reason" grep -q 'error: ' qbad.err
fi

# --- MovieLens (../shared/data: without it, the examples below would read dangling links).
ok "the MovieLens ratings are at $ML" test -r "$ML/ratings.csv"
if [ -r "$ML/ratings.csv" ]; then
	feed-sim -q -n 100 -p greedy-oracle --ratings "$ML/ratings.csv" --movies "$ML/movies.csv" --items 500 -r ml.json >ml.ndjson
	eq "movielens: exit 0, world" "$? $(field ml.json world) $(field ml.json items) $(jq '.users > 600' ml.json)" "0 movielens 500 true"
	jq -r 'select(.type == "impression") | .items[].item_id | ltrimstr("i")' ml.ndjson | sort -u >mlids
	cut -d, -f1 "$ML/movies.csv" | sort -u >movieids
	eq "movielens: items are movies" "$(comm -23 mlids movieids | wc -l | tr -d ' ')" 0
	eq "movielens: features carry the genres" "$(jq -r 'select(.type == "impression") | .items[0].features | length > 20' ml.ndjson | sort -u)" true
	jq -r 'select(.type == "impression") | .user_id | ltrimstr("u")' ml.ndjson | sort -u >mlusers
	cut -d, -f1 "$ML/ratings.csv" | sort -u >raters
	eq "movielens: users are raters" "$(comm -23 mlusers raters | wc -l | tr -d ' ')" 0
	feed-sim -q -n 100 -p random --ratings "$ML/ratings.csv" --movies "$ML/movies.csv" --items 500 --no-events -r mlr.json
	gt "movielens: greedy-oracle beats random" "$(field ml.json return_mean)" "$(field mlr.json return_mean)" 1.5
	feed-sim -q -n 1 --ratings /nonexistent --movies "$ML/movies.csv" 2>/dev/null
	eq "movielens: an unreadable file: exit 1" "$?" 1
fi
# Ids above 9,999,999 leave their lines out (feed-sim(1)): movie 10000000 and rater 10000000 are not in the world.
{ echo "movieId,title,genres"; echo "1,A (1990),Drama"; echo "2,B (1995),Comedy"; echo "9999999,C (2000),Drama|Comedy"
  echo "10000000,D (2001),Comedy"; } >big-movies.csv
{ echo "userId,movieId,rating,timestamp"
  for u in $(seq 25); do for m in 1 2 9999999 10000000; do echo "$u,$m,$(( (u + m) % 5 + 1 )).0,1"; done; done
  echo "10000000,1,4.0,1"; echo "10000000,2,4.0,1"; } >big-ratings.csv
feed-sim -q -n 300 -p popular --ratings big-ratings.csv --movies big-movies.csv -r big.json >big.ndjson 2>big.err
eq "movielens: ids above 9999999 left out" "$? $(jq -c '[.items, .users]' big.json)" "0 [3,25]"
eq "movielens: lines left out are counted and reported, with the first one's reason" "$(cat big.err)" \
"feed-sim: big-movies.csv: 1 line(s) left out; the first, line 5: movieId outside 0..9999999
feed-sim: big-ratings.csv: 27 line(s) left out; the first, line 5: movieId not in the movies file"
eq "movielens: the items are the movies with ids in range" \
    "$(jq -r 'select(.type == "impression") | .items[].item_id' big.ndjson | sort -u | tr '\n' ' ')" "i1 i2 i9999999 "

# --- Kafka output, keyed by user (when a test broker can be started).
if [ -x "$TBIN/kafka-mock" ] && command -v kcat >/dev/null; then
	bg kafka-mock -q -f kports -p 2 -t raw >/dev/null
	for i in $(seq 50); do [ -s kports ] && break; sleep 0.1; done
	feed-sim -q -n 30 -b "$(cat kports)" -o kafka:raw
	eq "kafka: exit 0" "$?" 0
	feed-sim -q -n 30 >k.ndjson
	kcat -q -C -b "$(cat kports)" -t raw -e -o beginning -f '%k %s\n' 2>/dev/null >kafka.out
	eq "kafka: every event delivered" "$(lines kafka.out)" "$(lines k.ndjson)"
	eq "kafka: keyed by user_id" "$(awk '{ split($2, a, "\"user_id\":\""); split(a[2], b, "\""); if (b[1] != $1) bad++ } END { print bad + 0 }' kafka.out)" 0
fi

# --- Pacing real time.
t0=$(date +%s%N)
feed-sim -q -n 10 --rate 100 >paced.ndjson
t1=$(date +%s%N)
gt "--rate paces the events" "$(( (t1 - t0) / 1000000 ))" "$(( $(lines paced.ndjson) * 1000 / 100 - 100 ))"

# --- The EXAMPLES of the man page, run as written (with the MovieLens files at hand).
mkdir ex && cd ex || exit 1
ln -s "$ML/ratings.csv" ratings.csv
ln -s "$ML/movies.csv" movies.csv
sed -n '/^\.Sh EXAMPLES/,/^\.Sh/p' "$TOP/man/feed-sim.1" | awk '
	/^\.Bd/ { inb = 1; next } /^\.Ed/ { inb = 0; if (cmd != "") print cmd "\t" out; cmd = ""; out = ""; next }
	inb && /^\$ / { cmd = substr($0, 3); next }
	inb { out = out (out == "" ? "" : "\\n") $0 }' >examples
eq "examples: found" "$(wc -l <examples | tr -d ' ')" 5
while IFS='	' read -r cmd want; do
	# Every command of a pipeline must succeed, not only its last: a feed-sim that fails in front of
	# log-collect leaves an empty events.ndjson behind a status of 0.
	got=$(bash -o pipefail -c "$cmd" 2>&1)
	st=$?
	eq "example exits 0: $cmd" "$st" 0
	[ "$st" = 0 ] || printf '%s\n' "$got" | tail -3 | sed 's/^/    | /' >&2
	[ -n "$want" ] && eq "example: $cmd" "$(printf '%s' "$got" | awk '{ printf "%s%s", (NR > 1 ? "\\n" : ""), $0 }')" "$want"
done <examples
eq "example 4: sessions logged" "$(jq -r 'select(.type == "impression") | .session_id' raw.ndjson | sort -u | wc -l | tr -d ' ')" 50
eq "example 2: four reports" "$(cat random.json popular.json greedy-oracle.json lt-oracle.json | jq -r .user_set | tr '\n' ' ')" "heldout heldout heldout heldout "
eq "example 5: every event collected" "$(lines events.ndjson)" \
    "$(feed-sim --ratings ratings.csv --movies movies.csv -n 200 -p popular -e softmax:0.5 -q | wc -l | tr -d ' ')"
ok "example 5: events collected" test -s events.ndjson

# --requests: one request a page, with what the deterministic policies would have shown
feed-sim -q -n 30 -s 4 -p popular --requests req.ndjson >ev.ndjson
eq "--requests: one line a page" "$(wc -l <req.ndjson | tr -d ' ')" "$(jq -r 'select(.type == "impression") | .request_id' ev.ndjson | wc -l | tr -d ' ')"
eq "--requests: the pages' request ids" "$(jq -r .request_id req.ndjson | sort | md5sum)" "$(jq -r 'select(.type == "impression") | .request_id' ev.ndjson | sort | md5sum)"
ok "--requests: history, context and candidates with features" jq -e 'has("hist") and has("context") and (.candidates[0].features | length > 0)' req.ndjson
jq -c 'select(.type == "impression") | {request_id, items: [.items[].item_id]}' ev.ndjson | sort >shown
jq -c '{request_id, items: .targets.popular.list}' req.ndjson | sort >plist
jq -c '{request_id, items: .targets.popular.cond}' req.ndjson | sort >pcond
ok "--requests: under popular, popular's own page is the page shown" cmp -s shown plist
ok "--requests: and its choice given the items above is the item shown" cmp -s shown pcond
jq -c '{request_id, items: .targets["greedy-oracle"].cond}' req.ndjson | sort >ocond
ok "--requests: the oracle would not have shown popular's pages" test "$(comm -12 shown ocond | wc -l)" -lt 5
feed-sim -q -n 30 -s 4 -p greedy-oracle --requests req2.ndjson >ev2.ndjson
jq -c 'select(.type == "impression") | {request_id, items: [.items[].item_id]}' ev2.ndjson | sort >shown2
jq -c '{request_id, items: .targets["greedy-oracle"].cond}' req2.ndjson | sort >ocond2
ok "--requests: under greedy-oracle, its choice given the items above is the item shown" cmp -s shown2 ocond2
feed-sim -q -n 2 --requests /nonexistent/dir/req.ndjson >/dev/null 2>err
eq "--requests: an unwritable file: exit 1" "$?" 1

t_done
