#!/bin/sh
# t-gate.sh: the publish gate — q-eval --gate refuses the versions of a learner whose rewards are
# negated and promotes a gentle learner's; the promotion record is written whole and survives
# restarts; q-score serves the promoted version, not the newest, and --pin still wins.
. "$(dirname "$0")/lib.sh"
cd "$T_TMP" || exit 1
EXPLORE=softmax:0.2sd

# ---- the loop's pieces, small: a start-up log, an offline version, a loop, a later window ----
feed-sim -q -n 400 -s 1 -p popular -e softmax:1 | log-collect -q | online-join -q | experience-collect -q >start.ndjson
q-train --offline -q -i start.ndjson -m base --epochs 2 --seed 1 --batch 32 --feature-embeddings --lambda 1 >/dev/null
eq "the offline version" "$(ls base)" 0000000001

# The first decision of a store without a record promotes its newest offline version.
cp -a base bad
q-eval --gate bad -i /dev/null --stats st0.json >g0.out 2>g0.err
eq "a store without a record: exit 0" "$?" 0
eq "  its offline version promoted, with nothing to compare it with" "$(jq -c '[.gate, .version, .against]' g0.out)" \
    '["initial",1,null]'
eq "  the record" "$(jq -c '[.version, .examined, .last.gate]' bad/PROMOTED)" '[1,1,"initial"]'
ok "  no temporary file left" sh -c '[ -z "$(ls -A bad | grep -v "^0000000001$" | grep -v "^PROMOTED$")" ]'

# The closed loop: q-score serves the store's promoted version while the poisoned learner (its
# rewards negated) publishes newer ones into the same store; the logs' propensities show what
# was served. Nothing here waits on timing: whenever a version appears, the record says 1.
feed-sim -q -n 600 -s 2 -c "q-score -q -m bad --explore $EXPLORE --seed 2" --requests loop-req.ndjson |
	log-collect -q | online-join -q | experience-collect -q --session-gap 2m | tee loop.ndjson |
	q-train --online -q -m bad --w-click -1 --w-pay -1 --head-lr 0.02 --click-lr 0.01 --lambda 1 \
	--publish-every 500 >/dev/null
eq "the poisoned learner published versions 2 to 4" "$(ls bad | grep -c '^00')" 4
q-eval -q -m bad --model-version 1 --explore $EXPLORE -r loop-req.ndjson -i loop.ndjson -n 0 -e IPS >served.out
ok "q-score served the promoted version 1 throughout, not the newest (every weight of version 1 is 1)" \
    jq -e '.max_weight > 0.99999 and .max_weight < 1.00003' served.out

# The window: pages logged after the loop, under the promoted version, which no version learned from.
feed-sim -q -n 400 -s 3 -c "q-score -q -m bad --explore $EXPLORE --seed 3" --requests win-req.ndjson |
	log-collect -q | online-join -q | experience-collect -q --session-gap 2m >win.ndjson

# ---- the poisoned versions refused ----
cp bad/PROMOTED promoted.before
# --stats writes a line every --stats-interval on a slow run, and its last line at the end.
q-eval --gate bad --explore $EXPLORE -r win-req.ndjson -i win.ndjson --stats st1.json >g1.out 2>g1.err
eq "gate: exit 0" "$?" 0
eq "gate: every poisoned version refused, each against version 1" \
    "$(jq -c '[.version, .gate, .against, .estimator]' g1.out | tr '\n' ' ')" \
    '[2,"refused",1,"IPS"] [3,"refused",1,"IPS"] [4,"refused",1,"IPS"] '
ok "  the interval's lower end below -margin (5% of the promoted version's estimate)" \
    jq -se 'all(.[]; .ci_low < -.margin and (.margin - 0.05 * .estimate_against | fabs) < 1e-12 and .ci_low <= .difference and .difference <= .ci_high)' g1.out
ok "  the window's figures" jq -se 'all(.[]; .window.sessions == 400 and .window.pages > 400 and .units > 0 and .bootstrap == 200)' g1.out
eq "  the record: version 1 still promoted, 4 examined, the last refusal" \
    "$(jq -c '[.version, .examined, .promotion.gate, .last.gate, .last.version]' bad/PROMOTED)" '[1,4,"initial","refused",4]'
eq "  refusals counted" "$(tail -1 st1.json | jq -c '[.gate_refused, .gate_promoted // 0, .gate_promoted_version, .gate_examined_version]')" '[3,0,1,4]'
ok "  and logged with their figures" grep -q "gate: version 4 refused against 1: IPS -[0-9.]* \[-[0-9.]*, .*\], margin" g1.err
# A second run has nothing new to decide: the record stays as it is.
cp bad/PROMOTED promoted.after
q-eval -q --gate bad --explore $EXPLORE -r win-req.ndjson -i win.ndjson >g2.out
eq "gate again: no decision" "$(lines g2.out)" 0
ok "  the record unchanged" cmp -s bad/PROMOTED promoted.after

# ---- a gentle learner's version promoted; then q-score follows the record ----
cp -a base good
q-eval -q --gate good -i /dev/null >/dev/null
q-train --online -q -m good --head-lr 1e-5 --click-lr 1e-5 --lambda 1 --publish-every 1500 -i loop.ndjson >/dev/null
eq "the gentle learner published" "$(ls good | grep -c '^00')" 2

start_server() {	# start_server STORE [q-score options]
	rm -f port
	_m=$1; shift
	bg q-score -m "$_m" --listen 127.0.0.1:0 --port-file port --threads 2 --poll-interval 200ms "$@" 2>>server.err
	SPID=$!
	wait_until 20 test -s port
	URL=http://127.0.0.1:$(cat port)
}
stop_server() { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }
code() { qscore-http -o body.out "$@"; }
serving() { code "$URL/v1/models" >/dev/null && jq -c "[.serving.version, .promoted, .gate.gate, .gate.version]" body.out; }

start_server good
eq "q-score: the promoted version 1, not the newest 2" "$(serving)" '[1,1,"initial",1]'
q-eval --gate good --explore $EXPLORE -r win-req.ndjson -i win.ndjson --stats st3.json >g3.out 2>g3.err
eq "gate: the gentle version promoted" "$(jq -c '[.version, .gate, .against]' g3.out)" '[2,"promoted",1]'
ok "  the interval's lower end above -margin" jq -e '.ci_low > -.margin' g3.out
eq "  counted" "$(tail -1 st3.json | jq -c '[.gate_promoted, .gate_promoted_version]')" '[1,2]'
eq "  the record" "$(jq -c '[.version, .examined, .promotion.version, .last.gate]' good/PROMOTED)" '[2,2,2,"promoted"]'
ok "q-score swaps the promoted version in" wait_until 20 sh -c "[ \"\$(qscore-http -o body.out $URL/v1/models >/dev/null; jq -c .serving.version body.out)\" = 2 ]"
eq "  /v1/models: the last decision" "$(serving)" '[2,2,"promoted",2]'
stop_server
start_server bad
eq "q-score on the poisoned store: version 1, the last refusal shown" "$(serving)" '[1,1,"refused",4]'
stop_server
start_server bad
eq "  again after a restart" "$(serving)" '[1,1,"refused",4]'
stop_server
start_server bad --pin 3
eq "  --pin still wins" "$(serving)" '[3,1,"refused",4]'
stop_server
cp -a bad broken
start_server broken
eq "q-score on a store whose record breaks: version 1" "$(serving)" '[1,1,"refused",4]'
printf '{"version":' >broken/PROMOTED.new && mv broken/PROMOTED.new broken/PROMOTED
ok "  the broken record told" wait_until 20 grep -q "broken/PROMOTED: not JSON.*; still serving version 1" server.err
sleep 1	# five polls
eq "  once" "$(grep -c 'broken/PROMOTED: not JSON' server.err)" 1
eq "  version 1 still served" "$(code "$URL/v1/models" >/dev/null; jq -c .serving.version body.out)" 1
stop_server

# ---- versions never to serve: a held-out loss far above its parent's, a version that cannot be loaded ----
cp -a good held
for v in 3 4; do cp -a held/0000000002 held/000000000$v; chmod -R u+w held/000000000$v; done
jq -c '.version = 3 | .parent = 2 | .holdout_loss = 0.9 | .parent_holdout_loss = 0.3' held/0000000002/manifest.json >held/0000000003/manifest.json
head -c 100 good/0000000002/qnet.bin >held/0000000004/qnet.bin
q-eval --gate held --explore $EXPLORE --max-loss-ratio 1.5 -r win-req.ndjson -i win.ndjson >g4.out 2>g4.err
eq "gate: both refused" "$(jq -c '[.version, .gate, .against]' g4.out | tr '\n' ' ')" '[3,"refused",2] [4,"refused",2] '
eq "  the loss, with its figures" "$(jq -r 'select(.version == 3) | .reason' g4.out)" \
    "its held-out loss 0.9 is 3 times its parent's 0.3 (--max-loss-ratio 1.5)"
ok "  the unreadable version: why" sh -c "jq -r 'select(.version == 4) | .reason' g4.out | grep -q '^it cannot be loaded: .*qnet.bin'"
eq "  version 2 stays promoted" "$(jq -c '[.version, .examined]' held/PROMOTED)" '[2,4]'

# ---- windows that say nothing: no decision, no refusal ----
cp -a good empty
rm empty/PROMOTED
q-eval -q --gate empty -i /dev/null >g5.out
eq "an empty window: the first promotion alone" "$(jq -c '[.gate, .version]' g5.out)" '["initial",1]'
eq "  version 2 left undecided" "$(jq -c '[.version, .examined]' empty/PROMOTED)" '[1,1]'
cp empty/PROMOTED promoted.empty
q-eval --gate empty --explore $EXPLORE -i win.ndjson >g6.out 2>err
eq "a window without its requests: exit 1" "$?" 1
ok "  saying the promoted version weighs no page" grep -q "the promoted version 1 weighs no logged page: the policy needs the pages' candidates" err
ok "  the record unchanged" cmp -s empty/PROMOTED promoted.empty

# ---- usage and failures ----
for a in "-p random" "-e IPS,SNIPS" "-n 0" "--margin -1" "--margin x%" "--model-version 2" "--max-loss-ratio 0.5"; do
	q-eval --gate good $a -i /dev/null >/dev/null 2>err
	eq "--gate $a: a usage error" "$?" 2
done
printf '{"version":' >good/PROMOTED
q-eval --gate good -i /dev/null >/dev/null 2>err
eq "a malformed record: exit 1" "$?" 1
ok "  naming it" grep -q "good/PROMOTED: not JSON" err
start_server good
eq "q-score started on a store whose record is malformed serves no version, not the newest" \
    "$(code "$URL/v1/models" >/dev/null; jq -c '[.serving, .promoted]' body.out)" '[null,null]'
ok "  saying why" grep -q "good/PROMOTED: not JSON.*; serving no version until it is mended" server.err
stop_server
q-eval --gate nosuch -i /dev/null >/dev/null 2>err
eq "a store without versions: exit 1" "$?" 1
t_done
