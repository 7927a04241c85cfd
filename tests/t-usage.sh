#!/bin/sh
# t-usage.sh: what every tool does first for a new user — -h and --help print the synopsis on
# standard output and exit 0; an unknown option or a bad value is a usage error (exit 2, the
# reason on standard error, nothing on standard output); every long option of a man page's
# SYNOPSIS is in the tool's synopsis.
. "$(dirname "$0")/lib.sh"
cd "$T_TMP" || exit 1

TOOLS="log-collect online-join experience-collect q-train q-score feed-sim"
for t in $TOOLS; do
	for h in -h --help; do
		$t $h </dev/null >out 2>err
		eq "$t $h exits 0" "$?" 0
		ok "$t $h prints the synopsis on standard output" grep -q "^usage: $t" out
		ok "$t $h says nothing on standard error" test ! -s err
	done
	$t --no-such-option </dev/null >out 2>err
	eq "$t --no-such-option exits 2" "$?" 2
	ok "$t --no-such-option: nothing on standard output" test ! -s out
	ok "$t --no-such-option: the synopsis on standard error" grep -q "^usage: $t" err

	# The long options of the page's SYNOPSIS, against those of the tool's own synopsis.
	sed -n '/^\.Sh SYNOPSIS/,/^\.Sh DESCRIPTION/p' "$TOP/man/$t.1" | grep -o 'Fl -[a-z0-9-]*' |
	    sed 's/^Fl -/--/' | sort -u >page
	$t --help | grep -o -- '--[a-z0-9-]*' | sort -u >help
	eq "$t: the man page's SYNOPSIS and --help name the same long options" \
	    "$(comm -3 page help | tr -d '\t' | tr '\n' ' ')" ""
done

# A bad value names the option and is a usage error.
bad() {
	_d=$1; shift
	"$@" </dev/null >out 2>err
	_st=$?
	eq "$_d: exit 2" "$_st" 2
	ok "$_d: nothing on standard output" test ! -s out
	ok "$_d: the reason on standard error" test -s err
}
bad "log-collect --dedup-window -1" log-collect --dedup-window -1
bad "online-join --window 0" online-join --window 0
bad "experience-collect --hist-len x" experience-collect --hist-len x
bad "q-train --offline --epochs x" q-train --offline -m models --epochs x
bad "q-score -k x" q-score -m models -k x
bad "feed-sim -n x" feed-sim -n x
bad "log-collect --stats-interval 0" log-collect --stats-interval 0
bad "q-score without -m" q-score
bad "q-train without a mode" q-train -m models
# A bad value is said in one shape by every tool: "TOOL: --OPTION: 'VALUE' is not WHAT", the long
# name of the option however it was spelt (-n, --opt VALUE, --opt=VALUE).
shape() {
	_t=$1 _o=$2 _v=$3; shift 3
	"$@" </dev/null >out 2>err
	eq "$_t $_o $_v: exit 2" "$?" 2
	ok "$_t $_o $_v: said as '$_t: $_o: '\''$_v'\'' is not ...'" grep -q "^$_t: $_o: '$_v' is not " err
}
shape experience-collect --session-gap soon experience-collect --session-gap=soon
shape experience-collect --max-open 0 experience-collect --max-open 0
shape q-score --top-k x q-score -m models -k x
shape q-score --max-body 8 q-score -m models --max-body 8
shape q-score --poll-interval 0 q-score -m models --poll-interval 0
shape feed-sim --sessions x feed-sim -n x
shape feed-sim --top-k 0 feed-sim -k 0
shape feed-sim --rate inf feed-sim --rate inf
shape feed-sim --w-click nan feed-sim --w-click nan
shape log-collect --max-line 8 log-collect --max-line 8
shape q-train --epochs x q-train --offline -m models --epochs x
shape log-collect --stats-interval 0 log-collect --stats-interval 0
shape online-join --commit-interval 0 online-join --commit-interval 0
# A librdkafka property is checked when the option is read, not when a broker is first needed.
bad "log-collect -X of an unknown property" log-collect -X no.such.property=1 -i kafka:raw
bad "experience-collect -X of a bad value" experience-collect -X session.timeout.ms=soon
bad "feed-sim -X of an unknown property" feed-sim -n 1 -X no.such.property=1
bad "q-score -X without =" q-score -m models -X acks
log-collect -X no.such.property=1 </dev/null >out 2>err
ok "-X: the reason names the property, not its value (a value may be a secret)" grep -q '^log-collect: -X no.such.property: No such configuration property' err
log-collect -X acks=all -X linger.ms=1 -i /dev/null </dev/null >out 2>err
eq "-X of known properties: exit 0" "$?" 0

# --- -V and --version: the tool, the pageturn version, the model format version of pageturn-model(5)
# and the build, on one line of standard output; exit 0, whatever other options say.
fmt=$(sed -n 's/.*format version (u32, \([0-9]*\)).*/\1/p' "$TOP/man/pageturn-model.5")
ok "pageturn-model(5) names the model format version" test -n "$fmt"
for t in $TOOLS q-eval; do
	for V in -V --version; do
		$t $V </dev/null >out 2>err
		eq "$t $V exits 0" "$?" 0
		ok "$t $V: '$t VERSION (model format $fmt, build BUILD)'" \
		    grep -Eqx "$t [0-9]+\.[0-9]+[^ ]* \(model format $fmt, build [^ )]+\)" out
		eq "$t $V: one line" "$(wc -l <out)" 1
		ok "$t $V says nothing on standard error" test ! -s err
	done
	$t -V >/dev/full 2>err
	ok "$t -V >/dev/full exits non-zero" test $? -ne 0
done

# --- --help into a full disk is an error like any other write: a non-zero exit, with the reason.
for t in $TOOLS q-eval; do
	$t --help </dev/null >/dev/full 2>err
	ok "$t --help >/dev/full exits non-zero" test $? -ne 0
	ok "$t --help >/dev/full says why" grep -q 'No space left' err
done

# --- tool | head -1: a filter whose reader has gone stops quietly, with exit 0 (every tool that
# writes a stream: its output is far more than a pipe holds, so the reader is surely gone).
feed-sim -q -n 2000 -s 3 >raw.ndjson
log-collect -q -i raw.ndjson >events.ndjson
online-join -q -i events.ndjson >samples.ndjson
experience-collect -q -i samples.ndjson >trans.ndjson
qscore-mkmodel -m models -C 5 -X 22 -n 2000 -c 1 >/dev/null 2>&1
jq -c '{request_id, user_id, hist: .state.hist, context: .state.context, candidates: [.action[] | {item_id, features}], k: 3}' \
    trans.ndjson >requests.ndjson
for c in "feed-sim -q -n 2000 -s 3" "log-collect -q -i raw.ndjson" "online-join -q -i events.ndjson" \
    "experience-collect -q -i samples.ndjson" "q-score -q -m models -i requests.ndjson"; do
	{ $c 2>err; echo $? >st; } | head -1 >first
	eq "$c | head -1: exit 0" "$(cat st)" 0
	ok "$c | head -1: nothing said" test ! -s err
	ok "$c | head -1: its first line" test -s first
done

# --- One option vocabulary (pageturn(7), "Options shared by the tools"): an old spelling does what
# the canonical one does, byte for byte, and a different value does something else (so that the
# comparison can fail); a bad value is said under the canonical name.
same() {	# same DESCRIPTION "OLD" "NEW" "OTHER": OLD and NEW give one output, OTHER another
	sh -c "$2" >old.out 2>/dev/null; sh -c "$3" >new.out 2>/dev/null; sh -c "$4" >other.out 2>/dev/null
	ok "$1: the old spelling does what the new one does" cmp -s old.out new.out
	ok "$1: ... which a different value would not" sh -c '! cmp -s new.out other.out'
	ok "$1: ... and wrote something" test -s new.out
}
same "feed-sim --k" "feed-sim -q -n 20 -s 3 --k 3" "feed-sim -q -n 20 -s 3 --top-k 3" "feed-sim -q -n 20 -s 3 -k 4"
same "experience-collect --hist-len" "experience-collect -q -i samples.ndjson --hist-len 3" \
    "experience-collect -q -i samples.ndjson --history-len 3" "experience-collect -q -i samples.ndjson --history-len 0"
same "experience-collect -d" "experience-collect -q -i samples.ndjson --max-delay 0 --max-open 2" \
    "experience-collect -q -i samples.ndjson -d 0 --max-open 2" "experience-collect -q -i samples.ndjson -d 1h --max-open 2"
same "online-join -n" "online-join -q -i events.ndjson -n 2" "online-join -q -i events.ndjson --max-open 2" \
    "online-join -q -i events.ndjson --max-open 1000"
same "feed-sim --no-events, --events" "feed-sim -q -n 20 -s 3 --no-events --events" "feed-sim -q -n 20 -s 3" \
    "feed-sim -q -n 20 -s 3 -k 4"
shape feed-sim --history-len x feed-sim --hist-len x
shape experience-collect --history-len x experience-collect --hist-len x
shape q-train --history-len 0 q-train --offline -m models --hist-len 0
printf 'not json\n' >bad.ndjson
log-collect -q --strict --no-strict -i bad.ndjson >/dev/null 2>&1
eq "--strict --no-strict: the last wins (exit 0)" "$?" 0
log-collect -q --no-strict --strict -i bad.ndjson >/dev/null 2>&1
eq "--no-strict --strict: the last wins (exit 1)" "$?" 1
for o in "-i raw.ndjson" "-G g" "--dead-letter x" "--stats=x" "--output /dev/null -i raw.ndjson"; do
	feed-sim -n 1 $o </dev/null >out 2>err
	eq "feed-sim $o: a usage error" "$?" 2
	_o=${o##*/dev/null }
	ok "feed-sim $o: says it reads no stream" grep -q "^feed-sim: ${_o%%[ =]*}: not an option of feed-sim" err
done

# --- -F FILE (kcat's): librdkafka properties from a file, one key=value a line, so that secrets stay
# off the command line; every Kafka-speaking tool. A bad line is a usage error naming the file and
# line, and never shows the value.
printf '# the cluster\n\nsasl.pasword=hunter2\n' >bad.conf
for t in $TOOLS q-eval; do
	$t -F bad.conf </dev/null >out 2>err
	eq "$t -F with a misspelt property: exit 2" "$?" 2
	ok "$t -F with a misspelt property: names the file and line" grep -q 'bad.conf: line 3' err
	ok "$t -F with a misspelt property: the value not shown" sh -c '! grep -q hunter2 err'
	$t -F nosuch.conf </dev/null >out 2>err
	eq "$t -F of a missing file: exit 2" "$?" 2
done
kafka-mock -q -f kports -p 2 -t raw >/dev/null 2>&1 &
T_PIDS="$T_PIDS $!"
for i in $(seq 100); do [ -s kports ] && break; sleep 0.1; done
printf '# the cluster, and no -b\nbootstrap.servers=%s\n\n  client.id = pageturn-test\n' "$(cat kports)" >k.conf
feed-sim -q -n 5 -s 2 -F k.conf -o kafka:raw
eq "feed-sim -F: the brokers from the file: exit 0" "$?" 0
feed-sim -q -n 5 -s 2 >five.ndjson
eq "feed-sim -F: every event delivered" \
    "$(kcat -q -C -b "$(cat kports)" -t raw -e -o beginning 2>/dev/null | grep -c .)" "$(lines five.ndjson)"
log-collect -q -F k.conf -i kafka:raw -o k.out --stats k.stats --stats-interval 0.1 &
lc=$!
ok "log-collect -F: reads the topic from the brokers in the file" \
    wait_until 60 sh -c "[ -s k.stats ] && [ \"\$(tail -1 k.stats | jq .in)\" -ge $(lines five.ndjson) ]"
kill -TERM $lc; wait $lc
t_done
