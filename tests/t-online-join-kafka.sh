#!/bin/sh
# t-online-join-kafka.sh: online-join as a consumer group on the mock Kafka cluster — 4 partitions, 2 workers, one killed (SIGKILL) and restarted.
. "$(dirname "$0")/lib.sh"
if ! [ -x "$TBIN/kafka-mock" ] || ! command -v kcat >/dev/null; then
	echo "skipped: no kafka-mock or kcat"
	t_done
	exit
fi
cd "$T_TMP" || exit 1
[ -n "${KEEP:-}" ] && trap "" EXIT
G="-w 5s --pay-window 15s -d 2s"

# Events keyed by user, in two halves; then one far-future marker per partition, so that
# every partition's watermark passes its last window (Kafka input never ends): an hour ahead,
# which --max-ahead 2h lets move it.
"$TOP/$B/bench/gen-events" -n 400 -s 5 | log-collect --ingest-ts 1732345678000 >ev.ndjson 2>/dev/null
n=$(lines ev.ndjson)
head -n $((n / 2)) ev.ndjson >ev1.ndjson
tail -n +$((n / 2 + 1)) ev.ndjson >ev2.ndjson
last=$(tail -1 ev.ndjson | jq .ts)
for p in 0 1 2 3; do
	echo "{\"type\":\"click\",\"ts\":$((last + 3600000)),\"request_id\":\"marker$p\",\"user_id\":\"um$p\",\"item_id\":\"x\"}" >marker$p.ndjson
done
# shellcheck disable=SC2086
cat ev.ndjson marker0.ndjson marker1.ndjson marker2.ndjson marker3.ndjson | online-join $G -l want.late >want.out 2>/dev/null
want=$(lines want.out)

bg kafka-mock -q -f ports -p 4 -t events -t samples -t late -t corrections -t samples2 >/dev/null 2>&1
for i in $(seq 50); do [ -s ports ] && break; sleep 0.1; done
br=$(cat ports)
produce() { jq -r '"\(.user_id)\t\(tojson)"' "$1" | kcat -q -P -b "$br" -t events -K "$(printf '\t')" 2>/dev/null; }
samples() { kcat -q -C -b "$br" -t samples -e -o beginning 2>/dev/null; }
samples2() { kcat -q -C -b "$br" -t samples2 -e -o beginning 2>/dev/null; }
worker() {	# worker NAME: a member of the group, its stderr in NAME.err
	# shellcheck disable=SC2086
	online-join $G --max-ahead 2h -b "$br" -G join -i kafka:events -o kafka:samples -l kafka:late -a arch \
	    --idle-timeout 1s --commit-interval 200ms -v -v \
	    -X session.timeout.ms=3000 -X heartbeat.interval.ms=200 2>"$1.err" &
	T_PIDS="$T_PIDS $!"
}
# wait_for N: until at least N distinct samples are out (about a minute at most).
wait_for() {
	for i in $(seq 300); do
		[ "$(samples | jq -r .sample_id | sort -u | wc -l)" -ge "$1" ] && return 0
		sleep 0.2
	done
	return 1
}

produce ev1.ndjson
worker a
a=$!
worker b
b=$!
ok "some samples before the crash" wait_for 200
kill -9 $a
wait $a 2>/dev/null
produce ev2.ndjson
for p in 0 1 2 3; do kcat -q -P -b "$br" -t events -p $p marker$p.ndjson 2>/dev/null; done
worker a2
a2=$!
ok "every sample after the restart" wait_for "$want"
sleep 1
samples >got.out
eq "no sample lost" "$(jq -r .sample_id got.out | sort -u | cksum)" "$(jq -r .sample_id want.out | sort -u | cksum)"
eq "duplicates only as exact copies (same sample_id, same labels)" "$(sort -u got.out | cksum)" "$(sort -u want.out | cksum)"
echo "kafka: $(lines got.out) samples written for $want distinct" >&2
ok "the restarted member took partitions over" grep -q "partition(s) assigned" a2.err
ok "open windows were handed over in a rebalance" grep -q "handed over" a.err b.err a2.err
kill -TERM $a2 $b
wait $a2
eq "restarted member exits 0 on SIGTERM" "$?" 0
wait $b
st=$?
# A commit refused during a rebalance makes the exit status 1 (toolio counts it as a failure).
[ $st = 1 ] && grep -q "commit: Broker: Group rebalance in progress" b.err && st=0
eq "surviving member exits on SIGTERM, every delivery done" "$st" 0
ok "no failed delivery" test -z "$(grep -h 'delivered' a2.err b.err | grep -v ' 0 failed')"
# The archive shared by the workers: the killed one left hidden temporary parts only; the completed
# parts are valid and hold every sample (positions are committed only past completed parts).
ok "archive: completed parts are valid gzip" gzip -t $(find arch -name 'part-*.ndjson.gz')
eq "archive: every sample, duplicates only as exact copies" \
    "$(find arch -name 'part-*.ndjson.gz' -exec gzip -dc {} + | sort -u | cksum)" "$(sort -u want.out | cksum)"

# Late records: the same events as a file run (a restart may repeat some; the markers still wait).
LATEKEY='[.type, .request_id, .item_id, .ts]'
eq "late records: the same events" \
    "$(kcat -q -C -b "$br" -t late -e -o beginning 2>/dev/null | jq -c "$LATEKEY" | sort -u | cksum)" \
    "$(grep -v marker want.late | jq -c "$LATEKEY" | sort -u | cksum)"

# The Kafka example of online-join(1), against the mock cluster, as a fresh group that reads every
# event again; markers a day later close its (default, longer) windows.
for p in 0 1 2 3; do
	jq -c '.ts += 86400000 | .request_id += "-day"' marker$p.ndjson >day$p.ndjson
	kcat -q -P -b "$br" -t events -p $p day$p.ndjson 2>/dev/null
done
cat ev.ndjson marker?.ndjson day?.ndjson | online-join 2>/dev/null >want-default.out
kcmd=$(grep -F -- "-i kafka:events" "$TOP/man/online-join.1" | sed 's/^\$ //')
# (its samples to a topic of their own, to tell them from the first run's)
kcmd=$(echo "$kcmd" | sed "s|localhost:9092|$br|; s|/var/pageturn/archive|$T_TMP/archive|; s|kafka:samples|kafka:samples2|")
sh -c "exec $kcmd 2>example.err" &
ex=$!
T_PIDS="$T_PIDS $ex"
for i in $(seq 300); do
	[ "$(samples2 | jq -r .sample_id | sort -u | wc -l)" -ge "$(lines want-default.out)" ] && break
	sleep 0.2
done
kill -TERM $ex
wait $ex
eq "man example: the Kafka worker exits 0 on SIGTERM" "$?" 0
eq "man example: every sample again" "$(samples2 | sort -u | cksum)" "$(sort -u want-default.out | cksum)"
eq "man example: the archive holds them" "$(find "$T_TMP/archive" -name 'part-*.ndjson.gz' -exec gzip -dc {} + | sort -u | cksum)" \
    "$(sort -u want-default.out | cksum)"

t_done
