#!/bin/sh
# t-q-score.sh: q-score — scores against the bare forward pass, ranking and k, errors, exploration frequencies, HTTP, hot swap under load, refusal, pinning, event-fed histories, feature rows for unseen candidates.
. "$(dirname "$0")/lib.sh"

cd "$T_TMP" || exit 1
loadgen() { "$TOP/$B/bench/loadgen" "$@"; }
M=$T_TMP/models
qscore-mkmodel -m "$M" -C 4 -X 2 -d 8 -L 5 -F 4 -H 8 -n 50 -s 3 >/dev/null 2>&1
eq "a model version is published" "$(ls "$M")" "0000000001"

# ---- scores equal the forward pass of the model store's network ----
# 64 requests: 8-item histories (the model uses the last 5), 30 candidates, ids past i49 unknown, no k.
loadgen -n 0 -d gen.ndjson -m 30 -I 80 -X 2 -C 4 -L 8 -s 5 2>/dev/null
jq -c 'del(.k)' gen.ndjson >req.ndjson
q-score -m "$M" -i req.ndjson >out.ndjson 2>err.txt
eq "filter: exit 0" "$?" "0"
eq "filter: one answer per request" "$(lines out.ndjson)" "64"
qscore-mkmodel -r -m "$M" <req.ndjson | sort >ref.tsv
jq -r '.request_id as $r | .items[] | "\($r)\t\(.item_id)\t\(.q)"' out.ndjson | sort >got.tsv
eq "every candidate answered" "$(lines got.tsv)" "$(lines ref.tsv)"
bad=$(paste ref.tsv got.tsv | awk -F'\t' '$1 != $4 || $2 != $5 { n++; next }
	{ d = $3 - $6; if (d < 0) d = -d; a = $3 < 0 ? -$3 : $3; if (d > 1e-5 * (a > 1 ? a : 1)) n++ } END { print n + 0 }')
eq "q equals the reference forward pass (1e-5 relative)" "$bad" "0"
unsorted=$(jq -r '[.items[].q] as $q | [range(1; $q | length) | select($q[.] > $q[. - 1])] | length' out.ndjson | sort -u)
eq "items are ranked by decreasing q" "$unsorted" "0"
eq "greedy propensities are 1" "$(jq -r '.items[].propensity' out.ndjson | sort -u)" "1"
eq "the model version is named" "$(jq -r '.model_version' out.ndjson | sort -u)" "1"

# ---- a model trained by q-train (SlateQ heads), with the warm-up requests it records ----
gen-transitions -n 200 -s 1 >tr.ndjson 2>/dev/null
q-train -q --offline -i tr.ndjson -m trained --epochs 1 --head-epochs 1 >/dev/null 2>&1
q-score -m trained -i trained/0000000001/warmup.ndjson -v >tout.ndjson 2>terr.txt
eq "q-train's model: every recorded request answered" "$(jq -r .model_version tout.ndjson | sort | uniq -c | awk '{ print $1 "x" $2 }')" "$(lines trained/0000000001/warmup.ndjson)x1"
ok "q-train's model: warmed up with its recorded requests" grep -q "warm-up .* $(lines trained/0000000001/warmup.ndjson) requests" terr.txt
jq -c 'del(.k)' trained/0000000001/warmup.ndjson >tall.ndjson
q-score -m trained -i tall.ndjson 2>/dev/null | jq -r '.request_id as $r | .items[] | "\($r)\t\(.item_id)\t\(.q)"' | sort >tgot.tsv
qscore-mkmodel -r -m trained <tall.ndjson | sort >tref.tsv
bad=$(paste tref.tsv tgot.tsv | awk -F'\t' '$1 != $4 || $2 != $5 { n++; next }
	{ d = $3 - $6; if (d < 0) d = -d; a = $3 < 0 ? -$3 : $3; if (d > 1e-5 * (a > 1 ? a : 1)) n++ } END { print n + 0 }')
ok "q-train's model: candidates scored ($(lines tgot.tsv))" test "$(lines tgot.tsv)" -gt 100
eq "q-train's model: q equals the forward pass" "$bad" "0"

# ---- feature rows: an item the table lacks gets the row q-train would have built from its features ----
# cmpq A B: the lines of two sorted "request item q" files whose ids differ or whose q differ by more than 1e-5 relative
cmpq() { paste "$1" "$2" | awk -F'\t' '$1 != $4 || $2 != $5 { n++; next }
	{ d = $3 - $6; if (d < 0) d = -d; a = $3 < 0 ? -$3 : $3; if (d > 1e-5 * (a > 1 ? a : 1)) n++ } END { print n + 0 }'; }
q-train -q --offline -i tr.ndjson -m ftrained --epochs 1 --head-epochs 1 --feature-embeddings >/dev/null 2>&1
eq "feature rows: the manifest says so" "$(jq -r .rows ftrained/0000000001/manifest.json) $(jq -r .rows trained/0000000001/manifest.json)" "features learned"
jq -c 'del(.k)' ftrained/0000000001/warmup.ndjson >fall.ndjson
# the same requests with every candidate renamed to an id no model has seen, its features kept
jq -c '.candidates |= map(.item_id = "new-" + .item_id)' fall.ndjson >fnew.ndjson
nc=$(jq '.candidates | length' fnew.ndjson | awk '{ s += $1 } END { print s }')
qscore-mkmodel -r -m ftrained <fall.ndjson | sort >fref.tsv
q-score -m ftrained -i fnew.ndjson --stats fst.json 2>/dev/null |
    jq -r '.request_id as $r | .items[] | "\($r)\t\(.item_id | ltrimstr("new-"))\t\(.q)"' | sort >fgot.tsv
ok "feature rows: unseen candidates scored ($(lines fgot.tsv))" test "$(lines fgot.tsv)" -eq "$nc" -a "$nc" -gt 100
eq "feature rows: an unseen candidate's q equals the forward pass of q-train's model for the seen item with its features" \
    "$(cmpq fref.tsv fgot.tsv)" "0"
eq "feature rows: counted as such (--stats), none on the unknown row" \
    "$(jq -c '[.feature_row_items, .unknown_items]' fst.json | tail -1)" "[$nc,0]"
# a model with learned rows gives them its unknown row: other scores, counted as unknown
q-score -m trained -i fnew.ndjson --stats lst.json 2>/dev/null |
    jq -r '.request_id as $r | .items[] | "\($r)\t\(.item_id | ltrimstr("new-"))\t\(.q)"' | sort >lgot.tsv
qscore-mkmodel -r -m trained <fall.ndjson | sort >lref.tsv
ok "learned rows: unseen candidates score otherwise than the seen ones" test "$(cmpq lref.tsv lgot.tsv)" -gt 0
eq "learned rows: counted on the unknown row" "$(jq -c '[.feature_row_items, .unknown_items]' lst.json | tail -1)" "[0,$nc]"
# history items carry no features: an unseen one keeps the unknown row, counted
jq -c '.hist |= map("new-" + .)' fall.ndjson >fhist.ndjson
nh=$(jq '.hist | length' fhist.ndjson | awk '{ s += $1 } END { print s }')
qscore-mkmodel -r -m ftrained <fhist.ndjson | sort >fhref.tsv
q-score -m ftrained -i fhist.ndjson --stats fhst.json 2>/dev/null |
    jq -r '.request_id as $r | .items[] | "\($r)\t\(.item_id)\t\(.q)"' | sort >fhgot.tsv
ok "feature rows: requests with history ($nh items)" test "$nh" -gt 0
eq "feature rows: unseen history items on the unknown row, as the forward pass" "$(cmpq fhref.tsv fhgot.tsv)" "0"
eq "feature rows: unseen history items counted" \
    "$(jq -c '[.unknown_history_items, .feature_row_items, .unknown_items]' fhst.json | tail -1)" "[$nh,0,0]"

# ---- k, ties, errors ----
cat >cases.ndjson <<'EOF'
{"request_id":"k2","hist":["i1"],"context":[0,0,0,0],"candidates":[{"item_id":"i1","features":[0,0]},{"item_id":"i2","features":[0,0]},{"item_id":"i3","features":[0,0]}],"k":2}
{"request_id":"tie","context":[0,0,0,0],"candidates":[{"item_id":"zz2","features":[1,1]},{"item_id":"zz1","features":[1,1]},{"item_id":"zz3","features":[1,1]}]}
{"request_id":"tie2","context":[0,0,0,0],"candidates":[{"item_id":"zz3","features":[1,1]},{"item_id":"zz1","features":[1,1]},{"item_id":"zz2","features":[1,1]}]}
{"request_id":7,"context":[0,0,0,0],"candidates":[{"item_id":12,"features":[0,0]}]}
{"request_id":"e1","context":[0,0,0],"candidates":[]}
{"request_id":"e2","context":[0,0,0,0],"candidates":[{"item_id":"i1"}]}
{"request_id":"e3","context":[0,0,0,0]}
not json at all
{"request_id":"e4","context":[0,0,0,0],"candidates":[{"item_id":"i1","features":[0,"x"]}]}
{"request_id":"e5","context":[0,0,0,0],"candidates":[],"k":-1}
{"context":[0,0,0,0],"candidates":[]}
{"request_id":"e6","context":[0,0,0,0],"candidates":[{"item_id":"i1","features":[0,1e999]}]}
{"request_id":"ok","context":[0,0,0,0],"candidates":[]}
EOF
q-score -m "$M" -i cases.ndjson >cases.out 2>cases.err
eq "bad requests: exit 0" "$?" "0"
eq "one line per request, bad ones included" "$(lines cases.out)" "13"
eq "k=2 returns two" "$(sed -n 1p cases.out | jq '.items | length')" "2"
eq "ties keep the input order" "$(sed -n 2p cases.out | jq -r '[.items[].item_id] | join(",")')" "zz2,zz1,zz3"
eq "ties keep the input order (2)" "$(sed -n 3p cases.out | jq -r '[.items[].item_id] | join(",")')" "zz3,zz1,zz2"
eq "integer ids answered as strings" "$(sed -n 4p cases.out | jq -c '[.request_id, .items[0].item_id]')" '["7","12"]'
eq "wrong context size" "$(sed -n 5p cases.out | jq -r '.request_id + ": " + .error')" "e1: field 'context': 3 numbers, the model wants 4"
eq "missing features" "$(sed -n 6p cases.out | jq -r '.error')" "candidates[0]: missing field 'features' (the model wants 2 numbers)"
eq "missing candidates" "$(sed -n 7p cases.out | jq -r '.error')" "missing field 'candidates'"
eq "bad JSON: null id and a reason" "$(sed -n 8p cases.out | jq -c '[.request_id, (.error | startswith("bad JSON at column 1"))]')" '[null,true]'
eq "a string among features" "$(sed -n 9p cases.out | jq -r '.error')" "candidates[0]: field 'features'[1]: expected a number"
eq "k=-1 refused" "$(sed -n 10p cases.out | jq -r '.error')" "field 'k': expected an integer in [0, 1000000000] (0: every candidate)"
eq "missing request_id" "$(sed -n 11p cases.out | jq -r '.error')" "missing field 'request_id'"
eq "an infinite feature refused" "$(sed -n 12p cases.out | jq -r '.error')" "candidates[0]: field 'features'[1]: not a finite float"
eq "empty candidates: empty list" "$(sed -n 13p cases.out | jq -c '.items')" "[]"
q-score -m "$M" --strict -i cases.ndjson >/dev/null 2>&1
eq "--strict: exit 1 on a bad request" "$?" "1"
q-score -m "$M" --dead-letter dl.ndjson -i cases.ndjson >/dev/null 2>&1
eq "dead letters carry the bad lines" "$(lines dl.ndjson)" "8"
q-score -m "$M" --explore bogus </dev/null 2>/dev/null
eq "a bad --explore is a usage error" "$?" "2"
q-score -m "$M" --explore softmax:0.5sds </dev/null 2>/dev/null
eq "a temperature in a unit other than sd is a usage error" "$?" "2"

# ---- exploration: sampled frequencies match the reported propensities ----
one='{"request_id":"x","context":[0.5,0.2,0.1,0.9],"hist":["i1","i2"],"candidates":[{"item_id":"i3","features":[0.1,0.2]},{"item_id":"i4","features":[1,0]},{"item_id":"i5","features":[0,1]},{"item_id":"i6","features":[2,2]}],"k":2}'
awk -v r="$one" 'BEGIN { for (i = 0; i < 8000; i++) print r }' >same.ndjson
for pol in softmax:0.05 softmax:0.5sd epsilon:0.3; do
	q-score -m "$M" --explore $pol --seed 11 -i same.ndjson >expl.out 2>/dev/null
	# position 0: frequency of each item against its (constant) reported propensity
	worst=$(jq -r '"\(.items[0].item_id) \(.items[0].propensity)"' expl.out | awk '
		{ n[$1]++; p[$1] = $2; t++ } END { m = 0; for (i in n) { d = n[i] / t - p[i]; if (d < 0) d = -d; if (d > m) m = d } print (m < 0.025) ? "ok" : "off by " m }')
	eq "$pol: position-0 frequencies match the propensities" "$worst" "ok"
	# position 1 given position 0
	worst=$(jq -r '"\(.items[0].item_id) \(.items[1].item_id) \(.items[1].propensity)"' expl.out | awk '
		{ n[$1 " " $2]++; c[$1]++; p[$1 " " $2] = $3 } END { m = 0; for (k in n) { split(k, a, " "); if (c[a[1]] < 800) continue;
		  d = n[k] / c[a[1]] - p[k]; if (d < 0) d = -d; if (d > m) m = d } print (m < 0.05) ? "ok" : "off by " m }')
	eq "$pol: position-1 frequencies match the propensities" "$worst" "ok"
	eq "$pol: several items get shown first" "$(jq -r '.items[0].item_id' expl.out | sort -u | wc -l | tr -d ' ')" "4"
done
q-score -m "$M" --explore softmax:0.05 --seed 11 -i same.ndjson 2>/dev/null | head -200 >s1.out
q-score -m "$M" --explore softmax:0.05 --seed 11 -i same.ndjson 2>/dev/null | head -200 >s2.out
q-score -m "$M" --explore softmax:0.05 --seed 12 -i same.ndjson 2>/dev/null | head -200 >s3.out
same_file "the same seed samples the same lists" s2.out s1.out
notok "another seed samples other lists" cmp -s s1.out s3.out

# ---- HTTP ----
start_server() {
	rm -f port
	bg q-score -m "$M" --listen 127.0.0.1:0 --port-file port --threads 2 --max-body 64k --poll-interval 200ms "$@" 2>>server.err
	SPID=$!
	i=0; while [ ! -s port ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
	P=$(cat port)
	URL=http://127.0.0.1:$P
}
stop_server() { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }
# code [-X method] [-d data | -D file] [-c] [-H header] URL: prints the status, the body into body.out
code() { qscore-http -o body.out "$@"; }

start_server
ok "server: port written" test -n "$P"
# a second server on a port that is taken fails, rather than share the port's traffic
q-score -m "$M" --listen "127.0.0.1:$P" 2>second.err
eq "a second server on the same port: exit 1" "$?" "1"
ok "  saying the address is in use" grep -q "127.0.0.1:$P: bind: Address already in use" second.err
for l in 127.0.0.1:99999 127.0.0.1: 127.0.0.1:80x 70000 bogus; do
	q-score -m "$M" --listen "$l" 2>listen.err
	eq "--listen $l: a usage error" "$?" "2"
	ok "  naming the value" grep -q -- "--listen $l:" listen.err
done
eq "healthz" "$(code "$URL/healthz")" "200"
head -1 req.ndjson >one.json
eq "POST one request" "$(code -D one.json "$URL/v1/score")" "200"
eq "the same answer as the filter" "$(jq -c . body.out)" "$(head -1 out.ndjson | jq -c .)"
head -3 req.ndjson | jq -s -c . >batch.json
eq "POST a batch" "$(code -D batch.json "$URL/v1/score")" "200"
eq "a batch gets an array in order" "$(jq -r '[.[].request_id] | join(",")' body.out)" "$(head -3 req.ndjson | jq -r .request_id | paste -sd, -)"
eq "bad JSON: 400" "$(code -d '{"request_id":"b",' "$URL/v1/score")" "400"
eq "bad JSON: the reason" "$(jq -r .error body.out)" "bad JSON at column 19: string key expected"
eq "a bad field: 400" "$(code -d '{"request_id":"b","candidates":3}' "$URL/v1/score")" "400"
eq "a bad field: the request id and reason" "$(jq -c . body.out)" '{"request_id":"b","error":"field '"'"'candidates'"'"': expected an array"}'
head -c 70000 /dev/zero | tr '\0' ' ' >big.json
eq "oversized body: 413" "$(code -D big.json "$URL/v1/score")" "413"
eq "oversized chunked body: 413" "$(code -c -D big.json "$URL/v1/score")" "413"
eq "headers past --max-header: 431" "$(code -H "X-Big: $(head -c 40000 /dev/zero | tr '\0' a)" "$URL/healthz")" "431"
eq "unknown path: 404" "$(code "$URL/nope")" "404"
eq "GET /v1/score: 405" "$(code "$URL/v1/score")" "405"
eq "/v1/models names the version" "$(code "$URL/v1/models")$(jq -c '[.serving.version, .refusals_total]' body.out)" "200[1,0]"
code "$URL/metrics" >/dev/null
ok "/metrics: model version" grep -qx 'qscore_model_version 1' body.out
ok "/metrics: latency histogram" grep -q '^qscore_request_duration_seconds_bucket{le="+Inf"} [1-9]' body.out
ok "/metrics: error count" grep -qx 'qscore_request_errors_total 4' body.out
eq "/v1/latency counts the score requests" "$(code "$URL/v1/latency?reset=1")$(jq -c '[.requests, (.cpu_us.p50 <= .cpu_us.p99)]' body.out)" "200[5,true]"
eq "/v1/latency after a reset" "$(code "$URL/v1/latency")$(jq -c '[.requests, .wall_us.mean, .forward_us.mean, .forward_sampled]' body.out)" "200[0,0,0,0]"
# the CPU time is taken on one request in each block of 16 of a request thread, the forward passes'
# on one in 32 (of those): of 128 requests on 2 threads, one thread serves 64 at least, with 3 whole
# blocks of 16 and 1 of 32 whatever it served before; a thread serving n draws at most n/16 + 2
i=0; while [ $i -lt 128 ]; do code -D one.json "$URL/v1/score" >/dev/null; i=$((i + 1)); done
eq "/v1/latency: the CPU times, sampled" "$(code "$URL/v1/latency?reset=1")$(jq -c \
    '[.requests, .cpu_sampled >= 3 and .cpu_sampled <= 12, .forward_sampled >= 1 and .forward_sampled <= 8, .forward_us.mean > 0, .cpu_us.mean > 0]' \
    body.out)" "200[128,true,true,true,true]"

# ---- batches: an element that is not a request gets its error in place; a body that is not a
#      well-formed array, or holds more than --max-batch, is refused whole and nothing is counted but it ----
metric() { code "$URL/metrics" >/dev/null; awk -v m="$1" '$1 == m { print $2 }' body.out; }
r0=$(metric qscore_requests_total); e0=$(metric qscore_request_errors_total)
{ printf '['; head -1 req.ndjson; printf ',{"request_id":"x","candidates":3}, 5 ,'; sed -n 2p req.ndjson; printf ']'; } >mixed.json
eq "a batch with bad elements: 200" "$(code -D mixed.json "$URL/v1/score")" "200"
eq "  each element answered in place" "$(jq -c '[.[] | .request_id, .error]' body.out)" \
    "$(head -2 req.ndjson | jq -r .request_id | jq -R . | jq -s -c '[.[0], null, "x", "field '"'"'candidates'"'"': expected an array", null, "not a JSON object", .[1], null]')"
eq "  the good ones as when sent alone" "$(jq -c '[.[0], .[3]]' body.out)" "$(head -2 out.ndjson | jq -s -c .)"
eq "  counted: 4 requests, 2 errors" "$(( $(metric qscore_requests_total) - r0 )) $(( $(metric qscore_request_errors_total) - e0 ))" "4 2"
{ printf '['; head -2 req.ndjson | paste -sd, -; printf ',{"request_id":]'; } >badtail.json
r0=$(metric qscore_requests_total); e0=$(metric qscore_request_errors_total)
eq "bad JSON after good elements: 400" "$(code -D badtail.json "$URL/v1/score")" "400"
eq "  the reason" "$(jq -r .error body.out | cut -c1-18)" "bad JSON at column"
{ printf '['; i=0; while [ $i -lt 1000 ]; do printf '{},'; i=$((i + 1)); done; printf '{}]'; } >many.json
eq "1001 elements: 413" "$(code -D many.json "$URL/v1/score")" "413"
eq "  the reason" "$(jq -r .error body.out)" "batch of 1001 requests, at most 1000"
eq "  each refusal counted once" "$(( $(metric qscore_requests_total) - r0 )) $(( $(metric qscore_request_errors_total) - e0 ))" "2 2"

# ---- refusal of a corrupt version ----
cp -r "$M/0000000001" "$M/.tmp-corrupt"
printf 'XX' | dd of="$M/.tmp-corrupt/qnet.bin" bs=1 seek=300 conv=notrunc 2>/dev/null
mv "$M/.tmp-corrupt" "$M/0000000002"
i=0; while [ $i -lt 200 ]; do code "$URL/v1/models" >/dev/null; [ "$(jq .refusals_total body.out)" = 1 ] && break; sleep 0.05; i=$((i + 1)); done
eq "a corrupt version is refused, the old one kept" "$(jq -c '[.serving.version, .refusals[0].version]' body.out)" "[1,2]"
ok "the refusal says why" sh -c "jq -r '.refusals[0].reason' body.out | grep -q 'checksum mismatch'"
ok "the refusal is logged" grep -q 'version 2 refused, still serving version 1' server.err
eq "requests go on with version 1" "$(code -D one.json "$URL/v1/score")$(jq .model_version body.out)" "2001"
rm -rf "$M/0000000002"

# ---- hot swap under load: versions every 100 ms, requests all along ----
bg qscore-mkmodel -m "$M" -C 4 -X 2 -d 8 -L 5 -F 4 -H 8 -n 50 -s 4 -c 30 -t 100 -l pub.log
PUB=$!
loadgen -p "$P" -r 400 -n 1600 -T 10 -c 8 -m 30 -I 80 -X 2 -C 4 -L 8 -l load.log -q >load.sum
eq "under swaps: no failed request, no version backwards" "$?" "0"
wait "$PUB"
eq "30 versions published" "$(lines pub.log)" "30"
ok "every answer came" grep -q 'done=1600 ok=1600 failed=0' load.sum
# every answer names a version whose publication had begun before the answer arrived (version 1 was there before)
late=$(awk 'NR == FNR { pub[$1] = $2; next } $2 != 1 && (!($2 in pub) || pub[$2] > $1) { n++ } END { print n + 0 }' pub.log load.log)
eq "every answer names a version that was live" "$late" "0"
seen=$(awk '{ print $2 }' load.log | sort -un | wc -l | tr -d ' ')
ok "many versions served during the run ($seen)" test "$seen" -ge 5
newest=$(tail -1 pub.log | cut -d' ' -f1)
i=0; while [ $i -lt 200 ]; do code "$URL/v1/models" >/dev/null; [ "$(jq .serving.version body.out)" = "$newest" ] && break; sleep 0.05; i=$((i + 1)); done
eq "the newest version is served at the end" "$(jq .serving.version body.out)" "$newest"
kill -HUP "$SPID"
sleep 0.2
eq "SIGHUP: still serving" "$(code "$URL/healthz")" "200"
stop_server

# ---- feature rows over HTTP: the same scores, the count in /metrics ----
rm -f port
bg q-score -m ftrained --listen 127.0.0.1:0 --port-file port --threads 2 2>>server.err
SPID=$!
i=0; while [ ! -s port ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
URL=http://127.0.0.1:$(cat port)
jq -s -c . fnew.ndjson >fnew.json
eq "feature rows: POST a batch of unseen candidates" "$(code -D fnew.json "$URL/v1/score")" "200"
jq -r '.[] | .request_id as $r | .items[] | "\($r)\t\(.item_id | ltrimstr("new-"))\t\(.q)"' body.out | sort >fhttp.tsv
eq "feature rows: the server's q equals the forward pass" "$(lines fhttp.tsv) $(cmpq fref.tsv fhttp.tsv)" "$nc 0"
code "$URL/metrics" >/dev/null
# the warm-up requests (the version's own, known items) add nothing to either count
ok "/metrics: candidates scored with their features' row" grep -qx "qscore_feature_row_items_total $nc" body.out
ok "/metrics: none on the unknown row" grep -qx "qscore_unknown_items_total 0" body.out
stop_server

bg q-score -m "$M" --listen 0 --port-file port0 -q
i=0; while [ ! -s port0 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
eq "--listen PORT binds the loopback" "$(code "http://127.0.0.1:$(cat port0)/healthz")$(cat body.out)" "200ok"
kill $! 2>/dev/null
q-score -m "$M" --listen nowhere -q </dev/null 2>/dev/null
eq "a bad --listen: a usage error (exit 2)" "$?" "2"

# ---- pinning, warm-up ----
q-score -m "$M" --pin 3 -i one.json >pin.out 2>/dev/null
eq "--pin serves that version" "$(jq .model_version pin.out)" "3"
q-score -m "$M" --pin 999 -i one.json >/dev/null 2>&1
eq "--pin of a missing version: exit 1" "$?" "1"
start_server --warmup req.ndjson --explore softmax:0.05
code "$URL/v1/models" >/dev/null
eq "warm-up from the recorded requests" "$(jq -c '[.serving.warmup_requests, .serving.warmup_source]' body.out)" '[64,"file"]'
echo "$one" >one-x.json
code -D one-x.json "$URL/v1/score" >/dev/null
eq "server: softmax exploration returns distinct items with propensities in (0, 1)" \
    "$(jq -c '[(.items | length), ([.items[].item_id] | unique | length), ([.items[].propensity | select(. > 0 and . < 1)] | length)]' body.out)" "[2,2,2]"
stop_server

# ---- histories from the event stream ----
cat >events.ndjson <<'EOF'
{"type":"impression","ts":1,"request_id":"p1","user_id":"u1","items":[]}
{"type":"click","ts":2,"request_id":"p1","user_id":"u1","item_id":"i7"}
{"type":"click","ts":3,"request_id":"p1","user_id":"u1","item_id":"i7"}
{"type":"pay","ts":4,"request_id":"p1","user_id":"u1","item_id":"i7","amount":3}
{"type":"click","ts":5,"request_id":"p2","user_id":"u1","item_id":"i9"}
{"type":"pay","ts":6,"request_id":"p2","user_id":"u1","item_id":"i11","amount":3}
{"type":"click","ts":7,"request_id":"p2","user_id":"u2","item_id":"i1"}
garbage
{"type":"click","ts":8,"request_id":"p3","user_id":"u3","item_id":"i1"}
{"type":"impression","ts":9,"request_id":"p4","user_id":"u3","session_id":"s9","items":[]}
{"type":"click","ts":10,"request_id":"p4","user_id":"u3","item_id":"i2"}
{"type":"impression","ts":11,"request_id":"p5","user_id":"u3","session_id":"s10","items":[]}
{"type":"click","ts":12,"request_id":"p5","user_id":"u3","item_id":"i4"}
EOF
start_server --events events.ndjson
i=0; while [ $i -lt 200 ]; do code "$URL/metrics" >/dev/null; grep -qx 'qscore_events_total 13' body.out && break; sleep 0.05; i=$((i + 1)); done
ok "events read" grep -qx 'qscore_events_total 13' body.out
ok "clicks recorded once per item and page" grep -qx 'qscore_event_clicks_total 7' body.out
ok "bad event lines counted" grep -qx 'qscore_events_bad_total 1' body.out
base='"context":[0.5,0.2,0.1,0.9],"candidates":[{"item_id":"i3","features":[0.1,0.2]},{"item_id":"i4","features":[1,0]},{"item_id":"i5","features":[0,1]}]'
code -d "{\"request_id\":\"h1\",\"user_id\":\"u1\",$base}" "$URL/v1/score" >/dev/null
jq -c '.items' body.out >from_events.out
code -d "{\"request_id\":\"h1\",\"user_id\":\"u9\",\"hist\":[\"i7\",\"i9\",\"i11\"],$base}" "$URL/v1/score" >/dev/null
jq -c '.items' body.out >explicit.out
same_file "a user's history comes from the events" from_events.out explicit.out
code -d "{\"request_id\":\"h1\",\"user_id\":\"u1\",\"hist\":[],$base}" "$URL/v1/score" >/dev/null
jq -c '.items' body.out >empty.out
notok "a hist in the request wins" cmp -s empty.out from_events.out
code -d "{\"request_id\":\"h3\",\"user_id\":\"u3\",$base}" "$URL/v1/score" >/dev/null
jq -c '.items' body.out >u3.out
code -d "{\"request_id\":\"h3\",\"hist\":[\"i4\"],$base}" "$URL/v1/score" >/dev/null
jq -c '.items' body.out >u3want.out
same_file "a new session starts the history afresh" u3.out u3want.out
stop_server

# ---- histories from a Kafka topic ----
if [ -x "$TBIN/kafka-mock" ] && command -v kcat >/dev/null; then
	bg kafka-mock -q -f kports -p 2 -t events >/dev/null
	for i in $(seq 50); do [ -s kports ] && break; sleep 0.1; done
	grep '"user_id"' events.ndjson | kcat -q -P -b "$(cat kports)" -t events -k u 2>/dev/null
	start_server -b "$(cat kports)" -G q-score-test --events kafka:events
	i=0; while [ $i -lt 200 ]; do code "$URL/metrics" >/dev/null; grep -qx 'qscore_event_clicks_total 7' body.out && break; sleep 0.1; i=$((i + 1)); done
	ok "kafka: clicks recorded from the topic" grep -qx 'qscore_event_clicks_total 7' body.out
	code -d "{\"request_id\":\"h1\",\"user_id\":\"u1\",$base}" "$URL/v1/score" >/dev/null
	jq -c '.items' body.out >from_kafka.out
	same_file "kafka: the history comes from the topic" from_kafka.out explicit.out
	stop_server
fi

# ---- the EXAMPLES of the man page, run as written (the server one needs Kafka: not here) ----
mkdir ex && cd ex || exit 1
qscore-mkmodel -m models -C 4 -X 2 -d 8 -L 5 -F 4 -H 8 -n 50 -c 12 -t 0 >/dev/null 2>&1
cp ../req.ndjson requests.ndjson
sed -n '/^\.Sh EXAMPLES/,/^\.Sh/p' "$TOP/man/q-score.1" | grep '^\$ q-score' | grep -v -- '--listen' | sed 's/^\$ //' >examples.sh
eq "three runnable examples" "$(lines examples.sh)" "3"
while IFS= read -r cmd; do
	sh -c "$cmd" >ex.out 2>ex.err
	st=$?
	eq "example: $cmd" "$st" "0"
	n=$(cat ex.out ranked.ndjson 2>/dev/null | grep -c model_version)
	ok "example answers: $cmd" test "$n" -ge 64
	rm -f ranked.ndjson
done <examples.sh
cd ..

t_done
