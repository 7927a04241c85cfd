#!/bin/sh
# b-log-collect.sh: log-collect file-to-file throughput as a ratio to `jq -c .` on the same file (CPU time, medians of alternating rounds), and its peak RSS.
# Usage: bench/b-log-collect.sh   (N=impressions, default 200000; R=rounds, default 5; B=build directory)
. "$(dirname "$0")/lib.sh"
N=${N:-200000}

gen-events -n "$N" -s 1 >"$TMP/raw.ndjson" || bench_fail "gen-events failed"
lines=$(wc -l <"$TMP/raw.ndjson" | tr -d ' ')
mb=$(du -m "$TMP/raw.ndjson" | cut -f1)
echo "input: $N impressions, $lines events, $mb MB"

# Warm the page cache, then R rounds, log-collect and jq in turn on the same file: each figure
# is the median of its rounds, so that a busy machine moves both alike; CPU time is the measure.
R=${R:-5}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
cat "$TMP/raw.ndjson" >/dev/null
: >"$TMP/lc.r"; : >"$TMP/jq.r"
for r in $(seq "$R"); do
	measure log-collect -i "$TMP/raw.ndjson" -o "$TMP/events.ndjson" --dead-letter "$TMP/dl.ndjson"
	echo "$M_CPU $M_S $M_KB" >>"$TMP/lc.r"
	measure jq -c . "$TMP/raw.ndjson"
	echo "$M_CPU $M_S" >>"$TMP/jq.r"
done
lc_cpu=$(cut -d' ' -f1 "$TMP/lc.r" | median) lc_s=$(cut -d' ' -f2 "$TMP/lc.r" | median)
lc_kb=$(cut -d' ' -f3 "$TMP/lc.r" | sort -n | tail -1)
jq_cpu=$(cut -d' ' -f1 "$TMP/jq.r" | median) jq_s=$(cut -d' ' -f2 "$TMP/jq.r" | median)
out=$(wc -l <"$TMP/events.ndjson")
[ "$out" -eq "$lines" ] || bench_fail "log-collect wrote $out of $lines events"

# Peak RSS on a quarter of the input, to see that memory does not grow with it.
head -n $((lines / 4)) "$TMP/raw.ndjson" >"$TMP/quarter.ndjson"
measure log-collect -i "$TMP/quarter.ndjson" -o "$TMP/events-q.ndjson"
q_kb=$M_KB

echo "medians of $R alternating rounds:"
echo "log-collect: $lc_s s ($lc_cpu s cpu), $(calc "$mb / $lc_cpu" %.1f) MB/s of cpu, $(calc "$lines / $lc_cpu" %.0f) events/s of cpu," \
    "peak RSS $(calc "$lc_kb / 1024" %.1f) MB ($(calc "$q_kb / 1024" %.1f) MB on a quarter of the input)"
echo "jq -c .:     $jq_s s ($jq_cpu s cpu), $(calc "$mb / $jq_cpu" %.1f) MB/s of cpu"
echo "throughput ratio log-collect/jq: $(calc "$jq_cpu / $lc_cpu") by cpu time (goal >= 5), $(calc "$jq_s / $lc_s") by elapsed time;" \
    "peak RSS $([ "$lc_kb" -lt 32768 ] && echo under || echo OVER) 32 MB, $(calc "$lc_kb - $q_kb" %.0f) KB above a quarter's"
figure "log-collect file->file, cpu time" "$lc_cpu" s "$(calc "$jq_cpu / $lc_cpu")" "jq -c . (cpu, median of $R)" ">= 5"
figure "log-collect file->file, elapsed" "$(calc "$mb / $lc_s" %.1f)" MB/s "$(calc "$jq_s / $lc_s")" "jq -c . (elapsed, median of $R)"
figure "log-collect peak RSS" "$(calc "$lc_kb / 1024" %.1f)" MB - - "< 32"
figure "log-collect peak RSS, growth from a quarter" "$(calc "($lc_kb - $q_kb) / 1024" %.1f)" MB - - "< 2"

# The mock broker keeps about 5 MB a partition (older messages are trimmed), so the
# Kafka run takes 40,000 events (28 MB), keyed to spread evenly over 16 partitions.
# KR rounds, kcat -P and log-collect kafka:raw -> kafka:events in turn, each round on topics of
# its own; CPU time is the measure (log-collect's when its last event is out), medians of rounds.
kafka_bench() {
	KR=${KR:-3}
	hz=$(getconf CLK_TCK)
	head -n 40000 "$TMP/raw.ndjson" >"$TMP/kafka.ndjson"
	awk '{ print NR "\t" $0 }' "$TMP/kafka.ndjson" >"$TMP/kafka.keyed"	# keys spread the lines evenly
	qlines=$(wc -l <"$TMP/kafka.ndjson")
	topics=""
	for r in $(seq "$KR"); do topics="$topics -t raw$r -t events$r"; done
	kafka-mock -q -f "$TMP/ports" -p 16 $topics >/dev/null &
	mock=$!
	for i in $(seq 100); do [ -s "$TMP/ports" ] && break; sleep 0.1; done
	brokers=$(cat "$TMP/ports")
	: >"$TMP/kc.r"; : >"$TMP/lk.r"
	for r in $(seq "$KR"); do
		/usr/bin/time -f '%e %U %S' -o "$TMP/ktime" kcat -q -P -b "$brokers" -t "raw$r" -K '	' -l "$TMP/kafka.keyed" ||
		    { kill $mock; return 1; }
		tail -1 "$TMP/ktime" | awk '{ printf "%.2f %.2f\n", $2 + $3, $1 }' >>"$TMP/kc.r"
		log-collect -q -b "$brokers" -G "bench-$r" -i "kafka:raw$r" -o "kafka:events$r" -X fetch.wait.max.ms=10 \
		    --stats "$TMP/kstats$r" --stats-interval 0.05 &
		lc=$!
		cpu=0 i=0
		while [ $i -lt 1200 ] && kill -0 $lc 2>/dev/null; do
			c=$(awk -v hz="$hz" '{ print ($14 + $15) / hz }' /proc/$lc/stat 2>/dev/null) && [ -n "$c" ] && cpu=$c
			[ "$(tail -1 "$TMP/kstats$r" 2>/dev/null | jq -r .out)" = "$qlines" ] && break
			sleep 0.05; i=$((i + 1))
		done
		kill -TERM $lc
		wait $lc
		st=$?
		out=$(tail -1 "$TMP/kstats$r" | jq -r .out)
		if [ "$st" -ne 0 ] || [ "$out" != "$qlines" ]; then
			echo "log-collect on Kafka: exit $st, $out of $qlines events out" >&2
			kill $mock
			return 1
		fi
		# From the stats: when the first line came in (after the group join) and when the last went out.
		set -- $(jq -r 'select(.in > 0) | .uptime_s' "$TMP/kstats$r" | sed -n '1p;$p')
		echo "$cpu $(calc "($2 - $1) < 0.05 ? 0.05 : $2 - $1" %.3f)" >>"$TMP/lk.r"
	done
	kill $mock
	kc_cpu=$(cut -d' ' -f1 "$TMP/kc.r" | median) kc_s=$(cut -d' ' -f2 "$TMP/kc.r" | median)
	lk_cpu=$(cut -d' ' -f1 "$TMP/lk.r" | median) lk_s=$(cut -d' ' -f2 "$TMP/lk.r" | median)
	echo "Kafka, $qlines events, medians of $KR alternating rounds: kcat -P $kc_s s ($kc_cpu s cpu);" \
	    "log-collect kafka:raw -> kafka:events $lk_s s from the first line in to the last out ($lk_cpu s cpu)"
	echo "  ratio to kcat -P $(calc "$kc_cpu / $lk_cpu") by cpu time (goal >= 0.5), $(calc "$kc_s / $lk_s") by elapsed time"
	figure "log-collect kafka->kafka, cpu time" "$lk_cpu" s "$(calc "$kc_cpu / $lk_cpu")" "kcat -P (cpu, median of $KR)" ">= 0.5"
	figure "log-collect kafka->kafka, steady" "$(calc "$qlines / $lk_s" %.0f)" events/s "$(calc "$kc_s / $lk_s")" "kcat -P (elapsed)"
}

if [ -x "$B/tests/kafka-mock" ] && command -v kcat >/dev/null; then
	kafka_bench || exit 1
else
	echo "Kafka: skipped (no $B/tests/kafka-mock or kcat)"
fi
