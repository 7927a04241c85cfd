#!/bin/sh
# b-q-score-redis.sh: q-score with its histories in Redis against in process — server CPU per request and p99 on the same requests, Redis memory per user, events written per second.
. "$(dirname "$0")/lib.sh"
LOADGEN=$TOP/$B/bench/loadgen
MK=$TOP/$B/tests/qscore-mkmodel
CPUR=${QS_BENCH_CPU_ROUNDS:-5}		# rounds of (in process, Redis) CPU runs
CPUN=${QS_BENCH_CPU_REQUESTS:-10000}	# requests of each
RATE=${QS_BENCH_RATE:-1000}		# requests/s of the latency runs
ROUND=${QS_BENCH_ROUND:-3}		# seconds of each latency run
WEV=${QS_BENCH_WRITE_EVENTS:-200000}	# events of each write-rate run
THREADS=${QS_BENCH_THREADS:-2}
T=$TMP
PIDS=""
trap 'kill $PIDS 2>/dev/null; wait 2>/dev/null; bench_cleanup' EXIT
cd "$T" || exit 1
command -v redis-server >/dev/null || bench_fail "redis-server is not installed (make deps)"

# redis-server on a free loopback port, its own directory, nothing saved
i=0
while :; do
	RP=$((20000 + ($$ * 7 + i * 131) % 30000))
	redis-server --port "$RP" --bind 127.0.0.1 --dir "$T" --save '' --appendonly no --logfile "$T/redis.log" &
	RPID=$!
	n=0
	while [ $n -lt 100 ] && kill -0 "$RPID" 2>/dev/null; do
		[ "$(redis-cli -p "$RP" ping 2>/dev/null)" = PONG ] && break 2
		sleep 0.1; n=$((n + 1))
	done
	kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null
	i=$((i + 1))
	[ $i -lt 20 ] || bench_fail "redis-server would not start"
done
PIDS="$RPID"
rcli() { redis-cli -p "$RP" "$@"; }

# The design's network (as b-q-score): d 32, L 20, 10000 items; requests of 100 candidates without a
# hist, from users u0..u999, each of whom clicked 20 items of one session.
DIMS="-C 4 -X 2 -d 32 -L 20 -F 32 -H 64 -n 10000"
LG="-m 100 -I 10000 -X 2 -C 4 -L 20 -U -q"
"$LOADGEN" -n 0 -d warm.ndjson $LG
"$MK" -m models $DIMS -w warm.ndjson || exit 1
# gen_events USERS CLICKS: an impression, then CLICKS clicks on pages of one session, per user
gen_events() {
	awk -v nu="$1" -v nc="$2" 'BEGIN {
		for (u = 0; u < nu; u++) {
			printf "{\"type\":\"impression\",\"ts\":%d,\"request_id\":\"r%d\",\"user_id\":\"u%d\",\"session_id\":\"s%d\",\"items\":[]}\n", u, u, u, u
			for (c = 0; c < nc; c++)
				printf "{\"type\":\"click\",\"ts\":%d,\"request_id\":\"r%d-%d\",\"user_id\":\"u%d\",\"item_id\":\"i%d\"}\n", u, u, c / 2, u, (u * 37 + c * 11) % 10000
		}
	}'
}
gen_events 1000 20 >events.ndjson
nev=$(wc -l <events.ndjson | tr -d ' ')

metric() { "$TOP/$B/tests/qscore-http" -o "$T/m.out" "http://127.0.0.1:$1/metrics" >/dev/null; awk -v m="$2" '$1 == m { print $2 }' "$T/m.out"; }
# serve NAME ARGS...: a q-score, its pid in NAME_PID and port in NAME_P
serve() {
	_n=$1; shift
	rm -f "$_n.port"
	"$BIN/q-score" -m models --listen 127.0.0.1:0 --port-file "$_n.port" --threads "$THREADS" --history-len 20 -q "$@" \
	    2>"$_n.err" &
	eval "${_n}_PID=$!"
	PIDS="$PIDS $!"
	i=0; while [ ! -s "$_n.port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	eval "${_n}_P=$(cat "$_n.port")"
}
# wait_metric PORT NAME VALUE: until the metric says VALUE (60 s at most)
wait_metric() {
	i=0; while [ "$(metric "$1" "$2")" != "$3" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
	[ "$(metric "$1" "$2")" = "$3" ] || bench_fail "port $1: $2 is $(metric "$1" "$2"), not $3"
}

used0=$(rcli info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
serve mem --events events.ndjson
serve red --events events.ndjson --history "redis://127.0.0.1:$RP"
wait_metric "$mem_P" qscore_events_total "$nev"
wait_metric "$red_P" qscore_history_writes_total "$nev"
used1=$(rcli info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
echo "redis: $(rcli dbsize) keys; used_memory $used0 -> $used1 bytes; MEMORY USAGE of one user: $(rcli memory usage pageturn:h:u1) bytes"

# The same answers (the histories agree), then warm both.
head -20 warm.ndjson >same.ndjson
while IFS= read -r rq; do
	for p in "$mem_P" "$red_P"; do
		"$TOP/$B/tests/qscore-http" -o "$T/a.$p" -d "$rq" "http://127.0.0.1:$p/v1/score" >/dev/null
	done
	cmp -s "$T/a.$mem_P" "$T/a.$red_P" || bench_fail "the two stores answer $rq otherwise"
done <same.ndjson
for p in "$mem_P" "$red_P"; do "$LOADGEN" -p "$p" -r 0 -c 4 -n 2000 -T 10 $LG >/dev/null; done

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$2"; }
med() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
list() { tr '\n' ' ' | sed 's/ $//'; }
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f", s }'; }

# 1. CPU per request, closed loop of 4 connections, alternating rounds (the order swapped each round).
# For Redis, q-score's own CPU and q-score's plus redis-server's.
: >mem.r; : >red.r; : >redall.r
# cpu_run PORT PID OUT [OUT_WITH_REDIS]
cpu_run() {
	c0=$(cpu_ns "$2"); r0=$(cpu_ns "$RPID")
	"$LOADGEN" -p "$1" -r 0 -c 4 -n "$CPUN" -T 60 $LG >cpu.out || bench_fail "loadgen failed"
	c1=$(cpu_ns "$2"); r1=$(cpu_ns "$RPID")
	n=$(field done cpu.out)
	calc "($c1 - $c0) / $n / 1000" >>"$3"; echo >>"$3"
	[ -z "${4:-}" ] || { calc "($c1 - $c0 + $r1 - $r0) / $n / 1000" >>"$4"; echo >>"$4"; }
}
r=0
while [ $r -lt "$CPUR" ]; do
	if [ $((r % 2)) = 0 ]; then
		cpu_run "$mem_P" "$mem_PID" mem.r; cpu_run "$red_P" "$red_PID" red.r redall.r
	else
		cpu_run "$red_P" "$red_PID" red.r redall.r; cpu_run "$mem_P" "$mem_PID" mem.r
	fi
	r=$((r + 1))
done
ratios() { paste "$1" "$2" | awk '{ printf "%.2f\n", $1 / $2 }'; }
# the floor: one thread doing nothing but the same reads, one round trip each
for r in 1 2 3; do redis-rtt "$RP" "$CPUN" 1000 >rtt.out && field cpu_us rtt.out; done >rtt.r
echo "a bare hiredis read of one user's list (redis-rtt, one thread): $(med <rtt.r) us CPU (rounds: $(list <rtt.r))"
echo "server CPU per request, in process: $(med <mem.r) us (rounds: $(list <mem.r))"
echo "server CPU per request, Redis: $(med <red.r) us (rounds: $(list <red.r)); with redis-server's: $(med <redall.r) us (rounds: $(list <redall.r))"
echo "Redis / in process: $(ratios red.r mem.r | med) (rounds: $(ratios red.r mem.r | list)); with redis-server's: $(ratios redall.r mem.r | med)"
[ "$(metric "$red_P" qscore_history_fallbacks_total)" = 0 ] || echo "note: $(metric "$red_P" qscore_history_fallbacks_total) fallbacks"

# 2. p99 at a fixed rate, alternating rounds: Redis's p99 minus in process's, per round.
: >p99m.r; : >p99r.r; : >p99d.r
n=$(calc "$RATE * $ROUND" %d)
r=0
while [ $r -lt "$CPUR" ]; do
	for k in $( [ $((r % 2)) = 0 ] && echo "mem red" || echo "red mem"); do
		eval "p=\$${k}_P"
		"$LOADGEN" -p "$p" -r "$RATE" -c 8 -n "$n" -T 60 $LG >lat.out || bench_fail "loadgen failed"
		field p99_us lat.out >>"p99${k%${k#?}}.r"
	done
	r=$((r + 1))
done
paste p99r.r p99m.r | awk '{ printf "%.0f\n", $1 - $2 }' >p99d.r
echo "p99 at $RATE requests/s, in process: $(med <p99m.r) us (rounds: $(list <p99m.r)); Redis: $(med <p99r.r) us (rounds: $(list <p99r.r)); added: $(med <p99d.r) us (rounds: $(list <p99d.r))"
kill "$mem_PID" "$red_PID" 2>/dev/null; wait "$mem_PID" "$red_PID" 2>/dev/null

# 3. Events written per second by one replica: a file of WEV events (20 clicks a user), from the
# start to the last written, in DB 1, emptied each round.
gen_events $((WEV / 21)) 20 >wev.ndjson
nw=$(wc -l <wev.ndjson | tr -d ' ')
: >wrate.r
r=0
while [ $r -lt 3 ]; do
	rcli -n 1 flushdb >/dev/null
	t0=$(date +%s.%N)
	serve w --events wev.ndjson --history "redis://127.0.0.1:$RP/1"
	wait_metric "$w_P" qscore_history_writes_total "$nw"
	t1=$(date +%s.%N)
	calc "$nw / ($t1 - $t0)" %.0f >>wrate.r; echo >>wrate.r
	kill "$w_PID"; wait "$w_PID" 2>/dev/null
	r=$((r + 1))
done
echo "events written to Redis by one replica: $(med <wrate.r) events/s (rounds: $(list <wrate.r); $nw events, start to last written)"
echo "redis DB 1: $(rcli -n 1 dbsize) keys; MEMORY USAGE of one user: $(rcli -n 1 memory usage pageturn:h:u1) bytes"

figure "q-score CPU/request, Redis / in process" "$(ratios red.r mem.r | med)" x - "same requests" "<= 1.3"
figure "  with redis-server's CPU" "$(ratios redall.r mem.r | med)" x
figure "  the added CPU, and a bare read's" "$(paste red.r mem.r | awk '{ printf "%.1f\n", $1 - $2 }' | med)" us - "bare $(med <rtt.r) us"
figure "q-score p99 added by Redis" "$(med <p99d.r)" us - "$RATE requests/s" "<= 300"
figure "Redis memory per user (20 clicks)" "$(calc "($used1 - $used0) / 1000" %.0f)" bytes
figure "events written to Redis per replica" "$(med <wrate.r)" events/s
