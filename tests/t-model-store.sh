#!/bin/sh
# t-model-store.sh: the model store under an operator's hands — versions with non-finite parameters or lying manifests refused by every tool.
. "$(dirname "$0")/lib.sh"

cd "$T_TMP" || exit 1
loadgen() { "$TOP/$B/bench/loadgen" "$@"; }

loadgen -n 0 -d gen.ndjson -m 30 -I 80 -X 2 -C 4 -L 8 -s 5 2>/dev/null
head -1 gen.ndjson >one.json

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

t_done
