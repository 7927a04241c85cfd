#!/bin/sh
# t-model-store.sh: the model store under an operator's hands — published files read-only and never shared, a served version that outlives its files being rewritten, versions with non-finite parameters or lying manifests refused by every tool, two online writers with --keep.
. "$(dirname "$0")/lib.sh"

cd "$T_TMP" || exit 1
loadgen() { "$TOP/$B/bench/loadgen" "$@"; }

# ---- published files: read-only, an unchanged table copied, not linked ----
M=$T_TMP/models
qscore-mkmodel -m "$M" -C 4 -X 2 -d 8 -L 5 -F 4 -H 8 -n 2000 -s 3 -c 2 >/dev/null 2>&1
qscore-mkmodel -m other -C 4 -X 2 -d 8 -L 5 -F 4 -H 8 -n 3 -s 4 >/dev/null 2>&1
eq "two versions published" "$(ls "$M" | tr '\n' ' ')" "0000000001 0000000002 "
eq "every published file is read-only" "$(stat -c %a "$M"/*/* | sort -u)" "444"
eq "version 2's unchanged emb.bin is a file of its own" "$(stat -c %h "$M"/0000000001/emb.bin "$M"/0000000002/emb.bin | tr '\n' ' ')" "1 1 "
ok "  with version 1's bytes" cmp -s "$M"/0000000001/emb.bin "$M"/0000000002/emb.bin

# ---- an older version's emb.bin rewritten in place under a q-score serving the newer ----
loadgen -n 0 -d gen.ndjson -m 30 -I 80 -X 2 -C 4 -L 8 -s 5 2>/dev/null
head -1 gen.ndjson >one.json
rm -f port
bg q-score -m "$M" --listen 127.0.0.1:0 --port-file port --threads 2 --poll-interval 100ms 2>server.err
SPID=$!
wait_until 20 test -s port
URL=http://127.0.0.1:$(cat port)
serving() { qscore-http -o models.out "$URL/v1/models" >/dev/null 2>&1 && jq -r .serving.version models.out; }
served_is() { [ "$(serving)" = "$1" ]; }
ok "q-score serves version 2" wait_until 20 served_is 2
eq "a request is answered" "$(qscore-http -o body.out -D one.json "$URL/v1/score")" "200"
# an operator copies another model's table over version 1's (cp writes in place)
chmod u+w "$M"/0000000001/emb.bin
cp other/0000000001/emb.bin "$M"/0000000001/emb.bin
eq "after version 1's emb.bin is rewritten: answered" "$(qscore-http -o body.out -D one.json "$URL/v1/score")" "200"
ok "  q-score is alive" kill -0 "$SPID"
# the served version's own file cut short: what is loaded stays whole
chmod u+w "$M"/0000000002/emb.bin
head -c 1000 other/0000000001/emb.bin >short.bin
cp short.bin "$M"/0000000002/emb.bin
eq "after version 2's own emb.bin is cut short: answered" "$(qscore-http -o body.out -D one.json "$URL/v1/score")" "200"
eq "  by version 2" "$(jq -r .model_version body.out)" "2"
ok "  q-score is alive" kill -0 "$SPID"
# a new version whose table is that short file is refused; version 2 goes on serving
cp -r "$M"/0000000002 v3
chmod -R u+w v3
jq -c '.version = 3' v3/manifest.json >v3/m && mv v3/m v3/manifest.json
mv v3 "$M"/0000000003
ok "a version with a cut-short emb.bin is refused, naming the file" \
    wait_until 20 grep -q '0000000003/emb.bin: truncated' server.err
eq "  version 2 still served" "$(serving)" "2"
eq "  and answering" "$(qscore-http -o body.out -D one.json "$URL/v1/score")" "200"
kill "$SPID"; wait_exit "$SPID" 20
eq "q-score stops cleanly (no SIGBUS, 135)" "$WSTATUS" "0"

# ---- a version with a non-finite parameter: never published, never loaded ----
gen-transitions -n 200 -s 1 >tr.ndjson 2>/dev/null
# one item's feature at 3e38: a valid float, squared in training into infinities and NaNs
jq -c 'if input_line_number == 1 then .action[0].features[0] = 3e38 else . end' tr.ndjson >huge.ndjson
q-train -q --offline -i huge.ndjson -m nan --epochs 1 --head-epochs 1 >/dev/null 2>nan.err
eq "q-train --offline: exit 1" "$?" "1"
ok "  saying which parameter is not finite" grep -q "nan: not published: network tensor '.*' element [0-9]* is not finite" nan.err
eq "  nothing published" "$(ls nan 2>/dev/null | wc -l | tr -d ' ')" "0"
# such a version written past the store: every loader refuses it
q-train -q --offline -i tr.ndjson -m good --epochs 1 --head-epochs 1 >/dev/null 2>&1
mkdir -p nan && cp -r good/0000000001 nan/
chmod -R u+w nan
# crc FILE OFF LEN: the zlib crc32 of LEN bytes of FILE at OFF, as 4 little-endian bytes (gzip's trailer)
crc() { tail -c +$(($2 + 1)) "$1" | head -c "$3" | gzip -c | tail -c 8 | head -c 4; }
# put FILE OFF: stdin's bytes into FILE at OFF
put() { dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null; }
# a NaN into the first parameter tensor (directory entry 1, after "dims"), its checksums made right
# again: a file that only the NaN spoils
f=nan/0000000001/qnet.bin
off=$(od -An -t u8 -j $((64 + 96 + 72)) -N 8 "$f" | tr -d ' ')
len=$(od -An -t u8 -j $((64 + 96 + 80)) -N 8 "$f" | tr -d ' ')
n=$(od -An -t u4 -j 12 -N 4 "$f" | tr -d ' ')
printf '\000\000\300\177' | put "$f" "$off"
crc "$f" "$off" "$len" | put "$f" $((64 + 96 + 88))
crc "$f" 64 $((96 * n)) | put "$f" 24
crc "$f" 0 28 | put "$f" 28
q-train -q --online -m nan -i tr.ndjson >/dev/null 2>nanon.err
eq "q-train --online from a version with a NaN: exit 1" "$?" "1"
ok "  naming the file and the tensor" grep -q "nan/0000000001/qnet.bin: tensor '.*': element 0 is not finite" nanon.err
q-score -m nan -i one.json >/dev/null 2>nanqs.err
ok "q-score refuses it, naming the file and the tensor" grep -q "nan/0000000001/qnet.bin: tensor '.*': element 0 is not finite" nanqs.err
q-train -q --evaluate -m nan -i tr.ndjson >/dev/null 2>naneval.err
eq "q-train --evaluate of it: exit 1" "$?" "1"

# ---- a manifest that lies about its files ----
cp -r good lie && chmod -R u+w lie
jq -c '.dims.d = 16' good/0000000001/manifest.json >lie/0000000001/manifest.json
q-train -q --online -m lie -i tr.ndjson >/dev/null 2>lie.err
eq "q-train --online over a manifest saying d=16 of a d=$(jq .dims.d good/0000000001/manifest.json) network: exit 1" "$?" "1"
ok "  saying so" grep -q "lie/0000000001/manifest.json: dims: d is 16, the network's" lie.err
eq "  nothing published" "$(ls lie | tr '\n' ' ')" "0000000001 "
q-score -m lie -i one.json >/dev/null 2>lieqs.err
ok "q-score refuses it too" grep -q "manifest.json: dims: d is 16" lieqs.err
jq -c '.files.emb = "other.bin"' good/0000000001/manifest.json >lie/0000000001/manifest.json
q-train -q --online -m lie -i tr.ndjson >/dev/null 2>lief.err
eq "q-train --online over a manifest naming other files: exit 1" "$?" "1"
ok "  saying so" grep -q 'manifest.json: files: emb is "other.bin"' lief.err

# ---- two online writers with --keep on one store ----
cp -r good W && chmod -R u+w W
mkfifo fifo
bg sh -c 'q-train --online -m W -i - --publish-every 40 --keep 2 <fifo >b.out 2>b.err; echo $? >b.rc'
exec 3>fifo
ok "writer B has loaded version 1" wait_until 30 grep -q 'learning the heads of version 1' b.err
q-train -q --online -m W -i tr.ndjson --publish-every 40 --keep 2 >a.out 2>a.err
eq "writer A: exit 0" "$?" "0"
ok "  it pruned version 1, writer B's parent" test ! -e W/0000000001
cat tr.ndjson >&3
exec 3>&-
ok "writer B ends" wait_until 60 test -s b.rc
eq "writer B, its parent pruned: exit 0" "$(cat b.rc)" "0"
notok "  no publish failed" grep -q 'publish:' b.err
eq "  the store holds the newest 2" "$(ls W | wc -l | tr -d ' ')" "2"
nb=$(ls W | tail -1)
eq "  its last version is writer B's, with version 1's table" \
    "$(jq -c '[.mode, .transitions > 200]' W/"$nb"/manifest.json) $(cmp -s W/"$nb"/emb.bin good/0000000001/emb.bin && echo same)" \
    '["online",true] same'

t_done
