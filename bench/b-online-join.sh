#!/bin/sh
# b-online-join.sh: online-join on the log-collect benchmark stream — throughput against jq, memory per open impression.
# Usage: bench/b-online-join.sh   (BENCH_N impressions, default 200000; B the build directory)
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
N=${BENCH_N:-200000}
BIN="$B/bin"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/b-online-join.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# secs_rss CMD...: runs CMD, prints "wall_seconds maxrss_kb cpu_seconds".
secs_rss() {
	/usr/bin/time -f "%e %M %U %S" -o "$TMP/time" "$@" || { echo "b-online-join: failed: $*" >&2; exit 1; }
	awk '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 }' "$TMP/time" >"$TMP/time2" && mv "$TMP/time2" "$TMP/time"
	cat "$TMP/time"
}

"$B/bench/gen-events" -n "$N" -s 1 | "$BIN/log-collect" --ingest-ts 1732345678000 >"$TMP/events.ndjson" ||
    { echo "b-online-join: cannot make the event stream" >&2; exit 1; }
events=$(wc -l <"$TMP/events.ndjson" | tr -d ' ')
mb=$(du -m "$TMP/events.ndjson" | cut -f1)
imp_bytes=$(grep '"type":"impression"' "$TMP/events.ndjson" | awk '{ s += length($0) + 1 } END { printf "%.0f", s / NR }')

# Throughput: the same file, output discarded, default windows.
set -- $(secs_rss sh -c "jq -c . '$TMP/events.ndjson' >/dev/null")
jq_s=$1 jq_cpu=$3
set -- $(secs_rss sh -c "'$BIN/online-join' -i '$TMP/events.ndjson' >/dev/null")
oj_s=$1 oj_cpu=$3
set -- $(secs_rss sh -c "'$BIN/online-join' -i '$TMP/events.ndjson' -a '$TMP/archive' >/dev/null")
oja_s=$1
ratio=$(echo "$jq_s $oj_s" | awk '{ printf "%.2f", $1 / $2 }')
ratio_a=$(echo "$jq_s $oja_s" | awk '{ printf "%.2f", $1 / $2 }')
goal=$(echo "$ratio" | awk '{ print ($1 >= 1.0) ? "met" : "missed" }')
cpu_ratio=$(echo "$jq_cpu $oj_cpu" | awk '{ printf "%.2f", $1 / $2 }')
echo "online-join throughput: $ratio x jq -c . (online-join ${oj_s}s, jq ${jq_s}s; $events events, ${mb} MB); goal >= 1.0 $goal"
echo "online-join CPU time: $cpu_ratio x less than jq (online-join ${oj_cpu}s, jq ${jq_cpu}s; the fairer figure on a busy machine)"
echo "online-join throughput with --archive: $ratio_a x jq (${oja_s}s)"

# Memory: windows long enough that every impression stays open until the end of input.
set -- $(secs_rss sh -c "head -1 '$TMP/events.ndjson' | '$BIN/online-join' >/dev/null")
base_kb=$2
set -- $(secs_rss sh -c "'$BIN/online-join' -w 10000h --pay-window 10000h -i '$TMP/events.ndjson' --stats '$TMP/stats' >/dev/null")
peak_kb=$2
open=$(tail -1 "$TMP/stats" | jq .open_impressions_peak)
per=$(echo "$peak_kb $base_kb $open" | awk '{ printf "%.0f", ($1 - $2) * 1024 / $3 }')
mratio=$(echo "$per $imp_bytes" | awk '{ printf "%.2f", $1 / $2 }')
goal=$(echo "$mratio" | awk '{ print ($1 <= 2.0) ? "met" : "missed" }')
echo "online-join memory: $per bytes per open impression ((peak RSS ${peak_kb} KB - baseline ${base_kb} KB) / $open open), raw JSON $imp_bytes bytes: $mratio x; goal <= 2 $goal"
