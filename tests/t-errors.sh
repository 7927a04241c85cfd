#!/bin/sh
# t-errors.sh: the errors a new user meets first — a model store that is not there or cannot be
# written, a missing input — each said at once, naming what is wrong, with the documented status.
. "$(dirname "$0")/lib.sh"
cd "$T_TMP" || exit 1

# A few transitions to learn from.
feed-sim -q -n 30 -s 5 -p popular -e softmax:1 | log-collect -q --ingest-ts 1732341700000 |
    online-join -q | experience-collect -q >trans.ndjson
ok "transitions to learn from" test -s trans.ndjson

# fails DESC STATUS PATTERN CMD...: CMD exits STATUS, writes nothing on standard output, and says
# PATTERN on standard error.
fails() {
	_d=$1 _want=$2 _pat=$3; shift 3
	"$@" >out 2>err </dev/null
	_st=$?
	eq "$_d: exit $_want" "$_st" "$_want"
	ok "$_d: nothing on standard output" test ! -s out
	ok "$_d: says \"$_pat\"" grep -q -- "$_pat" err
	[ "$_st" = "$_want" ] && grep -q -- "$_pat" err || sed 's/^/    | /' err >&2
}

# --- q-train --offline checks the store before it reads or trains: no epoch line is written.
: >afile
fails "q-train into a file" 1 "afile: not a directory" \
    q-train --offline -i trans.ndjson -m afile --epochs 1 --head-epochs 1
fails "q-train into a missing parent" 1 "nodir/models: cannot be created: nodir: No such file" \
    q-train --offline -i trans.ndjson -m nodir/models --epochs 1 --head-epochs 1
fails "q-train into a path under a file" 1 "afile/models" \
    q-train --offline -i trans.ndjson -m afile/models --epochs 1 --head-epochs 1
ok "no store was made" test ! -e nodir
# Root writes anywhere: as root, the case runs as nobody (setpriv drops the privileges).
mkdir ro && chmod 555 ro
asuser=""
if [ "$(id -u)" = 0 ]; then
	chmod 755 "$T_TMP" && chmod 644 trans.ndjson
	asuser="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi
fails "q-train into a read-only directory" 1 "ro: Permission denied" \
    $asuser q-train --offline -i trans.ndjson -m ro --epochs 1 --head-epochs 1
# The store is made when its parent exists, with or without a trailing slash.
q-train -q --offline -i trans.ndjson -m models/ --epochs 1 --head-epochs 1 >/dev/null 2>err
eq "q-train makes a new store" "$?" 0
ok "version 1 is in it" test -f models/0000000001/manifest.json
mkdir sub
q-train -q --offline -i trans.ndjson -m sub/models --epochs 1 --head-epochs 1 >/dev/null 2>err
eq "q-train makes a new store in a subdirectory" "$?" 0
fails "q-train with a missing input" 1 "nosuch.ndjson: No such file" \
    q-train --offline -i nosuch.ndjson -m models --epochs 1 --head-epochs 1

# --- q-train --online and --evaluate need a version to start from.
fails "q-train --online without a store" 1 "nosuch: no model version to start from (q-train --offline" \
    q-train --online -i trans.ndjson -m nosuch
mkdir empty
fails "q-train --evaluate on an empty store" 1 "empty: no model version to start from" \
    q-train --evaluate -i trans.ndjson -m empty

# --- pipelines/workers status shows why a member stopped with an error: the last line of its log
# (here a state directory as a worker that could not start leaves it; no broker is needed).
mkdir w
q-train --online -i trans.ndjson -m nosuch 2>w/q-train.1.log
echo $? >w/q-train.1.exit
echo 137 >w/log-collect.1.exit
echo "log-collect: collecting" >w/log-collect.1.log
"$TOP/pipelines/workers" status -d w >out 2>err
eq "workers status: exit 1 while a member is stopped" "$?" 1
eq "workers status: the reason of an error exit" "$(grep '^q-train.1' out)" \
    "q-train.1: stopped (exit 1): q-train: nosuch: no model version to start from (q-train --offline publishes a first one)"
eq "workers status: a member killed by a signal is shown without its log" "$(grep '^log-collect.1' out)" \
    "log-collect.1: stopped (exit 137)"
"$TOP/pipelines/workers" status -d none >out 2>err
ok "workers status with no workers says so" grep -q "no workers in" err

# --- online-join's archive must be a directory: a file in its place is an error at once, not one
# per sample (it was taken for a directory that existed).
feed-sim -q -n 20 -s 6 | log-collect -q --ingest-ts 1732341700000 >events.ndjson
fails "online-join --archive on a file" 1 "afile: Not a directory" online-join -i events.ndjson -a afile
eq "online-join --archive on a file: one line" "$(wc -l <err | tr -d ' ')" 1
fails "online-join --archive under a file" 1 "afile/archive: Not a directory" \
    online-join -i events.ndjson -a afile/archive
# A part that cannot be written (its day is a file) is said once, the samples it lost counted at exit.
mkdir -p day && : >day/dt=2024-11-23
online-join -i events.ndjson -a day >out 2>err
eq "online-join with an unwritable day: exit 1" "$?" 1
eq "online-join with an unwritable day: every sample still out" "$(wc -l <out | tr -d ' ')" \
    "$(online-join -i events.ndjson | wc -l | tr -d ' ')"
eq "online-join with an unwritable day: two lines said" "$(wc -l <err | tr -d ' ')" 2
ok "online-join with an unwritable day: the count of samples lost" \
    grep -q "^online-join: day: $(wc -l <out | tr -d ' ') record(s) could not be archived" err
online-join -i events.ndjson -a new/archive >out 2>err
eq "online-join makes a new archive with its parents" "$?" 0
ok "the archive holds a part" test -n "$(find new/archive -name 'part-*.ndjson.gz')"

# --- pipelines/replay: a day or an hour the calendar lacks is a usage error, not "no archive parts";
# a missing archive and a model store that is a file are named.
R="$TOP/pipelines/replay"
fails "replay -d 2024-02-30" 2 "2024-02-30: expected a day" "$R" -a new/archive -m m -d 2024-02-30
fails "replay -H 24" 2 "-H 24: expected an hour" "$R" -a new/archive -m m -d 2024-11-23 -H 24
fails "replay -a of no directory" 1 "-a nosuch: no such directory" "$R" -a nosuch -m m -d 2024-11-23
fails "replay -m on a file" 1 "-m afile: not a directory" "$R" -a new/archive -m afile -d 2024-11-23
fails "replay of a day with no parts" 1 "no archive parts under new/archive/dt=2020-01-01" \
    "$R" -a new/archive -m m -d 2020-01-01
ok "replay made no store" test ! -e m
# An hour with one truncated part: gzip fails inside the replay's pipeline; the replay says so,
# exits 1 and publishes nothing from the partial hour.
feed-sim -q -n 60 -s 4 | log-collect -q --ingest-ts 1732341700000 |
    online-join -q -a tarch --archive-size 20000 >/dev/null
part=$(find tarch -name 'part-*.ndjson.gz' | LC_ALL=C sort | sed -n 2p)
ok "an hour of several parts" test "$(find tarch -name 'part-*.ndjson.gz' | wc -l)" -gt 2
head -c "$(($(wc -c <"$part") / 2))" "$part" >half && mv half "$part"
fails "replay of an hour with a truncated part" 1 "unexpected end of file" \
    "$R" -a tarch -m tm -d 2024-11-23 -H 00 -- --epochs 1 --head-epochs 1
ok "replay of a truncated part: says which step failed" grep -q '^replay: gzip -dc .*: exit [0-9]' err
ok "replay of a truncated part: no version published" test -z "$(ls tm 2>/dev/null)"

# --- A stats or metrics file that cannot be written is said once each, by the name given; the
# stream goes on and the exit status stays 0 (log-collect(1)).
log-collect -i events.ndjson --stats nodir/s.json --metrics nodir/m.prom --stats-interval 0.1 \
    >out 2>err
eq "log-collect with unwritable stats: exit 0" "$?" 0
eq "log-collect with unwritable stats: every event out" "$(wc -l <out | tr -d ' ')" "$(wc -l <events.ndjson | tr -d ' ')"
eq "the stats file said once" "$(grep -c '^log-collect: nodir/s.json: cannot write the stats: No such file' err)" 1
eq "the metrics file said once, by its name" "$(grep -c '^log-collect: nodir/m.prom: cannot write the metrics' err)" 1

# --- feed-sim's report is checked before the sessions: nothing is simulated for a report that
# could not be written at the end.
fails "feed-sim -r under a missing directory" 1 "nodir/r.json: cannot write the report: nodir: No such file" \
    feed-sim -n 50 -o sim.ndjson -r nodir/r.json
ok "feed-sim -r under a missing directory: no session simulated" test ! -e sim.ndjson
fails "feed-sim -r under a file" 1 "afile/r.json: cannot write the report: afile is not a directory" \
    feed-sim -n 50 -o sim.ndjson -r afile/r.json
fails "feed-sim -r on a directory" 1 "new: cannot write the report: a directory" \
    feed-sim -n 50 -o sim.ndjson -r new
feed-sim -q -n 5 --no-events -r r.json
eq "feed-sim -r in the current directory" "$(jq -r .sessions r.json)" 5

# --- kafka: without a topic name is said at once (it was a failed subscription, or a producer
# that retried a delivery to "" until it timed out). No broker is needed to tell.
fails "log-collect -i kafka:" 1 "an input without a topic name" log-collect -b 127.0.0.1:1 -i kafka:
fails "log-collect -o kafka:" 1 "an output without a topic name" \
    log-collect -b 127.0.0.1:1 -i events.ndjson -o kafka:
fails "log-collect --dead-letter kafka:" 1 "an output without a topic name" \
    log-collect -b 127.0.0.1:1 -i events.ndjson --dead-letter kafka:
fails "online-join -l kafka:" 1 "an output without a topic name" \
    online-join -b 127.0.0.1:1 -i events.ndjson -l kafka:

# --- The q-score filter waits for a first version: each request is answered with an error.
head -1 trans.ndjson | jq -c '{request_id, hist: .state.hist, context: .state.context,
    candidates: [.action[] | {item_id, features}], k: 3}' >req.ndjson
q-score -m nosuch <req.ndjson >out 2>err
eq "q-score without a model: exit 0" "$?" 0
eq "q-score without a model: the answer says so" "$(jq -r .error out)" "no model loaded"
ok "q-score without a model: says so on standard error" grep -q "nosuch: no version could be loaded yet" err
q-score -m nosuch --strict <req.ndjson >out 2>err
eq "q-score --strict without a model: exit 1" "$?" 1
q-score -m models <req.ndjson >out 2>err
eq "q-score with the model: an answer" "$(jq -r '.items | length' out)" 3
# An events endpoint that cannot be read is said, and the server goes on without histories.
q-score -m models --listen 0 --port-file port --events nosuch-events.ndjson 2>qs.err &
QS=$!
T_PIDS="$T_PIDS $QS"
wait_until 20 test -s port
jq -c 'del(.hist) | .user_id = "u1"' req.ndjson >req-nohist.json
eq "q-score without its events: a request without hist is answered" \
    "$(curl -s --data-binary @req-nohist.json "http://127.0.0.1:$(cat port)/v1/score" | jq '.items | length')" 3
ok "q-score without its events: says so" grep -q "events nosuch-events.ndjson: could not be read" qs.err
kill -TERM $QS
wait_exit $QS 20
eq "q-score without its events: stops cleanly" "$WSTATUS" 0
fails "q-score --pin of a version not there" 1 "version 7 cannot be served" q-score -m models --pin 7


# --- A run whose every line is rejected into a dead-letter file still says, with -v, what it did.
printf 'not json\n{"also": "not a record"}\n' >allbad.ndjson
for t in log-collect online-join experience-collect; do
	$t -v -i allbad.ndjson --dead-letter allbad.dl >out 2>err
	eq "$t -v, every line dead-lettered: exit 0" "$?" 0
	ok "$t -v, every line dead-lettered: the summary counts them" grep -q '2 line(s) in, 0 out, 2 rejected' err
done
# --- An input that names nothing is an error, whether a glob that matches no file or a directory
# that holds none (both exit 1, said); an empty file is input with no lines.
mkdir emptydir
for t in log-collect online-join experience-collect; do
	fails "$t -i of an empty directory" 1 "emptydir: no input files" $t -i emptydir
	fails "$t -i of a glob matching nothing" 1 "nomatch" $t -i 'nomatch*.ndjson'
done
: >empty.ndjson
log-collect -i empty.ndjson >out 2>err
eq "log-collect -i of an empty file: exit 0" "$?" 0
t_done
