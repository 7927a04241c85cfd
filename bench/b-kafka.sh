#!/bin/sh
# b-kafka.sh: Kafka endpoint throughput on the test broker — log-collect kafka:raw -> kafka:events against kcat -P of the same file, each endpoint alone, a plain copy, and the transactional (exactly-once) mode.
# Usage: bench/b-kafka.sh   (N=events, default 40000; P=partitions, default 16; B=build directory)
. "$(dirname "$0")/lib.sh"
N=${N:-40000}
P=${P:-16}
if ! [ -x "$B/tests/kafka-mock" ] || ! [ -x "$B/tests/kafka-cat" ] || ! [ -x "$B/bin/log-collect" ] || ! [ -x "$B/bench/gen-events" ] ||
    ! command -v kcat >/dev/null 2>&1 || ! command -v jq >/dev/null 2>&1; then
	echo "Kafka: skipped (needs $B/tests/kafka-mock, log-collect, gen-events, kcat and jq)"
	exit 0
fi
mock=""
trap '[ -n "$mock" ] && kill $mock 2>/dev/null; bench_cleanup' EXIT

now() { date +%s.%N; }
hz=$(getconf CLK_TCK)

# run_worker NAME PROG ARGS...: runs PROG with ARGS until it has written N records, then
# stops it with SIGTERM (it flushes and commits). Prints "total_s steady_s cpu_s": the whole
# run, the time from its first line in to its last line out (without the group join), and
# its CPU time when the last line was out (as last seen, at most 50 ms before).
run_worker() {
	name=$1 prog=$2; shift 2
	s=$(now)
	"$prog" -q "$@" $KX --stats "$TMP/$name.stats" --stats-interval 0.05 &
	pid=$!
	i=0
	cpu=0
	while [ $i -lt 1200 ] && kill -0 $pid 2>/dev/null; do
		# CPU seconds (user + system) so far: a figure a busy machine disturbs less than elapsed time.
		c=$(awk -v hz="$hz" '{ print ($14 + $15) / hz }' /proc/$pid/stat 2>/dev/null) && [ -n "$c" ] && cpu=$c
		[ "$(tail -1 "$TMP/$name.stats" 2>/dev/null | jq -r .out)" = "$N" ] && break
		sleep 0.05; i=$((i + 1))
	done
	kill -TERM $pid 2>/dev/null
	wait $pid
	st=$?
	e=$(now)
	out=$(tail -1 "$TMP/$name.stats" | jq -r .out)
	if [ "$st" -ne 0 ] || [ "$out" != "$N" ]; then
		echo "$name: exit $st, $out of $N records out" >&2
		return 1
	fi
	set -- $(jq -r 'select(.in > 0) | .uptime_s' "$TMP/$name.stats" | sed -n '1p;$p')
	awk -v s="$s" -v e="$e" -v first="$1" -v last="$2" -v cpu="${cpu:-0}" \
	    'BEGIN { run = last - first; if (run < 0.05) run = 0.05; printf "%.3f %.3f %.2f\n", e - s, run, cpu }'
}

# The test broker answers a fetch that finds one partition drained only after fetch.wait.max.ms
# (500 ms by default), even when other partitions have data; a short wait measures the tool, not that.
KX="-X fetch.wait.max.ms=10"

# The mock broker keeps about 5 MB a partition, so N stays near 40,000 events (28 MB) over 16 partitions.
gen-events -n "$N" -s 1 | head -n "$N" >"$TMP/raw.ndjson"
awk '{ print NR "\t" $0 }' "$TMP/raw.ndjson" >"$TMP/raw.keyed"	# keys spread the lines evenly
mb=$(du -m "$TMP/raw.ndjson" | cut -f1)
kafka-mock -q -f "$TMP/ports" -p "$P" -t raw -t events -t events2 -t events3 -t copy >/dev/null &
mock=$!
i=0
while [ $i -lt 100 ] && ! [ -s "$TMP/ports" ]; do sleep 0.1; i=$((i + 1)); done
brokers=$(cat "$TMP/ports")

measure kcat -q -P -b "$brokers" -t raw -K "$(printf '\t')" -l "$TMP/raw.keyed"
kp=$M_S kcpu=$M_CPU
t1=$(now)
kcat -q -C -b "$brokers" -t raw -o beginning -e -X fetch.wait.max.ms=5 >"$TMP/kcat.out" 2>/dev/null
t2=$(now)
[ "$(wc -l <"$TMP/kcat.out")" -eq "$N" ] || { echo "kcat -C: $(wc -l <"$TMP/kcat.out") of $N" >&2; exit 1; }

both=$(run_worker both log-collect -b "$brokers" -G bench-both -i kafka:raw -o kafka:events) || exit 1
cons=$(run_worker cons log-collect -b "$brokers" -G bench-cons -i kafka:raw -o "$TMP/events.ndjson") || exit 1
prod=$(run_worker prod log-collect -b "$brokers" -i "$TMP/raw.ndjson" -o kafka:events2) || exit 1
copy=$(run_worker copy kafka-cat -b "$brokers" -G bench-copy -i kafka:raw -o kafka:copy) || exit 1
txn=$(run_worker txn log-collect -b "$brokers" -G bench-txn -i kafka:raw -o kafka:events3 \
    --transactional-id bench-txn.1) || exit 1

echo "$both $cons $prod $copy" | awk -v n="$N" -v p="$P" -v mb="$mb" -v kp="$kp" -v t1="$t1" -v t2="$t2" -v kcpu="$kcpu" '{
	kc = t2 - t1
	printf "Kafka on the test broker, %d events (%d MB), %d partitions, -X fetch.wait.max.ms=10 (elapsed, events/s, cpu):\n", n, mb, p
	printf "  kcat -P file -> raw:                  %6.2f s  %7.0f/s  cpu %.2f s\n", kp, n / kp, kcpu
	printf "  kcat -C raw -> /dev/null:             %6.2f s  %7.0f/s\n", kc, n / kc
	printf "  log-collect kafka:raw -> kafka:events %6.2f s  %7.0f/s  cpu %.2f s  (%.2f s with the group join)\n", $2, n / $2, $3, $1
	printf "  log-collect kafka:raw -> file         %6.2f s  %7.0f/s  cpu %.2f s  (%.2f s with the group join)\n", $5, n / $5, $6, $4
	printf "  log-collect file -> kafka:events      %6.2f s  %7.0f/s  cpu %.2f s\n", $8, n / $8, $9
	printf "  kafka-cat kafka:raw -> kafka:copy     %6.2f s  %7.0f/s  cpu %.2f s  (toolio copy: the endpoints alone)\n", $11, n / $11, $12
	printf "ratio kafka-cat kafka->kafka / kcat -P: %.2f by elapsed time (steady), %.2f by cpu time\n", kp / $11, ($12 > 0 ? kcpu / $12 : 0)
	printf "ratio log-collect kafka->kafka / kcat -P: %.2f by elapsed time (steady), %.2f with the group join, %.2f by cpu time\n",
	    kp / $2, kp / $1, ($3 > 0 ? kcpu / $3 : 0)
}'
set -- $both $txn
echo "$both $txn" | awk -v n="$N" '{
	printf "  log-collect --transactional-id        %6.2f s  %7.0f/s  cpu %.2f s  (%.2f s with the group join; a transaction a second)\n", $5, n / $5, $6, $4
	printf "ratio transactional / at-least-once log-collect kafka->kafka: %.2f by elapsed time (steady), %.2f by cpu time\n",
	    $2 / $5, ($6 > 0 ? $3 / $6 : 0)
}'
figure "log-collect --transactional-id kafka->kafka" "$(calc "$N / $5" %.0f)" events/s "$(calc "$2 / $5")" "at-least-once (steady)"

set -- $both $cons $prod $copy
figure "kcat -P file->kafka" "$(calc "$N / $kp" %.0f)" events/s
figure "log-collect kafka->kafka" "$(calc "$N / $2" %.0f)" events/s "$(calc "$kp / $2")" "kcat -P (steady)"
figure "log-collect kafka->kafka, cpu time" "$3" s "$(calc "$3 > 0 ? $kcpu / $3 : 0")" "kcat -P (cpu; medians: b-log-collect)" ">= 0.5"
figure "log-collect kafka->file" "$(calc "$N / $5" %.0f)" events/s
figure "log-collect file->kafka" "$(calc "$N / $8" %.0f)" events/s
figure "kafka-cat kafka->kafka (the endpoints)" "$(calc "$N / ${11}" %.0f)" events/s "$(calc "$kp / ${11}")" "kcat -P (steady)"
figure "kafka-cat kafka->kafka, cpu time" "${12}" s "$(calc "${12} > 0 ? $kcpu / ${12} : 0")" "kcat -P (cpu)"
