#!/bin/sh
# t-online-join.sh: online-join — golden cases per join rule, counters, shuffle property, sample round trip, archive.
. "$(dirname "$0")/lib.sh"
D="$TOP/tests/data/online-join"
A="-w 10s --pay-window 20s -d 1s"

# ---- golden cases: NAME.in → NAME.out (samples) and NAME.late (correction records) ----
golden() {	# golden NAME [options...]
	name=$1; shift
	# shellcheck disable=SC2086
	online-join $A "$@" -i "$D/$name.in" -l "$T_TMP/$name.late" >"$T_TMP/$name.out" 2>"$T_TMP/$name.err"
	eq "$name: exit status" "$?" 0
	same_file "$name: samples" "$T_TMP/$name.out" "$D/$name.out"
	if [ -f "$D/$name.late" ]; then
		same_file "$name: late records" "$T_TMP/$name.late" "$D/$name.late"
	else
		eq "$name: no late records" "$(lines "$T_TMP/$name.late")" 0
	fi
}
golden basic			# duplicate clicks count once, pay implies click, item not shown, duplicate impression
golden click-first		# clicks and pays before their impression wait for it
golden boundary			# windows to the millisecond; closing when the watermark reaches ts + window
golden late-pay			# a pay after its window closed is a correction record, the sample keeps pay 0
golden late-impression		# an impression replayed after its windows closed is a correction record, not a second sample
golden eof			# end of input closes every window; waiting feedback becomes late
golden max-open -n 2		# the oldest window closes early past --max-open
golden early --emit early	# a paid item is final at once: emitted before the others
golden reject --dead-letter "$T_TMP/dl.ndjson"	# bad lines are dead-lettered, the run goes on
golden early-short-pay --pay-window 5s --emit early	# pay window shorter: clicked items final when it closes
golden numbers			# numbers as floats print with 7 significant digits (as %.7g of a float)

# The rules, spelled out (the golden files could be regenerated wrong).
lab() { jq -r --arg r "$2" --arg i "$3" 'select(.request_id == $r and .item_id == $i) | "\(.click)\(.pay)"' "$1"; }
eq "click once, duplicate ignored" "$(lab "$D/basic.out" r1 a)" 10
eq "pay implies click" "$(lab "$D/basic.out" r1 b)" 11
eq "unlabelled item" "$(lab "$D/basic.out" r1 c)" 00
eq "one sample per shown item, duplicate impression once" "$(lines "$D/basic.out")" 3
eq "click and pay before the impression" "$(lab "$D/click-first.out" r2 x)" 11
eq "click at window - 1 ms joins" "$(lab "$D/boundary.out" r3 p)" 10
eq "click at window ms does not" "$(lab "$D/boundary.out" r3 q)" 00
eq "pay at pay-window - 1 ms joins" "$(lab "$D/boundary.out" r3 r)" 11
eq "pay at pay-window ms does not" "$(lab "$D/boundary.out" r3 s)" 00
eq "a late click joins a window still open" "$(lab "$D/boundary.out" r4 z)" 10
eq "outside-window records carry the sample_id" \
    "$(jq -r 'select(.reason == "outside_window") | .sample_id' "$D/boundary.late" | sort | tr '\n' ' ')" \
    "$(jq -r 'select(.request_id == "r3" and (.item_id == "q" or .item_id == "s")) | .sample_id' "$D/boundary.out" | sort | tr '\n' ' ')"
eq "window closes when the watermark reaches its end" \
    "$(jq -r .request_id "$D/boundary.out" | tr '\n' ' ')" "r3 r3 r3 r3 r4 tick1 tick2 "
eq "late pay: record" "$(jq -r '"\(.reason) \(.type) \(.click)\(.pay)"' "$D/late-pay.late")" "late pay 11"
eq "late pay: sample unchanged" "$(lab "$D/late-pay.out" r5 m)" 10
eq "EOF flush" "$(lab "$D/eof.out" r7 k)" 10
eq "late impression: one sample, labelled" "$(lab "$D/late-impression.out" r5 m)" 10
eq "late impression: records" "$(jq -r '"\(.reason) \(.type)"' "$D/late-impression.late" | tr '\n' ,)" \
    "late_impression impression,late click,"
eq "unknown impression" "$(jq -r .reason "$D/eof.late")" unknown_impression
eq "max-open: evicted first, unlabelled" "$(head -1 "$D/max-open.out" | jq -r '"\(.request_id) \(.click)"')" "r8 0"
eq "max-open: its click is late" "$(jq -r .request_id "$D/max-open.late")" r8
eq "early: paid item first" "$(head -1 "$D/early.out" | jq -r .item_id)" b
eq "early, short pay window: a pay after the sample went out is a correction with its sample_id" \
    "$(jq -r '"\(.reason) \(.type) \(.sample_id)"' "$D/early-short-pay.late")" \
    "late pay $(jq -r 'select(.item_id == "a") | .sample_id' "$D/early-short-pay.out")"
online-join $A --pay-window 5s --emit early -i "$D/early-short-pay.in" --stats "$T_TMP/st3.json" >/dev/null 2>&1
eq "early, short pay window: clicked items out when the pay window closed" "$(jq .early_samples "$T_TMP/st3.json")" 2
eq "early and on-close: the same samples" "$(sort "$D/early.out")" "$(sort "$D/basic.out")"
eq "dead letters" "$(lines "$T_TMP/dl.ndjson")" 4

# Counters.
online-join $A -i "$D/basic.in" --stats "$T_TMP/st1.json" >/dev/null 2>&1
eq "counters" "$(jq -c '[.samples, .duplicate_clicks, .duplicate_impressions, .late]' "$T_TMP/st1.json")" "[3,2,1,1]"
online-join $A --max-open 2 -i "$D/max-open.in" --stats "$T_TMP/st2.json" >/dev/null 2>&1
eq "eviction counted" "$(jq -c '[.evicted, .late]' "$T_TMP/st2.json")" "[1,1]"

# A second impression of a request_id with another user or other items is a conflict, not a duplicate:
# dead-lettered with its reason and counted; the first one's samples stand.
{
	head -1 "$D/basic.in"
	head -1 "$D/basic.in" | jq -c '.user_id = "u2" | .items = [{item_id: "x", pos: 0, features: [1, 2]}]'
	sed -n 2p "$D/basic.in"
	head -1 "$D/basic.in"
} >"$T_TMP/conflict.in"
online-join $A -i "$T_TMP/conflict.in" --dead-letter "$T_TMP/conflict.dl" --stats "$T_TMP/conflict.st" >"$T_TMP/conflict.out" 2>/dev/null
eq "conflict: exit 0" "$?" 0
eq "conflict: dead-lettered with its reason" "$(jq -r '"\(.raw | fromjson | .user_id) \(.reason)"' "$T_TMP/conflict.dl" 2>/dev/null | cut -c1-25)" \
    "u2 conflicting impression"
eq "conflict: counted apart from the true duplicate" \
    "$(jq -c '[.conflicting_impressions, .duplicate_impressions, .rejected, .samples]' "$T_TMP/conflict.st")" "[1,1,1,3]"

# Without --late, late events are counted and reported; the exit status stays 0.
online-join $A -i "$D/eof.in" >/dev/null 2>"$T_TMP/err"
eq "late without --late: exit 0" "$?" 0
ok "late without --late: reported" grep -q "1 event(s) joined no sample" "$T_TMP/err"

# Usage errors.
for bad in "--emit soon" "-w 0" "--pay-window x" "-n 0" "extra-arg"; do
	# shellcheck disable=SC2086
	online-join $bad </dev/null >/dev/null 2>&1
	eq "usage error: $bad" "$?" 2
done
online-join -i "$D/basic.in" -o "$T_TMP/no/such/dir/out" >/dev/null 2>&1
eq "unwritable output: exit 1" "$?" 1

# ---- a generated stream ----
GEN="$TOP/$B/bench/gen-events"
"$GEN" -n 400 -s 3 | log-collect >"$T_TMP/ev.ndjson" 2>/dev/null
G="-w 5s --pay-window 15s -d 2s"
# shellcheck disable=SC2086
online-join $G -i "$T_TMP/ev.ndjson" -l "$T_TMP/g.late" --stats "$T_TMP/g.st" >"$T_TMP/g.out"
eq "generated: one sample per shown item" "$(lines "$T_TMP/g.out")" \
    "$(jq -r 'select(.type == "impression") | .items | length' "$T_TMP/ev.ndjson" | awk '{ s += $1 } END { print s }')"
eq "generated: sample ids unique" "$(jq -r .sample_id "$T_TMP/g.out" | sort -u | wc -l | tr -d ' ')" "$(lines "$T_TMP/g.out")"
ok "generated: some clicks and pays joined" test "$(jq -s 'map(select(.pay == 1)) | length' "$T_TMP/g.out")" -gt 5
ok "generated: windows closed before the end" test "$(jq .open_impressions "$T_TMP/g.st")" -eq 0
# shellcheck disable=SC2086
online-join $G -i "$T_TMP/ev.ndjson" -l "$T_TMP/g2.late" >"$T_TMP/g2.out"
ok "deterministic output" cmp -s "$T_TMP/g.out" "$T_TMP/g2.out"

# The fast event reader and the full (jansson) one agree: a nested object sends every line to the latter.
jq -c '. + {x: {nested: [1, {}]}}' "$T_TMP/ev.ndjson" >"$T_TMP/ev-full.ndjson"
# shellcheck disable=SC2086
online-join $G -i "$T_TMP/ev-full.ndjson" -l "$T_TMP/full.late" >"$T_TMP/full.out" 2>/dev/null
ok "full reader: same samples as the fast one" cmp -s "$T_TMP/full.out" "$T_TMP/g.out"
ok "full reader: same late records" cmp -s "$T_TMP/full.late" "$T_TMP/g.late"
# Each construct the fast reader leaves to jansson, on the basic case: escapes, non-ASCII, integer ids, RFC 3339
# times, blanks, exponents, keys in another order.
sed -e 's/"r1"/"\\u0072\\u0031"/; s/"u1"/"u\\u0031"/' "$D/basic.in" >"$T_TMP/variant1.in"
jq -c '(.user_id |= "u1") | (.ts |= (. / 1000 | todate | sub("Z$"; ".000Z") | if . == "" then . else . end))' "$D/basic.in" |
    sed 's/\("ts":"[^"]*\)\.000Z"/\1Z"/' >"$T_TMP/variant2.in"
jq '.' "$D/basic.in" | jq -c --indent 0 'to_entries | reverse | from_entries' | sed 's/,/ , /g; s/0.25/2.5e-1/g' >"$T_TMP/variant3.in"
for v in 1 2 3; do
	# shellcheck disable=SC2086
	online-join $A -i "$T_TMP/variant$v.in" -l "$T_TMP/variant$v.late" >"$T_TMP/variant$v.out" 2>/dev/null
	same_file "full reader: variant $v" "$T_TMP/variant$v.out" "$D/basic.out"
done

# Property: shuffling events within --max-delay yields the same multiset of samples, and the same
# events late (their reason may differ: a pay outside its window finds its impression open or closed).
LATEKEY='[.type, .request_id, .item_id, .ts, .event_id]'
for seed in 1 2 3; do
	jq -r '"\(.ts)\t\(tojson)"' "$T_TMP/ev.ndjson" |
	    awk -F '\t' -v seed=$seed 'BEGIN { srand(seed) } { printf "%.0f\t%d\t%s\n", $1 + int(rand() * 1999), NR, $2 }' |
	    sort -t "$(printf '\t')" -k1,1n -k2,2n | cut -f3- >"$T_TMP/shuf.ndjson"
	ok "shuffle $seed: order really changed" test "$(jq -r .ts "$T_TMP/shuf.ndjson" | awk 'NR > 1 && $1 < p { n++ } { p = $1 } END { print n + 0 }')" -gt 10
	# shellcheck disable=SC2086
	online-join $G -i "$T_TMP/shuf.ndjson" -l "$T_TMP/s.late" --stats "$T_TMP/s$seed.st" >"$T_TMP/s.out" 2>/dev/null
	eq "shuffle $seed: same samples" "$(sort "$T_TMP/s.out" | cksum)" "$(sort "$T_TMP/g.out" | cksum)"
	eq "shuffle $seed: the same events late" "$(jq -c "$LATEKEY" "$T_TMP/s.late" | sort | cksum)" \
	    "$(jq -c "$LATEKEY" "$T_TMP/g.late" | sort | cksum)"
	ok "shuffle $seed: feedback waited for its impression" test "$(jq .joined_after_wait "$T_TMP/s$seed.st")" -gt 0
done
# shellcheck disable=SC2086
online-join $G --emit early -i "$T_TMP/ev.ndjson" >"$T_TMP/e.out" 2>/dev/null
eq "early: same samples as on-close" "$(sort "$T_TMP/e.out" | cksum)" "$(sort "$T_TMP/g.out" | cksum)"
ok "early: order differs" test "$(cksum <"$T_TMP/e.out")" != "$(cksum <"$T_TMP/g.out")"

# Round trip of the Sample record: samples → the events they stand for → the same samples.
jq -sc 'group_by(.request_id)[] | sort_by(.pos) |
    ({type: "impression", ts: .[0].ts, request_id: .[0].request_id, user_id: .[0].user_id,
      session_id: .[0].session_id, page: .[0].page, policy: .[0].policy, context: .[0].context,
      items: map({item_id, pos, propensity, features})}),
    (.[] | select(.click == 1 and .pay == 0) | {type: "click", ts: (.ts + 1), request_id, user_id, item_id}),
    (.[] | select(.pay == 1) | {type: "pay", ts: (.ts + 2), request_id, user_id, item_id})' \
    "$T_TMP/g.out" | jq -sc 'sort_by(.ts)[]' >"$T_TMP/rt.ndjson"
# shellcheck disable=SC2086
online-join $G -i "$T_TMP/rt.ndjson" >"$T_TMP/rt.out" 2>/dev/null
eq "sample round trip" "$(sort "$T_TMP/rt.out" | cksum)" "$(sort "$T_TMP/g.out" | cksum)"

# ---- the archive ----
AR="$T_TMP/archive"
# shellcheck disable=SC2086
online-join $G -a "$AR" -i "$T_TMP/ev.ndjson" >"$T_TMP/a.out" 2>/dev/null
ok "archive: stdout unchanged" cmp -s "$T_TMP/a.out" "$T_TMP/g.out"
ok "archive: hive layout" test -n "$(find "$AR" -path '*/dt=2024-11-23/hour=07/part-*.ndjson.gz')"
eq "archive: no temporary files left" "$(find "$AR" -name '.*' | wc -l | tr -d ' ')" 0
ok "archive: every part a valid gzip" gzip -t $(find "$AR" -name 'part-*.ndjson.gz')
eq "archive: the same samples" "$(find "$AR" -name 'part-*' -exec gzip -dc {} + | sort | cksum)" "$(sort "$T_TMP/g.out" | cksum)"

# Hours by event time (UTC), parts completed on size, replay through a directory and a glob.
T=1732345200000
for h in 0 1 2; do
	jq -c --argjson d $((h * 3600000)) '.ts += $d | .request_id += "-\($d)"' "$D/basic.in"
done >"$T_TMP/hours.ndjson"
AR2="$T_TMP/archive2"
# shellcheck disable=SC2086
online-join $A -a "$AR2" --archive-size 400 -i "$T_TMP/hours.ndjson" >"$T_TMP/h.out" 2>/dev/null
eq "archive: one directory per event hour" "$(cd "$AR2" && find . -type d -name 'hour=*' | sort | tr '\n' ' ')" \
    "./dt=2024-11-23/hour=07 ./dt=2024-11-23/hour=08 ./dt=2024-11-23/hour=09 "
eq "archive: a part per size limit" "$(find "$AR2" -name 'part-*.ndjson.gz' | wc -l | tr -d ' ')" 6
# A tool reading the archive as a directory and as a glob sees every sample once (here, as dead letters: samples are not events).
online-join -i "$AR2" --dead-letter "$T_TMP/dir.dl" >/dev/null 2>&1
eq "archive replay: directory" "$(jq -r .raw "$T_TMP/dir.dl" | sort | cksum)" "$(sort "$T_TMP/h.out" | cksum)"
online-join -i "$AR2/dt=*/hour=*/part-*.ndjson.gz" --dead-letter "$T_TMP/glob.dl" >/dev/null 2>&1
eq "archive replay: glob" "$(jq -r .raw "$T_TMP/glob.dl" | sort | cksum)" "$(sort "$T_TMP/h.out" | cksum)"

# A crash (kill -9) leaves complete parts valid and the open one hidden from readers. The hours come in
# jumps of an hour, which --max-ahead must allow.
AR3="$T_TMP/archive3"
mkfifo "$T_TMP/fifo"
# shellcheck disable=SC2086
bg online-join $A --max-ahead 3h -a "$AR3" -i "$T_TMP/fifo" -o "$T_TMP/k.out"
pid=$!
exec 3>"$T_TMP/fifo"
jq -c --argjson d 3600000 '.ts += $d | .request_id += "-8"' "$D/basic.in" >&3	# hour 08
jq -c --argjson d 7200000 '.ts += $d | .request_id += "-9"' "$D/basic.in" >&3	# hour 09
jq -c --argjson d 7260000 '.ts += $d | .request_id += "-9b"' "$D/basic.in" >&3	# moves the watermark past 09:00:20
i=0
while { [ -z "$(find "$AR3" -name 'part-*.ndjson.gz' 2>/dev/null)" ] ||
    [ -z "$(find "$AR3" -name '.part-*' 2>/dev/null)" ]; } && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
kill -9 $pid
wait $pid 2>/dev/null
exec 3>&-
ok "crash: hour 08 completed before the crash" test -n "$(find "$AR3/dt=2024-11-23/hour=08" -name 'part-*.ndjson.gz')"
ok "crash: hour 09 only as a hidden temporary" test -n "$(find "$AR3/dt=2024-11-23/hour=09" -name '.part-*.tmp')" -a \
    -z "$(find "$AR3/dt=2024-11-23/hour=09" -name 'part-*')"
ok "crash: completed parts are valid gzip" gzip -t $(find "$AR3" -name 'part-*.ndjson.gz')
online-join -i "$AR3" --dead-letter "$T_TMP/crash.dl" >/dev/null 2>&1
eq "crash: a replay reads the completed hour only" "$(jq -r .raw "$T_TMP/crash.dl" | jq -r .request_id | sort -u)" "r1-8"

# ---- the examples of online-join(1) ----
MAN="$TOP/man/online-join.1"
cmd=$(grep -F "$ printf" "$MAN" | sed 's/^\$ //; s/\\e/\\/g')
want=$(grep -F -A1 "$ printf" "$MAN" | tail -1)
sh -c "$cmd" >"$T_TMP/ex1.out" 2>&1
eq "man example: join an impression and its click" "$(cat "$T_TMP/ex1.out")" "$want"
mkdir -p "$T_TMP/ex" && (
	cd "$T_TMP/ex" && gzip -c "$T_TMP/ev.ndjson" >events.ndjson.gz &&
	online-join -w 10m -i events.ndjson.gz -l late.ndjson -a archive -o samples.ndjson &&
	experience-collect -i 'archive/dt=2024-11-23/hour=07' -o transitions.ndjson
) 2>"$T_TMP/ex.err"
eq "man examples: day join and archive replay run" "$?" 0
eq "man example: archive holds every sample" "$(find "$T_TMP/ex/archive" -name 'part-*' -exec gzip -dc {} + | wc -l | tr -d ' ')" \
    "$(lines "$T_TMP/ex/samples.ndjson")"
ok "man example: replay made transitions" test "$(lines "$T_TMP/ex/transitions.ndjson")" -gt 0

t_done
