#!/bin/sh
# t-kafka-ops.sh: the deployment scripts — kafka-up/down, workers start/status/stop, replay — as the README's Kafka and cron sections run them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/helpers/ops-lib.sh"

PT=$T_TMP/pt
mkdir -p "$PT"
cd "$PT" || exit 1
PATH="$TOP/pipelines:$PATH"
KAFKA_OPTS="-X session.timeout.ms=6000 -X heartbeat.interval.ms=500"
STATS_INTERVAL=1
export KAFKA_OPTS STATS_INTERVAL
cleanup() {
	workers stop -T 5 -d "$PT/w" >/dev/null 2>&1
	kafka-down -d "$PT/kafka" >/dev/null 2>&1
	t_cleanup
}
trap cleanup EXIT

# qscore_ok: the first q-score server reports the version it serves.
qscore_ok() {
	curl -sf "http://127.0.0.1:$PORT/v1/models" | grep -q '"version"'
}

# --- usage errors -------------------------------------------------------------------------------
notok "workers without a command is a usage error" workers
workers frobnicate >/dev/null 2>&1; eq "workers: unknown command exits 2" "$?" 2
replay -m x >/dev/null 2>&1; eq "replay without -a exits 2" "$?" 2
replay -a x -m y -d 2024-13 >/dev/null 2>&1; eq "replay: a bad day exits 2" "$?" 2
replay -a "$PT/none" -m "$PT/m0" -d 2024-11-23 -H 00 >/dev/null 2>&1
eq "replay: an hour without parts exits 1" "$?" 1
kafka-up -x >/dev/null 2>&1; eq "kafka-up: a bad option exits 2" "$?" 2

# --- the README's "Kafka mode" ---------------------------------------------------------------------
# The first model, from a short run through pipes (q-train --online and q-score need one).
feed-sim -q -n 300 -s 3 | log-collect 2>/dev/null | online-join $ONLINE_JOIN_OPTS 2>/dev/null |
	experience-collect $EXPERIENCE_COLLECT_OPTS >transitions.ndjson 2>/dev/null
mkdir -p models
ok "q-train --offline makes the first version" \
    q-train --offline -q -i transitions.ndjson -m models --epochs 1 --head-epochs 1 -o /dev/null

ok "kafka-up starts the test broker" kafka-up -d kafka -p 4
ok "kafka-up writes the bootstrap list" test -s kafka/brokers
BROKERS=$(cat kafka/brokers)
notok "kafka-up refuses a second broker in the same state dir" kafka-up -d kafka 2>/dev/null
ok "kafka-up -b finds the topics of a running cluster" kafka-up -b "$BROKERS" >/dev/null
notok "kafka-up -b reports a missing topic" kafka-up -b "$BROKERS" -t no-such-topic 2>/dev/null

PORT=$((20000 + $$ % 20000))
# log-collect runs exactly-once here (LOG_COLLECT_TXN): one transactional id per member
ok "workers start: two members a group, q-train, two q-score servers" \
    env LOG_COLLECT_TXN=pt-lc workers start -d w -b "$BROKERS" -n 2 -m models -p "$PORT" >start.out
eq "LOG_COLLECT_TXN: each log-collect member has its own transactional id" \
    "$(for i in 1 2; do tr '\0' ' ' </proc/"$(cat w/log-collect.$i.pid)"/cmdline | grep -o -- '--transactional-id [^ ]*'; done | tr '\n' ' ')" \
    "--transactional-id pt-lc.1 --transactional-id pt-lc.2 "
eq "workers start: every member started" "$(grep -c 'started' start.out)" 9
ok "workers start again starts nothing twice" workers start -d w -n 2 -m models -p "$PORT" >again.out
eq "workers start again: all already running" "$(grep -c 'already running' again.out)" 9

feed-sim -q -n 300 -s 4 -b "$BROKERS" -o kafka:raw
ok "samples reach the samples topic" ops_wait_count "$BROKERS" samples '"sample_id"' 100 60
ok "transitions reach the transitions topic" ops_wait_count "$BROKERS" transitions '"mdp_id"' 10 60
ok "workers status: all running" workers status -d w >status.out
eq "workers status: nine members" "$(grep -c ': running (pid' status.out)" 9
sleep 2
# Stats and metrics files, one per member.
ok "each member writes its stats" test -s w/online-join.1.stats -a -s w/experience-collect.2.stats
ok "each member writes its Prometheus metrics" grep -q '^pageturn_in_total{tool="online-join",member="online-join.1"} [0-9]' w/online-join.1.prom
ok "q-score answers on its port" qscore_ok
ok "q-train learns with a step horizon" grep -q 'with a step horizon of 6 h of event time' w/q-train.1.log

workers kill -d w experience-collect.2 >/dev/null
workers status -d w >status2.out
eq "workers status reports a killed member" "$(grep 'experience-collect.2' status2.out)" "experience-collect.2: stopped (exit 137)"
notok "workers status fails while a member is down" workers status -d w
ok "workers start restarts it" workers start -d w experience-collect.2 >/dev/null

ok "workers stop: every worker exits 0 on SIGTERM" workers stop -d w >stop.out
eq "workers stop: nine exit statuses" "$(grep -c ': exit 0$' stop.out)" 9
ok "kafka-down stops the broker" kafka-down -d kafka
ok "kafka-down: no broker left behind" test ! -e kafka/kafka-mock.pid

# --- the README's "Cron replays" -----------------------------------------------------------------
hour=$(ls -d w/archive/dt=*/hour=* | head -n 1)
day=${hour#w/archive/dt=}; day=${day%%/*}; hh=${hour##*hour=}
ok "online-join archived complete hours" test -n "$(find w/archive -name 'part-*.ndjson.gz')"
v1=$(replay -a w/archive -m replay-models -d "$day" -H "$hh" -s 7 -- --epochs 1 2>/dev/null)
ok "replay publishes a version" test -f "$v1/qnet.bin"
v2=$(replay -a w/archive -m replay-models -d "$day" -H "$hh" -s 7 -- --epochs 1 2>/dev/null)
ok "replay again publishes the next version" test "$v1" != "$v2" -a -f "$v2/qnet.bin"
eq "replay is idempotent: same hour, same seed, same network bytes" \
    "$(cksum <"$v2/qnet.bin")" "$(cksum <"$v1/qnet.bin")"
eq "replay is idempotent: same embeddings" "$(cksum <"$v2/emb.bin")" "$(cksum <"$v1/emb.bin")"
# Duplicated parts (a worker written again after a restart) change nothing.
cp "$(find "$hour" -name 'part-*.ndjson.gz' | head -n 1)" "$hour/part-copy-0.ndjson.gz"
v3=$(replay -a w/archive -m replay-models -d "$day" -H "$hh" -s 7 -- --epochs 1 2>/dev/null)
eq "replay: a duplicated part gives the same model" "$(cksum <"$v3/qnet.bin")" "$(cksum <"$v1/qnet.bin")"
v4=$(replay -a w/archive -m replay-models -d "$day" -H "$hh" -s 8 -- --epochs 1 2>/dev/null)
ok "replay: another seed, another model" test "$(cksum <"$v4/qnet.bin")" != "$(cksum <"$v1/qnet.bin")"
v5=$(replay -a w/archive -m replay-models -d "$day" -- --epochs 1 2>/dev/null)
ok "replay: a whole day" test -f "$v5/qnet.bin"

t_done
