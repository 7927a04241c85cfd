#!/bin/sh
# b-q-train.sh: q-train's learning speed — offline training against the same network in PyTorch (CPU, one thread), online head updates.
# Goals: offline ratio C/PyTorch >= 2.0 (10 items a page, L 20, d 32, F 32, H 64, batch 256, one thread); online >= 50,000 items/s.
. "$(dirname "$0")/lib.sh"
N=${QTRAIN_BENCH_N:-8192}
PY=/usr/bin/python3
T=$TMP

if ! $PY -c 'import torch' 2>/dev/null; then
	echo "b-q-train: installing python3-torch" >&2
	if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo -n"; fi
	$SUDO apt-get install -y -qq python3-torch >/dev/null 2>&1 ||
	    { $SUDO apt-get update -qq >/dev/null 2>&1 && $SUDO apt-get install -y -qq python3-torch >/dev/null 2>&1; }
fi

# Both sides on data prepared in memory, one thread, runs interleaved; the best of five each
# (the machine may be shared: the best run is the one least disturbed).
have_torch=0
$PY -c 'import torch' 2>/dev/null && have_torch=1
: >"$T/c" && : >"$T/t"
for i in 1 2 3 4 5; do
	"$B/bench/qnet-bench" -n "$N" -e 3 | jq .transitions_per_s >>"$T/c"
	[ $have_torch = 1 ] && OMP_NUM_THREADS=1 $PY bench/qnet_torch.py -n "$N" -e 3 | jq .transitions_per_s >>"$T/t"
done
c_off=$(sort -n "$T/c" | tail -1)
echo "offline, C:       $c_off transitions/s (runs: $(tr '\n' ' ' <"$T/c"))"
if [ $have_torch = 1 ]; then
	t_off=$(sort -n "$T/t" | tail -1)
	echo "offline, PyTorch: $t_off transitions/s (runs: $(tr '\n' ' ' <"$T/t"); torch $($PY -c 'import torch; print(torch.__version__)'), one thread)"
	echo "offline ratio C/PyTorch: $(calc "$c_off / $t_off") (goal >= 2.0)"
	figure "q-train offline (qnet-bench)" "$c_off" transitions/s "$(calc "$c_off / $t_off")" "PyTorch, one thread" ">= 2.0"
else
	echo "offline, PyTorch: unavailable (python3-torch could not be installed)"
	figure "q-train offline (qnet-bench)" "$c_off" transitions/s - "PyTorch unavailable"
fi
on=$(for i in 1 2 3; do "$B/bench/qnet-bench" -o -n "$N" -e 3 | jq .items_per_s; done | sort -n | tail -1)
echo "online head updates, in memory: $on items/s (goal >= 50000)"
figure "q-train online head updates" "$on" items/s - - ">= 50000"

# The whole tool, JSON parsing included: q-train --online over generated transitions.
"$B/tests/gen-transitions" -n 2000 -I 100 -s 5 >"$T/train.ndjson"
"$B/tests/gen-transitions" -n 20000 -I 100 -s 6 >"$T/stream.ndjson"
"$B/bin/q-train" -q --offline -i "$T/train.ndjson" -m "$T/m" --epochs 1 --head-epochs 1 >/dev/null
items=$(jq '.action | length' "$T/stream.ndjson" | awk '{ s += $1 } END { print s }')
start=$(date +%s.%N)
"$B/bin/q-train" -q --online -i "$T/stream.ndjson" -m "$T/m" --publish-every 0 >/dev/null
end=$(date +%s.%N)
echo "q-train --online end to end: $(calc "$items / ($end - $start)" %.0f) items/s ($items items, JSON included)"
figure "q-train --online end to end" "$(calc "$items / ($end - $start)" %.0f)" items/s
