#!/bin/sh
# t-json-messages.sh: the same bad line gets the same reason from every tool that reads records —
# log-collect, online-join, q-score, experience-collect, q-train --offline, q-eval.
. "$(dirname "$0")/lib.sh"

cd "$T_TMP" || exit 1
S=$DATA/jsontestsuite/test_parsing

# Bad lines: JSONTestSuite n_ files (one line each), a key twice, \u0000 in a string, 65 levels.
: >bad.ndjson
for f in n_array_extra_comma n_object_trailing_comma n_string_single_quote n_number_-01 \
    n_structure_unclosed_array n_object_missing_colon n_structure_trailing_# n_number_NaN \
    n_string_escape_x n_object_unquoted_key n_string_unescaped_tab n_number_infinity; do
	{ tr -d '\n' <"$S/$f.json"; echo; } >>bad.ndjson
done
printf '%s\n' '{"type":"click","ts":1732341678000,"request_id":"r","user_id":"u","item_id":"i","user_id":"v"}' \
    '{"type":"click","ts":1732341678000,"request_id":"r\u0000","user_id":"u","item_id":"i"}' >>bad.ndjson
nest=$(awk 'BEGIN { for (i = 0; i < 64; i++) printf "["; for (i = 0; i < 64; i++) printf "]" }')
echo "{\"type\":\"click\",\"ts\":1732341678000,\"request_id\":\"r\",\"user_id\":\"u\",\"item_id\":\"i\",\"x\":$nest}" >>bad.ndjson
n=$(lines bad.ndjson)
eq "the bad lines are 15" "$n" 15

qscore-mkmodel -m models -C 4 -X 2 -d 8 -L 5 -F 4 -H 8 -n 50 -s 3 >/dev/null 2>&1
log-collect -i bad.ndjson --dead-letter lc.dl -o /dev/null 2>/dev/null
eq "log-collect: exit 0" "$?" 0
online-join -i bad.ndjson --dead-letter oj.dl >/dev/null 2>/dev/null
eq "online-join: exit 0" "$?" 0
q-score -m models -i bad.ndjson --dead-letter qs.dl >/dev/null 2>/dev/null
eq "q-score: exit 0" "$?" 0
experience-collect -i bad.ndjson --dead-letter ec.dl >/dev/null 2>/dev/null
eq "experience-collect: exit 0" "$?" 0
q-train -q --offline -i bad.ndjson -m qt --epochs 1 --head-epochs 1 --dead-letter qt.dl >/dev/null 2>/dev/null
q-eval -p logged -n 0 -i bad.ndjson --dead-letter qe.dl >/dev/null 2>/dev/null
eq "q-eval: exit 0" "$?" 0

# One "line<TAB>reason" a dead letter, in line order.
for t in lc oj qs ec qt qe; do
	jq -r '"\(.source | split(":") | last)\t\(.reason)"' $t.dl 2>/dev/null | sort -n >$t.reasons
	eq "$t: every line dead-lettered" "$(lines $t.reasons)" "$n"
done
eq "every reason is a bad-JSON reason" "$(cut -f2 lc.reasons | grep -vc '^bad JSON at column [0-9]*: ')" 0
same_file "online-join gives log-collect's reasons" oj.reasons lc.reasons
same_file "q-score gives log-collect's reasons" qs.reasons lc.reasons
same_file "experience-collect gives log-collect's reasons" ec.reasons lc.reasons
same_file "q-train gives log-collect's reasons" qt.reasons lc.reasons
same_file "q-eval gives log-collect's reasons" qe.reasons lc.reasons

eq "a key twice: its reason" "$(sed -n 13p lc.reasons | cut -f2)" \
    'bad JSON at column 81: duplicate key "user_id"'
eq "\\u0000: its reason" "$(sed -n 14p lc.reasons | cut -f2)" \
    'bad JSON at column 51: \u0000 in a string (not allowed: strings are C strings here)'
eq "65 levels: its reason" "$(sed -n 15p lc.reasons | cut -f2)" \
    'bad JSON at column 148: nested deeper than 64'

t_done
