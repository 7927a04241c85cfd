#!/bin/sh
# b-q-score.sh: q-score's benchmark — latency at a fixed rate, the same while versions are swapped in every second, throughput per core, and CPU per request against the bare forward pass.
. "$(dirname "$0")/lib.sh"
LOADGEN=$TOP/$B/bench/loadgen
MK=$TOP/$B/tests/qscore-mkmodel
# get URL: the body of a GET on stdout
get() { "$TOP/$B/tests/qscore-http" -o "$T/get.out" "$1" >/dev/null && cat "$T/get.out"; }
RATE=${QS_BENCH_RATE:-2000}		# requests/s of the latency runs
ROUND=${QS_BENCH_ROUND:-3}		# seconds of each latency round
ROUNDS=${QS_BENCH_ROUNDS:-4}		# rounds of (steady, swapping)
THREADS=${QS_BENCH_THREADS:-2}
T=$TMP
SPID=""
trap 'kill $SPID 2>/dev/null; bench_cleanup' EXIT
cd "$T" || exit 1

# The design's network: d 32, L 20, widths 2,3, F 32, H 64; 4 context numbers, 2 features, 10000 items.
DIMS="-C 4 -X 2 -d 32 -L 20 -F 32 -H 64 -n 10000"
LG="-m 100 -I 10000 -X 2 -C 4 -L 20 -q"
"$LOADGEN" -n 0 -d warm.ndjson $LG
"$MK" -m models $DIMS -w warm.ndjson || exit 1

"$BIN/q-score" -m models --listen 127.0.0.1:0 --port-file port --threads "$THREADS" -q 2>server.err &
SPID=$!
i=0; while [ ! -s port ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
P=$(cat port)
cpu() { awk '{ print $14 + $15 }' "/proc/$SPID/stat"; }	# user+system clock ticks
HZ=$(getconf CLK_TCK)
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$2"; }

# warm the server itself
"$LOADGEN" -p "$P" -r 0 -c 4 -n 2000 -T 10 $LG >/dev/null

# 1. Throughput: closed loop, 4 connections; the server's CPU time per request.
c0=$(cpu)
"$LOADGEN" -p "$P" -r 0 -c 4 -n 20000 -T 30 $LG >max.out
c1=$(cpu)
n=$(field done max.out)
cpu_us=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="$n" 'BEGIN { printf "%.1f", t / hz / n * 1e6 }')
echo "throughput (closed loop, 4 connections, $THREADS threads): $(field rps max.out) requests/s; server CPU ${cpu_us} us/request = $(awk -v c="$cpu_us" 'BEGIN { printf "%.0f", 1e6 / c }') requests/s per core"

# 2. Bare scoring of the same requests (embedding lookups and the network; no parsing, no HTTP), one thread.
"$MK" -r -m models -b 50 <warm.ndjson 2>bare.txt >/dev/null
bare_ns=$(sed -n 's/bare scoring: \([0-9]*\) ns.*/\1/p' bare.txt)
echo "bare scoring (state + 100 candidates): $(awk -v b="$bare_ns" 'BEGIN { printf "%.1f", b / 1000 }') us/request; server CPU / bare = $(awk -v c="$cpu_us" -v b="$bare_ns" 'BEGIN { printf "%.2f", c * 1000 / b }') (goal <= 2)"

# 3 and 4. Fixed rate, in alternating rounds (so that a drift of the machine's other load hits both
# alike): steady, then while a new version (new network, hard-linked embeddings, warm-up requests)
# is published every second.
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
fails=0
r=0
while [ $r -lt "$ROUNDS" ]; do
	get "http://127.0.0.1:$P/v1/latency?reset=1" >/dev/null
	"$LOADGEN" -p "$P" -r "$RATE" -c 16 -n "$n" -T $((ROUND + 5)) -l steady.log $LG >steady.out || fails=$((fails + 1))
	awk '{ print $4 }' steady.log >>steady.lat
	get "http://127.0.0.1:$P/v1/latency?reset=1" >>steady.svc
	# the publisher stands in for q-train, which runs elsewhere or in the background: niced
	nice -n 10 "$MK" -m models $DIMS -s $((100 + r * 10)) -c "$ROUND" -t 1000 -w warm.ndjson -k 3 &
	MKPID=$!
	"$LOADGEN" -p "$P" -r "$RATE" -c 16 -n "$n" -T $((ROUND + 5)) -l swap.log $LG >swap.out || fails=$((fails + 1))
	get "http://127.0.0.1:$P/v1/latency?reset=1" >>swap.svc
	wait $MKPID
	awk '{ print $4 }' swap.log >>swap.lat
	# within the run: requests sent from 100 ms before to 200 ms after a swap was first seen, and the others
	awk '{ t[NR] = $1 - $4 / 1000; v[NR] = $2; l[NR] = $4; if ($2 > max) { if (max > 0) sw[++ns] = $1; max = $2 } }
	    END { for (i = 1; i <= NR; i++) { near = 0; for (j = 1; j <= ns; j++) if (t[i] >= sw[j] - 100 && t[i] <= sw[j] + 200) near = 1;
	      print l[i] > (near ? "near.part" : "far.part") } }' swap.log
	cat near.part >>near.lat 2>/dev/null
	cat far.part >>far.lat 2>/dev/null
	rm -f near.part far.part
	r=$((r + 1))
done
echo "steady at $RATE/s:           $(pcts <steady.lat)"
echo "swapping every 1 s at $RATE/s: $(pcts <swap.lat)"
p99s=$(sort -n steady.lat | awk '{ v[NR] = $1 } END { print v[int(0.99 * (NR - 1)) + 1] }')
p99w=$(sort -n swap.lat | awk '{ v[NR] = $1 } END { print v[int(0.99 * (NR - 1)) + 1] }')
echo "p99 during swaps / steady p99 = $(awk -v a="$p99w" -v b="$p99s" 'BEGIN { printf "%.2f", a / b }') (goal <= 1.1); runs with a failed or backward answer: $fails"
echo "within the swapping runs: near a swap (-100..+200 ms) $(pcts <near.lat)"
echo "                          the rest                   $(pcts <far.lat)"
# The server's own service time (complete body to answer queued): wall and thread CPU, median over rounds.
svc() { jq -r "$2" "$1" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "service time, steady:   wall p50 $(svc steady.svc .wall_us.p50) us p99 $(svc steady.svc .wall_us.p99) us; CPU p50 $(svc steady.svc .cpu_us.p50) us p99 $(svc steady.svc .cpu_us.p99) us (median of rounds)"
echo "service time, swapping: wall p50 $(svc swap.svc .wall_us.p50) us p99 $(svc swap.svc .wall_us.p99) us; CPU p50 $(svc swap.svc .cpu_us.p50) us p99 $(svc swap.svc .cpu_us.p99) us (median of rounds)"
echo "versions served: $(get "http://127.0.0.1:$P/metrics" | sed -n 's/^qscore_model_swaps_total //p') swaps, refusals $(get "http://127.0.0.1:$P/metrics" | sed -n 's/^qscore_model_refusals_total //p')"
get "http://127.0.0.1:$P/v1/models" | sed -n 's/.*"\(load_ms\|warmup_ms\|warmup_requests\|swaps\)": \([0-9.]*\).*/last version: \1 \2/p'
kill "$SPID"
wait "$SPID" 2>/dev/null
SPID=""
