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

# ---- line lengths: under default settings each stage reads what the one before it writes ----
# Raw impressions just under log-collect's 1 MiB, of 1000 items, each number "1e6" (written "1000000"),
# so that the canonical events come out about twice as long, and the transitions twice as long again.
feat=$(awk 'BEGIN { for (i = 0; i < 247; i++) printf "%s1e6", (i ? "," : "") }')
imp() {	# imp REQUEST_ID TS PAGE
	awk -v f="$feat" -v r="$1" -v ts="$2" -v pg="$3" 'BEGIN {
		printf "{\"type\":\"impression\",\"ts\":%s,\"request_id\":\"%s\",\"user_id\":\"u1\",", ts, r
		printf "\"session_id\":\"s1\",\"page\":%s,\"context\":[1e6,1],\"items\":[", pg
		for (i = 0; i < 1000; i++)
			printf "%s{\"item_id\":\"%d\",\"pos\":%d,\"propensity\":0.001,\"features\":[%s]}", (i ? "," : ""), i, i, f
		printf "]}\n" }'
}
{
	imp r1 1732345200000 0
	echo '{"type":"click","ts":1732345201000,"request_id":"r1","user_id":"u1","item_id":"3"}'
	imp r2 1732345260000 1
	echo '{"type":"click","ts":1732345261000,"request_id":"r2","user_id":"u1","item_id":"5"}'
} >"$T_TMP/big.raw"
ok "lines: raw impressions just under 1 MiB" test "$(head -1 "$T_TMP/big.raw" | wc -c)" -le 1048576 -a \
    "$(head -1 "$T_TMP/big.raw" | wc -c)" -gt 1040000
log-collect --ingest-ts 1732345300000 -i "$T_TMP/big.raw" --stats "$T_TMP/big-lc.st" >"$T_TMP/big.ev" 2>/dev/null
online-join -i "$T_TMP/big.ev" --stats "$T_TMP/big-oj.st" >"$T_TMP/big.samples" 2>/dev/null
experience-collect -i "$T_TMP/big.samples" --stats "$T_TMP/big-ec.st" >"$T_TMP/big.trans" 2>/dev/null
q-train -q --offline -i "$T_TMP/big.trans" -m "$T_TMP/big-m" --epochs 1 --head-epochs 1 \
    --stats "$T_TMP/big-qt.st" >/dev/null 2>&1
ok "lines: events near twice the raw size" test "$(head -1 "$T_TMP/big.ev" | wc -c)" -gt 2000000
eq "lines: log-collect wrote every event" "$(jq -c '[.out, .rejected]' "$T_TMP/big-lc.st" | tail -1)" "[4,0]"
eq "lines: online-join took every event" "$(jq -c '[.rejected, .samples]' "$T_TMP/big-oj.st" | tail -1)" "[0,2000]"
ok "lines: transitions of two pages, near twice the events" test "$(awk '{ print length($0) }' "$T_TMP/big.trans" | sort -n | tail -1)" -gt 4000000
eq "lines: experience-collect took every sample" "$(jq -c '[.rejected, .out]' "$T_TMP/big-ec.st" | tail -1)" "[0,2]"
eq "lines: q-train took every transition" "$(jq -c '[.rejected, .in]' "$T_TMP/big-qt.st" | tail -1)" "[0,2]"

# ---- online-join --archive on a full disk: the count said is the count missing ----
# Each file online-join writes is limited in size (ulimit -f, SIGXFSZ ignored: a write past it fails with
# EFBIG, as on a full disk): parts of 500K of samples fail part-way, the short ones at the hours' ends
# complete. The samples go through a pipe, out of the limit's reach.
"$GEN" -n 3000 -s 5 | log-collect >"$T_TMP/ar.ev" 2>/dev/null
( trap '' XFSZ; ulimit -f 96; exec online-join -w 5s --pay-window 15s -d 2s --archive-size 500K -a "$T_TMP/ar" \
    -i "$T_TMP/ar.ev" ) 2>"$T_TMP/ar.err" | cat >"$T_TMP/ar.out"
archived=$(find "$T_TMP/ar" -name 'part-*.ndjson.gz' -exec gzip -dc {} + | wc -l | tr -d ' ')
missing=$(($(lines "$T_TMP/ar.out") - archived))
ok "full disk: some samples could not be archived" test "$missing" -gt 0
ok "full disk: some parts completed" test "$archived" -gt 0
eq "full disk: the count said is the count missing" \
    "$(sed -n 's/.*: \([0-9]*\) record(s) could not be archived.*/\1/p' "$T_TMP/ar.err")" "$missing"
eq "full disk: no part left half-written" "$(find "$T_TMP/ar" -name '.part-*' | wc -l | tr -d ' ')" 0

# Parts left unfinished by a crashed run of this host are removed at start; another host's stay.
host=$(hostname | tr -c 'A-Za-z0-9\n' '_')
mkdir -p "$T_TMP/ar2/dt=2024-11-23/hour=07"
: >"$T_TMP/ar2/dt=2024-11-23/hour=07/.part-$host-2147483646-1-0.ndjson.gz.tmp"
: >"$T_TMP/ar2/dt=2024-11-23/hour=07/.part-otherhost-2147483646-1-0.ndjson.gz.tmp"
online-join -a "$T_TMP/ar2" </dev/null >/dev/null 2>&1
eq "stale parts: this host's removed" "$(find "$T_TMP/ar2" -name ".part-$host-*" | wc -l | tr -d ' ')" 0
eq "stale parts: another host's kept" "$(find "$T_TMP/ar2" -name '.part-otherhost-*' | wc -l | tr -d ' ')" 1

# ---- one clock 12 h fast: its event does not make the rest of the stream late ----
"$GEN" -n 400 -s 3 | log-collect --ingest-ts 1732345678000 >"$T_TMP/clock.ev" 2>/dev/null
n=$(lines "$T_TMP/clock.ev")
{
	head -n $((n / 10)) "$T_TMP/clock.ev"
	jq -c 'select(.type == "impression") | {type: "click", ts: (.ts + 43200000), request_id, user_id,
	    item_id: .items[0].item_id, event_id: "fast-clock"}' "$T_TMP/clock.ev" | head -1
	tail -n +$((n / 10 + 1)) "$T_TMP/clock.ev"
} >"$T_TMP/clock-fast.ev"
online-join -i "$T_TMP/clock.ev" -l "$T_TMP/clock.late" >"$T_TMP/clock.out" 2>/dev/null
online-join -i "$T_TMP/clock-fast.ev" -l "$T_TMP/clock-fast.late" --stats "$T_TMP/clock.st" >"$T_TMP/clock-fast.out" 2>/dev/null
eq "fast clock: every sample as without it" "$(lines "$T_TMP/clock-fast.out")" "$(lines "$T_TMP/clock.out")"
eq "fast clock: the same samples, the same labels" "$(sort "$T_TMP/clock-fast.out" | cksum)" "$(sort "$T_TMP/clock.out" | cksum)"
eq "fast clock: its click is a correction, outside its window" \
    "$(jq -r 'select(.event_id == "fast-clock") | .reason' "$T_TMP/clock-fast.late")" outside_window
eq "fast clock: nothing else late" "$(lines "$T_TMP/clock-fast.late")" $(($(lines "$T_TMP/clock.late") + 1))
eq "fast clock: counted" "$(jq .ahead_events "$T_TMP/clock.st")" 1

# ---- a Kafka stream that goes quiet: its windows and sessions close after --idle-close, default windows and all ----
if [ -x "$TBIN/kafka-mock" ] && command -v kcat >/dev/null; then
	bg kafka-mock -q -f "$T_TMP/ports" -p 2 -t events -t samples >/dev/null 2>&1
	wait_until 10 test -s "$T_TMP/ports"
	br=$(cat "$T_TMP/ports")
	jq -r '"\(.user_id)\t\(tojson)"' "$T_TMP/clock.ev" | kcat -q -P -b "$br" -t events -K "$(printf '\t')" 2>/dev/null
	bg online-join -b "$br" -G quiet -i kafka:events -o "$T_TMP/quiet.out" --idle-close 2s \
	    --stats "$T_TMP/quiet.st" --stats-interval 0.2 2>"$T_TMP/quiet.err"
	qpid=$!
	last() { tail -1 "$T_TMP/quiet.st" 2>/dev/null | jq -r "$1"; }
	all_out() { test "$(last .samples)" = "$(lines "$T_TMP/clock.out")"; }
	ok "quiet stream: every window closed, its samples out" wait_until 60 all_out
	eq "quiet stream: nothing left open" "$(last '[.open_impressions, .waiting_feedback] | tostring')" "[0,0]"
	ok "quiet stream: closed by the idle timer" test "$(last .idle_closes)" -ge 1
	kill -TERM $qpid
	exits "quiet stream: exits 0 on SIGTERM" $qpid 0 "$T_TMP/quiet.err"
	eq "quiet stream: the samples of a file run" "$(sort "$T_TMP/quiet.out" | cksum)" "$(sort "$T_TMP/clock.out" | cksum)"

	# experience-collect: the same samples, shorter than its 30-minute session gap, then silence; after
	# --idle-close every open session is written (end "idle"), each page once, as a file run writes them.
	experience-collect -i "$T_TMP/clock.out" >"$T_TMP/ec-clock.out" 2>/dev/null
	jq -r '"\(.user_id)\t\(tojson)"' "$T_TMP/clock.out" | kcat -q -P -b "$br" -t samples -K "$(printf '\t')" 2>/dev/null
	bg experience-collect -b "$br" -G quiet-ec -i kafka:samples -o "$T_TMP/ec-quiet.out" --idle-close 2s \
	    --stats "$T_TMP/ec-quiet.st" --stats-interval 0.2 2>"$T_TMP/ec-quiet.err"
	qpid=$!
	elast() { tail -1 "$T_TMP/ec-quiet.st" 2>/dev/null | jq -r "$1"; }
	ec_all_out() { test "$(elast .out)" = "$(lines "$T_TMP/ec-clock.out")"; }
	ok "quiet stream: experience-collect writes every page" wait_until 60 ec_all_out
	eq "quiet stream: experience-collect holds no session" "$(elast '[.open_sessions, .open_pages] | tostring')" "[0,0]"
	ok "quiet stream: closed by the idle timer" test "$(elast .idle_closes)" -ge 1
	ok "quiet stream: sessions ended idle" test "$(elast .end_idle)" -ge 1
	kill -TERM $qpid
	exits "quiet stream: experience-collect exits 0 on SIGTERM" $qpid 0 "$T_TMP/ec-quiet.err"
	# The chains of a file run; only the end of what the file's end or the silence cut differs.
	norm() { jq -c 'del(.end)' "$1" | sort | cksum; }
	eq "quiet stream: the transitions of a file run" "$(norm "$T_TMP/ec-quiet.out")" "$(norm "$T_TMP/ec-clock.out")"
	eq "quiet stream: idle where a file run says eof" \
	    "$(jq -r 'select(.done) | .end' "$T_TMP/ec-quiet.out" | sed 's/^idle$/eof/' | sort | uniq -c)" \
	    "$(jq -r 'select(.done) | .end' "$T_TMP/ec-clock.out" | sort | uniq -c)"
else
	t_fail "quiet stream: needs kafka-mock and kcat"
fi

t_done
