#!/bin/sh
# t-q-score-redis.sh: q-score histories in Redis — two replicas in one consumer group share them, scores equal the in-process store's, Redis killed and restarted, TTL.
. "$(dirname "$0")/lib.sh"

cd "$T_TMP" || exit 1
for c in redis-server redis-cli kcat; do
	if ! command -v "$c" >/dev/null 2>&1; then
		t_fail "$c is installed (make deps installs it)"
		t_done
		exit 1
	fi
done

# ---- a redis-server of its own: a free loopback port, its own directory, nothing saved ----
mkdir rd
start_redis() {
	rdport=${1:-}
	i=0
	while [ $i -lt 20 ]; do
		[ -n "$rdport" ] || RP=$((20000 + ($$ * 7 + i * 131) % 30000))
		[ -z "$rdport" ] || RP=$rdport
		redis-server --port "$RP" --bind 127.0.0.1 --dir "$T_TMP/rd" --save '' --appendonly no \
		    --logfile "$T_TMP/rd/redis.log" &
		RPID=$!
		T_PIDS="$T_PIDS $RPID"
		n=0
		while [ $n -lt 100 ] && kill -0 "$RPID" 2>/dev/null; do
			[ "$(redis-cli -p "$RP" ping 2>/dev/null)" = PONG ] && return 0
			sleep 0.1; n=$((n + 1))
		done
		kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null
		i=$((i + 1))
	done
	return 1
}
rcli() { redis-cli -p "$RP" "$@"; }
ok "redis-server started on a free port" start_redis

M=$T_TMP/models
qscore-mkmodel -m "$M" -C 4 -X 2 -d 8 -L 5 -F 4 -H 8 -n 50 -s 3 >/dev/null 2>&1

# ---- options ----
q-score -m "$M" --history nowhere -i /dev/null 2>opt.err
eq "--history not a redis URL: a usage error" "$?" "2"
q-score -m "$M" --history redis://127.0.0.1:1/x -i /dev/null 2>opt.err
eq "--history with a bad DB: a usage error" "$?" "2"
q-score -m "$M" --history-timeout 20s -i /dev/null 2>opt.err
eq "--history-timeout past 10s: a usage error" "$?" "2"
q-score -m "$M" --history-ttl 0 -i /dev/null 2>opt.err
eq "--history-ttl 0: a usage error" "$?" "2"

# ---- events of 24 users: sessions, repeats, pays, more clicks than --history-len keeps ----
awk 'BEGIN {
	for (u = 0; u < 24; u++) {
		t = u * 1000
		for (p = 0; p < 4; p++) {
			s = (p < 3 || u % 3) ? "s" u : "s" u "b"
			printf "{\"type\":\"impression\",\"ts\":%d,\"request_id\":\"r%d-%d\",\"user_id\":\"u%d\",\"session_id\":\"%s\",\"items\":[]}\n", t++, u, p, u, s
			for (c = 0; c <= (u + p) % 3; c++)
				printf "{\"type\":\"click\",\"ts\":%d,\"request_id\":\"r%d-%d\",\"user_id\":\"u%d\",\"item_id\":\"i%d\"}\n", t++, u, p, u, (u * 7 + p * 3 + c) % 40
			printf "{\"type\":\"pay\",\"ts\":%d,\"request_id\":\"r%d-%d\",\"user_id\":\"u%d\",\"item_id\":\"i%d\",\"amount\":1}\n", t++, u, p, u, (u * 7 + p * 3) % 40
			if (u % 4 == 0)
				printf "{\"type\":\"pay\",\"ts\":%d,\"request_id\":\"r%d-%d\",\"user_id\":\"u%d\",\"item_id\":\"i%d\",\"amount\":1}\n", t++, u, p, u, (u + 17) % 40
		}
	}
}' >events.ndjson
nev=$(lines events.ndjson)
base='"context":[0.5,0.2,0.1,0.9],"candidates":[{"item_id":"i3","features":[0.1,0.2]},{"item_id":"i4","features":[1,0]},{"item_id":"i5","features":[0,1]},{"item_id":"i11","features":[0.3,0.3]}]'
i=0; while [ $i -lt 24 ]; do echo "{\"request_id\":\"q$i\",\"user_id\":\"u$i\",$base}"; i=$((i + 1)); done >req.ndjson
echo "{\"request_id\":\"q\",\"user_id\":\"nobody\",$base}" >empty.json

start_server() {	# start_server NAME ARGS...: q-score on a free port; its port in ${NAME}_P
	_n=$1; shift
	rm -f "$_n.port"
	bg q-score -m "$M" --listen 127.0.0.1:0 --port-file "$_n.port" --threads 2 --history-len 3 "$@" 2>>"$_n.err"
	eval "${_n}_PID=$!"
	i=0; while [ ! -s "$_n.port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	eval "${_n}_P=$(cat "$_n.port")"
}
metric() { qscore-http -o m.out "http://127.0.0.1:$1/metrics" >/dev/null; awk -v m="$2" '$1 == m { print $2 }' m.out; }
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }
# score PORT OUT: every request of req.ndjson, the answers' items, one line each
score() {
	: >"$2"
	while IFS= read -r rq; do
		qscore-http -o one.out -d "$rq" "http://127.0.0.1:$1/v1/score" >/dev/null
		jq -c '[.request_id, .items]' one.out >>"$2"
	done <req.ndjson
}

# the reference: the in-process store fed the same events from a file
start_server ref --events events.ndjson
ok "in-process store: every event read" wait_until 30 metric_is "$ref_P" qscore_events_total "$nev"
score "$ref_P" ref.out
eq "in-process store: every user answered" "$(lines ref.out)" "24"
refclicks=$(metric "$ref_P" qscore_event_clicks_total)
qscore-http -o one.out -d "$(cat empty.json)" "http://127.0.0.1:$ref_P/v1/score" >/dev/null
jq -c '.items' one.out >empty.out
kill "$ref_PID"; wait "$ref_PID" 2>/dev/null

# ---- two replicas, one consumer group, one Redis ----
bg kafka-mock -q -f kports -p 2 -t events >/dev/null
for i in $(seq 50); do [ -s kports ] && break; sleep 0.1; done
K=$(cat kports)
start_server a -vv -b "$K" -G qs-replicas --events kafka:events --history "redis://127.0.0.1:$RP" --history-ttl 10m
ok "replica A takes the partitions" wait_until 120 grep -q "partition(s) assigned" a.err
start_server b -vv -b "$K" -G qs-replicas --events kafka:events --history "redis://127.0.0.1:$RP" --history-ttl 10m
ok "replica B takes one of them" wait_until 120 grep -q "1 partition(s) assigned" b.err
# each event keyed by its user: one user's events go to one partition, so to one replica
jq -r '"\(.user_id)|\(tojson)"' events.ndjson | kcat -q -P -b "$K" -t events -K '|' 2>/dev/null
writes() { echo $(( $(metric "$a_P" qscore_history_writes_total) + $(metric "$b_P" qscore_history_writes_total) )); }
writes_are() { [ "$(writes)" = "$1" ]; }
ok "every event written to Redis by one replica or the other" wait_until 60 writes_are "$nev"
wa=$(metric "$a_P" qscore_history_writes_total); wb=$(metric "$b_P" qscore_history_writes_total)
ok "both replicas wrote the events of their partitions ($wa + $wb)" test "$wa" -gt 0 -a "$wb" -gt 0
eq "the clicks added: as many as the in-process store's" \
    "$(( $(metric "$a_P" qscore_event_clicks_total) + $(metric "$b_P" qscore_event_clicks_total) ))" "$refclicks"
eq "one key per user" "$(rcli --scan --pattern 'pageturn:h:*' | wc -l | tr -d ' ')" "24"
score "$a_P" a.out
score "$b_P" b.out
same_file "replica A scores every user as the in-process store does" a.out ref.out
same_file "replica B scores every user as the in-process store does" b.out ref.out
eq "every history read from Redis" "$(( $(metric "$a_P" qscore_history_requests_total) + $(metric "$b_P" qscore_history_requests_total) ))" "48"
ok "the users' histories differ (the comparison can fail)" test "$(jq -c '.[1]' ref.out | sort -u | wc -l)" -gt 3

# ---- TTL: each user's key expires --history-ttl after its last event ----
ttl=$(rcli ttl pageturn:h:u5)
ok "a user's key expires within --history-ttl 10m ($ttl s)" test "$ttl" -gt 0 -a "$ttl" -le 600
start_server t -b "$K" -G qs-ttl --events kafka:events --history "redis://127.0.0.1:$RP/1" --history-ttl 1s
ok "a 1s TTL: the events written to DB 1" wait_until 60 metric_is "$t_P" qscore_history_writes_total "$nev"
pttl=$(rcli -n 1 pttl pageturn:h:u5)
ok "a 1s TTL: Redis says at most 1000 ms ($pttl)" test "$pttl" -le 1000
keys1() { [ "$(rcli -n 1 dbsize)" = "$1" ]; }
ok "a 1s TTL: the keys expire" wait_until 60 keys1 0
eq "  the replicas' keys in DB 0 are kept" "$(rcli dbsize)" "24"
kill "$t_PID"; wait "$t_PID" 2>/dev/null

# ---- Redis slow (stopped, its connections open): each request answered within --history-timeout, counted ----
kill -STOP "$RPID"
head -4 req.ndjson >four.ndjson
: >slow.out
while IFS= read -r rq; do
	qscore-http -o one.out -d "$rq" "http://127.0.0.1:$a_P/v1/score" >/dev/null
	jq -c '.items' one.out >>slow.out
done <four.ndjson
eq "Redis slow: every request answered, with an empty history" "$(sort -u slow.out)" "$(cat empty.out)"
eq "  counted as fallbacks" "$(metric "$a_P" qscore_history_fallbacks_total)" "4"
ok "  the timeouts counted" test "$(metric "$a_P" qscore_history_errors_total)" -ge 3
eq "  three in a row: the store taken down" "$(metric "$a_P" qscore_history_up)" "0"
kill -CONT "$RPID"
ok "Redis answers again: replica A reconnects" wait_until 60 metric_is "$a_P" qscore_history_up 1
score "$a_P" a2.out
same_file "  and reads the histories again" a2.out ref.out
f0=$(metric "$a_P" qscore_history_fallbacks_total)

# ---- Redis killed: every request answered with an empty history, counted; restarted: used again ----
kill -9 "$RPID"; wait "$RPID" 2>/dev/null
score "$a_P" adown.out
score "$b_P" bdown.out
eq "Redis down: replica A answers every request" "$(jq -c '.[1]' adown.out | grep -c '^\[{')" "24"
eq "Redis down: replica B answers every request" "$(jq -c '.[1]' bdown.out | grep -c '^\[{')" "24"
eq "  with an empty history" "$(jq -c '.[1]' adown.out bdown.out | sort -u)" "$(cat empty.out)"
eq "  counted as fallbacks" "$(( $(metric "$a_P" qscore_history_fallbacks_total) - f0 )) $(metric "$b_P" qscore_history_fallbacks_total)" "24 24"
ok "  the error counted" test "$(metric "$a_P" qscore_history_errors_total)" -ge 1
eq "  the store said down" "$(metric "$a_P" qscore_history_up)$(metric "$b_P" qscore_history_up)" "00"
ok "Redis restarted on its port" start_redis "$RP"
ok "replica A reconnects" wait_until 60 metric_is "$a_P" qscore_history_up 1
ok "replica B reconnects" wait_until 60 metric_is "$b_P" qscore_history_up 1
ok "  counted" test "$(metric "$a_P" qscore_history_reconnects_total)" -ge 1
# the restarted Redis is empty (nothing saved): the events that come now fill it again
jq -c 'select(.user_id == "u1" or .user_id == "u2")' events.ndjson >again.ndjson
jq -r '"\(.user_id)|\(tojson)"' again.ndjson | kcat -q -P -b "$K" -t events -K '|' 2>/dev/null
ok "the replicas write the new events to the restarted Redis" wait_until 60 writes_are "$((nev + $(lines again.ndjson)))"
score "$a_P" aup.out
score "$b_P" bup.out
grep -E '^\["q[12]",' ref.out >ref12.out
grep -E '^\["q[12]",' aup.out >aup12.out
grep -E '^\["q[12]",' bup.out >bup12.out
same_file "after the restart: replica A reads the histories again" aup12.out ref12.out
same_file "after the restart: replica B reads the histories again" bup12.out ref12.out
eq "  no more fallbacks" "$(( $(metric "$a_P" qscore_history_fallbacks_total) - f0 )) $(metric "$b_P" qscore_history_fallbacks_total)" "24 24"

kill -TERM "$a_PID" "$b_PID"
exits "replica A stops on SIGTERM" "$a_PID" 0 a.err
exits "replica B stops on SIGTERM" "$b_PID" 0 b.err
rcli shutdown nosave >/dev/null 2>&1
wait "$RPID" 2>/dev/null
t_done
