#!/bin/sh
# t-stream-faults.sh: the stream tools under faults of a real deployment — corrupt gzip, a full disk, bad clocks, quiet streams.
. "$(dirname "$0")/lib.sh"
GEN="$TOP/$B/bench/gen-events"

# ---- a .gz whose CRC is wrong: every line that decompressed is written, then the run fails with the count ----
"$GEN" -n 700 -s 4 | head -1000 >"$T_TMP/raw.ndjson"
eq "crc: 1000 raw lines" "$(lines "$T_TMP/raw.ndjson")" 1000
gzip -c "$T_TMP/raw.ndjson" >"$T_TMP/crc.gz"
size=$(wc -c <"$T_TMP/crc.gz" | tr -d ' ')
# The CRC-32 is the trailer's first 4 bytes: invert one of them.
byte=$(od -An -tu1 -j $((size - 8)) -N1 "$T_TMP/crc.gz" | tr -d ' ')
printf "$(printf '\\%03o' $((255 - byte)))" | dd of="$T_TMP/crc.gz" bs=1 seek=$((size - 8)) conv=notrunc 2>/dev/null
notok "crc: gzip sees the bad check" gzip -t "$T_TMP/crc.gz" 2>/dev/null
eq "crc: gzip -dc recovers every line" "$(gzip -dc "$T_TMP/crc.gz" 2>/dev/null | wc -l | tr -d ' ')" 1000
log-collect --ingest-ts 1732500000000 -i "$T_TMP/crc.gz" >"$T_TMP/crc.out" 2>"$T_TMP/crc.err"
eq "crc: log-collect exits 1" "$?" 1
eq "crc: every intact line written" "$(lines "$T_TMP/crc.out")" \
    "$(log-collect --ingest-ts 1732500000000 -i "$T_TMP/raw.ndjson" 2>/dev/null | wc -l | tr -d ' ')"
ok "crc: the error says what and how many lines came before" \
    grep -q "incorrect data check.*1000 line" "$T_TMP/crc.err"
# The same reader under online-join: every line reaches it.
gzip -c "$T_TMP/crc.out" >"$T_TMP/ev.gz"
size=$(wc -c <"$T_TMP/ev.gz" | tr -d ' ')
byte=$(od -An -tu1 -j $((size - 8)) -N1 "$T_TMP/ev.gz" | tr -d ' ')
printf "$(printf '\\%03o' $((255 - byte)))" | dd of="$T_TMP/ev.gz" bs=1 seek=$((size - 8)) conv=notrunc 2>/dev/null
online-join -i "$T_TMP/ev.gz" --stats "$T_TMP/oj-crc.st" >/dev/null 2>&1
eq "crc: online-join exits 1" "$?" 1
eq "crc: online-join read every line" "$(jq .in "$T_TMP/oj-crc.st")" "$(lines "$T_TMP/crc.out")"

t_done
