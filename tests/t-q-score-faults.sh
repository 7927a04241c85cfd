#!/bin/sh
# t-q-score-faults.sh: q-score under faults — one answer a line in order, hostile HTTP clients, SIGTERM with requests in flight, bounded options, a wrong MODELDIR, addresses, methods.
. "$(dirname "$0")/lib.sh"

cd "$T_TMP" || exit 1
M=$T_TMP/models
qscore-mkmodel -m "$M" -C 4 -X 2 -d 8 -L 5 -F 4 -H 8 -n 50 -s 3 >/dev/null 2>&1
eq "a model version is published" "$(ls "$M")" "0000000001"
good() { printf '{"request_id":"%s","context":[0,0,0,0],"candidates":[{"item_id":"i1","features":[0,0]}]}\n' "$1"; }

# ---- the filter: every input line gets one answer line, in order ----
{
	good a
	echo
	printf '{"request_id":"long","context":[%s0]}\n' "$(awk 'BEGIN { for (i = 0; i < 3000; i++) printf "1," }')"
	good b
	printf '\r\n'
	good c
} >order.ndjson
q-score -m "$M" --max-line 1000 -i order.ndjson --dead-letter order.dl --stats order.st >order.out 2>order.err
eq "filter with bad lines: exit 0" "$?" "0"
eq "one answer per input line" "$(lines order.out)" "$(lines order.ndjson)"
eq "the answers in order, an error for each bad line" "$(jq -r '.request_id // "-"' order.out | paste -sd, -)" "a,-,-,b,-,c"
eq "an empty line: its reason" "$(sed -n 2p order.out | jq -r .error)" "empty line"
eq "a line past --max-line: its reason" "$(sed -n 3p order.out | jq -r .error)" "line of 6035 bytes is longer than --max-line (1000)"
eq "the bad lines dead-lettered once each" "$(jq -r .source order.dl | paste -sd, -)" "order.ndjson:2,order.ndjson:3,order.ndjson:5"
eq "counted as errors" "$(jq -r .errors order.st | tail -1)" "3"
# as a coprocess: each request answered before the next is written (a lost answer hangs the client)
{ good p1; echo; sed -n 3p order.ndjson; good p2; } >copro.ndjson
# copro.sh REQ ANS: writes each line of copro.ndjson to REQ and waits for its answer on ANS; counts them in copro.n
cat >copro.sh <<'EOS'
exec 3>"$1" 4<"$2"
n=0
while IFS= read -r l; do
	printf '%s\n' "$l" >&3
	IFS= read -r ans <&4 || break
	n=$((n + 1))
	echo $n >copro.n
done <copro.ndjson
EOS
mkfifo req.fifo ans.fifo
bg sh -c 'exec q-score -m "$1" --max-line 1000 -q <req.fifo >ans.fifo' sh "$M"
echo 0 >copro.n
timeout 20 sh copro.sh req.fifo ans.fifo
n=$(cat copro.n)
eq "a coprocess gets each answer before it writes the next request" "$n" "4"

# ---- hostile HTTP clients: aborted uploads and connections that dribble their headers ----
start_server() {
	rm -f port
	bg q-score -m "$M" --listen 127.0.0.1:0 --port-file port --threads 2 "$@" 2>>server.err
	SPID=$!
	i=0; while [ ! -s port ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	P=$(cat port)
	URL=http://127.0.0.1:$P
}
stop_server() { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }
code() { qscore-http -o body.out "$@"; }
metric() { code "$URL/metrics" >/dev/null; awk -v m="$1" '$1 == m { print $2 }' body.out; }
start_server --max-connections 200
eq "aborted uploads: 400 sent" "$(qscore-slow -p "$P" -a 400)" "400"
# they hold no socket: the server answers at once (before, they were held until --timeout, 30 s)
eq "after 400 aborted uploads /healthz answers" "$(timeout 10 qscore-http "$URL/healthz")" "200"
open_now() { [ "$(metric qscore_connections_open)" = 1 ]; }
ok "  and every aborted upload's connection is released (only /metrics' own is open)" wait_until 10 open_now
stop_server
start_server --max-connections 100 --read-timeout 2
bg qscore-slow -p "$P" -s 150 -i 100 -f slow.st
SLOW=$!
i=0; while [ ! -s slow.st ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
ok "150 slow clients connected" test -s slow.st
eq "with 150 slow clients on 100 connections, /healthz answers" "$(timeout 30 qscore-http "$URL/healthz")" "200"
good r1 >r1.json
eq "  and so does a score request" "$(timeout 30 qscore-http -D r1.json "$URL/v1/score")" "200"
closed=$(( $(metric qscore_slow_connections_closed_total) + $(metric qscore_connections_evicted_total) ))
ok "  the slow ones were closed by the server ($closed)" test "$closed" -gt 0
ok "  at most --max-connections open" test "$(metric qscore_connections_open)" -le 100
kill "$SLOW"
stop_server
# without crowding, a slow request is closed at its deadline
start_server --read-timeout 1
bg qscore-slow -p "$P" -s 10 -i 100
SLOW=$!
i=0; while [ $i -lt 400 ] && [ "$(metric qscore_slow_connections_closed_total)" -lt 10 ]; do sleep 0.05; i=$((i + 1)); done
ok "10 dribbling connections closed at their --read-timeout" test "$(metric qscore_slow_connections_closed_total)" -ge 10
eq "  none evicted" "$(metric qscore_connections_evicted_total)" "0"
kill "$SLOW"
stop_server

# ---- SIGTERM: new connections refused at once, the requests in flight answered ----
start_server
bg qscore-http -w go -o drain.out -D r1.json "$URL/v1/score" >drain.code
CPID=$!
i=0; while [ ! -e go.half ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
ok "a request half sent" test -e go.half
kill -TERM "$SPID"
# stop accepting first: a new connection is refused while the request is in flight
i=0; while [ $i -lt 200 ] && qscore-http "$URL/healthz" >/dev/null 2>&1; do sleep 0.05; i=$((i + 1)); done
notok "SIGTERM: new connections refused" qscore-http "$URL/healthz"
touch go
wait "$CPID"
eq "SIGTERM: the request in flight answered" "$(cat drain.code)$(jq -r .request_id drain.out 2>/dev/null)" "200r1"
wait_exit "$SPID" 20
eq "SIGTERM: the server exits 0 once drained" "$WSTATUS" "0"

# ---- every size and count option bounded: a usage error at once, naming the option ----
for o in "--max-header 10G" "--max-header 100" "--max-body 10G" "--max-body 0" "--max-connections 10000" \
    "--history-users 1000000000"; do
	# (under an open-file limit of 4096, which 10000 connections would pass)
	(ulimit -n 4096 && exec timeout 10 q-score -m "$M" --listen 127.0.0.1:0 $o </dev/null >/dev/null 2>bound.err)
	eq "$o: a usage error" "$?" "2"
	ok "  naming the option" grep -q -- "${o% *}" bound.err
done
(ulimit -n 4096 && exec timeout 10 q-score -m "$M" --listen 127.0.0.1:0 --port-file bport --max-connections 4000 --max-header 1M \
    --max-body 256M </dev/null >/dev/null 2>&1) &
i=0; while [ ! -s bport ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
ok "the largest sizes, and connections within the open-file limit, are served" test -s bport
kill $! 2>/dev/null

# ---- a wrong MODELDIR says what is wrong ----
touch afile
timeout 10 q-score -m afile --listen 127.0.0.1:0 </dev/null >/dev/null 2>mfile.err
eq "-m FILE: a usage error at once" "$?" "2"
ok "  saying it is not a directory" grep -q "afile: not a directory" mfile.err
mkdir tf && cp -r "$M/0000000001" tf/7
good t1 | q-score -m tf >tf.out 2>tf.err
eq "a version named 7 is not served" "$(jq -r .error tf.out)" "no model loaded"
ok "  a warning names it and the expected name" grep -q "tf/7: not a version directory: expected 10 digits, as tf/0000000007" tf.err

# ---- addresses: IPv6, and the real reason when one cannot be had ----
rm -f port6
bg q-score -m "$M" --listen '[::1]:0' --port-file port6 2>listen6.err
L6=$!
i=0; while [ ! -s port6 ] && kill -0 "$L6" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
eq "--listen [::1]:0 serves on the IPv6 loopback" "$(qscore-http "http://[::1]:$(cat port6 2>/dev/null)/healthz" 2>/dev/null)" "200"
kill "$L6" 2>/dev/null
q-score -m "$M" --listen 192.0.2.1:0 </dev/null 2>noaddr.err
eq "an address this host does not have: exit 1" "$?" "1"
ok "  with the system's reason" grep -q "192.0.2.1:0: .*Cannot assign requested address" noaddr.err

# ---- methods: a 405 says what its resource allows; an unknown path is 404 whatever the method ----
start_server
allow() { qscore-http -i -o hdr.out "$@" >/dev/null; tr -d '\r' <hdr.out | awk -F': ' 'tolower($1) == "allow" { print $2 }'; }
eq "GET /v1/score: 405" "$(code "$URL/v1/score")" "405"
eq "  Allow: POST" "$(allow "$URL/v1/score")" "POST"
eq "POST /healthz: 405" "$(code -d x "$URL/healthz")" "405"
eq "  Allow: GET, HEAD" "$(allow -d x "$URL/healthz")" "GET, HEAD"
eq "DELETE /metrics: Allow: GET, HEAD" "$(code -X DELETE "$URL/metrics")$(allow -X DELETE "$URL/metrics")" "405GET, HEAD"
eq "POST to an unknown path: 404" "$(code -d x "$URL/nope")" "404"
eq "GET an unknown path: 404" "$(code "$URL/v1/nope")" "404"
# "k":0 means every candidate, as -k 0 does
printf '{"request_id":"k0","context":[0,0,0,0],"candidates":[{"item_id":"i1","features":[0,0]},{"item_id":"i2","features":[0,0]},{"item_id":"i3","features":[0,0]}],"k":0}\n' >k0.json
eq "\"k\":0 over HTTP: every candidate" "$(code -D k0.json "$URL/v1/score")$(jq '.items | length' body.out)" "2003"
stop_server
eq "\"k\":0 in the filter, under -k 1: every candidate" "$(q-score -m "$M" -k 1 -i k0.json 2>/dev/null | jq '.items | length')" "3"

# ---- warm-up requests are not served requests: no counter moves ----
for u in w1 w2 w3 w4 w5; do
	printf '{"request_id":"%s","user_id":"u1","hist":["nope"],"context":[0,0,0,0],"candidates":[{"item_id":"unseen","features":[0,0]}]}\n' "$u"
done >warm.ndjson
start_server --warmup warm.ndjson
code "$URL/v1/models" >/dev/null
eq "warm-up: 5 requests scored" "$(jq .serving.warmup_requests body.out)" "5"
eq "  /metrics: no request, no unknown item or history item counted" \
    "$(metric qscore_requests_total) $(metric qscore_unknown_items_total) $(metric qscore_unknown_history_items_total)" "0 0 0"
stop_server
good f1 | q-score -m "$M" --warmup warm.ndjson --stats warm.st >/dev/null 2>&1
eq "warm-up in the filter: only the request read is counted" "$(jq -c '[.in, .unknown_items, .unknown_history_items]' warm.st | tail -1)" "[1,0,0]"

t_done
