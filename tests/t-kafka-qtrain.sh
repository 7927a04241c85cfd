#!/bin/sh
# t-kafka-qtrain.sh: q-train --online on the test broker commits its input only with a published version — killed with SIGKILL between publications it re-learns from the last version's positions, nothing skipped and nothing learned twice; SIGTERM publishes and commits together; with --lambda a version covers each partition up to the first page kept; a partition not read keeps its parent's position.
. "$(dirname "$0")/lib.sh"
cd "$T_TMP" || exit 1
if ! [ -x "$TBIN/kafka-mock" ] || ! [ -x "$BIN/q-train" ] || ! [ -x "$TBIN/gen-transitions" ] ||
    ! command -v kcat >/dev/null 2>&1 || ! command -v jq >/dev/null 2>&1; then
	echo "skipped: needs kafka-mock, q-train, gen-transitions, kcat and jq"
	t_done
	exit $?
fi

# newest [DIR]: the manifest of the newest version in DIR (default models).
newest() { cat "${1:-models}/$(ls "${1:-models}" | grep -E '^[0-9]{10}$' | tail -1)/manifest.json"; }
# covered [DIR]: the input the newest version covers (the sum of its next offsets).
covered() { newest "$@" | jq '[.input[]?.offset] | add // 0'; }
# learned: the transitions the newest version learned since the offline one.
learned() { echo $(( $(newest | jq .transitions) - base )); }
# read_in STATS: the records read so far, by the last report of a stats file.
read_in() { n=$(tail -1 "$1" 2>/dev/null | jq -r '.in' 2>/dev/null); echo "${n:-0}"; }
atleast() { [ "$(read_in "$1")" -ge "$2" ]; }
# read_then_stop NAME LABEL N DESC ARGS...: q-train --online ARGS (stats, output and log in NAME.*)
# until it has read N records, then SIGTERM: it must exit 0.
read_then_stop() {
	_rn=$1 _rl=$2 _rw=$3 _rd=$4
	shift 4
	bg q-train -q --online "$@" --stats "$_rn.stats" -o "$_rn.out" 2>"$_rn.err"
	_rp=$!
	ok "$_rl: $_rd" wait_until 60 atleast "$_rn.stats" "$_rw"
	sleep 0.5
	kill -TERM $_rp
	exits "$_rl: exits 0 on SIGTERM" $_rp 0 "$_rn.err"
}
covers() { [ "$(covered)" -eq "$1" ]; }

gen-transitions -n 700 -I 100 -s 11 | head -3100 >all.ndjson
gen-transitions -n 200 -I 100 -s 12 >base.ndjson
q-train -q --offline -i base.ndjson -m models --epochs 1 --head-epochs 1 -o /dev/null
eq "the offline version" "$?" 0
base=$(newest | jq .transitions)
head -1000 all.ndjson >part1.ndjson
sed -n 1001,3000p all.ndjson >part2.ndjson
sed -n 3001,3100p all.ndjson >part3.ndjson
eq "3100 transitions to learn" "$(lines all.ndjson)" 3100

bg kafka-mock -n 1 -p 2 -t transitions -f ports -c ctl >/dev/null 2>mock.err
mock=$!
ok "kafka-mock: the port file appears" wait_until 10 test -s ports
brokers=$(cat ports)
QT="-b $brokers -G qt -i kafka:transitions -m models --publish-every 400 --publish-interval 1h
    --commit-interval 250ms --stats-interval 100ms -X session.timeout.ms=3000 -X heartbeat.interval.ms=300"

# --- 1000 transitions: versions at 400 and 800; the last 200 learned but not published, then SIGKILL ---
kcat -q -P -b "$brokers" -t transitions -l part1.ndjson 2>/dev/null
bg q-train -q --online $QT --stats run1.stats -o run1.out 2>run1.err
run1=$!
ok "run 1: a version covers the first 800" wait_until 30 covers 800
ok "run 1: reads all 1000" wait_until 30 atleast run1.stats 1000
# Several commit intervals pass: a position committed per record would be at 1000 by now.
sleep 1
eq "run 1: no version covers more than 800" "$(covered)" 800
v1=$(newest | jq .version)
# (the first 800 may all come from one partition: one entry a partition read)
eq "the version records a position for each partition read" \
    "$(newest | jq '[.input[] | select(.topic == "transitions" and .partition >= 0 and .partition < 2)] | length')" \
    "$(newest | jq '.input | length')"
eq "and the transitions it learned" "$(learned)" 800
kill -KILL $run1
wait $run1 2>/dev/null

# --- The restart loads that version and reads on from its positions: the 200 again, then the rest ---
kcat -q -P -b "$brokers" -t transitions -l part2.ndjson 2>/dev/null
read_then_stop run2 "run 2" 2200 "reads the 200 again and the 2000 new" $QT
eq "run 2: read from the last version's positions on (3000 - 800)" "$(read_in run2.stats)" 2200
eq "run 2: its first version descends from the one before the kill" \
    "$(cat "models/$(printf '%010d' $((v1 + 1)))/manifest.json" | jq .parent)" "$v1"
eq "run 2: the last version covers all 3000" "$(covered)" 3000
eq "every transition learned once: nothing skipped, nothing twice" "$(learned)" 3000
kcat -q -C -b "$brokers" -t transitions -o beginning -e -f '%p\n' 2>/dev/null | sort | uniq -c |
    awk '{ print $2, $1 }' >hw.want
newest | jq -r '.input[] | "\(.partition) \(.offset)"' | sort >hw.got
same_file "its positions are each partition's end" hw.got hw.want

# --- SIGTERM published and committed together: a third run reads only the 100 new ---
kcat -q -P -b "$brokers" -t transitions -l part3.ndjson 2>/dev/null
read_then_stop run3 "run 3" 100 "reads the new ones" $QT
eq "run 3: only the 100 new" "$(read_in run3.stats)" 100
eq "run 3: 3100 learned once each" "$(learned)" 3100

# --- --lambda keeps a session's pages until it ends: a version covers each partition up to its
#     first kept page, so a restart after SIGKILL reads the kept pages again ---
mkdir models-l
cp -r "models/$(ls models | grep -E '^[0-9]{10}$' | head -1)" models-l/
QL=$(echo "$QT" | sed 's/-G qt/-G qtl/; s/-m models/-m models-l/')
bg q-train -q --online $QL --lambda 1 --stats lam1.stats -o lam1.out 2>lam1.err
lam1=$!
ok "lambda run 1: reads all 3100" wait_until 60 atleast lam1.stats 3100
sleep 1
kill -KILL $lam1
wait $lam1 2>/dev/null
lread=$(( $(newest models-l | jq .transitions) - base ))
lcov=$(covered models-l)
eq "lambda run 1: the newest version was published after 2800 read" "$lread" 2800
ok "lambda run 1: it stops at the first page kept (covers $lcov of $lread)" [ "$lcov" -lt "$lread" ]
read_then_stop lam2 "lambda run 2" $((3100 - lcov)) "reads the rest" $QL --lambda 1
eq "lambda run 2: read from the kept pages on" "$(read_in lam2.stats)" $((3100 - lcov))
eq "lambda run 2: the last version covers all 3100" "$(covered models-l)" 3100

# --- A partition with nothing new keeps its parent's position: 50 more, all in partition 0 ---
gen-transitions -n 20 -I 100 -s 13 | head -50 >part4.ndjson
p1=$(newest | jq '.input[] | select(.partition == 1) | .offset')
kcat -q -P -b "$brokers" -t transitions -p 0 -l part4.ndjson 2>/dev/null
eq "kcat: 50 more into partition 0" "$?" 0
read_then_stop run4 "run 4" 50 "reads the 50 new" $QT
eq "run 4: only the 50 new" "$(read_in run4.stats)" 50
eq "run 4: partition 1, not read, keeps its position" "$(newest | jq '.input[] | select(.partition == 1) | .offset')" "$p1"
eq "run 4: the last version covers all 3150" "$(covered)" 3150

# --- A worker stopped before any record came: nothing to learn is no failure, and no version ---
nv=$(ls models | grep -cE '^[0-9]{10}$')
bg q-train -q --online $QT -G qt-idle -X auto.offset.reset=latest --stats idle.stats 2>idle.err
idle=$!
ok "idle worker: its counters appear" wait_until 30 test -s idle.stats
kill -TERM $idle
exits "idle worker: SIGTERM before any record: exit 0" $idle 0 idle.err
eq "idle worker: no version published" "$(ls models | grep -cE '^[0-9]{10}$')" "$nv"

kill -TERM $mock
exits "kafka-mock: exits 0" $mock 0 mock.err
t_done
