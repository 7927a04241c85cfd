#!/bin/sh
# t-readme.sh: runs every "$ command" of the README's tour, in order, in one scratch directory.
# (make test is what runs this; make demo is run by t-demo.sh as pipelines/demo -s.)
. "$(dirname "$0")/lib.sh"

cd "$T_TMP" || exit 1
ln -s "$TOP/pipelines" pipelines
n=0
grep -E '^    \$ ' "$TOP/README" | sed 's/^    \$ //' >commands
while IFS= read -r cmd; do
	n=$((n + 1))
	if sh -c "$cmd" </dev/null >"out.$n" 2>"err.$n"; then
		t_pass "README: $cmd"
	else
		t_fail "README: $cmd" "$(tail -3 "err.$n")"
	fi
done <commands
ok "README has a tour" [ "$n" -ge 8 ]
eq "models: two offline, one from q-train --online at its stop, one replayed" "$(ls models | grep -c .)" 4
# out_of PATTERN: the output file of the first command that matches PATTERN (by content, not position).
out_of() { echo "out.$(grep -n -e "$1" commands | head -1 | cut -d: -f1)"; }
eq "kcat saw a thousand events from the log-collect workers" "$(tr -d ' ' <"$(out_of '^kcat -C .* -t events')")" 1000
ok "the workers stopped cleanly" sh -c "! grep -v '^0\$' workers/*.exit"
ok "the scored request ranked 3 items" sh -c "jq -e '.items | length == 3' '$(out_of '| q-score -m models$')' >/dev/null"
t_done
