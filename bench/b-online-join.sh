#!/bin/sh
# b-online-join.sh: online-join on the log-collect benchmark stream — throughput against jq, memory per open impression.
# Usage: bench/b-online-join.sh   (BENCH_N impressions, default 200000; B the build directory)
. "$(dirname "$0")/lib.sh"
N=${BENCH_N:-200000}

gen-events -n "$N" -s 1 | log-collect --ingest-ts 1732345678000 >"$TMP/events.ndjson" ||
    bench_fail "cannot make the event stream"
events=$(wc -l <"$TMP/events.ndjson" | tr -d ' ')
mb=$(du -m "$TMP/events.ndjson" | cut -f1)
imp_bytes=$(grep '"type":"impression"' "$TMP/events.ndjson" | awk '{ s += length($0) + 1 } END { printf "%.0f", s / NR }')

# Throughput: the same file, output discarded, default windows.
measure jq -c . "$TMP/events.ndjson"
jq_s=$M_S jq_cpu=$M_CPU
measure online-join -i "$TMP/events.ndjson"
oj_s=$M_S oj_cpu=$M_CPU
measure online-join -i "$TMP/events.ndjson" -a "$TMP/archive"
oja_s=$M_S
ratio=$(calc "$jq_s / $oj_s")
ratio_a=$(calc "$jq_s / $oja_s")
goal=$(echo "$ratio" | awk '{ print ($1 >= 1.0) ? "met" : "missed" }')
cpu_ratio=$(calc "$jq_cpu / $oj_cpu")
echo "online-join throughput: $ratio x jq -c . (online-join ${oj_s}s, jq ${jq_s}s; $events events, ${mb} MB); goal >= 1.0 $goal"
echo "online-join CPU time: $cpu_ratio x less than jq (online-join ${oj_cpu}s, jq ${jq_cpu}s; the fairer figure on a busy machine)"
echo "online-join throughput with --archive: $ratio_a x jq (${oja_s}s)"
figure "online-join file->file" "$(calc "$mb / $oj_s" %.1f)" MB/s "$ratio" "jq -c . (elapsed)" ">= 1.0"
figure "online-join file->file, cpu time" "$oj_cpu" s "$cpu_ratio" "jq -c . (cpu)" ">= 1.0"
figure "online-join with --archive" "$(calc "$mb / $oja_s" %.1f)" MB/s "$ratio_a" "jq -c . (elapsed)"

# Memory: windows long enough that every impression stays open until the end of input.
measure sh -c "head -1 '$TMP/events.ndjson' | online-join"
base_kb=$M_KB
measure online-join -w 10000h --pay-window 10000h -i "$TMP/events.ndjson" --stats "$TMP/stats"
peak_kb=$M_KB
open=$(tail -1 "$TMP/stats" | jq .open_impressions_peak)
per=$(calc "($peak_kb - $base_kb) * 1024 / $open" %.0f)
mratio=$(calc "$per / $imp_bytes")
goal=$(echo "$mratio" | awk '{ print ($1 <= 2.0) ? "met" : "missed" }')
echo "online-join memory: $per bytes per open impression ((peak RSS ${peak_kb} KB - baseline ${base_kb} KB) / $open open), raw JSON $imp_bytes bytes: $mratio x; goal <= 2 $goal"
figure "online-join memory, per open impression" "$per" bytes "$mratio" "its raw JSON" "<= 2"
