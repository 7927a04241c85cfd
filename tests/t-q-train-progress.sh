#!/bin/sh
# t-q-train-progress.sh: q-train's progress on a terminal — the stage's epoch of epochs, the time left in the stage, no loss before there is one, each epoch's figures once, no line left behind.
. "$(dirname "$0")/lib.sh"
T=$T_TMP

command -v script >/dev/null || { t_fail "script(1) is needed to give q-train a terminal"; t_done; exit 1; }
gen-transitions -n 600 -I 40 -s 3 >"$T/train.ndjson"
# script(1) gives q-train a terminal for both standard output and standard error.
script -qec "q-train --offline -i '$T/train.ndjson' -m '$T/m' --epochs 2 --head-epochs 3" /dev/null \
    </dev/null >"$T/tty.out" 2>&1
eq "offline on a terminal: exit 0" "$?" 0
tr '\r' '\n' <"$T/tty.out" | sed 's/\x1b\[K//g' >"$T/tty.lines"
ok "the first line says how many epochs of each stage" \
    grep -q "pretraining 2 epoch(s) (--epochs), then fitting the heads 3 epoch(s) (--head-epochs)" "$T/tty.lines"
ok "pretraining shows its epoch of epochs" grep -q "^pretrain epoch 1/2: [0-9]*/[0-9]* examples" "$T/tty.lines"
ok "the heads show theirs" grep -q "^heads epoch 1/3: [0-9]*/[0-9]* examples" "$T/tty.lines"
ok "the time left covers the stage" grep -q "^pretrain epoch 1/2: .*, stage left [0-9]*s$" "$T/tty.lines"
notok "reading shows no loss (there is none yet)" grep -q "^reading: .*loss" "$T/tty.lines"
ok "reading shows the share of the input read and the time left in it" \
    grep -q "^reading: [0-9]* examples, [0-9]*/s, [0-9]*% of the input, input left [0-9]*s$" "$T/tty.lines"
eq "each epoch's figures once: the JSON line" "$(grep -c '"stage":"pretrain"' "$T/tty.lines")" 2
notok "each epoch's figures once: no log line besides" grep -q "pretrain epoch 1: train loss" "$T/tty.lines"
ok "a stage's line is cleared when it ends" grep -q "$(printf '\r\033\\[K')" "$T/tty.out"
t_done
