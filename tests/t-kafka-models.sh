#!/bin/sh
# t-kafka-models.sh: model versions over Kafka — q-train --publish kafka:models, three q-score replicas following the topic: a version published once is served by all; a replica started late serves the newest; a corrupt chunk is refused by every replica, the serving version kept; the broker down keeps the versions served; old versions are tombstoned.
. "$(dirname "$0")/lib.sh"
cd "$T_TMP" || exit 1
if ! [ -x "$TBIN/kafka-mock" ] || ! [ -x "$BIN/q-train" ] || ! [ -x "$BIN/q-score" ] || ! [ -x "$TBIN/gen-transitions" ] ||
    ! [ -x "$TBIN/qscore-http" ] || ! command -v kcat >/dev/null 2>&1 || ! command -v jq >/dev/null 2>&1; then
	echo "skipped: needs kafka-mock, q-train, q-score, gen-transitions, qscore-http, kcat and jq"
	t_done
	exit $?
fi

# status N: replica N's /v1/models document (empty when it does not answer).
status() { qscore-http -o "st.$1" "http://127.0.0.1:$(cat "port.$1")/v1/models" >/dev/null 2>&1 && cat "st.$1"; }
# field N JQ: a field of replica N's /v1/models.
field() { status "$1" | jq -r "$2" 2>/dev/null; }
# serve V N...: each replica N serves version V.
serve() { _v=$1; shift; for _n in "$@"; do [ "$(field "$_n" '.serving.version // 0')" = "$_v" ] || return 1; done; }
# refused_all MIN N...: each replica N counts at least MIN refusals.
refused_all() { _m=$1; shift; for _n in "$@"; do [ "$(field "$_n" '.refusals_total')" -ge "$_m" ] 2>/dev/null || return 1; done; }
# down_all N...: each replica N has found the brokers down.
down_all() { for _n in "$@"; do [ "$(field "$_n" '.kafka.up')" = false ] || return 1; done; }
up_all() { for _n in "$@"; do [ "$(field "$_n" '.kafka.up')" = true ] || return 1; done; }
# replica N: starts q-score replica N following the topic, caching in cache.N.
replica() {
	bg q-score -v -m kafka:models --model-cache "cache.$1" -b "$brokers" --listen 127.0.0.1:0 \
	    --port-file "port.$1" --threads 1 2>"qs.$1.err"
	eval "pid$1=\$!"
	ok "replica $1 listens" wait_until 20 test -s "port.$1"
}
# crc FILE: its zlib crc32, in decimal.
crc() { gzip -c "$1" | tail -c8 | od -An -tu4 -N4 | tr -d ' '; }
train() { q-train -q --offline -i base.ndjson -m models --epochs 1 --head-epochs 1 -b "$brokers" "$@" >/dev/null 2>>train.err; }
ctl() { printf '%s\n' "$*" >ctl; }

gen-transitions -n 200 -I 100 -s 12 >base.ndjson
bg kafka-mock -n 1 -p 1 -t models -f ports -c ctl >/dev/null 2>mock.err
ok "kafka-mock: the port file appears" wait_until 10 test -s ports
brokers=$(cat ports)

replica 1; replica 2; replica 3
eq "no version yet" "$(field 1 '.serving')" null

# --- a version published once is served by all three ---
train --publish kafka:models
eq "q-train --publish: exit 0" "$?" 0
ok "version 1 served by all three replicas" wait_until 60 serve 1 1 2 3
eq "each assembled it in its own cache" "$(ls cache.1 cache.2 cache.3 | grep -c '^0000000001$')" 3
same_file "the assembled network is the store's, byte for byte" cache.2/0000000001/qnet.bin models/0000000001/qnet.bin
same_file "and the embeddings" cache.3/0000000001/emb.bin models/0000000001/emb.bin

# --- three more versions; a replica started after them serves the newest, assembling only it ---
train --publish kafka:models && train --publish kafka:models && train --publish kafka:models
eq "three more versions published" "$?" 0
ok "version 4 served by all three" wait_until 60 serve 4 1 2 3
replica 4
ok "a replica started after them serves the newest" wait_until 60 serve 4 4
eq "and assembled that one only" "$(field 4 '.kafka.assembled')" 1
eq "the version's records sit in partition 0" "$(kcat -C -b "$brokers" -t models -e -q -f '%p\n' 2>/dev/null | sort -u)" 0
# version 1 is older than the newest 3: its keys were tombstoned (a record without a value)
kcat -C -b "$brokers" -t models -e -q -f '%k %S\n' 2>/dev/null >topic.keys
eq "version 1's keys tombstoned (4 keys)" "$(grep -c '^0000000001/.* -1$' topic.keys)" 4
eq "version 2's not" "$(grep -c '^0000000002/.* -1$' topic.keys)" 0

# --- a corrupt chunk: version 5 in the store, sent by hand with one byte of its embeddings changed ---
train
eq "version 5 in the store only" "$(ls models | tail -1)" 0000000005
d=models/0000000005
for f in qnet.bin emb.bin warmup.ndjson; do
	sz=$(wc -c <"$d/$f" | tr -d ' ')
	cp "$d/$f" "$f.data"
	[ "$f" = emb.bin ] && printf 'Z' | dd of="$f.data" bs=1 seek=$((sz - 7)) conv=notrunc 2>/dev/null
	{
		printf '{"version":5,"file":"%s","chunk":0,"chunks":1,"offset":0,"size":%s,"crc32":%s,"file_size":%s,"file_crc32":%s}\n' \
		    "$f" "$sz" "$(crc "$d/$f")" "$sz" "$(crc "$d/$f")"
		cat "$f.data"
	} >"$f.rec"
	kcat -P -b "$brokers" -t models -p 0 -k "0000000005/$f/000000" "$f.rec" 2>/dev/null
	printf '{"name":"%s","size":%s,"crc32":%s,"chunks":1}\n' "$f" "$sz" "$(crc "$d/$f")"
done | jq -sc --slurpfile m "$d/manifest.json" '{version: 5, files: ., manifest: $m[0]}' >done.rec
kcat -P -b "$brokers" -t models -p 0 -k 0000000005/version done.rec 2>/dev/null
ok "the corrupt version is refused by every replica" wait_until 60 refused_all 1 1 2 3 4
ok "each still serves version 4" serve 4 1 2 3 4
eq "the reason names the chunk" "$(field 2 '.refusals[0].reason' | grep -c 'emb.bin chunk 0 of 1: checksum mismatch')" 1
eq "its follower counts it" "$(field 3 '.kafka.refused')" 1
notok "nothing of it reaches a cache" test -e cache.1/0000000005
replica 5
ok "a replica started after the corrupt version serves the newest whole one" wait_until 60 serve 4 5
eq "  having refused the corrupt one" "$(field 5 '.kafka.refused')" 1

# --- the broker down: the versions stay served; back up, the next version arrives ---
ctl down 1
ok "every replica finds the broker down" wait_until 60 down_all 1 2 3 4
ok "and still serves version 4" serve 4 1 2 3 4
head -1 models/0000000004/warmup.ndjson >req.json
qscore-http -o score.out -D req.json "http://127.0.0.1:$(cat port.2)/v1/score" >/dev/null 2>&1
eq "and answers a score request with it" "$(jq -r .model_version score.out 2>/dev/null)" 4
eq "the outage is counted" "$(field 1 '.kafka.unavailable')" 1
ok "and logged" grep -q "kafka:models: no broker answers" qs.3.err
train --publish kafka:models -X message.timeout.ms=2000 --stats down.stats
eq "q-train --offline --publish with the broker down: exit 1" "$?" 1
eq "  the version is in the store all the same" "$(ls models | tail -1)" 0000000006
eq "  its failure counted" "$(tail -1 down.stats | jq .published_kafka_failed)" 1
ctl up 1
ok "the replicas find it back" wait_until 60 up_all 1 2 3 4
train --publish kafka:models --stats up.stats
eq "version 7 published" "$?" 0
eq "  and counted" "$(tail -1 up.stats | jq .published_kafka)" 1
ok "version 7 served by every replica" wait_until 60 serve 7 1 2 3 4 5

# --- usage ---
q-score -m kafka:models 2>usage.err </dev/null
eq "-m kafka:TOPIC without --model-cache: exit 2" "$?" 2
q-train --offline -m models --publish models </dev/null 2>usage.err
eq "--publish without kafka: exit 2" "$?" 2

for n in 1 2 3 4 5; do
	eval "kill -TERM \$pid$n"
	eval "exits \"replica $n exits 0\" \$pid$n 0 qs.$n.err"
done
t_done
