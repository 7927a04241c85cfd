#!/bin/sh
# t-gate-loop.sh: pipelines/gate-loop, small — the poisoned learner's versions refused in every
# block, so the gated loop serves what the offline version serves, session for session.
. "$(dirname "$0")/lib.sh"
cd "$T_TMP" || exit 1

"$TOP/pipelines/gate-loop" -o out -b 3 -n 100 >summary 2>err
eq "gate-loop: exit 0" "$?" 0
eq "  a line a block" "$(awk '$1 ~ /^[0-9]+$/' summary | wc -l | tr -d ' ')" 3
eq "  every version refused" "$(grep '^gate:' summary)" "gate: 2 refused, 0 promoted"
eq "  the gated loop served as the offline version" "$(awk '$1 ~ /^[0-9]+$/ && $2 != $4' summary)" ""
eq "  the paired differences, gated - offline" "$(grep '^gated - offline' summary)" \
    "gated - offline    +0.000 [+0.000, +0.000]"
ok "  the poisoned versions served ungated earned less in the last block" \
    awk '$1 == 3 { exit !($3 < $2) }' summary
"$TOP/pipelines/gate-loop" -x >/dev/null 2>&1
eq "gate-loop: a bad option, exit 2" "$?" 2
t_done
