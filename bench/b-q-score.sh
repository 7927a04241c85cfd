#!/bin/sh
# b-q-score.sh: q-score's benchmark — latency at a fixed rate, the same while versions are swapped in every second, throughput per core, and CPU per request against the bare forward pass.
. "$(dirname "$0")/lib.sh"
LOADGEN=$TOP/$B/bench/loadgen
MK=$TOP/$B/tests/qscore-mkmodel
# get URL: the body of a GET on stdout
get() { "$TOP/$B/tests/qscore-http" -o "$T/get.out" "$1" >/dev/null && cat "$T/get.out"; }
RATE=${QS_BENCH_RATE:-2000}		# requests/s of the latency runs
ROUND=${QS_BENCH_ROUND:-3}		# seconds of each latency round
ROUNDS=${QS_BENCH_ROUNDS:-5}		# rounds of (steady, swapping)
CPUR=${QS_BENCH_CPU_ROUNDS:-5}		# rounds of (bare, server CPU)
THREADS=${QS_BENCH_THREADS:-2}
T=$TMP
SPID=""
trap 'kill $SPID 2>/dev/null; bench_cleanup' EXIT
cd "$T" || exit 1

# The design's network: d 32, L 20, widths 2,3, F 32, H 64; 4 context numbers, 2 features, 10000 items.
DIMS="-C 4 -X 2 -d 32 -L 20 -F 32 -H 64 -n 10000"
LG="-m 100 -I 10000 -X 2 -C 4 -L 20 -q"
"$LOADGEN" -n 0 -d warm.ndjson $LG
# The bodies of the batch rounds, and their requests one a line for the bare scoring of the same.
BATCH=${QS_BENCH_BATCH:-16}
"$LOADGEN" -n 0 -d batch.json -B "$BATCH" $LG
jq -c '.[]' batch.json >batch.ndjson
"$MK" -m models $DIMS -w warm.ndjson || exit 1

"$BIN/q-score" -m models --listen 127.0.0.1:0 --port-file port --threads "$THREADS" -q 2>server.err &
SPID=$!
i=0; while [ ! -s port ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
P=$(cat port)
fails=0
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$2"; }
med() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
list() { tr '\n' ' ' | sed 's/ $//'; }

# A second server with one request thread, and the transport's floor: tcp-floor answers every request
# with q-score's own recorded answer to it, doing nothing else (one thread, epoll).
"$BIN/q-score" -m models --listen 127.0.0.1:0 --port-file port1 --threads 1 -q 2>server1.err &
SPID1=$!
head -1 warm.ndjson | "$TOP/$B/tests/qscore-http" -o answer.json -D - "http://127.0.0.1:$P/v1/score" >/dev/null ||
    bench_fail "no answer to record"
tcp-floor -f fport -b answer.json &
FPID=$!
i=0; while { [ ! -s port1 ] || [ ! -s fport ]; } && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
P1=$(cat port1)
PF=$(cat fport)
trap 'kill $SPID $SPID1 $FPID 2>/dev/null; bench_cleanup' EXIT

# warm the servers
for p in "$P" "$P1" "$PF"; do "$LOADGEN" -p "$p" -r 0 -c 4 -n 2000 -T 10 $LG >/dev/null; done

# 1 and 2. CPU per request against the bare scoring of the same requests, in alternating rounds
# (the machine may be shared: its other load slows all alike within a round, and the median of
# the rounds' ratios is reported). Each round times:
#  - bare scoring (the history's and the candidates' embedding lookups and the network, as the
#    server does them; no parsing, no HTTP), one thread, CPU time;
#  - the CPU per request, in a closed loop of 4 connections, of q-score with $THREADS request
#    threads, of q-score with one (on 2 processors: one for the server, one for the load
#    generator, as a server on a host of its own would have its cores), and of tcp-floor;
#  - each with a client that sleeps between answers (on loopback the server's send then pays for
#    waking it: an inter-processor interrupt, dear in a virtual machine, that a client on another
#    host would not cost it), and with one that polls (-S; it takes a processor, and q-score's
#    threads then share the other);
#  - with the sleeping client, the server's own measure of the same scoring, inside it and so
#    under the same load (/v1/latency forward_us: the mean CPU time of the same lookups and
#    forward passes, taken on one request in 32);
#  - q-score with $THREADS threads answering bodies of $BATCH requests (POST /v1/score with an
#    array), against the bare scoring of those same requests.
# The server's CPU time in ns: the run times of all its threads (exact, where /proc/PID/stat counts clock ticks).
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f", s }'; }
CPUN=${QS_BENCH_CPU_REQUESTS:-10000}
# cpu_run NAME PID PORT FLAG [BATCH]: one closed-loop run, with bodies of BATCH requests when
# given; its CPU per scored request (us) to NAME.r
cpu_run() {
	c0=$(cpu_ns "$2")
	"$LOADGEN" -p "$3" -r 0 -c 4 -n $((CPUN / ${5:-1})) ${5:+-B "$5"} -T 60 $4 $LG >max.out || fails=$((fails + 1))
	c1=$(cpu_ns "$2")
	awk -v a="$c0" -v b="$c1" -v n="$(field done max.out)" -v k="${5:-1}" 'BEGIN { printf "%.2f\n", (b - a) / n / k / 1000 }' >>"$1.r"
}
# bare_of FILE: the CPU per request (us) that qscore-mkmodel -r wrote to FILE
bare_of() { sed -n 's/bare scoring[^:]*: \([0-9]*\) ns.*/\1/p' "$1" | awk '{ printf "%.2f\n", $1 / 1000 }'; }
: >bare_us.r; : >rps.r; : >fwd.r; : >bare_b.r
for k in sleep spin sleep1 spin1 floor floorspin bsleep bspin; do : >$k.r; done
r=0
while [ $r -lt "$CPUR" ]; do
	"$MK" -r -m models -b 50 <warm.ndjson 2>bare.txt >/dev/null
	bare_of bare.txt >>bare_us.r
	get "http://127.0.0.1:$P/v1/latency?reset=1" >/dev/null
	cpu_run sleep "$SPID" "$P" ""
	field rps max.out >>rps.r
	get "http://127.0.0.1:$P/v1/latency" | jq .forward_us.mean >>fwd.r
	cpu_run spin "$SPID" "$P" -S
	cpu_run sleep1 "$SPID1" "$P1" ""
	cpu_run spin1 "$SPID1" "$P1" -S
	cpu_run floor "$FPID" "$PF" ""
	cpu_run floorspin "$FPID" "$PF" -S
	"$MK" -r -m models -b 3 <batch.ndjson 2>bare.txt >/dev/null
	bare_of bare.txt >>bare_b.r
	cpu_run bsleep "$SPID" "$P" "" "$BATCH"
	cpu_run bspin "$SPID" "$P" -S "$BATCH"
	r=$((r + 1))
done
bare_us=$(med <bare_us.r)
echo "throughput (closed loop, 4 connections, $THREADS threads): $(med <rps.r) requests/s (median of $CPUR rounds); server CPU $(med <sleep.r) us/request = $(awk -v c="$(med <sleep.r)" 'BEGIN { printf "%.0f", 1e6 / c }') requests/s per core"
echo "bare scoring (state + 100 candidates, history and candidate lookups included): ${bare_us} us/request (rounds: $(list <bare_us.r))"
# ratios A B: each round's A over its B, one a line
ratios() { paste "$1" "$2" | awk '{ printf "%.2f\n", $1 / $2 }'; }
# ratio A B: the median over the rounds of A's round over B's, and the rounds'
ratio() { ratios "$1" "$2" >ratio.r; echo "$(med <ratio.r) (rounds: $(list <ratio.r))"; }
for k in sleep spin sleep1 spin1; do
	case $k in
	sleep) what="$THREADS threads, sleeping client" fl=floor ;;
	spin) what="$THREADS threads, polling client " fl=floorspin ;;
	sleep1) what="1 thread,  sleeping client" fl=floor ;;
	spin1) what="1 thread,  polling client " fl=floorspin ;;
	esac
	echo "q-score $what: $(med <$k.r) us/request (rounds: $(list <$k.r)); / bare = $(ratio $k.r bare_us.r)"
	# what q-score adds beyond the scoring and the floor, per round
	paste $k.r $fl.r bare_us.r | awk '{ printf "%.2f\n", $1 - $2 - $3 }' >own.r
	echo "    of which beyond the bare scoring and the transport floor: $(med <own.r) us (rounds: $(list <own.r))"
done
# Batches: the transport's cost is shared by the requests of a body. Their bare reference scores the
# same requests (more of them than the single rounds', so their embeddings' rows fit the caches less).
echo "bare scoring of the batches' $(wc -l <batch.ndjson | tr -d " ") requests: $(med <bare_b.r) us/request (rounds: $(list <bare_b.r))"
for k in bsleep bspin; do
	case $k in
	bsleep) what="sleeping client" ;;
	bspin) what="polling client " ;;
	esac
	echo "q-score $THREADS threads, batches of $BATCH, $what: $(med <$k.r) us/request (rounds: $(list <$k.r)); / bare = $(ratio $k.r bare_b.r)"
done
echo "transport floor (tcp-floor, 1 thread, the same requests and answer bytes): sleeping client $(med <floor.r) us/request (rounds: $(list <floor.r)), polling $(med <floorspin.r) (rounds: $(list <floorspin.r))"
echo "the floor / bare: sleeping client $(ratio floor.r bare_us.r), polling $(ratio floorspin.r bare_us.r)"
paste fwd.r sleep.r | awk '{ printf "%.2f\n", $2 / $1 }' >ratio_fwd.r
echo "the same scoring inside the server (forward_us mean, $THREADS threads, sleeping client): $(med <fwd.r) us/request (rounds: $(list <fwd.r)); server CPU / that = $(med <ratio_fwd.r) (rounds: $(list <ratio_fwd.r))"
kill "$SPID1" "$FPID" 2>/dev/null
wait "$SPID1" "$FPID" 2>/dev/null
figure "q-score throughput, 4 connections" "$(med <rps.r)" requests/s
figure "q-score server CPU per request" "$(med <sleep.r)" us
for k in sleep spin sleep1 spin1 bsleep bspin; do
	ref=bare_us.r
	case $k in
	sleep) what="$THREADS thr, sleeping client" ;;
	spin) what="$THREADS thr, polling client" ;;
	sleep1) what="1 thr, sleeping client" ;;
	spin1) what="1 thr, polling client" ;;
	bsleep) what="batches of $BATCH, sleeping client" ref=bare_b.r ;;
	bspin) what="batches of $BATCH, polling client" ref=bare_b.r ;;
	esac
	figure "q-score CPU / bare, $what" "$(ratios $k.r $ref | med)" x - "reference, same requests" "<= 2"
done
figure "tcp-floor CPU / bare, sleeping client" "$(ratios floor.r bare_us.r | med)" x
# What q-score adds beyond the scoring and the transport, as a share of the scoring (polling client, 1 thread).
figure "q-score CPU beyond bare and floor / bare" \
    "$(paste spin1.r floorspin.r bare_us.r | awk '{ printf "%.2f\n", ($1 - $2 - $3) / $3 }' | med)" x - "1 thr, polling client"
figure "q-score server CPU / its own scoring" "$(med <ratio_fwd.r)" x - "forward_us, same load"

# 3 and 4. Fixed rate, in rounds of a pair (so that a drift of the machine's other load hits both
# alike; each round the pair in the other order): steady, and while a new version (new network,
# hard-linked embeddings, warm-up requests) is published every second. Besides the pooled
# percentiles, the ratio of each round's pair and their median, which the machine's other load
# distorts less; and the same for the server's own service time, wall and CPU (a spike of the
# swap itself, such as page faults on the new embeddings, would show in the CPU time). Within
# each swapping run, the requests sent near a swap against the others: the comparison that
# another tenant's load, which comes and goes over seconds, disturbs least.
pcts() { sort -n | awk '{ v[NR] = $1 } END { n = NR; if (n == 0) { print "no data"; exit }
	printf "p50 %d us  p99 %d us  p99.9 %d us  max %d us  (%d requests)", v[int(0.5 * (n - 1)) + 1],
	    v[int(0.99 * (n - 1)) + 1], v[int(0.999 * (n - 1)) + 1], v[n], n }'; }
n=$(awk -v r="$RATE" -v s="$ROUND" 'BEGIN { print int(r * s) }')
: >steady.lat
: >swap.lat
: >steady.svc
: >swap.svc
: >near.lat
: >far.lat
r=0
: >rate_cpu.r; : >bare_rate.r
: >ratio_p99.r; : >ratio_cpu99.r; : >ratio_wall99.r; : >ratio_near.r
p99() { sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int(0.99 * (NR - 1)) + 1] : 0 }'; }
steady() {
	get "http://127.0.0.1:$P/v1/latency?reset=1" >/dev/null
	c0=$(cpu_ns "$SPID")
	"$LOADGEN" -p "$P" -r "$RATE" -c 16 -n "$n" -T $((ROUND + 5)) -l steady.log $LG >steady.out || fails=$((fails + 1))
	c1=$(cpu_ns "$SPID")
	awk -v a="$c0" -v b="$c1" -v n="$(field done steady.out)" 'BEGIN { printf "%.2f\n", (b - a) / n / 1000 }' >>rate_cpu.r
	awk '{ print $4 }' steady.log >>steady.lat
	get "http://127.0.0.1:$P/v1/latency?reset=1" >>steady.svc
	# the bare scoring of as many requests at the same rate, the thread asleep in between as the
	# server's are: its caches cool alike between requests
	"$MK" -r -m models -b "$n" -R "$RATE" <warm.ndjson 2>bare_rate.txt >/dev/null
	bare_of bare_rate.txt >>bare_rate.r
}
swapping() {
	get "http://127.0.0.1:$P/v1/latency?reset=1" >/dev/null
	# the publisher stands in for q-train, which runs elsewhere or in the background: niced
	nice -n 10 "$MK" -m models $DIMS -s $((100 + r * 10)) -c "$ROUND" -t 1000 -w warm.ndjson -k 3 &
	MKPID=$!
	"$LOADGEN" -p "$P" -r "$RATE" -c 16 -n "$n" -T $((ROUND + 5)) -l swap.log $LG >swap.out || fails=$((fails + 1))
	get "http://127.0.0.1:$P/v1/latency?reset=1" >>swap.svc
	wait $MKPID
	awk '{ print $4 }' swap.log >>swap.lat
}
while [ $r -lt "$ROUNDS" ]; do
	# which comes first alternates, so that neither always follows the other
	if [ $((r % 2)) = 0 ]; then steady; swapping; else swapping; steady; fi
	# within the run: requests sent from 100 ms before to 200 ms after a swap was first seen, and the others
	awk '{ t[NR] = $1 - $4 / 1000; v[NR] = $2; l[NR] = $4; if ($2 > max) { if (max > 0) sw[++ns] = $1; max = $2 } }
	    END { for (i = 1; i <= NR; i++) { near = 0; for (j = 1; j <= ns; j++) if (t[i] >= sw[j] - 100 && t[i] <= sw[j] + 200) near = 1;
	      print l[i] > (near ? "near.part" : "far.part") } }' swap.log
	awk -v a="$(awk '{ print $4 }' swap.log | p99)" -v b="$(awk '{ print $4 }' steady.log | p99)" 'BEGIN { printf "%.2f\n", a / b }' >>ratio_p99.r
	awk -v a="$(tail -1 swap.svc | jq .cpu_us.p99)" -v b="$(tail -1 steady.svc | jq .cpu_us.p99)" 'BEGIN { printf "%.2f\n", a / b }' >>ratio_cpu99.r
	awk -v a="$(tail -1 swap.svc | jq .wall_us.p99)" -v b="$(tail -1 steady.svc | jq .wall_us.p99)" 'BEGIN { printf "%.2f\n", a / b }' >>ratio_wall99.r
	[ -s near.part ] && [ -s far.part ] &&
	    awk -v a="$(p99 <near.part)" -v b="$(p99 <far.part)" 'BEGIN { printf "%.2f\n", a / b }' >>ratio_near.r
	cat near.part >>near.lat 2>/dev/null
	cat far.part >>far.lat 2>/dev/null
	rm -f near.part far.part
	r=$((r + 1))
done
echo "steady at $RATE/s:           $(pcts <steady.lat)"
echo "swapping every 1 s at $RATE/s: $(pcts <swap.lat)"
p99s=$(sort -n steady.lat | awk '{ v[NR] = $1 } END { print v[int(0.99 * (NR - 1)) + 1] }')
p99w=$(sort -n swap.lat | awk '{ v[NR] = $1 } END { print v[int(0.99 * (NR - 1)) + 1] }')
echo "p99 during swaps / steady p99 = $(awk -v a="$p99w" -v b="$p99s" 'BEGIN { printf "%.2f", a / b }') pooled, $(med <ratio_p99.r) median of rounds ($(list <ratio_p99.r)) (goal <= 1.1)"
figure "q-score p99 latency, steady, $RATE/s" "$p99s" us
figure "q-score p99 swapping / steady (client)" "$(med <ratio_p99.r)" x - "median of $ROUNDS rounds" "<= 1.1"
figure "q-score p99 swapping / steady (service CPU)" "$(med <ratio_cpu99.r)" x - "median of $ROUNDS rounds" "<= 1.1"
echo "the server's service time p99, swapping / steady: CPU $(med <ratio_cpu99.r) ($(list <ratio_cpu99.r)), wall $(med <ratio_wall99.r) ($(list <ratio_wall99.r)) (median of rounds)"
# at a fixed rate the server's threads wait between requests: each request also pays for waking one
echo "server CPU at $RATE/s, steady ($THREADS threads, 16 connections): $(med <rate_cpu.r) us/request (rounds: $(list <rate_cpu.r)); / bare = $(awk -v a="$(med <rate_cpu.r)" -v b="$bare_us" 'BEGIN { printf "%.2f", a / b }')"
figure "q-score CPU / bare at $RATE/s" "$(awk -v a="$(med <rate_cpu.r)" -v b="$bare_us" 'BEGIN { printf "%.2f", a / b }')" x - "reference, same requests" "<= 2"
echo "bare scoring paced at $RATE/s (asleep between requests): $(med <bare_rate.r) us/request (rounds: $(list <bare_rate.r)); server CPU at $RATE/s / that = $(ratio rate_cpu.r bare_rate.r)"
figure "q-score CPU / bare, both at $RATE/s" "$(ratios rate_cpu.r bare_rate.r | med)" x - "reference paced alike" "<= 2"
echo "runs with a failed or backward answer: $fails"
echo "within the swapping runs: near a swap (-100..+200 ms) $(pcts <near.lat)"
echo "                          the rest                   $(pcts <far.lat)"
echo "p99 near a swap / the rest of the same run: $(med <ratio_near.r) median of rounds ($(list <ratio_near.r))"
figure "q-score p99 near a swap / the rest (client)" "$(med <ratio_near.r)" x - "median of $ROUNDS rounds" "<= 1.1"
# The server's own service time (complete body to answer queued): wall and thread CPU, median over rounds.
svc() { jq -r "$2" "$1" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "service time, steady:   wall p50 $(svc steady.svc .wall_us.p50) us p99 $(svc steady.svc .wall_us.p99) us; CPU p50 $(svc steady.svc .cpu_us.p50) us p99 $(svc steady.svc .cpu_us.p99) us (median of rounds)"
echo "service time, swapping: wall p50 $(svc swap.svc .wall_us.p50) us p99 $(svc swap.svc .wall_us.p99) us; CPU p50 $(svc swap.svc .cpu_us.p50) us p99 $(svc swap.svc .cpu_us.p99) us (median of rounds)"
echo "versions served: $(get "http://127.0.0.1:$P/metrics" | sed -n 's/^qscore_model_swaps_total //p') swaps, refusals $(get "http://127.0.0.1:$P/metrics" | sed -n 's/^qscore_model_refusals_total //p')"
get "http://127.0.0.1:$P/v1/models" | sed -n 's/.*"\(load_ms\|warmup_ms\|warmup_requests\|swaps\)": \([0-9.]*\).*/last version: \1 \2/p'
kill "$SPID"
wait "$SPID" 2>/dev/null
SPID=""
