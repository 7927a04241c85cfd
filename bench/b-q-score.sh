#!/bin/sh
# b-q-score.sh: q-score's benchmark — latency at a fixed rate, the same while versions are swapped in every second, throughput per core, and CPU per request against the bare forward pass.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
B=${B:-build}
BIN=$TOP/$B/bin
LOADGEN=$TOP/$B/bench/loadgen
MK=$TOP/$B/tests/qscore-mkmodel
RATE=${QS_BENCH_RATE:-2000}		# requests/s of the latency runs
SECS=${QS_BENCH_SECONDS:-10}		# length of each latency run
THREADS=${QS_BENCH_THREADS:-2}
T=$(mktemp -d "${TMPDIR:-/tmp}/b-q-score.XXXXXX")
SPID=""
trap 'kill $SPID 2>/dev/null; rm -rf "$T"' EXIT
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

# 2. The bare forward pass of the same requests (no parsing, no HTTP), one thread.
"$MK" -r -m models -b 300 <warm.ndjson 2>bare.txt >/dev/null
bare_ns=$(sed -n 's/forward pass: \([0-9]*\) ns.*/\1/p' bare.txt)
echo "bare scoring (state + 100 candidates): $(awk -v b="$bare_ns" 'BEGIN { printf "%.1f", b / 1000 }') us/request; server CPU / bare = $(awk -v c="$cpu_us" -v b="$bare_ns" 'BEGIN { printf "%.2f", c * 1000 / b }') (goal <= 2)"

# 3. Fixed rate, steady.
n=$(awk -v r="$RATE" -v s="$SECS" 'BEGIN { print int(r * s) }')
"$LOADGEN" -p "$P" -r "$RATE" -c 32 -n "$n" -T $((SECS + 5)) $LG >steady.out
echo "steady at $RATE/s:        p50 $(field p50_us steady.out) us  p99 $(field p99_us steady.out) us  p99.9 $(field p999_us steady.out) us  max $(field max_us steady.out) us  failed $(field failed steady.out)"

# 4. Fixed rate while a new version (new network, hard-linked embeddings, warm-up requests) is published every second.
"$MK" -m models $DIMS -s 7 -c $((SECS + 1)) -t 1000 -w warm.ndjson -k 3 &
MKPID=$!
"$LOADGEN" -p "$P" -r "$RATE" -c 32 -n "$n" -T $((SECS + 5)) -l swap.log $LG >swap.out
wait $MKPID
echo "swapping every 1 s:      p50 $(field p50_us swap.out) us  p99 $(field p99_us swap.out) us  p99.9 $(field p999_us swap.out) us  max $(field max_us swap.out) us  failed $(field failed swap.out)  versions $(field versions swap.out)"
echo "p99 during swaps / steady p99 = $(awk -v a="$(field p99_us swap.out)" -v b="$(field p99_us steady.out)" 'BEGIN { printf "%.2f", a / b }') (goal <= 1.1)"
curl -s "http://127.0.0.1:$P/v1/models" | sed -n 's/.*"\(load_ms\|warmup_ms\|warmup_requests\|swaps\)": \([0-9.]*\).*/last version: \1 \2/p'
kill "$SPID"
wait "$SPID" 2>/dev/null
SPID=""
