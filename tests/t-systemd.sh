#!/bin/sh
# t-systemd.sh: the units of pipelines/systemd/ and what they ask of the tools — q-score's unit is
# Type=notify and q-score tells $NOTIFY_SOCKET READY=1 once it serves a version, not before.
. "$(dirname "$0")/lib.sh"
cd "$T_TMP" || exit 1
U="$TOP/pipelines/systemd"

ok "q-score's unit is Type=notify" grep -q '^Type=notify$' "$U/pageturn-q-score@.service"
ok "... and waits for a first version as long as it takes" grep -q '^TimeoutStartSec=infinity$' "$U/pageturn-q-score@.service"
ok "q-score@'s comment says %i is the port" grep -q '^# .*%i is the port' "$U/pageturn-q-score@.service"
ok "q-score@'s comment does not call its instances group members" \
    sh -c "! grep -q 'members to the consumer group' '$U/pageturn-q-score@.service'"
ok "q-train@'s comment says to run one instance, not more" \
    sh -c "! grep -q 'Start more instances' '$U/pageturn-q-train@.service'"
for u in "$U"/pageturn-*.service; do
	ok "$(basename "$u") runs as the user of pageturn.sysusers" grep -q '^User=pageturn$' "$u"
done

# notify SOCKET STORE: q-score serving STORE, telling SOCKET; the messages in notify.out.
notify-listen "$T_TMP/notify.sock" notify.out &
T_PIDS="$T_PIDS $!"
wait_until 10 test -S "$T_TMP/notify.sock"
mkdir empty
NOTIFY_SOCKET="$T_TMP/notify.sock" q-score -q -m empty --listen 127.0.0.1:0 --port-file port 2>qs.err &
qs=$!
T_PIDS="$T_PIDS $qs"
ok "q-score listens with no version" wait_until 30 test -s port
ok "no READY=1 while no version is served" test ! -s notify.out
qscore-mkmodel -m empty -C 5 -X 22 -n 200 -c 1 >/dev/null 2>&1
ok "READY=1 once the first version is served" wait_until 60 grep -qx 'READY=1' notify.out
kill -TERM $qs
wait $qs
eq "q-score exits 0 on SIGTERM" "$?" 0
eq "READY=1 said once" "$(grep -c 'READY=1' notify.out)" 1
: >notify.out
NOTIFY_SOCKET="$T_TMP/notify.sock" q-score -q -m empty --listen 127.0.0.1:0 --port-file port2 2>qs2.err &
qs=$!
T_PIDS="$T_PIDS $qs"
ok "with a version at start: READY=1 once it listens" wait_until 60 grep -qx 'READY=1' notify.out
kill -TERM $qs
wait $qs
q-score -q -m empty -i /dev/null >/dev/null
eq "without NOTIFY_SOCKET, as a filter: nothing sent, exit 0" "$? $(grep -c . notify.out)" "0 1"
t_done
