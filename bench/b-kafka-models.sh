#!/bin/sh
# b-kafka-models.sh: model versions over Kafka on the test broker — the time from q-train's publish (the version placed in its store) to every one of three q-score replicas serving it, for a model of 100,000 embedding rows.
# Usage: bench/b-kafka-models.sh   (N=rows, default 100000; D=dimension, default 8; V=versions, default 5; B=build directory)
. "$(dirname "$0")/lib.sh"
N=${N:-100000}
D=${D:-8}
V=${V:-5}
R=3
if ! [ -x "$B/tests/kafka-mock" ] || ! [ -x "$B/tests/qscore-mkmodel" ] || ! [ -x "$B/tests/qscore-http" ] ||
    ! [ -x "$B/tests/gen-transitions" ] || ! command -v jq >/dev/null 2>&1; then
	echo "Kafka models: skipped (needs $B/tests/kafka-mock, qscore-mkmodel, qscore-http, gen-transitions and jq)"
	exit 0
fi
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; [ -n "${BENCH_KEEP:-}" ] || bench_cleanup' EXIT
cd "$TMP" || exit 1

# ms RFC3339: milliseconds since the epoch.
ms() { date -d "$1" +%s%3N; }
# serving N: the version replica N serves (0: none).
serving() { qscore-http -o "st.$1" "http://127.0.0.1:$(cat "port.$1")/v1/models" >/dev/null 2>&1 && jq -r '.serving.version // 0' "st.$1"; }
all_serve() { for n in $(seq 1 $R); do [ "$(serving "$n")" = "$1" ] || return 1; done; }

# The test broker answers a fetch of a drained partition only after fetch.wait.max.ms (500 ms by
# default); a real one answers as soon as a record arrives. A short wait measures the tools.
KX="-X fetch.wait.max.ms=10"
qscore-mkmodel -m store -n "$N" -d "$D" -C 2 -X 2 -c 1 >/dev/null || bench_fail "qscore-mkmodel failed"
mb=$(du -m store/0000000001/emb.bin | cut -f1)
gen-transitions -n 20 -I 100 -s 3 >t.ndjson
kafka-mock -q -n 1 -p 1 -t models -f ports >/dev/null 2>mock.err &
pids="$pids $!"
i=0
while [ $i -lt 100 ] && ! [ -s ports ]; do sleep 0.1; i=$((i + 1)); done
[ -s ports ] || bench_fail "kafka-mock did not start"
brokers=$(cat ports)
for n in $(seq 1 $R); do
	q-score -q -m kafka:models --model-cache "cache.$n" -b "$brokers" $KX --listen 127.0.0.1:0 \
	    --port-file "port.$n" --threads 1 2>"qs.$n.err" &
	pids="$pids $!"
done
i=0
while [ $i -lt 100 ] && ! [ -s port.$R ]; do sleep 0.1; i=$((i + 1)); done

# Each run of q-train --online learns the heads from a few transitions and publishes one version
# (the embeddings carried over unchanged, all N rows) into its store, then to the topic.
: >lat
for k in $(seq 1 "$V"); do
	q-train -q --online -m store -i t.ndjson --publish-every 1000000 -b "$brokers" $KX \
	    --publish kafka:models -o /dev/null 2>>qt.err || bench_fail "q-train failed (see $TMP/qt.err)"
	v=$(ls store | grep -E '^[0-9]{10}$' | tail -1 | sed 's/^0*//')
	i=0
	while [ $i -lt 600 ] && ! all_serve "$v"; do sleep 0.05; i=$((i + 1)); done
	all_serve "$v" || bench_fail "version $v not served by all $R replicas within 30 s"
	created=$(jq -r .created_ms "store/$(printf %010d "$v")/manifest.json")
	last=0
	for n in $(seq 1 $R); do
		t=$(ms "$(jq -r .serving.loaded_at "st.$n")")
		[ "$t" -gt "$last" ] && last=$t
	done
	echo $((last - created)) >>lat
done
sort -n lat >lat.sorted
med=$(sed -n "$(( (V + 1) / 2 ))p" lat.sorted)
max=$(tail -1 lat.sorted)
echo "Kafka models: $N rows (d $D, emb.bin ${mb} MB), $R replicas, $V versions: publish to all serving," \
    "median $med ms, max $max ms ($(tr '\n' ' ' <lat))"
figure "kafka models: publish to 3 serving (median)" "$(calc "$med / 1000" %.3f)" s - "$N rows" "<= 2"
figure "kafka models: publish to 3 serving (max)" "$(calc "$max / 1000" %.3f)" s - "$N rows" "<= 2"
