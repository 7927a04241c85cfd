#!/bin/sh
# b-experience-collect.sh: experience-collect on the online-join benchmark output — throughput against jq, memory per open session.
# Usage: bench/b-experience-collect.sh   (BENCH_N impressions, default 50000; B the build directory)
. "$(dirname "$0")/lib.sh"
N=${BENCH_N:-50000}

# The samples: the benchmark event stream, collected and joined.
gen-events -n "$N" -s 1 | log-collect --ingest-ts 1732345678000 | online-join >"$TMP/samples.ndjson" ||
    bench_fail "cannot make the sample stream"
samples=$(wc -l <"$TMP/samples.ndjson" | tr -d ' ')
mb=$(du -m "$TMP/samples.ndjson" | cut -f1)
sample_bytes=$(awk '{ s += length($0) + 1 } END { printf "%.0f", s / NR }' "$TMP/samples.ndjson")

# Throughput: the same file, output discarded, default options.
measure jq -c . "$TMP/samples.ndjson"
jq_s=$M_S jq_cpu=$M_CPU
measure experience-collect -i "$TMP/samples.ndjson" --stats "$TMP/run.stats"
ec_s=$M_S ec_cpu=$M_CPU
pages=$(tail -1 "$TMP/run.stats" | jq .pages)
ratio=$(calc "$jq_s / $ec_s")
cratio=$(calc "$jq_cpu / $ec_cpu")
goal=$(echo "$ratio" | awk '{ print ($1 >= 1.0) ? "met" : "missed" }')
echo "experience-collect throughput: $ratio x jq -c . (experience-collect ${ec_s}s, jq ${jq_s}s; CPU ${cratio} x;" \
    "$samples samples, $pages pages, ${mb} MB); goal >= 1.0 $goal"
figure "experience-collect file->file" "$(calc "$mb / $ec_s" %.1f)" MB/s "$ratio" "jq -c . (elapsed)" ">= 1.0"
figure "experience-collect file->file, cpu time" "$ec_cpu" s "$cratio" "jq -c . (cpu)" ">= 1.0"

# Memory, chaining: a session gap long enough that every session stays open until the end of input
# (each holds its history and the pages not yet chained).
measure sh -c "head -1 '$TMP/samples.ndjson' | experience-collect"
base_kb=$M_KB
measure experience-collect --session-gap 10000h -i "$TMP/samples.ndjson" --stats "$TMP/mem.stats"
peak_kb=$M_KB
open=$(tail -1 "$TMP/mem.stats" | jq .open_sessions_peak)
per=$(calc "($peak_kb - $base_kb) * 1024 / $open" %.0f)
echo "experience-collect memory: $per bytes per open session ((peak RSS ${peak_kb} KB - baseline ${base_kb} KB) / $open open sessions)"
figure "experience-collect memory, per open session" "$per" bytes

# Memory, storage: a watermark delay so long that no page completes: every sample is held.
measure experience-collect --max-delay 10000h -i "$TMP/samples.ndjson" --stats "$TMP/all.stats"
all_kb=$M_KB
sessions=$(tail -1 "$TMP/all.stats" | jq .open_sessions_peak)
per_s=$(calc "($all_kb - $base_kb) * 1024 / $sessions" %.0f)
per_sample=$(calc "($all_kb - $base_kb) * 1024 / $samples" %.0f)
mratio=$(calc "$per_sample / $sample_bytes")
echo "experience-collect memory, every sample held: $per_s bytes per open session ($sessions sessions)," \
    "$per_sample bytes per sample (raw JSON $sample_bytes bytes: $mratio x; peak RSS ${all_kb} KB)"
figure "experience-collect memory, per held sample" "$per_sample" bytes "$mratio" "its raw JSON"
