#!/bin/sh
# b-q-eval.sh: q-eval's throughput on logged transitions — items a second per core with the doubly robust
# estimators and 200 bootstrap replicates — against q-train --online on the same file.
# Goal: the ratio of q-eval's items/s per core to q-train --online's >= 1.0.
. "$(dirname "$0")/lib.sh"
T=$TMP
N=${QEVAL_BENCH_SESSIONS:-20000}

# The file of b-q-train.sh: generated transitions over 100 items, 10 a page, logged uniformly (their
# propensities are each item's marginal, 1/100), and a model for q-train --online to start from.
"$B/tests/gen-transitions" -n 2000 -I 100 -s 5 >"$T/train.ndjson"
"$B/tests/gen-transitions" -n "$N" -I 100 -s 6 >"$T/stream.ndjson"
i=0
while [ $i -lt 100 ]; do echo "{\"item_id\":\"i$i\"}"; i=$((i + 1)); done >"$T/items.ndjson"
items=$(jq '.action | length' "$T/stream.ndjson" | awk '{ s += $1 } END { print s }')
"$B/bin/q-train" -q --offline -i "$T/train.ndjson" -m "$T/m" --epochs 1 --head-epochs 1 >/dev/null ||
    bench_fail "q-train --offline failed"

E="-e DR,SNDR,Switch-DR,DRos,SDR -n 200 -s 1 -a $T/items.ndjson --propensities marginal --logging uniform"
# Runs interleaved, the best of three each by CPU time (user + system: a per-core figure whatever
# the threads; the machine may be shared, the best run is the one least disturbed).
: >"$T/qt" && : >"$T/qr" && : >"$T/qs"
for r in 1 2 3; do
	measure "$B/bin/q-train" -q --online -i "$T/stream.ndjson" -m "$T/m" --publish-every 0
	echo "$M_CPU $M_S $M_KB" >>"$T/qt"
	# shellcheck disable=SC2086
	measure "$B/bin/q-eval" -p random $E -i "$T/stream.ndjson"
	echo "$M_CPU $M_S $M_KB" >>"$T/qr"
	# shellcheck disable=SC2086
	measure "$B/bin/q-eval" -p popular:softmax:0.5 $E -i "$T/stream.ndjson"
	echo "$M_CPU $M_S $M_KB" >>"$T/qs"
done
best() { sort -n "$1" | head -1; }
per_core() { calc "$items / $(best "$1" | cut -d' ' -f1)" %.0f; }
qt=$(per_core "$T/qt") qr=$(per_core "$T/qr") qs=$(per_core "$T/qs")
echo "$items items in $N sessions"
echo "q-train --online:                $qt items/s per core (cpu s, wall s, KB: $(best "$T/qt"))"
echo "q-eval random, DR x5, 200 reps:   $qr items/s per core (cpu s, wall s, KB: $(best "$T/qr"))"
echo "q-eval popular:softmax:0.5, same: $qs items/s per core (cpu s, wall s, KB: $(best "$T/qs"))"
echo "ratio q-eval (softmax target) / q-train --online: $(calc "$qs / $qt") (goal >= 1.0)"
figure "q-eval, DR estimators, 200 replicates" "$qs" items/s/core "$(calc "$qs / $qt")" "q-train --online" ">= 1.0"
figure "q-eval, the same, random target" "$qr" items/s/core "$(calc "$qr / $qt")" "q-train --online"
figure "q-train --online, same file" "$qt" items/s/core
