#!/bin/sh
# b-log-collect.sh: log-collect file-to-file throughput as a ratio to `jq -c .` on the same file, and its peak RSS.
# Usage: bench/b-log-collect.sh   (N=impressions, default 200000; B=build directory)
. "$(dirname "$0")/lib.sh"
N=${N:-200000}

gen-events -n "$N" -s 1 >"$TMP/raw.ndjson" || bench_fail "gen-events failed"
lines=$(wc -l <"$TMP/raw.ndjson" | tr -d ' ')
mb=$(du -m "$TMP/raw.ndjson" | cut -f1)
echo "input: $N impressions, $lines events, $mb MB"

# Warm the page cache, then time both on the same file.
cat "$TMP/raw.ndjson" >/dev/null
measure log-collect -i "$TMP/raw.ndjson" -o "$TMP/events.ndjson" --dead-letter "$TMP/dl.ndjson"
lc_s=$M_S lc_cpu=$M_CPU lc_kb=$M_KB
measure jq -c . "$TMP/raw.ndjson"
jq_s=$M_S jq_cpu=$M_CPU
out=$(wc -l <"$TMP/events.ndjson")
[ "$out" -eq "$lines" ] || bench_fail "log-collect wrote $out of $lines events"

# Peak RSS on a quarter of the input, to see that memory does not grow with it.
head -n $((lines / 4)) "$TMP/raw.ndjson" >"$TMP/quarter.ndjson"
measure log-collect -i "$TMP/quarter.ndjson" -o "$TMP/events-q.ndjson"
q_kb=$M_KB

echo "log-collect: $lc_s s ($lc_cpu s cpu), $(calc "$mb / $lc_s" %.1f) MB/s, $(calc "$lines / $lc_s" %.0f) events/s," \
    "peak RSS $(calc "$lc_kb / 1024" %.1f) MB ($(calc "$q_kb / 1024" %.1f) MB on a quarter of the input)"
echo "jq -c .:     $jq_s s ($jq_cpu s cpu), $(calc "$mb / $jq_s" %.1f) MB/s"
echo "throughput ratio log-collect/jq: $(calc "$jq_cpu / $lc_cpu") by cpu time, $(calc "$jq_s / $lc_s") by elapsed time (goal >= 1.0);" \
    "peak RSS $([ "$lc_kb" -lt 32768 ] && echo under || echo OVER) 32 MB"
figure "log-collect file->file" "$(calc "$mb / $lc_s" %.1f)" MB/s "$(calc "$jq_s / $lc_s")" "jq -c . (elapsed)" ">= 1.0"
figure "log-collect file->file, cpu time" "$lc_cpu" s "$(calc "$jq_cpu / $lc_cpu")" "jq -c . (cpu)" ">= 1.0"
figure "log-collect peak RSS" "$(calc "$lc_kb / 1024" %.1f)" MB - - "< 32"
figure "log-collect peak RSS, a quarter of it" "$(calc "$q_kb / 1024" %.1f)" MB - - "< 32"

# The mock broker keeps about 5 MB a partition (older messages are trimmed), so the
# Kafka run takes 40,000 events (28 MB), keyed to spread evenly over 16 partitions.
kafka_bench() {
	head -n 40000 "$TMP/raw.ndjson" >"$TMP/kafka.ndjson"
	awk '{ print NR "\t" $0 }' "$TMP/kafka.ndjson" >"$TMP/kafka.keyed"	# keys spread the lines evenly
	kafka-mock -q -f "$TMP/ports" -p 16 -t raw -t events >/dev/null &
	mock=$!
	for i in $(seq 100); do [ -s "$TMP/ports" ] && break; sleep 0.1; done
	brokers=$(cat "$TMP/ports")
	qlines=$(wc -l <"$TMP/kafka.ndjson")
	t0=$(date +%s.%N)
	kcat -q -P -b "$brokers" -t raw -K '	' <"$TMP/kafka.keyed" || { kill $mock; return 1; }
	t1=$(date +%s.%N)
	log-collect -q -b "$brokers" -i kafka:raw -o kafka:events --stats "$TMP/kstats" --stats-interval 0.1 &
	lc=$!
	for i in $(seq 1200); do
		kill -0 $lc 2>/dev/null || break
		[ "$(tail -1 "$TMP/kstats" 2>/dev/null | jq -r .out)" = "$qlines" ] && break
		sleep 0.1
	done
	kill -TERM $lc
	wait $lc
	st=$?
	t2=$(date +%s.%N)
	kill $mock
	[ "$st" -eq 0 ] || { echo "log-collect on Kafka: exit $st" >&2; return 1; }
	[ "$(tail -1 "$TMP/kstats" | jq -r .out)" = "$qlines" ] ||
	    { echo "log-collect on Kafka: $(tail -1 "$TMP/kstats" | jq -r .out) of $qlines events out" >&2; return 1; }
	# From the stats: when the first line came in (after the group join) and when the last went out.
	set -- $(jq -r 'select(.in > 0) | .uptime_s' "$TMP/kstats" | sed -n '1p;$p')
	run=$(calc "($2 - $1) < 0.1 ? 0.1 : $2 - $1" %.3f)
	kp=$(calc "$t1 - $t0" %.3f) all=$(calc "$t2 - $t1" %.3f)
	echo "Kafka, $qlines events: kcat -P $(calc "$kp" %.2f) s ($(calc "$qlines / $kp" %.0f) events/s);" \
	    "log-collect kafka:raw -> kafka:events $(calc "$all" %.2f) s in all,"
	echo "  $(calc "$run" %.1f) s from the first line in to the last out ($(calc "$qlines / $run" %.0f) events/s);" \
	    "ratio to kcat -P $(calc "$kp / $run") ($(calc "$kp / $all") with the group join)"
	figure "log-collect kafka->kafka" "$(calc "$qlines / $run" %.0f)" events/s "$(calc "$kp / $run")" "kcat -P (steady)"
	figure "log-collect kafka->kafka, with the join" "$(calc "$qlines / $all" %.0f)" events/s "$(calc "$kp / $all")" "kcat -P"
}

if [ -x "$B/tests/kafka-mock" ] && command -v kcat >/dev/null; then
	kafka_bench || exit 1
else
	echo "Kafka: skipped (no $B/tests/kafka-mock or kcat)"
fi
