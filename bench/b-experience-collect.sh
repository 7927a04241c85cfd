#!/bin/sh
# b-experience-collect.sh: experience-collect on the online-join benchmark output — throughput against jq, memory per open session.
# Usage: bench/b-experience-collect.sh   (BENCH_N impressions, default 50000; B the build directory)
set -u
cd "$(dirname "$0")/.."
B=${B:-build}
N=${BENCH_N:-50000}
BIN="$B/bin"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/b-experience-collect.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# secs_rss CMD...: runs CMD, prints "seconds user_seconds maxrss_kb".
secs_rss() {
	/usr/bin/time -f "%e %U %M" -o "$TMP/time" "$@" || { echo "b-experience-collect: failed: $*" >&2; exit 1; }
	cat "$TMP/time"
}

# The samples: the benchmark event stream, collected and joined.
"$B/bench/gen-events" -n "$N" -s 1 | "$BIN/log-collect" --ingest-ts 1732345678000 |
    "$BIN/online-join" >"$TMP/samples.ndjson" ||
    { echo "b-experience-collect: cannot make the sample stream" >&2; exit 1; }
samples=$(wc -l <"$TMP/samples.ndjson" | tr -d ' ')
mb=$(du -m "$TMP/samples.ndjson" | cut -f1)
sample_bytes=$(awk '{ s += length($0) + 1 } END { printf "%.0f", s / NR }' "$TMP/samples.ndjson")

# Throughput: the same file, output discarded, default options.
set -- $(secs_rss sh -c "jq -c . '$TMP/samples.ndjson' >/dev/null")
jq_s=$1 jq_u=$2
set -- $(secs_rss sh -c "'$BIN/experience-collect' -i '$TMP/samples.ndjson' --stats '$TMP/run.stats' >/dev/null")
ec_s=$1 ec_u=$2
pages=$(tail -1 "$TMP/run.stats" | jq .pages)
ratio=$(echo "$jq_s $ec_s" | awk '{ printf "%.2f", $1 / $2 }')
uratio=$(echo "$jq_u $ec_u" | awk '{ printf "%.2f", $1 / $2 }')
goal=$(echo "$ratio" | awk '{ print ($1 >= 1.0) ? "met" : "missed" }')
echo "experience-collect throughput: $ratio x jq -c . (experience-collect ${ec_s}s, jq ${jq_s}s; CPU ${uratio} x;" \
    "$samples samples, $pages pages, ${mb} MB); goal >= 1.0 $goal"

# Memory, chaining: a session gap long enough that every session stays open until the end of input
# (each holds its history and the pages not yet chained).
set -- $(secs_rss sh -c "head -1 '$TMP/samples.ndjson' | '$BIN/experience-collect' >/dev/null")
base_kb=$3
set -- $(secs_rss sh -c "'$BIN/experience-collect' --session-gap 10000h -i '$TMP/samples.ndjson' --stats '$TMP/mem.stats' >/dev/null")
peak_kb=$3
open=$(tail -1 "$TMP/mem.stats" | jq .open_sessions_peak)
per=$(echo "$peak_kb $base_kb $open" | awk '{ printf "%.0f", ($1 - $2) * 1024 / $3 }')
echo "experience-collect memory: $per bytes per open session ((peak RSS ${peak_kb} KB - baseline ${base_kb} KB) / $open open sessions)"

# Memory, storage: a watermark delay so long that no page completes: every sample is held.
set -- $(secs_rss sh -c "'$BIN/experience-collect' --max-delay 10000h -i '$TMP/samples.ndjson' --stats '$TMP/all.stats' >/dev/null")
all_kb=$3
sessions=$(tail -1 "$TMP/all.stats" | jq .open_sessions_peak)
per_s=$(echo "$all_kb $base_kb $sessions" | awk '{ printf "%.0f", ($1 - $2) * 1024 / $3 }')
per_sample=$(echo "$all_kb $base_kb $samples" | awk '{ printf "%.0f", ($1 - $2) * 1024 / $3 }')
mratio=$(echo "$per_sample $sample_bytes" | awk '{ printf "%.2f", $1 / $2 }')
echo "experience-collect memory, every sample held: $per_s bytes per open session ($sessions sessions)," \
    "$per_sample bytes per sample (raw JSON $sample_bytes bytes: $mratio x; peak RSS ${all_kb} KB)"
