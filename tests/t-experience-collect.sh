#!/bin/sh
# t-experience-collect.sh: golden and property tests of experience-collect — pages, chains, history, gaps, dead letters, round trips.
. "$(dirname "$0")/lib.sh"
D="$TOP/tests/data/experience-collect"
EC=experience-collect

# Golden cases: description, arguments, input, expected transitions.
run_case "three pages, clicks on pages 0 and 2" 0 "$D/three-pages.ndjson" "$D/three-pages.out" $EC
run_case "out-of-order and split pages give the same transitions" 0 "$D/out-of-order.ndjson" "$D/three-pages.out" \
    $EC --max-delay 5m
run_case "session gap splits an episode, a page gap cuts the chain" 0 "$D/gap.ndjson" "$D/gap.out" $EC
run_case "two interleaved users" 0 "$D/interleaved.ndjson" "$D/interleaved.out" $EC
run_case "history truncated at --history-len" 0 "$D/hist.ndjson" "$D/hist.out" $EC --history-len 3
run_case "reward weights" 0 "$D/three-pages.ndjson" "$D/weights.out" $EC --w-click 0.5 --w-pay 4
run_case "--max-open 1 closes sessions early" 0 "$D/evict.ndjson" "$D/evict.out" $EC --max-open 1
eq "early closes counted" "$($EC --max-open 1 -i "$D/evict.ndjson" --stats - 2>&1 >/dev/null | tail -1 | jq -c '[.evicted_sessions, .end_evicted, .open_sessions_peak]')" "[2,2,1]"
run_case "--history-len 0 keeps no history" 0 "$D/hist.ndjson" "$D/hist0.out" $EC --history-len 0

# Out of order beyond --max-delay: page 0 is late, dead-lettered, and counted.
$EC -i "$D/out-of-order.ndjson" --dead-letter "$T_TMP/late.dl" --stats "$T_TMP/late.stats" >"$T_TMP/late.out" 2>/dev/null
eq "late samples dead-lettered" "$(jq -r .reason "$T_TMP/late.dl" | cut -c1-16 | sort | uniq -c | tr -s ' ')" " 3 late: request r1"
eq "late samples counted" "$(tail -1 "$T_TMP/late.stats" | jq -c '[.late, .rejected]')" "[3,3]"
eq "late page left out of the chain" "$(jq -r .request_id "$T_TMP/late.out" | tr '\n' ' ')" "r2 r3 "
eq "a chain that misses its page 0 is named by its first request" "$(jq -r .mdp_id "$T_TMP/late.out" | sort -u)" "u1/s1/r2"

# EOF flush: the watermark decides the ends it can see; the rest end at EOF. The last page comes 40
# minutes after the others: --max-ahead 1h lets it move the watermark.
$EC --max-delay 0 --max-ahead 1h <"$D/eof.ndjson" >"$T_TMP/eof.out"
jq -c 'select(.done) | [.mdp_id, .end]' "$T_TMP/eof.out" >"$T_TMP/eof.ends"
same_file "EOF flush ends" "$T_TMP/eof.ends" "$D/eof.ends"
eq "EOF flush emits every page" "$(lines "$T_TMP/eof.out")" 6
# Under the default --max-ahead of 10m one page 40 minutes ahead is held out of the watermark (a run
# of 32 would move it): every session ends at EOF, and the page is counted.
$EC --max-delay 0 -i "$D/eof.ndjson" --stats "$T_TMP/eof.stats" >"$T_TMP/eof-def.out"
eq "EOF flush: one page past --max-ahead moves nothing" \
    "$(jq -r 'select(.done) | .end' "$T_TMP/eof-def.out" | sort | uniq -c | tr -s ' ') $(tail -1 "$T_TMP/eof.stats" | jq .ahead_samples)" " 3 eof 1"

# Dead letters: each inconsistency with its reason; the good samples still chain.
$EC --dead-letter "$T_TMP/bad.dl" <"$D/bad.ndjson" >"$T_TMP/bad.out"
eq "bad samples exit 0" "$?" 0
same_file "bad samples: transitions" "$T_TMP/bad.out" "$D/bad.out"
jq -r '[.source, .reason] | join(" ")' "$T_TMP/bad.dl" >"$T_TMP/bad.reasons"
same_file "bad samples: reasons" "$T_TMP/bad.reasons" "$D/bad.reasons"
$EC --strict -i "$D/bad.ndjson" --dead-letter "$T_TMP/bad2.dl" >/dev/null
eq "--strict: a rejected sample makes exit 1" "$?" 1

# Usage errors.
$EC --history-len -1 </dev/null >/dev/null 2>&1
eq "bad --history-len is a usage error" "$?" 2
$EC --session-gap soon </dev/null >/dev/null 2>&1
eq "bad --session-gap is a usage error" "$?" 2
$EC extra-arg </dev/null >/dev/null 2>&1
eq "an operand is a usage error" "$?" 2
$EC -i "$T_TMP/no-such-file" >/dev/null 2>&1
eq "an unreadable input is exit 1" "$?" 1

# Round trip: a simulated trajectory of known return; the transitions' rewards sum to it.
# Users interleave in time; each has sessions of 1-8 pages of 4 items, split by 40-minute pauses.
awk -v seed=7 -v ret="$T_TMP/sim.return" -v npages="$T_TMP/sim.pages" -v ends="$T_TMP/sim.ends" 'BEGIN {
	x = seed; t0 = 1732345678000
	for (u = 0; u < 30; u++) {
		t = t0 + u * 7000
		for (sn = 0; sn < 1 + u % 3; sn++) {
			x = (x * 16807) % 2147483647; np = 1 + x % 8
			for (pg = 0; pg < np; pg++) {
				rid = "q" u "-" sn "-" pg; pages++
				for (pos = 0; pos < 4; pos++) {
					x = (x * 16807) % 2147483647; c = (x % 100) < 22
					x = (x * 16807) % 2147483647; p = c && (x % 100) < 30
					R += 0.5 * c + 4 * p
					printf "%.0f\t{\"sample_id\":\"%s-%d\",\"request_id\":\"%s\",\"user_id\":\"u%d\",\"session_id\":\"s%d\",\"page\":%d,\"pos\":%d,\"item_id\":\"i%d\",\"ts\":%.0f,\"context\":[%d,0.5],\"features\":[%d.25,1],\"propensity\":0.25,\"policy\":\"sim\",\"click\":%d,\"pay\":%d}\n", t, rid, pos, rid, u, sn, pg, pos, (x % 50) * 4 + pos, t, pg, pos, c, p
				}
				x = (x * 16807) % 2147483647; t += 20000 + x % 70000
			}
			last[u] = t - 20000 - x % 70000; nsess++
			t += 2400000
		}
	}
	for (u in last) if (last[u] > maxts) maxts = last[u]
	# A last session ends by the gap when the final watermark (max ts - 1m) is 30m past its last page.
	for (u in last) if (last[u] + 1800000 <= maxts - 60000) g++; else e++
	print R > ret; print pages > npages
	printf " %d eof\n %d session_gap\n", e, nsess - e > ends
}' | sort -s -n -k1,1 | cut -f2- >"$T_TMP/sim.ndjson"
$EC --w-click 0.5 --w-pay 4 -i "$T_TMP/sim.ndjson" >"$T_TMP/sim.out"
eq "round trip: one transition per page" "$(lines "$T_TMP/sim.out")" "$(cat "$T_TMP/sim.pages")"
eq "round trip: rewards sum to the return" "$(jq -s 'map(.reward) | add' "$T_TMP/sim.out")" \
    "$(jq -n "$(cat "$T_TMP/sim.return")")"
# Chains: seq counts up from 0 in each episode, one done at its end, and each next_state is the next state.
chk=$(jq -s -c 'group_by(.mdp_id) | map(sort_by(.seq)) | map(
	(map(.seq) == [range(length)]) and
	(map(.done) == ([range(length - 1)] | map(false)) + [true]) and
	([range(length - 1) as $i | .[$i].next_state == .[$i + 1].state and
	    (.[$i].next_action | map(.item_id)) == (.[$i + 1].action | map(.item_id))] | all))
	| all' "$T_TMP/sim.out")
eq "round trip: chains are consistent" "$chk" true
eq "round trip: sessions end by the gap or at EOF" "$(jq -r 'select(.done) | .end' "$T_TMP/sim.out" | sort | uniq -c | tr -s ' ')" \
    "$(cat "$T_TMP/sim.ends")"
# Shuffled within the watermark delay: the same transitions.
awk 'BEGIN { x = 3 } { x = (x * 16807) % 2147483647; match($0, /"ts":[0-9]+/);
	printf "%.0f\t%s\n", substr($0, RSTART + 5, RLENGTH - 5) + x % 30000, $0 }' "$T_TMP/sim.ndjson" |
    sort -s -n -k1,1 | cut -f2- >"$T_TMP/shuf.ndjson"
ok "shuffle is a real shuffle" test "$(cmp "$T_TMP/shuf.ndjson" "$T_TMP/sim.ndjson" 2>&1 | wc -l)" -eq 1
$EC --w-click 0.5 --w-pay 4 --max-delay 30s -i "$T_TMP/shuf.ndjson" | sort >"$T_TMP/shuf.out"
sort "$T_TMP/sim.out" >"$T_TMP/sim.sorted"
same_file "shuffled within --max-delay: same transitions" "$T_TMP/shuf.out" "$T_TMP/sim.sorted"

# The Transition record round-trips: transitions -> the samples they hold -> the same transitions.
to_samples='. as $t | .action[] | {sample_id: ($t.request_id + "-" + (.pos | tostring)),
	request_id: $t.request_id, user_id: $t.user_id, session_id: $t.session_id, page: $t.page,
	pos, item_id, ts: $t.ts, context: $t.state.context, features, propensity, policy: $t.policy, click, pay}'
for f in three-pages gap interleaved; do
	jq -c "$to_samples" "$D/$f.out" | $EC >"$T_TMP/rt.out"
	same_file "Transition round trip: $f" "$T_TMP/rt.out" "$D/$f.out"
done
jq -c "$to_samples" "$T_TMP/sim.out" | jq -s -c 'sort_by(.ts)[]' | $EC --w-click 0.5 --w-pay 4 >"$T_TMP/rt.out"
same_file "Transition round trip: simulated trajectory" "$T_TMP/rt.out" "$T_TMP/sim.out"
# Every field has the type pageturn-events(5) gives it.
types=$(jq -c '[(.mdp_id|type), (.seq|type), (.user_id|type), (.ts|type), (.state.hist|type),
	(.state.context|type), (.action|type), (.reward|type), (.next_state|type), (.next_action|type), (.done|type)]' \
    "$T_TMP/sim.out" "$D/gap.out" | sort -u)
eq "Transition field types" "$types" '["string","number","string","number","array","array","array","number","null","array","boolean"]
["string","number","string","number","array","array","array","number","object","array","boolean"]'

# Samples without a propensity (pageturn-events(5): absent when unknown, or null) chain as the others do;
# their items carry none, and they are counted.
jq -c 'if .pos == 1 then del(.propensity) elif .pos == 2 then .propensity = null else . end' \
    "$D/three-pages.ndjson" >"$T_TMP/noprop.ndjson"
$EC -i "$T_TMP/noprop.ndjson" --dead-letter "$T_TMP/noprop.dl" --stats "$T_TMP/noprop.stats" \
    >"$T_TMP/noprop.out" 2>/dev/null
eq "no propensity: exit 0, nothing rejected" "$? $(lines "$T_TMP/noprop.dl")" "0 0"
eq "no propensity: the same transitions, the items without one carrying none" "$(jq -c . "$T_TMP/noprop.out")" \
    "$(jq -c 'del(.action[] | select(.pos != 0) | .propensity)' "$D/three-pages.out")"
eq "no propensity: such samples counted" "$(tail -1 "$T_TMP/noprop.stats" | jq -c '[.no_propensity, .rejected]')" "[6,0]"

# botgen N: one bot session of N pages of one item each, all at one ts, so that every page stays open.
botgen() {
	awk -v n="$1" 'BEGIN { for (p = 0; p < n; p++) printf "{\"request_id\":\"b%d\",\"user_id\":\"bot\",\"session_id\":\"s\",\"page\":%d,\"pos\":0,\"item_id\":\"i\",\"ts\":1732345678000,\"context\":[],\"features\":[],\"click\":0,\"pay\":0}\n", p, p }'
}

# A bot session of 300,000 open pages costs O(log n) a page. Counted: ordering its pages takes under
# 4 log2(n) comparisons a page (page_order_steps), where walking a sorted list took n/2 (1.5e5 here).
# Under a CPU-time limit (not wall time, which a loaded machine eats) of 100 s: about 2 s now; a
# quadratic walk took 7.7 CPU-s for 40,000 pages, so over 400 CPU-s for these.
botgen 300000 | (ulimit -t 100; exec $EC --max-pages 1000000 --stats "$T_TMP/bot.stats" 2>/dev/null) |
    wc -l >"$T_TMP/bot.n"
eq "bot session: every page written within the CPU limit" "$(tr -d ' ' <"$T_TMP/bot.n")" 300000
eq "bot session: all its pages were open at once" "$(tail -1 "$T_TMP/bot.stats" | jq .open_pages_peak)" 300000
eq "bot session: ordering takes O(log n) comparisons a page" \
    "$(tail -1 "$T_TMP/bot.stats" | jq '.page_order_steps != null and .page_order_steps / .pages < 4 * (.pages | log2)')" true

# --max-pages: past it a session's first open page is written early, chained to the next, and counted.
botgen 1000 | $EC --max-pages 100 --stats "$T_TMP/bound.stats" >"$T_TMP/bound.out" 2>/dev/null
eq "--max-pages: pages written early counted, the open ones bounded" \
    "$(tail -1 "$T_TMP/bound.stats" | jq -c '[.evicted_pages, .open_pages_peak, .rejected]')" "[900,100,0]"
eq "--max-pages: one chain of every page, in order, done at its end only" \
    "$(jq -s -c '[length, ([.[].seq] == [range(0; 1000)]), ([.[] | select(.done)] | length), .[-1].done,
	([.[] | select(.done | not) | .next_state.context == []] | all)]' "$T_TMP/bound.out")" "[1000,true,1,true,true]"
$EC --max-pages 0 </dev/null >/dev/null 2>&1
eq "bad --max-pages is a usage error" "$?" 2

# Line lengths: pages of 300 items with 200 features each are read under the default --max-line and
# chained whole: the transition (about 1.1 MB) holds both pages' items, longer than a sample by far.
awk 'BEGIN { srand(3); for (pg = 0; pg < 2; pg++) for (i = 0; i < 300; i++) { f = "";
	for (k = 0; k < 200; k++) f = f (k ? "," : "") sprintf("%.7g", rand() * 10)
	printf "{\"request_id\":\"r%d\",\"user_id\":\"u\",\"session_id\":\"s\",\"page\":%d,\"pos\":%d,\"item_id\":\"item-%d-%d\",\"ts\":%d,\"context\":[0.5,1],\"features\":[%s],\"propensity\":0.0033333,\"click\":0,\"pay\":0}\n", pg, pg, i, pg, i, 1732345678000 + pg * 60000, f } }' \
    >"$T_TMP/wide.ndjson"
$EC -i "$T_TMP/wide.ndjson" --dead-letter "$T_TMP/wide.dl" >"$T_TMP/wide.out"
eq "wide pages: nothing rejected, one transition a page" "$(lines "$T_TMP/wide.dl") $(lines "$T_TMP/wide.out")" "0 2"
eq "wide pages: the first transition holds both pages whole" \
    "$(head -1 "$T_TMP/wide.out" | jq -c '[(.action | length), ([.action[].features | length] | unique),
	(.next_action | length), ([.next_action[].features | length] | unique)]')" "[300,[200],300,[200]]"
eq "wide pages: a transition over 1 MiB, twice the pages' samples at most" \
    "$(head -1 "$T_TMP/wide.out" | awk -v s="$(wc -c <"$T_TMP/wide.ndjson")" '{ print (length > 1048576 && length < 2 * s) }')" 1

# One sample from a device whose clock runs 12 h fast does not make the rest of a 300-session stream
# late: a page more than --max-ahead (10m) past its partition's progress is filed and counted, and does
# not move the watermark. Before: 1,002 transitions without the outlier, 11 with it, 9,920 samples late.
feed-sim -q -n 300 -s 4 >"$T_TMP/ff-raw.ndjson"
log-collect -q --ingest-ts 1732500000000 -i "$T_TMP/ff-raw.ndjson" |
    online-join -q >"$T_TMP/ff-samples.ndjson"
# The outlier: a sample of a user of its own, 12 h after the sample it follows, early in the stream.
sed -n 100p "$T_TMP/ff-samples.ndjson" |
    jq -c '.user_id = "fast-clock" | .request_id = "fast-clock-r" | .sample_id = "fast-clock-s" | .ts += 43200000' \
    >"$T_TMP/ff-outlier.ndjson"
{ sed -n 1,100p "$T_TMP/ff-samples.ndjson"; cat "$T_TMP/ff-outlier.ndjson"; sed -n '101,$p' "$T_TMP/ff-samples.ndjson"; } \
    >"$T_TMP/ff-with.ndjson"
$EC -q -i "$T_TMP/ff-samples.ndjson" --stats "$T_TMP/ff-without.stats" >"$T_TMP/ff-without.out"
$EC -q -i "$T_TMP/ff-with.ndjson" --stats "$T_TMP/ff-with.stats" --dead-letter "$T_TMP/ff-with.dl" >"$T_TMP/ff-with.out"
n=$(lines "$T_TMP/ff-without.out")
[ "$n" -gt 500 ] && t_pass "far future: the stream gives transitions ($n)" || t_fail "far future: the stream gives transitions" "only $n"
eq "far future: one sample 12 h ahead, no other sample late" "$(tail -1 "$T_TMP/ff-with.stats" | jq .late)" 0
eq "far future: every other session's transitions as without it" \
    "$(grep -v '"user_id":"fast-clock"' "$T_TMP/ff-with.out" | sort | sha256sum)" "$(sort "$T_TMP/ff-without.out" | sha256sum)"
eq "far future: the outlier counted, filed, written" \
    "$(tail -1 "$T_TMP/ff-with.stats" | jq -c '[.ahead_samples, .rejected]') $(grep -c '"user_id":"fast-clock"' "$T_TMP/ff-with.out")" "[1,0] 1"
# A whole page ahead is one event, however many items it shows: its 40 samples do not make the run of
# 32 that takes the stream as moved on.
for i in $(seq 0 39); do
	jq -c --argjson i "$i" '.item_id = "fc\($i)" | .pos = $i | .sample_id = "fast-clock-s\($i)"' "$T_TMP/ff-outlier.ndjson"
done >"$T_TMP/ff-page.ndjson"
{ sed -n 1,100p "$T_TMP/ff-samples.ndjson"; cat "$T_TMP/ff-page.ndjson"; sed -n '101,$p' "$T_TMP/ff-samples.ndjson"; } \
    >"$T_TMP/ff-page-with.ndjson"
$EC -q -i "$T_TMP/ff-page-with.ndjson" --stats "$T_TMP/ff-page.stats" >"$T_TMP/ff-page.out"
eq "far future: a page of 40 items ahead, no other sample late, its samples counted" \
    "$(tail -1 "$T_TMP/ff-page.stats" | jq -c '[.late, .ahead_samples]')" "[0,40]"
eq "far future: a page of 40 items ahead, every other session's transitions as without it" \
    "$(grep -v '"user_id":"fast-clock"' "$T_TMP/ff-page.out" | sort | sha256sum)" "$(sort "$T_TMP/ff-without.out" | sha256sum)"
# --max-ahead 0 takes off the bound: the outlier moves the watermark, as before.
$EC -q --max-ahead 0 -i "$T_TMP/ff-with.ndjson" --stats "$T_TMP/ff-off.stats" >/dev/null
ok "far future: --max-ahead 0, no bound" test "$(tail -1 "$T_TMP/ff-off.stats" | jq .late)" -gt 1000

# Man page examples.
mkdir -p "$T_TMP/ex/samples/dt=2024-11-23"
gzip -c "$D/three-pages.ndjson" >"$T_TMP/ex/samples/dt=2024-11-23/part-0.ndjson.gz"
cp "$D/bad.ndjson" "$T_TMP/ex/samples.ndjson"
(cd "$T_TMP/ex" && experience-collect --w-pay 5 -i 'samples/dt=2024-11-23' >transitions.ndjson)
eq "example: a day of archived samples" "$(grep -o '"reward":[^,]*' "$T_TMP/ex/transitions.ndjson" | tr '\n' ' ')" \
    '"reward":1.0 "reward":0.0 "reward":7.0 '
(cd "$T_TMP/ex" && experience-collect --history-len 10 --dead-letter rejected.ndjson \
    <samples.ndjson >transitions.ndjson)
eq "example: rejected samples put aside" "$(lines "$T_TMP/ex/rejected.ndjson") $(lines "$T_TMP/ex/transitions.ndjson")" "13 5"

# Kafka: a consumer-group worker keyed by user_id, on the mock broker.
# wait_for FILE JQ: waits (at most 20 s) until the last stats line of FILE makes JQ true.
wait_for() {
	i=0
	while [ $i -lt 200 ]; do
		[ -s "$1" ] && tail -1 "$1" | jq -e "$2" >/dev/null 2>&1 && return 0
		sleep 0.1; i=$((i + 1))
	done
	echo "timed out waiting for $2 in $1" >&2
	return 1
}
# stop PID: SIGTERM, then waits for its exit status.
stop() { kill -TERM "$1"; wait "$1"; }
if command -v kcat >/dev/null && command -v kafka-mock >/dev/null; then
	bg kafka-mock -q -f "$T_TMP/brokers" -p 2 -t samples -t samples2 -t samples3 -t transitions -t tr-crash -t tr-group -t dead-letters \
	    -t samples4 -t tr-late -t dl-late
	i=0; while [ ! -s "$T_TMP/brokers" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	BRK=$(cat "$T_TMP/brokers")
	TAB=$(printf '\t')
	jq -r '.user_id + "\t" + tojson' "$T_TMP/sim.ndjson" | kcat -P -b "$BRK" -t samples -K "$TAB"
	nsamples=$(lines "$T_TMP/sim.ndjson")
		# A member killed without leaving the group holds its partitions for the session timeout.
	KOPTS="-b $BRK --w-click 0.5 --w-pay 4 --max-ahead 0 --idle-close 0 --stats-interval 100ms --commit-interval 100ms -X session.timeout.ms=6000 -X heartbeat.interval.ms=500"

	# The tail: a sample on each partition a day later, whose watermark closes every session of
	# the stream; its own two sessions stay open. The reference: the stream and its tail through
	# a file, without the tail's transitions. A jump of a day in one sample is what --max-ahead holds
	# out of the watermark: these runs take the bound off (in KOPTS too). What a member holds open is
	# handed over, never closed for silence (--idle-close 0), however slow the machine.
	tts=$(($(jq -s 'map(.ts) | max' "$T_TMP/sim.ndjson") + 86400000))
	for i in 0 1; do
		head -1 "$T_TMP/sim.ndjson" | jq -c --arg u "zz$i" --argjson ts "$tts" \
		    '.user_id = $u | .session_id = "zz" | .request_id = ("zz-" + $u) | .sample_id = ("zz-" + $u) | .ts = $ts'
	done >"$T_TMP/tail.ndjson"
	cat "$T_TMP/sim.ndjson" "$T_TMP/tail.ndjson" | $EC --w-click 0.5 --w-pay 4 --max-ahead 0 | grep -v '"user_id":"zz' |
	    sort >"$T_TMP/ref.sorted"
	ntr=$(lines "$T_TMP/ref.sorted")
	# produce_tail TOPIC: one tail sample on each of its two partitions.
	produce_tail() {
		for i in 0 1; do
			sed -n "$((i + 1))p" "$T_TMP/tail.ndjson" | kcat -P -b "$BRK" -t "$1" -p $i
		done
	}
	# distinct TOPIC OUT: the distinct transitions of TOPIC, without the tail's.
	distinct() {
		kcat -C -b "$BRK" -t "$1" -e -q -o beginning | grep -v '"user_id":"zz' | sort -u >"$2"
	}

	# One worker reads everything and stops on SIGTERM; what it still holds open (the tail's
	# sessions) is left for the next reader, described in the commit, not written.
	produce_tail samples
	experience-collect $KOPTS -G g1 -i kafka:samples -o kafka:transitions --dead-letter kafka:dead-letters \
	    --stats "$T_TMP/k1.stats" 2>"$T_TMP/k1.err" &
	p=$!
	wait_for "$T_TMP/k1.stats" ".in == $((nsamples + 2)) and .out == $ntr"
	stop $p
	eq "kafka: worker exits 0 on SIGTERM" "$?" 0
	kcat -C -b "$BRK" -t transitions -e -q -o beginning -f '%k\t%s\n' >"$T_TMP/k1.out"
	eq "kafka: transitions keyed by user_id" "$(awk -F'\t' '{ print $1 }' "$T_TMP/k1.out" | sort -u | wc -l | tr -d ' ')" \
	    "$(jq -r .user_id "$T_TMP/sim.out" | sort -u | wc -l | tr -d ' ')"
	ok "kafka: keys are the records' users" sh -c "awk -F'\t' '{ print \$1 }' '$T_TMP/k1.out' | cmp -s - \
	    '$(cut -f2- "$T_TMP/k1.out" | jq -r .user_id >"$T_TMP/k1.users"; echo "$T_TMP/k1.users")'"
	cut -f2- "$T_TMP/k1.out" | sort >"$T_TMP/k1.sorted"
	same_file "kafka: the transitions of the file run" "$T_TMP/k1.sorted" "$T_TMP/ref.sorted"
	eq "kafka: the open sessions handed over on SIGTERM" "$(tail -1 "$T_TMP/k1.stats" | jq .revoked_sessions)" 2

	# kill -9 midway, sessions open, then a restart: it replays the open sessions from their first
	# samples (and only them), so the transitions are those of the undisturbed run, some twice.
	# Cut at sample 820, where on one partition sessions of the second round are closed after the
	# start of one still open: the replay meets their samples and skips them.
	cut=820
	head -n $cut "$T_TMP/sim.ndjson" >"$T_TMP/cut1"
	tail -n +$((cut + 1)) "$T_TMP/sim.ndjson" >"$T_TMP/cut2"
	jq -r '.user_id + "\t" + tojson' "$T_TMP/cut1" | kcat -P -b "$BRK" -t samples2 -K "$TAB"
	experience-collect $KOPTS -G g3 -i kafka:samples2 -o kafka:tr-crash --stats "$T_TMP/k3.stats" 2>"$T_TMP/k3.err" &
	p=$!
	wait_for "$T_TMP/k3.stats" ".in == $cut and .out > 0 and .open_sessions > 0"
	sleep 0.3
	kill -KILL $p; wait $p 2>/dev/null
	jq -r '.user_id + "\t" + tojson' "$T_TMP/cut2" | kcat -P -b "$BRK" -t samples2 -K "$TAB"
	produce_tail samples2
	experience-collect $KOPTS -G g3 -i kafka:samples2 -o kafka:tr-crash --stats "$T_TMP/k4.stats" 2>"$T_TMP/k4.err" &
	p=$!
	wait_for "$T_TMP/k4.stats" ".in >= $((nsamples - cut)) and .lag == 0 and .open_sessions == 2"
	stop $p
	distinct tr-crash "$T_TMP/k3.sorted"
	same_file "kafka: after kill -9, the transitions of the undisturbed run" "$T_TMP/k3.sorted" "$T_TMP/ref.sorted"
	ok "kafka: the restart rebuilt sessions open at the kill" test "$(tail -1 "$T_TMP/k4.stats" | jq .replayed_sessions)" -gt 0
	ok "kafka: the restart skipped the samples of sessions written before" \
	    test "$(tail -1 "$T_TMP/k4.stats" | jq .replay_skipped)" -gt 0
	ok "kafka: the restart resumed past the committed samples" test "$(tail -1 "$T_TMP/k4.stats" | jq .in)" -lt "$nsamples"

	half=$((nsamples / 8 * 4))
	head -n $half "$T_TMP/sim.ndjson" >"$T_TMP/half1"
	tail -n +$((half + 1)) "$T_TMP/sim.ndjson" >"$T_TMP/half2"
	# Two members of one group: the second joins midway, and takes partitions over in the middle
	# of their sessions. The first commits, before the hand-over, where the open sessions began
	# and which they are; the new owner rebuilds them: the transitions of the undisturbed run.
	jq -r '.user_id + "\t" + tojson' "$T_TMP/half1" | kcat -P -b "$BRK" -t samples3 -K "$TAB"
	experience-collect $KOPTS -G g5 -i kafka:samples3 -o kafka:tr-group --stats "$T_TMP/k5.stats" 2>"$T_TMP/k5.err" &
	p5=$!
	wait_for "$T_TMP/k5.stats" ".in == $half"
	experience-collect $KOPTS -v -v -G g5 -i kafka:samples3 -o kafka:tr-group --stats "$T_TMP/k6.stats" 2>"$T_TMP/k6.err" &
	p6=$!
	wait_for "$T_TMP/k5.stats" '.revoked_sessions > 0'
	i=0; while ! grep -q "assigned" "$T_TMP/k6.err" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	jq -r '.user_id + "\t" + tojson' "$T_TMP/half2" | kcat -P -b "$BRK" -t samples3 -K "$TAB"
	produce_tail samples3
	sleep 1
	wait_for "$T_TMP/k5.stats" '.lag == 0'
	wait_for "$T_TMP/k6.stats" '.lag == 0 and .in > 0'
	sleep 0.5
	stop $p5; stop $p6
	distinct tr-group "$T_TMP/k5.sorted"
	eq "kafka group: both members read" "$(tail -1 "$T_TMP/k6.stats" | jq '.in > 0')" true
	eq "kafka group: the first member handed its sessions over" "$(tail -1 "$T_TMP/k5.stats" | jq '.revoked_sessions > 0')" true
	eq "kafka group: the new member rebuilt sessions open at the hand-over" \
	    "$(tail -1 "$T_TMP/k6.stats" | jq '.replayed_sessions > 0')" true
	same_file "kafka group: the transitions of the undisturbed run" "$T_TMP/k5.sorted" "$T_TMP/ref.sorted"
	eq "kafka group: no position stored without its open sessions" \
	    "$(cat "$T_TMP/k5.stats" "$T_TMP/k6.stats" | jq -s 'map(.undescribed_positions) | max')" 0

	# Lateness does not depend on who reads: the member that takes a partition over rejects what the
	# member before rejected as late in the sessions it rebuilds, and goes on from that member's
	# watermark, not from what it sees of the replay. Partition 0, --max-open 2, minutes after t0:
	# v at 10; a at 9.5; u at 9.25 (closes v early); a's page 1 at 8.75, late (watermark 9).
	# Stop; then u's page 1 at 8.9, late for a watermark of 9, not for the 8.5 of a's and u's first
	# pages; and the tail a day later.
	late_sample() {	# USER PAGE MINUTES
		head -1 "$T_TMP/sim.ndjson" | jq -c --arg u "$1" --argjson p "$2" --argjson ts "$((1732345678000 + $3))" \
		    '.user_id = $u | .session_id = "s" | .page = $p | .pos = 0 | .request_id = ($u + ($p | tostring)) |
		    .sample_id = .request_id | .ts = $ts'
	}
	{ late_sample v 0 600000; late_sample a 0 570000; late_sample u 0 555000; late_sample a 1 525000; } >"$T_TMP/late1"
	{ late_sample u 1 534000; sed -n 1p "$T_TMP/tail.ndjson"; } >"$T_TMP/late2"
	cat "$T_TMP/late1" "$T_TMP/late2" | $EC --w-click 0.5 --w-pay 4 --max-ahead 0 --max-open 2 --dead-letter "$T_TMP/late-ref.dl" |
	    grep -v '"user_id":"zz' | sort >"$T_TMP/late-ref.sorted"
	eq "late: the undisturbed run rejects both late pages" "$(jq -r .reason "$T_TMP/late-ref.dl" | cut -c1-16 | tr '\n' ' ')" \
	    "late: request a1 late: request u1 "
	kcat -P -b "$BRK" -t samples4 -p 0 <"$T_TMP/late1"
	experience-collect $KOPTS --max-open 2 -G g7 -i kafka:samples4 -o kafka:tr-late --dead-letter kafka:dl-late \
	    --stats "$T_TMP/k7.stats" 2>"$T_TMP/k7.err" &
	p=$!
	wait_for "$T_TMP/k7.stats" '.in == 4 and .late == 1'
	stop $p
	kcat -P -b "$BRK" -t samples4 -p 0 <"$T_TMP/late2"
	experience-collect $KOPTS --max-open 2 -G g7 -i kafka:samples4 -o kafka:tr-late --dead-letter kafka:dl-late \
	    --stats "$T_TMP/k8.stats" 2>"$T_TMP/k8.err" &
	p=$!
	wait_for "$T_TMP/k8.stats" '.in == 5 and .lag == 0 and .open_sessions == 1'
	stop $p
	distinct tr-late "$T_TMP/late.sorted"
	same_file "late: after a hand-over, the transitions of the undisturbed run" "$T_TMP/late.sorted" "$T_TMP/late-ref.sorted"
	eq "late: each late page dead-lettered once, for the same reason" \
	    "$(kcat -C -b "$BRK" -t dl-late -e -q -o beginning | jq -r .reason | sort)" "$(jq -r .reason "$T_TMP/late-ref.dl" | sort)"
	eq "late: the member after skips the late page it replays, and rejects the next one" \
	    "$(tail -1 "$T_TMP/k8.stats" | jq -c '[.replayed_sessions, .replay_skipped, .late]')" "[2,1,1]"
else
	t_fail "kafka tests need kcat and kafka-mock"
fi

t_done
