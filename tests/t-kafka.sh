#!/bin/sh
# t-kafka.sh: Kafka end to end on the test broker — kafka-mock, kcat through it, log-collect workers in a group, failed deliveries, commits on SIGTERM.
. "$(dirname "$0")/lib.sh"
cd "$T_TMP" || exit 1
GEN="$TOP/$B/bench/gen-events"
if ! [ -x "$TBIN/kafka-mock" ] || ! [ -x "$BIN/log-collect" ] || ! [ -x "$GEN" ] ||
    ! command -v kcat >/dev/null 2>&1 || ! command -v jq >/dev/null 2>&1; then
	echo "skipped: needs kafka-mock, log-collect, gen-events, kcat and jq"
	t_done
	exit $?
fi

# consume TOPIC: every record of TOPIC so far, one a line.
consume() { kcat -q -C -b "$brokers" -t "$1" -o beginning -e -X fetch.wait.max.ms=5 2>/dev/null; }
# has TOPIC N: TOPIC holds at least N records.
has() { [ "$(consume "$1" | wc -l)" -ge "$2" ]; }
# ctl COMMAND: sends a control command to the broker and waits until it is applied.
ctl() {
	echo "$*" >ctl
	wait_until 5 grep -qxF "kafka-mock: $*: done" mock.err || t_fail "control: $*" "$(tail -3 mock.err)"
}
ids() { jq -r .event_id | sort; }
# exits DESC PID WANT ERRFILE: PID ends within 15 s with status WANT; else shows the end of its stderr.
# Fast group membership for tests: rebalances within seconds, not the default 45 s.
KX="--commit-interval 250ms -X session.timeout.ms=3000 -X heartbeat.interval.ms=300"

# --- The test broker ---
kafka-mock -n 0 2>/dev/null
eq "kafka-mock: a bad broker count is a usage error" "$?" 2
bg kafka-mock -n 2 -p 4 -t raw -t events -f ports -c ctl >mock.out 2>mock.err
mock=$!
ok "kafka-mock: the port file appears" wait_until 10 test -s ports
brokers=$(cat ports)
eq "kafka-mock: the bootstrap list on stdout" "$(cat mock.out)" "$brokers"
ok "kafka-mock: two brokers on loopback" \
    sh -c "echo '$brokers' | grep -Eqx '127\.0\.0\.1:[0-9]+,127\.0\.0\.1:[0-9]+'"
eq "kafka-mock: raw has 4 partitions" "$(kcat -L -b "$brokers" -t raw 2>/dev/null | grep -c 'partition [0-9]')" 4

# --- kcat through it: keyed records in, the same out, spread over the partitions ---
seq 1 500 | awk '{ printf "u%d\t{\"n\":%d}\n", $1 % 13, $1 }' >kv.txt
kcat -q -P -b "$brokers" -t plain -K "$(printf '\t')" -l kv.txt 2>kcat.err
eq "kcat -P: exit 0 (topic auto-created)" "$?" 0
kcat -q -C -b "$brokers" -t plain -o beginning -e -X fetch.wait.max.ms=5 -f '%k\t%s\n' 2>/dev/null | sort >kv.got
sort kv.txt >kv.want
same_file "kcat -C: every record back, with its key" kv.got kv.want
eq "kcat: keys spread over 4 partitions" \
    "$(kcat -q -C -b "$brokers" -t plain -o beginning -e -X fetch.wait.max.ms=5 -f '%p\n' 2>/dev/null | sort -u | wc -l | tr -d ' ')" 4

# --- The control fifo ---
ctl create made 3
eq "control: create a topic of 3 partitions" \
    "$(kcat -L -b "$brokers" -t made 2>/dev/null | grep -c 'partition [0-9]')" 3
echo "frobnicate 1" >ctl
ok "control: a bad command is reported" wait_until 5 grep -q "bad control command: frobnicate 1" mock.err
ok "control: and the broker keeps running" kill -0 $mock

# --- Two log-collect workers in one group share raw's 4 partitions: each event out exactly once ---
"$GEN" -n 300 -s 7 >raw1.ndjson
"$GEN" -n 60 -s 8 >raw2.ndjson
log-collect -q <raw1.ndjson | ids >want1.ids
cat raw1.ndjson raw2.ndjson | log-collect -q | ids >want12.ids
n1=$(lines want1.ids) n12=$(lines want12.ids)
bg log-collect -v -b "$brokers" -G lc -i kafka:raw -o kafka:events $KX 2>w1.err
w1=$!
bg log-collect -v -b "$brokers" -G lc -i kafka:raw -o kafka:events $KX 2>w2.err
w2=$!
ok "group: both workers get partitions" \
    wait_until 20 sh -c 'grep -q "partition(s) assigned" w1.err && grep -q "partition(s) assigned" w2.err'
ok "group: 2 partitions each" sh -c 'grep -q "kafka: 2 partition(s) assigned" w1.err &&
    grep -q "kafka: 2 partition(s) assigned" w2.err'
kcat -q -P -b "$brokers" -t raw -l raw1.ndjson 2>/dev/null
ok "group: every event comes out" wait_until 30 has events "$n1"
# A checkpoint passes (the periodic commit), then both stop at once: the
# commit of the one left behind may be refused by the rebalance the other's
# leaving starts (the test broker refuses commits while the group is joining),
# which is no failure: its positions are committed already.
sleep 1
kill -TERM $w1 $w2
exits "group: worker 1 exits 0 on SIGTERM" $w1 0 w1.err
exits "group: worker 2 exits 0 on SIGTERM" $w2 0 w2.err
consume events | ids >got1.ids
same_file "group: each raw event exactly once in events" got1.ids want1.ids

# --- SIGTERM flushed and committed: a restarted worker in the group reads only what is new,
# riding out the errors the broker is told to inject (retried by librdkafka, no duplicates).
# One Produce request in flight: the test broker does not check an idempotent producer's
# sequence numbers, so a later request written after an earlier one failed would make
# librdkafka report the earlier records delivered (see kafka-mock.c) ---
ok "restart: the new raw events go in" kcat -q -P -b "$brokers" -t raw -l raw2.ndjson
ctl error Produce NOT_LEADER_FOR_PARTITION 3
ctl error Fetch NOT_LEADER_FOR_PARTITION 2
bg log-collect -v -b "$brokers" -G lc -i kafka:raw -o kafka:events $KX \
    -X max.in.flight.requests.per.connection=1 2>w3.err
w3=$!
ok "restart: the new events come out" wait_until 30 has events "$n12"
kill -TERM $w3
exits "restart: exits 0" $w3 0 w3.err
consume events | ids >got12.ids
cmp -s got12.ids want12.ids || sed 's/^/    w3: /' w3.err | tail -5 >&2
same_file "restart: nothing reprocessed, nothing missing" got12.ids want12.ids

# --- A failed record makes the exit status 1: a topic the broker does not know (as with auto-creation off) ---
ctl topic-error nosuch UNKNOWN_TOPIC_OR_PART
bg log-collect -b "$brokers" -G lc-nosuch -i kafka:raw -o kafka:nosuch $KX \
    -X topic.metadata.propagation.max.ms=1000 -X message.timeout.ms=2000 2>w4.err
w4=$!
ok "unknown topic: the records fail" wait_until 30 grep -q "to nosuch failed" w4.err
kill -TERM $w4
exits "unknown topic: exit status 1" $w4 1 w4.err
ok "unknown topic: failures told at most 5 times" sh -c '[ "$(grep -c "to nosuch failed" w4.err)" -le 5 ]'

# --- A broker down past message.timeout.ms: exit 1, nothing committed, a restart delivers it all ---
ctl create out 4
for p in 0 1 2 3; do
	ctl leader out $p 2
	ctl leader raw $p 1
done
ctl coordinator group lc-down 1
ctl down 2
bg log-collect -b "$brokers" -G lc-down -i kafka:raw -o kafka:out $KX -X message.timeout.ms=1500 2>w5.err
w5=$!
ok "broker down: deliveries fail" wait_until 30 grep -q "delivery to out failed" w5.err
kill -TERM $w5
exits "broker down: exit status 1" $w5 1 w5.err
ctl up 2
bg log-collect -b "$brokers" -G lc-down -i kafka:raw -o kafka:out $KX 2>w6.err
w6=$!
ok "broker back: the events come out" wait_until 30 has out "$n12"
kill -TERM $w6
exits "broker back: exit 0" $w6 0 w6.err
consume out | ids >gotout.ids
same_file "broker back: nothing was committed for the failed run, nothing lost" gotout.ids want12.ids

# --- The broker stops cleanly ---
kill -TERM $mock
exits "kafka-mock: exits 0 on SIGTERM" $mock 0 mock.err
ok "kafka-mock: removes its port file and fifo" sh -c '! [ -e ports ] && ! [ -e ctl ]'

t_done
