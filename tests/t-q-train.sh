#!/bin/sh
# t-q-train.sh: q-train learns — a state-dependent click rule offline and online, long-term effects with γ > 0 — and keeps its model store in order.
. "$(dirname "$0")/lib.sh"
G=gen-transitions
T=$T_TMP

# Usage errors exit 2.
q-train >/dev/null 2>&1; eq "no mode is a usage error" "$?" 2
q-train --offline >/dev/null 2>&1; eq "no model directory is a usage error" "$?" 2
q-train --offline -m "$T/m" --kernels 2,x >/dev/null 2>&1; eq "bad --kernels is a usage error" "$?" 2
q-train --online -m "$T/none" -i /dev/null 2>"$T/none.err"; eq "online without a model exits 1" "$?" 1
grep -q "no model version" "$T/none.err"; eq "and says why" "$?" 0

# The generated worlds: "intent" (recent clicks shift what is clicked next) and "longterm".
$G -n 5000 -I 100 -s 5 >"$T/train.ndjson"
$G -n 3000 -I 100 -s 6 >"$T/stream.ndjson"
$G -n 1500 -I 100 -s 7 -O "$T/oracle.json" >"$T/test.ndjson"
oracle=$(jq .oracle_gauc "$T/oracle.json")

# Bad transitions are dead-lettered, the rest learned from.
head -300 "$T/train.ndjson" >"$T/bad.ndjson"
cat >>"$T/bad.ndjson" <<'EOF'
{"mdp_id":"x","state":{"hist":[],"context":[0,0]},"action":[],"done":true}
not json
{"mdp_id":"x","state":{"hist":[],"context":[0]},"action":[{"item_id":"i1","features":[0,0],"click":1,"pay":0}],"done":true}
{"mdp_id":"x","state":{"hist":[],"context":[0,0]},"action":[{"item_id":"i1","features":[0,0],"click":1}],"done":false}
{"mdp_id":"x","ts":"yesterday","state":{"hist":[],"context":[0,0]},"action":[{"item_id":"i1","features":[0,0],"click":1}],"done":true}
EOF
q-train -q --offline -i "$T/bad.ndjson" -m "$T/mbad" --epochs 1 --head-epochs 1 \
    --dead-letter "$T/bad.dl" >"$T/bad.out"
eq "bad transitions: exit 0" "$?" 0
eq "bad transitions: five dead letters" "$(lines "$T/bad.dl")" 5
eq "bad transitions: reasons" "$(jq -r .reason "$T/bad.dl" | sed '2s/.*JSON.*/(bad JSON)/; 5s/.*ts.*/(bad ts)/' | tr '\n' '|')" \
    "field 'action': expected a non-empty array|(bad JSON)|state.context: 1 numbers, want 2|field 'next_state': missing while not done|(bad ts)|"
q-train -q --strict --offline -i "$T/bad.ndjson" -m "$T/mbad" --epochs 1 --head-epochs 1 --dead-letter "$T/bad.dl" >/dev/null
eq "--strict: a rejected transition makes exit 1" "$?" 1

# Offline: the state network learns the rule; GAUC close to the oracle, above popularity.
q-train -q --offline -i "$T/train.ndjson" -m "$T/m" --gamma 0 --epochs 6 --head-epochs 10 --keep 3 >"$T/off.out"
eq "offline exit 0" "$?" 0
pop=$(jq -r 'select(.stage) | .popularity_gauc' "$T/off.out" | tail -1)
off=$(q-train -q --evaluate -m "$T/m" -i "$T/test.ndjson" | jq .gauc)
echo "offline held-out GAUC $off; the rule's own (oracle) $oracle; popularity $pop"
ok "offline GAUC within 0.05 of the oracle" awk "BEGIN { exit !($off >= $oracle - 0.05) }"
ok "offline GAUC clearly above popularity" awk "BEGIN { exit !($off >= $pop + 0.04) }"
eq "one JSON report per epoch, both stages" "$(jq -r 'select(.stage) | .stage' "$T/off.out" | uniq -c | tr -s ' ' | tr '\n' '|')" \
    " 6 pretrain| 10 heads|"

# The version directory.
V1="$T/m/0000000001"
eq "version directory holds its four files" "$(ls "$V1" | tr '\n' ' ')" "emb.bin manifest.json qnet.bin warmup.ndjson "
eq "manifest" "$(jq -c '[.version, .parent, .mode, .target, .gamma, .dims.d, .dims.kernels, .dims.C, .dims.X]' "$V1/manifest.json")" \
    '[1,0,"offline","slateq",0,32,[2,3],2,2]'
eq "warm-up: 16 score requests" "$(jq -c '[.request_id, (.candidates | length), .k]' "$V1/warmup.ndjson" | sed -n '1p;16p' | tr '\n' ' ')" \
    '["warmup-0",10,10] ["warmup-15",10,10] '
eq "no temporary directory left" "$(ls -A "$T/m" | grep -c '^\.')" 0

# Deterministic for a seed.
head -2000 "$T/train.ndjson" >"$T/small.ndjson"
q-train -q --offline -i "$T/small.ndjson" -m "$T/d1" --epochs 2 --head-epochs 2 --seed 9 >/dev/null
q-train -q --offline -i "$T/small.ndjson" -m "$T/d2" --epochs 2 --head-epochs 2 --seed 9 >/dev/null
ok "same seed, same network" cmp -s "$T/d1/0000000001/qnet.bin" "$T/d2/0000000001/qnet.bin"
ok "same seed, same embeddings" cmp -s "$T/d1/0000000001/emb.bin" "$T/d2/0000000001/emb.bin"
q-train -q --offline -i "$T/small.ndjson" -m "$T/d3" --epochs 2 --head-epochs 2 --seed 10 >/dev/null
notok "another seed, another network" cmp -s "$T/d1/0000000001/qnet.bin" "$T/d3/0000000001/qnet.bin"

cp -a "$T/m" "$T/m0"	# the offline version, for the online click head below

# Online: from the offline model with its heads zeroed, learning the heads from the stream recovers the ranking.
q-train -q --online --reset-heads -m "$T/m" -i /dev/null >/dev/null
zero=$(q-train -q --evaluate -m "$T/m" -i "$T/test.ndjson" | jq .gauc)
eq "zeroed heads rank nothing" "$zero" 0.5
q-train -q --online -m "$T/m" -i - --gamma 0 --publish-every 2000 --keep 3 --stats "$T/on.stats" \
    <"$T/stream.ndjson" >"$T/on.out"
eq "online exit 0" "$?" 0
on=$(q-train -q --evaluate -m "$T/m" -i "$T/test.ndjson" | jq .gauc)
echo "online from zeroed heads: GAUC $on (offline $off)"
ok "online recovers most of the offline GAUC" awk "BEGIN { exit !($on - 0.5 >= 0.8 * ($off - 0.5)) }"
n=$(lines "$T/stream.ndjson")
eq "a version every 2000 transitions and a last one" "$(jq .published "$T/on.out")" $((2 + (n + 1999) / 2000))
eq "--keep 3" "$(ls "$T/m" | wc -l | tr -d ' ')" 3
last=$(ls "$T/m" | tail -1)
prev=$(ls "$T/m" | tail -2 | head -1)
ok "online versions carry the embeddings over unchanged" cmp -s "$T/m/$last/emb.bin" "$T/m/$prev/emb.bin"
notok "  in files of their own, not hard links" test "$T/m/$last/emb.bin" -ef "$T/m/$prev/emb.bin"
eq "online manifest" "$(jq -c '[.mode, .parent + 1 == .version, .transitions > '"$n"']' "$T/m/$last/manifest.json")" '["online",true,true]'
eq "online stats" "$(tail -1 "$T/on.stats" | jq -c '[.in, .updates, .unknown_items]')" "[$n,$n,0]"

# SIGTERM: the last version is published before exit.
mkfifo "$T/fifo"
before=$(ls "$T/m" | tail -1)
q-train -q --online -m "$T/m" -i - --publish-every 0 --publish-interval 1h <"$T/fifo" >"$T/term.out" &
pid=$!
exec 3>"$T/fifo"
head -100 "$T/stream.ndjson" >&3
sleep 1
kill -TERM $pid
wait $pid
eq "SIGTERM: exit 0" "$?" 0
exec 3>&-
after=$(ls "$T/m" | tail -1)
want=$(expr "$before" + 1)
eq "SIGTERM: a last version published" "$(jq .published "$T/term.out")" "$want"
eq "SIGTERM: it is the newest" "$after" "$(printf '%010d' "$want")"

# --init-embeddings, frozen: the rows stay as given.
awk 'BEGIN { for (i = 0; i < 100; i++) printf "i%d:%g 0.25 -0.5 1\n", i, i / 100 }' >"$T/init.emb"
q-train -q --offline -i "$T/small.ndjson" -m "$T/mi" --init-embeddings "$T/init.emb" --freeze-embeddings \
    --epochs 1 --head-epochs 1 >/dev/null
eq "--init-embeddings sets d" "$(jq .dims.d "$T/mi/0000000001/manifest.json")" 4
eq "--init-embeddings --freeze-embeddings: the manifest says the rows are the file's" \
    "$(jq -r .rows "$T/mi/0000000001/manifest.json")" init
# emb.bin: 64-byte header, 5 directory entries of 96 bytes, meta at 576, rows at 640; row 1 is i0, row 2 is i1
eq "frozen embeddings keep their values" "$(od -An -f -j 656 -N 32 "$T/mi/0000000001/emb.bin" | xargs)" \
    "0 0.25 -0.5 1 0.01 0.25 -0.5 1"
echo "i1:1 2" >"$T/bad.emb"
q-train -q --offline -i "$T/small.ndjson" -m "$T/mb" --init-embeddings "$T/bad.emb" --dim 4 >/dev/null 2>&1
eq "embeddings of the wrong dimension: exit 1" "$?" 1

# --feature-embeddings: every shown item's row is its features (d = X), frozen.
q-train -q --offline -i "$T/small.ndjson" -m "$T/mf" --feature-embeddings --epochs 1 --head-epochs 1 >/dev/null
eq "--feature-embeddings: d is the width of the features" "$(jq .dims.d "$T/mf/0000000001/manifest.json")" 2
# the first page has no history, so its first item is row 1 (rows at 640, 2 floats each)
eq "--feature-embeddings: an item's row is its features" "$(od -An -f -j 648 -N 8 "$T/mf/0000000001/emb.bin" | xargs)" \
    "$(head -1 "$T/small.ndjson" | jq -r '.action[0].features | map(tostring) | join(" ")')"
eq "--feature-embeddings: the manifest says the rows are the features" "$(jq -r .rows "$T/mf/0000000001/manifest.json")" features
# With --init-embeddings too, the file's items keep the file's rows, the others get their features: the
# manifest says so, and a reader still builds the rows of the items the table lacks from their features.
awk 'BEGIN { for (i = 0; i < 100; i += 2) printf "i%d:%g -1\n", i, i / 100 }' >"$T/init2.emb"
q-train -q --offline -i "$T/small.ndjson" -m "$T/mif" --init-embeddings "$T/init2.emb" --feature-embeddings \
    --epochs 1 --head-epochs 1 >/dev/null
eq "--init-embeddings --feature-embeddings: the manifest says where the rows came from" \
    "$(jq -r .rows "$T/mif/0000000001/manifest.json")" init+features
# rows at 640, 2 floats each: rows 1 and 2 are i0 and i2 of the file
eq "--init-embeddings --feature-embeddings: the file's rows" "$(od -An -f -j 648 -N 16 "$T/mif/0000000001/emb.bin" | xargs)" \
    "0 -1 0.02 -1"
jq -c '(.action, .next_action // [])[] |= (.item_id = "new-" + .item_id)' "$T/small.ndjson" | head -50 |
    q-train -q --online -m "$T/mif" -i - --stats "$T/mif.stats" >/dev/null
eq "--init-embeddings --feature-embeddings: online, a new item gets the row of its features" \
    "$?:$(tail -1 "$T/mif.stats" | jq -c '[.unknown_items, .feature_row_items > 0]')" '0:[0,true]'
eq "--init-embeddings --feature-embeddings: the online version keeps the label" \
    "$(jq -r .rows "$T/mif/0000000002/manifest.json")" init+features
# Online and in evaluation, an item the table lacks gets the row of its features, as q-score gives it:
# the stream's items renamed to ids never seen (same features) teach the heads exactly what the known ids do.
head -300 "$T/stream.ndjson" >"$T/known.ndjson"
jq -c '(.action, .next_action // [])[] |= (.item_id = "new-" + .item_id)' "$T/known.ndjson" >"$T/new.ndjson"
for v in known new; do
	cp -r "$T/mf" "$T/mf-$v"
	q-train -q --online -m "$T/mf-$v" -i - --publish-every 0 --stats "$T/mf-$v.stats" <"$T/$v.ndjson" >/dev/null
done
eq "feature rows online: a new item is not on the unknown row" \
    "$(tail -1 "$T/mf-new.stats" | jq -c '[.unknown_items, .feature_row_items > 0]')" '[0,true]'
eq "feature rows online: a known item's row is its table row" \
    "$(tail -1 "$T/mf-known.stats" | jq -c '[.unknown_items, .feature_row_items]')" '[0,0]'
ok "feature rows online: new items teach the heads what known ones with their features do" \
    cmp -s "$T/mf-known/0000000002/qnet.bin" "$T/mf-new/0000000002/qnet.bin"
# The same with --lambda 1, where a session's pages wait, their rows with them, until it ends.
for v in known new; do
	cp -r "$T/mf" "$T/mfl-$v"
	q-train -q --online -m "$T/mfl-$v" -i - --lambda 1 --publish-every 0 --stats "$T/mfl-$v.stats" \
	    <"$T/$v.ndjson" >/dev/null
done
eq "feature rows online, --lambda: every page learned, none on the unknown row" \
    "$(tail -1 "$T/mfl-new.stats" | jq -c '[.updates, .unknown_items, .feature_row_items > 0]')" \
    "[$(lines "$T/new.ndjson"),0,true]"
ok "feature rows online, --lambda: new items teach the heads what known ones do" \
    cmp -s "$T/mfl-known/0000000002/qnet.bin" "$T/mfl-new/0000000002/qnet.bin"
eq "feature rows in evaluation: new items rank as known ones" \
    "$(q-train -q --evaluate -m "$T/mf" -i "$T/new.ndjson" | jq -c '[.gauc, .unknown]')" \
    "$(q-train -q --evaluate -m "$T/mf" -i "$T/known.ndjson" | jq -c '[.gauc, .unknown]')"

# --lambda online: a session's pages are learned when it ends; the open ones at the end of the input.
# (The stats are written when the next line is awaited: the bad line gets them written after the open page.)
mkfifo "$T/lfifo"
q-train -q --online -m "$T/m" -i - --lambda 1 --publish-every 0 --stats "$T/lam.stats" --stats-interval 100ms \
    --dead-letter "$T/lam.dl" <"$T/lfifo" >/dev/null &
pid=$!
exec 4>"$T/lfifo"
first=$(jq -r .mdp_id "$T/stream.ndjson" | uniq -c | awk '$1 >= 3 { print $2; exit }')
s1=$(jq -c --arg m "$first" 'select(.mdp_id == $m)' "$T/stream.ndjson" | tee "$T/s1.ndjson" | wc -l)
cat "$T/s1.ndjson" >&4
jq -c --arg m "$first" 'select(.mdp_id != $m and .done == false)' "$T/stream.ndjson" | head -1 >&4
sleep 0.5
echo 'not json' >&4
i=0
while [ $i -lt 100 ] && [ "$(tail -1 "$T/lam.stats" 2>/dev/null | jq .rejected)" != 1 ]; do sleep 0.1; i=$((i + 1)); done
eq "--lambda: the ended session learned ($s1 pages), the open one kept" \
    "$(tail -1 "$T/lam.stats" | jq -c '[.in, .updates, .rejected]')" "[$((s1 + 2)),$s1,1]"
exec 4>&-
wait $pid
eq "--lambda: the open session learned at the end of the input" \
    "$(tail -1 "$T/lam.stats" | jq -c '[.in, .updates, .rejected]')" "[$((s1 + 2)),$((s1 + 1)),1]"

# Online, the click head follows a world that changed: the same items' appeal drawn anew (-W 8).
# The heads alone, the click head kept as the offline version learned it, cannot follow as far.
$G -n 3000 -I 100 -s 6 -W 8 >"$T/stream8.ndjson"
$G -n 1500 -I 100 -s 7 -W 8 >"$T/test8.ndjson"
for c in 0 0.02; do
	cp -a "$T/m0" "$T/mc-$c"
	q-train -v --online -m "$T/mc-$c" -i "$T/stream8.ndjson" --gamma 0 --publish-every 0 --click-lr $c \
	    --stats "$T/mc-$c.stats" >/dev/null 2>"$T/mc-$c.err"
	q-train -q --evaluate -m "$T/mc-$c" -i "$T/test8.ndjson" | jq .gauc >"$T/mc-$c.gauc"
done
before=$(q-train -q --evaluate -m "$T/m0" -i "$T/test8.ndjson" | jq .gauc)
frozen=$(cat "$T/mc-0.gauc") learned=$(cat "$T/mc-0.02.gauc")
echo "a changed world: GAUC offline $before; online, click head frozen $frozen, learning $learned"
ok "online, the click head learns the changed world (GAUC +0.005 over it frozen)" \
    awk "BEGIN { exit !($learned >= $frozen + 0.005) }"
eq "--click-lr 0: the click head is not said to learn" "$(grep -c 'click' "$T/mc-0.err")" 0
losses=$(sed -n 's/.*before its step: \([0-9.]*\); version [0-9]*.s: \([0-9.]*\) .*/\1 \2/p' "$T/mc-0.02.err")
echo "click log-loss on the changed world: learning, the offline version's: $losses"
ok "with it, the click log-loss before each step is logged, below the offline version's on the same items" \
    sh -c "[ -n '$losses' ] && echo '$losses' | awk '{ exit !(\$1 < \$2) }'"
stat=$(tail -1 "$T/mc-0.02.stats" | jq -r '"\(.click_logloss) \(.click_logloss_start)"')
ok "the stats say the same ($stat)" sh -c "echo '$stat $losses' |
    awk '{ exit !(\$1 - \$3 < 1e-4 && \$3 - \$1 < 1e-4 && \$2 - \$4 < 1e-4 && \$4 - \$2 < 1e-4) }'"
eq "--click-lr 0: no click log-loss in the stats" "$(tail -1 "$T/mc-0.stats" | jq -c 'has("click_logloss")')" false

# A long-running learner: after a long stream of the old world, AdaGrad's steps have shrunk
# and it follows the changed world more slowly; with --step-horizon they stop shrinking.
$G -n 8000 -I 100 -s 11 >"$T/same.ndjson"
for h in 0 2000; do
	cp -a "$T/m0" "$T/mh-$h"
	cat "$T/same.ndjson" "$T/stream8.ndjson" |
	    q-train -q --online -m "$T/mh-$h" --gamma 0 --publish-every 0 --click-lr 0.02 --step-horizon $h \
	    --stats "$T/mh-$h.stats" >/dev/null
	q-train -q --evaluate -m "$T/mh-$h" -i "$T/test8.ndjson" | jq .gauc >"$T/mh-$h.gauc"
done
adagrad=$(cat "$T/mh-0.gauc") horizon=$(cat "$T/mh-2000.gauc")
echo "a changed world after a long stream of the old one: GAUC with AdaGrad $adagrad, --step-horizon 2000 $horizon"
ok "--step-horizon: a long-running learner follows a changed world (GAUC +0.003 over AdaGrad)" \
    awk "BEGIN { exit !($horizon >= $adagrad + 0.003) }"
# The stats show it: the heads' mean step per unit of gradient (head_step) shrinks under AdaGrad
# (from --head-lr/sqrt(0.1), 0.063 here), and less with a horizon.
steps=$(tail -1 "$T/mh-0.stats" | jq .head_step) hsteps=$(tail -1 "$T/mh-2000.stats" | jq .head_step)
echo "head_step at the end: AdaGrad $steps, --step-horizon 2000 $hsteps"
ok "head_step: AdaGrad's steps shrink, a horizon's less" \
    awk "BEGIN { exit !($steps < 0.05 && $hsteps > 1.3 * $steps) }"
# The same in event time: the changed world's stream follows the old one's (-T), and a horizon of
# 30 minutes of it is about 2,000 pages (5 s a session, 5.4 pages a session).
$G -n 3000 -I 100 -s 6 -W 8 -T $((1732492800000 + 8000 * 5000)) >"$T/stream8-later.ndjson"
cp -a "$T/m0" "$T/mh-30m"
cat "$T/same.ndjson" "$T/stream8-later.ndjson" |
    q-train --online -m "$T/mh-30m" --gamma 0 --publish-every 0 --click-lr 0.02 --step-horizon 30m >/dev/null 2>"$T/mh-30m.err"
timed=$(q-train -q --evaluate -m "$T/mh-30m" -i "$T/test8.ndjson" | jq .gauc)
echo "the same with a horizon of 30 minutes of event time: GAUC $timed"
ok "--step-horizon 30m: the same in event time (GAUC +0.003 over AdaGrad)" \
    awk "BEGIN { exit !($timed >= $adagrad + 0.003) }"
ok "--step-horizon 30m: said at the start" grep -q 'with a step horizon of 0.5 h of event time' "$T/mh-30m.err"
# Without event times there is nothing to forget by: AdaGrad, byte for byte.
cp -a "$T/m0" "$T/mh-nots"
cat "$T/same.ndjson" "$T/stream8.ndjson" | jq -c 'del(.ts)' |
    q-train -q --online -m "$T/mh-nots" --gamma 0 --publish-every 0 --click-lr 0.02 --step-horizon 30m >/dev/null
ok "--step-horizon 30m without event times: AdaGrad's version, byte for byte" \
    cmp -s "$T/mh-nots/$(ls "$T/mh-nots" | tail -1)/qnet.bin" "$T/mh-0/$(ls "$T/mh-0" | tail -1)/qnet.bin"
for bad in -1 5x 0s; do
	q-train --online -m "$T/m0" --step-horizon "$bad" </dev/null >/dev/null 2>&1
	eq "--step-horizon $bad is a usage error" "$?" 2
done

# Long-term effects: some items raise later engagement, others (more clickable) lower it.
# γ = 0.9 must beat its own γ = 0 variant when the learned model is the policy.
$G -l -n 4000 -I 100 -s 3 >"$T/long.ndjson"
for cfg in "slateq 0" "slateq 0.9" "item 0.9" "slateq 0.9 1"; do
	set -- $cfg
	q-train -q --offline -i "$T/long.ndjson" -m "$T/l-$1-$2-${3:-0}" --target "$1" --gamma "$2" --lambda "${3:-0}" \
	    --epochs 6 >/dev/null
	$G -l -I 100 -n 2000 -s 99 -m "$T/l-$1-$2-${3:-0}" | jq .avg_return >"$T/ret-$1-$2-${3:-0}"
done
myopic=$($G -l -I 100 -n 2000 -s 99 -P m | jq .avg_return)
farsighted=$($G -l -I 100 -n 2000 -s 99 -P l | jq .avg_return)
r0=$(cat "$T/ret-slateq-0-0") r9=$(cat "$T/ret-slateq-0.9-0") i9=$(cat "$T/ret-item-0.9-0") l9=$(cat "$T/ret-slateq-0.9-1")
echo "session return: slateq gamma 0.9 $r9, gamma 0 $r0, gamma 0.9 lambda 1 $l9; item target gamma 0.9 $i9; reference policies: myopic $myopic, far-sighted $farsighted"
ok "gamma 0.9 beats gamma 0 (slate decomposition)" awk "BEGIN { exit !($r9 >= 1.5 * $r0) }"
ok "the slate decomposition beats the per-item target" awk "BEGIN { exit !($r9 >= 1.5 * $i9) }"
ok "with lambda-returns too, gamma 0.9 beats gamma 0" awk "BEGIN { exit !($l9 >= 1.5 * $r0) }"

# The man page's examples.
q-train -q --offline -i "$T/small.ndjson" -m "$T/ex" --epochs 2 --head-epochs 2 >/dev/null &&
q-train -q --online -i - -m "$T/ex" --publish-every 500 <"$T/small.ndjson" >/dev/null &&
q-train -q --evaluate -i "$T/test.ndjson" -m "$T/ex" >/dev/null
eq "man page examples run" "$?" 0

t_done
