#!/bin/sh
# t-metrics.sh: the Prometheus textfiles of --metrics, as node_exporter's textfile collector reads a
# directory of them: two members of one tool write no series twice, every family has one HELP and
# one TYPE, the same in every file, and the version is there as pageturn_build_info.
. "$(dirname "$0")/lib.sh"
cd "$T_TMP" || exit 1

feed-sim -q -n 20 -s 5 >raw.ndjson
mkdir prom
log-collect -q -i raw.ndjson --metrics prom/log-collect.1.prom >/dev/null
log-collect -q -i raw.ndjson --metrics prom/log-collect.2.prom >/dev/null
online-join -q -i raw.ndjson --metrics prom/online-join.1.prom >/dev/null 2>&1
cat prom/*.prom >merged

# The series: a sample line's name and labels, without its value.
grep -v '^#' merged | sed 's/ [^ ]*$//' | sort >series
eq "no series twice in the directory" "$(uniq -d series | head -3 | tr '\n' ' ')" ""
ok "the members told apart by a member label" grep -q '^pageturn_in_total{tool="log-collect",member="log-collect.2"}' series
families=$(grep -v '^#' merged | sed 's/[{ ].*//' | sort -u)
for f in $families; do
	for k in HELP TYPE; do
		# One text for a family's HELP and TYPE across the files, and each file says it once.
		eq "$f: one $k text across the files" "$(grep "^# $k $f " merged | sort -u | wc -l | tr -d ' ')" 1
		for p in prom/*.prom; do
			grep -q "^$f[{ ]" "$p" || continue
			eq "$f: $k once in $(basename "$p")" "$(grep -c "^# $k $f " "$p")" 1
		done
	done
done
ok "counters end in _total" sh -c "! grep '^# TYPE [a-z_]* counter' merged | grep -v '_total counter\$'"
ok "the build's version" grep -q '^pageturn_build_info{tool="log-collect",member="log-collect.1",version="[^"]*"} 1$' merged
ok "the uptime in seconds" grep -q '^pageturn_uptime_seconds{' merged
eq "the lines read, as --stats counts them" "$(awk '/^pageturn_in_total\{tool="log-collect",member="log-collect.1"\}/ { print $2 }' merged)" \
    "$(lines raw.ndjson)"
t_done
