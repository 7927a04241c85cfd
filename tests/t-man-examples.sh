#!/bin/sh
# t-man-examples.sh: every command in the EXAMPLES of every man page is run by a test — here, read
# from the page (fixed paths moved into a scratch directory, named brokers replaced by the test
# broker, a fixed port by a free one), unless the tool's own test reads and runs that page's examples.
. "$(dirname "$0")/lib.sh"
cd "$T_TMP" || exit 1

# examples PAGE: the commands of PAGE's EXAMPLES, one a line ("$ " lines, continuations joined,
# the roff escape \e undone).
examples() {
	sed -n '/^\.Sh EXAMPLES/,/^\.Sh/p' "$TOP/man/$1" | awk '
		/^\.Bd/ { inb = 1; next }
		/^\.Ed/ { inb = 0; next }
		!inb { next }
		cont { l = $0; sub(/^[ \t]+/, "", l); cmd = cmd " " l }
		!cont && /^\$ / { cmd = substr($0, 3) }
		cont || /^\$ / {
			if (cmd ~ /[ \t]*\\e$/) { sub(/[ \t]*\\e$/, "", cmd); cont = 1 } else { cont = 0; print cmd }
		}' | sed 's/\\e/\\/g'
}
# output_of PAGE PATTERN: the output line the page shows after the command matching PATTERN.
output_of() { sed -n '/^\.Sh EXAMPLES/,/^\.Sh/p' "$TOP/man/$1" | grep -A1 -e "$2" | sed -n 2p; }
# run PAGE N CMD: runs example N of PAGE (already adapted to the scratch directory), its output in
# PAGE.N.out; counts it as run.
run() {
	sh -c "$3" >"$1.$2.out" 2>"$1.$2.err"
	_st=$?
	eq "$1 example $2 exits 0: $3" "$_st" 0
	[ "$_st" = 0 ] || sed 's/^/    /' "$1.$2.err" | tail -5 >&2
	echo "$1 $2" >>"$T_TMP/ran"
}
: >"$T_TMP/ran"
KAFKA=0
[ -x "$TBIN/kafka-mock" ] && command -v kcat >/dev/null 2>&1 && command -v curl >/dev/null 2>&1 && KAFKA=1
# broker TOPIC...: starts the test broker with these topics (4 partitions); its bootstrap list in $BR.
broker() {
	rm -f ports
	kafka-mock -q -f ports -p 4 "$@" >/dev/null 2>&1 &
	T_PIDS="$T_PIDS $!"
	MOCK=$!
	for _i in $(seq 100); do [ -s ports ] && break; sleep 0.1; done
	BR=$(cat ports)
}
# wait_stats FILE JQ: waits (at most 60 s) until the last stats line of FILE makes JQ true.
wait_stats() {
	for _i in $(seq 600); do
		[ -s "$1" ] && tail -1 "$1" | jq -e "$2" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
# stop PID: SIGTERM, then its exit status.
stop() { kill -TERM "$1"; wait "$1"; }
topic() { kcat -q -C -b "$BR" -t "$1" -e -o beginning 2>/dev/null; }
ED="$TOP/tests/data/experience-collect"

# --- experience-collect(1)
mkdir ec && cd ec || exit 1
mkdir -p samples/dt=2024-11-23
gzip -c "$ED/three-pages.ndjson" >samples/dt=2024-11-23/part-0.ndjson.gz
cp "$ED/bad.ndjson" samples.ndjson
examples experience-collect.1 >cmds
eq "experience-collect(1): three examples" "$(lines cmds)" 3
run experience-collect.1 1 "$(sed -n 1p cmds)"
eq "experience-collect(1) example 1: a day of archived samples" "$(grep -o '"reward":[^,]*' transitions.ndjson | tr '\n' ' ')" \
    '"reward":1.0 "reward":0.0 "reward":7.0 '
run experience-collect.1 2 "$(sed -n 2p cmds)"
eq "experience-collect(1) example 2: rejected samples put aside" "$(lines rejected.ndjson) $(lines transitions.ndjson)" "13 5"
if [ $KAFKA = 1 ]; then
	broker -t samples -t transitions -t dead-letters
	kcat -q -P -b "$BR" -t samples -p 0 -l "$ED/bad.ndjson" 2>/dev/null	# one partition: the file's order
	cmd=$(sed -n 3p cmds | sed "s|localhost:9092|$BR|")
	sh -c "exec $cmd --stats ec.stats --stats-interval 0.1 2>ec.err" &
	pid=$!
	T_PIDS="$T_PIDS $pid"
	ok "experience-collect(1) example 3: reads every sample" wait_stats ec.stats ".in >= $(lines "$ED/bad.ndjson")"
	stop $pid
	eq "experience-collect(1) example 3 exits 0 on SIGTERM: $cmd" "$?" 0
	echo "experience-collect.1 3" >>"$T_TMP/ran"
	# The same rejections as from the file (example 2), those a watermark makes too: the sessions of
	# a partition go by its own event time, whatever the three silent partitions do.
	eq "experience-collect(1) example 3: the bad samples dead-lettered" "$(topic dead-letters | jq -r .reason | sort)" \
	    "$(jq -r .reason rejected.ndjson | sort)"
	ok "experience-collect(1) example 3: transitions out" test "$(topic transitions | grep -c .)" -gt 0
	kill "$MOCK"
else
	echo "skipped: experience-collect(1) example 3 (no kafka-mock or kcat)"
fi
cd ..

# --- q-train(1)
mkdir qt && cd qt || exit 1
gen-transitions -n 600 -I 50 -s 5 >small.ndjson
gen-transitions -n 300 -I 50 -s 7 >test.ndjson
examples q-train.1 >cmds
eq "q-train(1): four examples" "$(lines cmds)" 4
run q-train.1 1 "$(sed -n 1p cmds)"
run q-train.1 2 "$(sed -n 2p cmds)"
run q-train.1 3 "$(sed -n 3p cmds)"
eq "q-train(1) examples 1 and 2: an offline and an online version" "$(jq -r .mode models/*/manifest.json | sort -u | tr '\n' ' ')" "offline online "
ok "q-train(1) example 3: it measures" test -s q-train.1.3.out -o -s q-train.1.3.err
if [ $KAFKA = 1 ]; then
	broker -t transitions
	kcat -q -P -b "$BR" -t transitions -l small.ndjson 2>/dev/null
	before=$(ls models | sort | tail -1)
	cmd=$(sed -n 4p cmds | sed "s|kafka1:9092|$BR|; s|/srv/models|$T_TMP/qt/models|")
	sh -c "exec $cmd --stats qt.stats --stats-interval 0.1 >qt.out 2>qt.err" &
	pid=$!
	T_PIDS="$T_PIDS $pid"
	ok "q-train(1) example 4: reads every transition" wait_stats qt.stats ".in >= $(lines small.ndjson)"
	stop $pid
	eq "q-train(1) example 4 exits 0 on SIGTERM: $cmd" "$?" 0
	echo "q-train.1 4" >>"$T_TMP/ran"
	last=$(ls models | sort | tail -1)
	ok "q-train(1) example 4: a last version at its stop" test "$last" \> "$before"
	eq "q-train(1) example 4: it keeps 5" "$(ls models | wc -l | tr -d ' ')" 5
	kill "$MOCK"
else
	echo "skipped: q-train(1) example 4 (no kafka-mock or kcat)"
fi
cd ..

# --- online-join(1): a day with the archive, and its replay (the first and the Kafka worker are run
# by t-online-join.sh and t-online-join-kafka.sh)
mkdir oj && cd oj || exit 1
examples online-join.1 >cmds
eq "online-join(1): four examples" "$(lines cmds)" 4
feed-sim -q -n 200 --start 2024-11-23T07:00:00Z | log-collect 2>/dev/null | gzip >events.ndjson.gz
run online-join.1 2 "$(sed -n 2p cmds)"
run online-join.1 3 "$(sed -n 3p cmds)"
ok "online-join(1) example 2: samples" test "$(lines samples.ndjson)" -gt 0
eq "online-join(1) example 2: the archive holds every sample" \
    "$(find archive -name 'part-*' -exec gzip -dc {} + | sort | cksum)" "$(sort samples.ndjson | cksum)"
ok "online-join(1) example 3: the hour replayed into transitions" test "$(lines transitions.ndjson)" -gt 0
cd ..

# --- q-score(1): the server (the others are run by t-q-score.sh)
mkdir qs && cd qs || exit 1
examples q-score.1 | grep -n -e '--listen' -e '^curl' >cmds
eq "q-score(1): a server and two questions" "$(lines cmds)" 3
if [ $KAFKA = 1 ]; then
	qscore-mkmodel -m models -C 4 -X 2 -d 8 -L 5 -F 4 -H 8 -n 50 -c 2 -t 0 >/dev/null 2>&1
	newest=$(ls models | sort | tail -1 | sed 's/^0*//')
	broker -t events
	port=$((20000 + ($$ + 7) % 20000))
	n=$(sed -n 1p cmds | cut -d: -f1)
	cmd=$(sed -n 1p cmds | cut -d: -f2- | sed "s|127.0.0.1:8500|127.0.0.1:$port|; s|localhost:9092|$BR|; s|[ \t]*&$||")
	sh -c "exec $cmd 2>server.err" &
	pid=$!
	T_PIDS="$T_PIDS $pid"
	for i in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/v1/models" && break; sleep 0.1; done
	for k in 2 3; do
		n=$(sed -n ${k}p cmds | cut -d: -f1)
		run q-score.1 "$n" "$(sed -n ${k}p cmds | cut -d: -f2- | sed "s|127.0.0.1:8500|127.0.0.1:$port|")"
	done
	want=$(output_of q-score.1 '^\$ curl.*v1/score')
	got=$(cat "q-score.1.$(sed -n 2p cmds | cut -d: -f1).out")
	eq "q-score(1): the answer has the page's shape" "$(echo "$got" | jq -c '[keys, (.items[0] | keys), .request_id, (.items | length)]')" \
	    "$(echo "$want" | jq -c '[keys, (.items[0] | keys), .request_id, (.items | length)]')"
	eq "q-score(1): from the newest version" "$(echo "$got" | jq .model_version)" "$newest"
	ok "q-score(1): /v1/models answers" sh -c "jq -e . 'q-score.1.$(sed -n 3p cmds | cut -d: -f1).out' >/dev/null"
	stop $pid
	eq "q-score(1) server example exits 0 on SIGTERM: $cmd" "$?" 0
	echo "q-score.1 $(sed -n 1p cmds | cut -d: -f1)" >>"$T_TMP/ran"
	kill "$MOCK"
else
	echo "skipped: q-score(1) server example (no kafka-mock, kcat or curl)"
fi
cd ..

# --- pageturn(7): the local cluster, then a replay of its archive
mkdir pt && cd pt || exit 1
ln -s "$TOP/pipelines" pipelines
examples pageturn.7 >cmds
eq "pageturn(7): nine commands" "$(lines cmds)" 9
# sum TOOL FIELD: FIELD of the last stats lines of the workers' members of TOOL, added up.
sum() { for _f in tmp/w/"$1".*.stats; do tail -1 "$_f" 2>/dev/null | jq ".$2"; done | awk '{ s += $1 } END { print s + 0 }'; }
if [ $KAFKA = 1 ]; then
	feed-sim -q -n 300 -s 3 | log-collect 2>/dev/null | online-join 2>/dev/null | experience-collect >transitions.ndjson 2>/dev/null
	STATS_INTERVAL=0.2
	export STATS_INTERVAL
	port=0	# free ports, each server's in its .port file: a fixed one may be taken by another test
	i=0
	while IFS= read -r cmd; do
		i=$((i + 1))
		cmd=$(echo "$cmd" | sed "s|/tmp/pt|$T_TMP/pt/tmp|g; s|workers start|workers start -p $port|")
		case "$cmd" in
		*"workers status"*)	# the workers read the stream before anything else is asked of them
			BR=$(cat tmp/kafka/brokers)
			raw=$(topic raw | grep -c .)
			for j in $(seq 600); do
				[ "$(sum log-collect in)" -ge "$raw" ] && [ "$(sum online-join in)" -ge "$raw" ] &&
				    [ "$(sum online-join out)" -gt 0 ] && break
				sleep 0.1
			done
			ok "pageturn(7): the workers read the stream" test "$(sum online-join out)" -gt 0 ;;
		pipelines/replay*) before=$(ls tmp/models | wc -l) ;;
		esac
		run pageturn.7 $i "$cmd"
	done <cmds
	ok "pageturn(7): online-join archived hour 00" test -n "$(find tmp/w/archive -path '*hour=00*' -name 'part-*')"
	eq "pageturn(7): the replay published a version" "$(ls tmp/models | wc -l)" "$((before + 1))"
	ok "pageturn(7): no broker left behind" test ! -e tmp/kafka/kafka-mock.pid
else
	echo "skipped: pageturn(7) examples (no kafka-mock or kcat)"
fi
cd ..

# --- Every example of every page is run: here, or by the test named below, which reads the page.
# This gate holds whatever is installed: an example not run above fails it.
for m in "$TOP"/man/*; do
	page=$(basename "$m")
	total=$(examples "$page" | grep -c .)
	here=$(grep -c "^$page " "$T_TMP/ran")
	case $page in
	log-collect.1)	there=4 by=t-log-collect.sh ;;
	feed-sim.1)	there=5 by=t-feed-sim.sh ;;
	online-join.1)	there=2 by="t-online-join.sh t-online-join-kafka.sh" ;;
	q-score.1)	there=3 by=t-q-score.sh ;;
	q-eval.1)	there=3 by=t-q-eval.sh ;;
	*)		there=0 by="" ;;
	esac
	for t in $by; do ok "$t reads $page" grep -q "man/$page" "$TOP/tests/$t"; done
	eq "$page: every example run ($here here, $there by ${by:-none})" "$((here + there))" "$total"
done
t_done
