#!/bin/sh
# t-q-train-faults.sh: a failed or poisoned q-train run publishes nothing — truncated input, no usable transition, absurd features, non-finite parameters.
. "$(dirname "$0")/lib.sh"
G=gen-transitions
T=$T_TMP

# versions DIR: how many version directories the store holds.
versions() { ls "$1" 2>/dev/null | grep -c '^[0-9]*$'; }
at_least_versions() { test "$(versions "$1")" -ge "$2"; }

$G -n 1500 -I 60 -s 5 >"$T/train.ndjson"
$G -n 400 -I 60 -s 6 >"$T/stream.ndjson"

# A truncated gzip input: exit 1, and no version.
gzip -c "$T/train.ndjson" >"$T/full.ndjson.gz"
head -c $(($(wc -c <"$T/full.ndjson.gz") / 2)) "$T/full.ndjson.gz" >"$T/trunc.ndjson.gz"
q-train -q --offline -i "$T/trunc.ndjson.gz" -m "$T/m1" --epochs 1 --head-epochs 1 >/dev/null 2>"$T/trunc.err"
eq "offline, truncated gzip: exit 1" "$?" 1
eq "offline, truncated gzip: no version published" "$(versions "$T/m1")" 0

# A good offline version for the online runs below.
q-train -q --offline -i "$T/train.ndjson" -m "$T/m" --epochs 1 --head-epochs 1 >/dev/null
eq "offline: exit 0" "$?" 0
eq "offline: one version" "$(versions "$T/m")" 1

# Online with no usable transition: exit 1, no version, and the stats say 0 updates.
q-train -q --online -m "$T/m" -i /dev/null --stats "$T/empty.stats" >"$T/empty.out" 2>"$T/empty.err"
eq "online, empty input: exit 1" "$?" 1
eq "online, empty input: no new version" "$(versions "$T/m")" 1
printf 'not json\n{"mdp_id":"x"}\n\n' >"$T/garbage.ndjson"
q-train -q --online -m "$T/m" -i "$T/garbage.ndjson" --dead-letter "$T/garbage.dl" >/dev/null 2>&1
eq "online, all-garbage input: exit 1" "$?" 1
eq "online, all-garbage input: no new version" "$(versions "$T/m")" 1
eq "online, all-garbage input: every line dead-lettered" "$(lines "$T/garbage.dl")" 2
q-train -q --online -m "$T/m" -i "$T/garbage.ndjson" --lambda 1 >/dev/null 2>&1
eq "online --lambda, all-garbage input: exit 1" "$?" 1
eq "online --lambda, all-garbage input: no new version" "$(versions "$T/m")" 1
# A loss over no data is not a number.
q-train --online -m "$T/m" -i /dev/null --click-lr 0.01 >/dev/null 2>"$T/empty-v.err"
notok "online, no data: no loss printed as 0.0000" grep -q "0\.0000" "$T/empty-v.err"

# Online that learns: one new version, exit 0.
q-train -q --online -m "$T/m" -i "$T/stream.ndjson" --publish-every 0 >/dev/null
eq "online with data: exit 0" "$?" 0
eq "online with data: one new version" "$(versions "$T/m")" 2

# An empty held-out set: its figures are n/a, not -1 or 0.
head -1 "$T/train.ndjson" >"$T/one.ndjson"
q-train --offline -i "$T/one.ndjson" -m "$T/m3" --epochs 1 --head-epochs 1 --holdout 0 >/dev/null 2>"$T/one.err"
notok "offline, no held-out set: no GAUC -1.0000" grep -q "GAUC -1" "$T/one.err"
ok "offline, no held-out set: its loss and GAUC n/a" grep -q "held-out loss n/a, GAUC n/a" "$T/one.err"

# Absurd features (3e38, a valid float) are refused at the reader, dead-lettered with the reason and counted.
head -300 "$T/train.ndjson" >"$T/huge.ndjson"
head -1 "$T/train.ndjson" | jq -c '.action[0].features = [3e38, 0]' >>"$T/huge.ndjson"
q-train -q --offline -i "$T/huge.ndjson" -m "$T/mh" --epochs 1 --head-epochs 1 --dead-letter "$T/huge.dl" \
    --stats "$T/huge.stats" >"$T/huge.out"
eq "offline, feature 3e38: exit 0 (the line is rejected, not the run)" "$?" 0
eq "offline, feature 3e38: one dead letter" "$(lines "$T/huge.dl")" 1
ok "offline, feature 3e38: the reason names the bound" grep -q "out of range" "$T/huge.dl"
eq "offline, feature 3e38: counted" "$(tail -1 "$T/huge.stats" | jq .rejected)" 1
eq "offline, feature 3e38: every epoch line has its losses" \
    "$(jq -c 'select(.stage) | [(.train_loss | type), (.holdout_loss | type)]' "$T/huge.out" | sort -u | tr '\n' ' ')" \
    '["number","number"] '
q-train -q --online -m "$T/mh" -i "$T/huge.ndjson" --dead-letter "$T/huge-on.dl" >/dev/null
eq "online, feature 3e38: exit 0" "$?" 0
eq "online, feature 3e38: one dead letter" "$(lines "$T/huge-on.dl")" 1

# Let through, they make the training diverge: a version with a parameter that is not finite is never published.
q-train -q --offline -i "$T/huge.ndjson" -m "$T/mn" --epochs 1 --head-epochs 1 --max-feature 3.4e38 \
    >"$T/nan.out" 2>"$T/nan.err"
eq "offline, diverged: exit 1" "$?" 1
eq "offline, diverged: no version published" "$(versions "$T/mn")" 0
ok "offline, diverged: says why" grep -q "parameters are not finite" "$T/nan.err"
ok "offline, diverged: the epoch lines keep their losses (null, not left out)" \
    jq -e 'select(.stage) | has("train_loss") and has("holdout_loss")' "$T/nan.out"

# Online --lambda: sessions whose done page never comes are kept within --max-episodes and --episode-timeout.
$G -n 3000 -I 60 -s 8 | jq -c 'select(.done == false)' >"$T/open.ndjson"
sessions=$(jq -r .mdp_id "$T/open.ndjson" | sort -u | wc -l)
q-train -q --offline -i "$T/train.ndjson" -m "$T/me" --epochs 1 --head-epochs 1 >/dev/null
q-train -q --online -m "$T/me" -i "$T/open.ndjson" --lambda 1 --max-episodes 0 --episode-timeout 0 \
    --stats "$T/ep0.stats" >/dev/null
eq "unbounded: every open session kept" "$(tail -1 "$T/ep0.stats" | jq .episodes_open_max)" "$sessions"
q-train -q --online -m "$T/me" -i "$T/open.ndjson" --lambda 1 --max-episodes 100 --episode-timeout 0 \
    --stats "$T/ep1.stats" >/dev/null
eq "--max-episodes 100: exit 0" "$?" 0
ok "--max-episodes 100: never more than 100 open" \
    test "$(tail -1 "$T/ep1.stats" | jq .episodes_open_max)" -le 100
ok "--max-episodes 100: the others evicted and counted" \
    test "$(tail -1 "$T/ep1.stats" | jq .episodes_evicted)" -ge $((sessions - 100))
eq "--max-episodes 100: every page still learned" "$(tail -1 "$T/ep1.stats" | jq .updates)" "$(lines "$T/open.ndjson")"
q-train -q --online -m "$T/me" -i "$T/open.ndjson" --lambda 1 --max-episodes 0 --episode-timeout 30m \
    --stats "$T/ep2.stats" >/dev/null
ok "--episode-timeout 30m: stale sessions evicted" test "$(tail -1 "$T/ep2.stats" | jq .episodes_evicted)" -gt 0
ok "--episode-timeout 30m: fewer open than unbounded" \
    test "$(tail -1 "$T/ep2.stats" | jq .episodes_open_max)" -lt "$sessions"

# Online: one transition from a fast clock (12 h ahead) does not move the event clock past --max-ahead (10m):
# the open episodes are not made old, the step horizon does not forget at once; it is counted.
q-train -q --offline -i "$T/train.ndjson" -m "$T/mf" --epochs 1 --head-epochs 1 --seed 1 >/dev/null
jq -c 'select(.ts < 1732495800000)' "$T/open.ndjson" >"$T/hour.ndjson"	# 50 min, under --episode-timeout
# fast IN OUT LINE: IN with, after LINE, a done transition of its own episode 12 h ahead.
fast() {
	head -"$3" "$1" >"$2"
	sed -n "$3p" "$1" | jq -c '.mdp_id = "fast/clock" | .ts += 43200000 | .done = true' >>"$2"
	tail -n +$(($3 + 1)) "$1" >>"$2"
}
fast "$T/hour.ndjson" "$T/hour-fast.ndjson" 500
for f in hour hour-fast; do
	cp -r "$T/mf" "$T/mf-$f"
	q-train -q --online -m "$T/mf-$f" -i "$T/$f.ndjson" --lambda 1 --max-episodes 0 --publish-every 0 --keep 0 \
	    --stats "$T/$f.stats" >/dev/null
done
eq "fast clock, --lambda: nothing evicted without it" "$(tail -1 "$T/hour.stats" | jq .episodes_evicted)" 0
eq "fast clock, --lambda: nothing evicted with it" "$(tail -1 "$T/hour-fast.stats" | jq .episodes_evicted)" 0
eq "fast clock, --lambda: counted" "$(tail -1 "$T/hour-fast.stats" | jq .ahead_transitions)" 1
eq "fast clock, --lambda: every page learned" "$(tail -1 "$T/hour-fast.stats" | jq .updates)" "$(($(lines "$T/hour.ndjson") + 1))"
# A run of 32 in a row is the stream moving on: the clock moves, the episodes open before it are old.
head -500 "$T/hour.ndjson" >"$T/hour-run.ndjson"
sed -n 501,532p "$T/hour.ndjson" | jq -c '.ts += 43200000' >>"$T/hour-run.ndjson"
$G -n 300 -I 60 -s 10 -T 1732536000000 >>"$T/hour-run.ndjson"
cp -r "$T/mf" "$T/mf-run"
q-train -q --online -m "$T/mf-run" -i "$T/hour-run.ndjson" --lambda 1 --max-episodes 0 --publish-every 0 --keep 0 \
    --stats "$T/hour-run.stats" >/dev/null
eq "a run of 32 ahead: 31 held, the 32nd moves the clock" "$(tail -1 "$T/hour-run.stats" | jq .ahead_transitions)" 31
ok "a run of 32 ahead: the episodes open before it evicted" \
    test "$(tail -1 "$T/hour-run.stats" | jq .episodes_evicted)" -gt 0
# --step-horizon 30m: the fast page neither wipes the step memory nor stops its decay for 12 h.
$G -n 2000 -I 60 -s 6 >"$T/day.ndjson"
fast "$T/day.ndjson" "$T/day-fast.ndjson" 600
for f in day day-fast; do
	cp -r "$T/mf" "$T/mf-$f"
	q-train -q --online -m "$T/mf-$f" -i "$T/$f.ndjson" --step-horizon 30m --publish-every 0 --keep 0 \
	    --stats "$T/$f.stats" >/dev/null
done
ok "fast clock, --step-horizon 30m: the heads' step within 10% of the run without it" \
    awk -v a="$(tail -1 "$T/day.stats" | jq .head_step)" -v b="$(tail -1 "$T/day-fast.stats" | jq .head_step)" \
    'BEGIN { exit !(b > 0.9 * a && b < 1.1 * a) }'
eq "fast clock, --step-horizon 30m: counted" "$(tail -1 "$T/day-fast.stats" | jq .ahead_transitions)" 1

# Online: a newer offline version published into the store it publishes to is rebased on.
$G -n 1200 -I 60 -s 9 >"$T/live.ndjson"
q-train -q --offline -i "$T/train.ndjson" -m "$T/mr" --epochs 1 --head-epochs 1 >/dev/null
mkfifo "$T/live.fifo"
q-train --online -m "$T/mr" -i "$T/live.fifo" --publish-every 100 --keep 0 --stats "$T/mr.stats" \
    >"$T/mr.out" 2>"$T/mr.err" &
qpid=$!
exec 3>"$T/live.fifo"
head -300 "$T/live.ndjson" >&3
ok "online: three versions of its own" wait_until 180 at_least_versions "$T/mr" 4
q-train -q --offline -i "$T/train.ndjson" -m "$T/mr" --epochs 1 --head-epochs 1 --seed 2 >/dev/null
off=$(ls "$T/mr" | tail -1)
tail -n +301 "$T/live.ndjson" >&3
exec 3>&-
wait $qpid
eq "online, rebased: exit 0" "$?" 0
next=$(printf '%010d' $(($(expr "$off" + 0) + 1)))
eq "online, rebased: its next version's parent is offline version $off" \
    "$(jq -c '[.mode, .parent]' "$T/mr/$next/manifest.json")" "[\"online\",$(expr "$off" + 0)]"
eq "online, rebased: counted" "$(tail -1 "$T/mr.stats" | jq .rebases)" 1

t_done
