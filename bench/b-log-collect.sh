#!/bin/sh
# b-log-collect.sh: log-collect file-to-file throughput as a ratio to `jq -c .` on the same file, and its peak RSS.
# Usage: bench/b-log-collect.sh   (N=impressions, default 200000; B=build directory)
set -u
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
N=${N:-200000}
PATH="$PWD/$B/bin:$PWD/$B/bench:$PATH"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pageturn-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# measure CMD...: runs CMD, prints "elapsed_s cpu_s peak_rss_kb" (cpu: user + system; without
# /usr/bin/time, cpu is the elapsed time and the peak RSS is polled from /proc).
measure() {
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "$@" >/dev/null || return 1
		tail -1 "$tmp/time" | awk '{ print $1, $2 + $3, $4 }'
		return
	fi
	start=$(date +%s.%N)
	"$@" >/dev/null &
	pid=$! peak=0
	while kill -0 $pid 2>/dev/null; do
		r=$(awk '/VmHWM/ { print $2 }' /proc/$pid/status 2>/dev/null)
		[ -n "$r" ] && [ "$r" -gt "$peak" ] && peak=$r
		sleep 0.05
	done
	wait $pid || return 1
	awk -v s="$start" -v e="$(date +%s.%N)" -v p="$peak" 'BEGIN { print e - s, e - s, p }'
}

gen-events -n "$N" -s 1 >"$tmp/raw.ndjson" || exit 1
lines=$(wc -l <"$tmp/raw.ndjson")
mb=$(du -m "$tmp/raw.ndjson" | cut -f1)
echo "input: $N impressions, $lines events, $mb MB"

# Warm the page cache, then time both on the same file.
cat "$tmp/raw.ndjson" >/dev/null
lc=$(measure log-collect -i "$tmp/raw.ndjson" -o "$tmp/events.ndjson" --dead-letter "$tmp/dl.ndjson") || exit 1
jq=$(measure jq -c . "$tmp/raw.ndjson") || exit 1
out=$(wc -l <"$tmp/events.ndjson")
[ "$out" -eq "$lines" ] || { echo "log-collect wrote $out of $lines events" >&2; exit 1; }

# Peak RSS on a quarter of the input, to see that memory does not grow with it.
head -n $((lines / 4)) "$tmp/raw.ndjson" >"$tmp/quarter.ndjson"
q=$(measure log-collect -i "$tmp/quarter.ndjson" -o "$tmp/events-q.ndjson") || exit 1

# The mock broker keeps about 5 MB a partition (older messages are trimmed), so the
# Kafka run takes 40,000 events (28 MB), keyed to spread evenly over 16 partitions.
kafka_bench() {
	head -n 40000 "$tmp/raw.ndjson" >"$tmp/kafka.ndjson"
	awk '{ print NR "\t" $0 }' "$tmp/kafka.ndjson" >"$tmp/kafka.keyed"	# keys spread the lines evenly
	"$PWD/$B/tests/kafka-mock" -q -f "$tmp/ports" -p 16 -t raw -t events >/dev/null &
	mock=$!
	for i in $(seq 100); do [ -s "$tmp/ports" ] && break; sleep 0.1; done
	brokers=$(cat "$tmp/ports")
	qlines=$(wc -l <"$tmp/kafka.ndjson")
	t0=$(date +%s.%N)
	kcat -q -P -b "$brokers" -t raw -K '	' <"$tmp/kafka.keyed" || { kill $mock; return 1; }
	t1=$(date +%s.%N)
	log-collect -q -b "$brokers" -i kafka:raw -o kafka:events --stats "$tmp/kstats" --stats-interval 0.1 &
	lc=$!
	for i in $(seq 1200); do
		kill -0 $lc 2>/dev/null || break
		[ "$(tail -1 "$tmp/kstats" 2>/dev/null | jq -r .out)" = "$qlines" ] && break
		sleep 0.1
	done
	kill -TERM $lc
	wait $lc
	st=$?
	t2=$(date +%s.%N)
	kill $mock
	[ "$st" -eq 0 ] || { echo "log-collect on Kafka: exit $st" >&2; return 1; }
	[ "$(tail -1 "$tmp/kstats" | jq -r .out)" = "$qlines" ] ||
	    { echo "log-collect on Kafka: $(tail -1 "$tmp/kstats" | jq -r .out) of $qlines events out" >&2; return 1; }
	# From the stats: when the first line came in (after the group join) and when the last went out.
	set -- $(jq -r 'select(.in > 0) | .uptime_s' "$tmp/kstats" | sed -n '1p;$p')
	awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$qlines" -v first="$1" -v last="$2" 'BEGIN {
		run = last - first; if (run < 0.1) run = 0.1
		printf "Kafka, %d events: kcat -P %.2f s (%.0f events/s); log-collect kafka:raw -> kafka:events %.2f s in all,\n", n, b - a, n / (b - a), c - b
		printf "  %.1f s from the first line in to the last out (%.0f events/s); ratio to kcat -P %.2f (%.2f with the group join)\n",
		    run, n / run, (b - a) / run, (b - a) / (c - b) }'
}

echo "$lc $jq $q" | awk -v mb="$mb" -v n="$lines" '{
	printf "log-collect: %.2f s (%.2f s cpu), %.1f MB/s, %.0f events/s, peak RSS %.1f MB (%.1f MB on a quarter of the input)\n",
	    $1, $2, mb / $1, n / $1, $3 / 1024, $9 / 1024
	printf "jq -c .:     %.2f s (%.2f s cpu), %.1f MB/s\n", $4, $5, mb / $4
	printf "throughput ratio log-collect/jq: %.2f by cpu time, %.2f by elapsed time (goal >= 1.0); peak RSS %s 32 MB\n",
	    $5 / $2, $4 / $1, $3 < 32768 ? "under" : "OVER"
}'

if [ -x "$B/tests/kafka-mock" ] && command -v kcat >/dev/null; then
	kafka_bench || exit 1
else
	echo "Kafka: skipped (no $B/tests/kafka-mock or kcat)"
fi
