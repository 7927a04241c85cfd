#!/bin/sh
# t-kafka-txn.sh: log-collect --transactional-id on the test broker — offsets sent in the transaction, abortable errors abort and read again, a fenced producer exits 1, SIGKILLs mid-stream compared with the at-least-once mode.
. "$(dirname "$0")/lib.sh"
cd "$T_TMP" || exit 1
GEN="$TOP/$B/bench/gen-events"
if ! [ -x "$TBIN/kafka-mock" ] || ! [ -x "$BIN/log-collect" ] || ! [ -x "$GEN" ] ||
    ! command -v kcat >/dev/null 2>&1 || ! command -v jq >/dev/null 2>&1; then
	echo "skipped: needs kafka-mock, log-collect, gen-events, kcat and jq"
	t_done
	exit $?
fi

# A member given SIGTERM here has 20 s to exit.
EXIT_WAIT=20
# ids TOPIC: the event ids a read_committed consumer sees in TOPIC, one a line.
ids() {
	kcat -q -C -b "$brokers" -t "$1" -o beginning -e -X fetch.wait.max.ms=5 \
	    -X isolation.level=read_committed 2>/dev/null | jq -r .event_id
}
# distinct TOPIC N: TOPIC holds at least N distinct event ids.
distinct() { [ "$(ids "$1" | sort -u | wc -l)" -ge "$2" ]; }
ctl() {
	echo "$*" >ctl
	wait_until 5 grep -qxF "kafka-mock: $*: done" mock.err || t_fail "control: $*" "$(tail -3 mock.err)"
}
KX="-X session.timeout.ms=3000 -X heartbeat.interval.ms=300"

bg kafka-mock -n 1 -p 4 -t raw-alo -t raw-txn -t raw-err -t ev-alo -t ev-txn -t ev-err -t ev-off -t ev-fence -f ports -c ctl \
    >/dev/null 2>mock.err
mock=$!
ok "kafka-mock: the port file appears" wait_until 10 test -s ports
brokers=$(cat ports)

# Usage: transactions need Kafka outputs.
log-collect --transactional-id x -b "$brokers" -i kafka:raw-err -o - </dev/null 2>usage.err
eq "--transactional-id with a file output exits 1" "$?" 1
ok "and says why" grep -q "must be kafka:TOPIC" usage.err

# --- An abortable error (a record the broker refuses): abort, read again from the commit, nothing lost ---
"$GEN" -n 200 -s 31 >err.ndjson
log-collect -q <err.ndjson | jq -r .event_id | sort -u >err.want
kcat -q -P -b "$brokers" -t raw-err -l err.ndjson 2>/dev/null
ctl error Produce INVALID_RECORD 1
bg log-collect -b "$brokers" -G lc-err -i kafka:raw-err -o kafka:ev-err --transactional-id lc-err.1 \
    --commit-interval 250ms --stats err.stats --stats-interval 100ms $KX 2>err.err
w=$!
ok "abort: every event comes out" wait_until 30 distinct ev-err "$(lines err.want)"
sleep 0.5
kill -TERM $w
exits "abort: exits 0 on SIGTERM (an aborted transaction is no failure)" $w 0 err.err
ok "abort: a transaction was aborted" sh -c "[ \"\$(tail -1 err.stats | jq .txn_aborts)\" -ge 1 ]"
ok "abort: and later ones committed" sh -c "[ \"\$(tail -1 err.stats | jq .txn_commits)\" -ge 1 ]"
ids ev-err | sort -u >err.got
same_file "abort: no event missing" err.got err.want

# --- The positions go in the transaction: a refused TxnOffsetCommit aborts it; nothing lost ---
ctl error TxnOffsetCommit UNKNOWN_MEMBER_ID 1
bg log-collect -b "$brokers" -G lc-off -i kafka:raw-err -o kafka:ev-off --transactional-id lc-off.1 \
    --commit-interval 250ms --stats off.stats --stats-interval 100ms $KX 2>off.err
w=$!
ok "offsets: every event comes out" wait_until 30 distinct ev-off "$(lines err.want)"
sleep 0.5
kill -TERM $w
exits "offsets: exits 0 on SIGTERM" $w 0 off.err
ok "offsets: the refused offsets aborted a transaction" sh -c "[ \"\$(tail -1 off.stats | jq .txn_aborts)\" -ge 1 ]"
ids ev-off | sort -u >off.got
same_file "offsets: no event missing" off.got err.want

# --- Fenced (the broker says a newer producer has the id): fatal, exit 1 ---
ctl error EndTxn INVALID_PRODUCER_EPOCH 1
bg log-collect -b "$brokers" -G lc-fence -i kafka:raw-err -o kafka:ev-fence --transactional-id lc-fence.1 \
    --commit-interval 250ms $KX 2>fence.err
w=$!
exits "fenced: its first commit is refused: exit 1" $w 1 fence.err
ok "fenced: says so" grep -q "fenced" fence.err

# --- SIGKILL mid-stream, 3 times, in each mode: raw arrives in 4 chunks; after each of the first 3
# is collected the member is killed and restarted. Commits come every 100 records read (never by
# time), so each kill leaves the records since the last hundred uncommitted, whatever the timing ---
"$GEN" -n 600 -s 32 >all.ndjson
split -n l/4 all.ndjson chunk.
log-collect -q <all.ndjson | jq -r .event_id | sort -u >all.want
want=$(lines all.want)
for mode in alo txn; do
	txn=""
	[ $mode = txn ] && txn="--transactional-id lc-txn.1"
	k=0 seen=0
	start() {
		bg log-collect -b "$brokers" -G lc-$mode -i kafka:raw-$mode -o kafka:ev-$mode $txn \
		    --commit-records 100 --commit-interval 1h $KX 2>>$mode.err
		w=$!
	}
	start
	for c in chunk.*; do
		kcat -q -P -b "$brokers" -t raw-$mode -l $c 2>/dev/null
		seen=$((seen + $(log-collect -q <$c | jq -r .event_id | sort -u | wc -l)))
		wait_until 30 distinct ev-$mode $seen || t_fail "$mode: chunk $c collected"
		if [ $c != chunk.ad ]; then
			kill -KILL $w; wait $w 2>/dev/null
			k=$((k + 1))
			start
		fi
	done
	kill -TERM $w
	exits "$mode: the last member exits 0 on SIGTERM" $w 0 $mode.err
	eq "$mode: 3 SIGKILLs" "$k" 3
	ids ev-$mode | sort >$mode.got
	sort -u $mode.got >$mode.uniq
	same_file "$mode: every event out after 3 SIGKILLs" $mode.uniq all.want
	eval dup_$mode=$(($(lines $mode.got) - $(lines $mode.uniq)))
done
echo "at-least-once: $want events, $dup_alo duplicates after 3 SIGKILLs" >&2
ok "at-least-once: the kills land before a commit (records collected twice)" [ "$dup_alo" -gt 0 ]
# The test broker (librdkafka 2.0.2's mock cluster) answers the transactional
# requests but neither stores the offsets of TxnOffsetCommit (a restarted
# member reads again from the start) nor keeps aborted records from
# read_committed consumers (its fetch has no aborted-transaction list): the
# records of the killed members' transactions stay visible, so exactly-once
# cannot be shown here.
echo "KNOWN: transactional: $dup_txn duplicates after 3 SIGKILLs on the test broker, which forgets transactional offsets and shows aborted records" >&2

kill -TERM $mock
exits "kafka-mock: exits 0" $mock 0 mock.err
t_done
