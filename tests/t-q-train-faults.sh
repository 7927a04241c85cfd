#!/bin/sh
# t-q-train-faults.sh: a failed or poisoned q-train run publishes nothing — truncated input, no usable transition, absurd features, non-finite parameters.
. "$(dirname "$0")/lib.sh"
G=gen-transitions
T=$T_TMP

# versions DIR: how many version directories the store holds.
versions() { ls "$1" 2>/dev/null | grep -c '^[0-9]*$'; }

$G -n 1500 -I 60 -s 5 >"$T/train.ndjson"

# A truncated gzip input: exit 1, and no version.
gzip -c "$T/train.ndjson" >"$T/full.ndjson.gz"
head -c $(($(wc -c <"$T/full.ndjson.gz") / 2)) "$T/full.ndjson.gz" >"$T/trunc.ndjson.gz"
q-train -q --offline -i "$T/trunc.ndjson.gz" -m "$T/m1" --epochs 1 --head-epochs 1 >/dev/null 2>"$T/trunc.err"
eq "offline, truncated gzip: exit 1" "$?" 1
eq "offline, truncated gzip: no version published" "$(versions "$T/m1")" 0

t_done
