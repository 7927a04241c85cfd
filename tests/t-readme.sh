#!/bin/sh
# t-readme.sh: the README's tour, run verbatim from a fresh clone: every "$ command", in order, in one
# shell started in the clone's top directory with the PATH a new user has (no build/bin on it).
# (make test is what runs this; make demo is run by t-demo.sh as pipelines/demo -s.)
. "$(dirname "$0")/lib.sh"

# The clone holds what is committed, with README and the pipelines as they are in the tree under
# test. Its build is this tree's, copied with its sources' times set back, so that the tour's make
# finds it up to date instead of compiling everything again.
C="$T_TMP/clone"
git clone -q "$TOP" "$C" 2>"$T_TMP/clone.err" || t_fail "git clone" "$(cat "$T_TMP/clone.err")"
cp "$TOP/README" "$TOP/.gitignore" "$C/" && cp -R "$TOP/pipelines/." "$C/pipelines/"
git -C "$C" -c user.name=t -c user.email=t@localhost commit -q -a -m 'the tree under test' >/dev/null
(cd "$C" && git ls-files -z | xargs -0 touch -h -d '2000-01-01 00:00')
cp -Rp "$TOP/$B" "$C/$B"

grep -E '^    \$ ' "$TOP/README" | sed 's/^    \$ //' >"$T_TMP/commands"
n=$(grep -c . "$T_TMP/commands")
# One shell for the whole tour, so that its cd and export hold for the commands after them; each
# other command runs in a shell of its own, its output and status in $T_TMP/out.N, err.N, st.N.
i=0
while IFS= read -r cmd; do
	i=$((i + 1))
	case $cmd in
	cd\ *|export\ *)	printf '%s; echo $? >"%s/st.%d"\n' "$cmd" "$T_TMP" $i ;;
	*)	# a command that waits for what a failed one never sent (kcat -c 1000) is stopped after 90 s
		printf 'timeout -k 5 90 sh -c %s </dev/null >"%s/out.%d" 2>"%s/err.%d"; echo $? >"%s/st.%d"\n' \
		    "'$(printf '%s' "$cmd" | sed "s/'/'\\\\''/g")'" "$T_TMP" $i "$T_TMP" $i "$T_TMP" $i ;;
	esac
done <"$T_TMP/commands" >"$T_TMP/tour.sh"
sysPATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -v -e "^$BIN\$" -e "^$TBIN\$" | paste -sd: -)
(cd "$C" && env -u B PATH="$sysPATH" sh "$T_TMP/tour.sh")
i=0
while IFS= read -r cmd; do
	i=$((i + 1))
	eq "README: $cmd" "$(cat "$T_TMP/st.$i" 2>/dev/null)" 0
	[ "$(cat "$T_TMP/st.$i" 2>/dev/null)" = 0 ] || tail -3 "$T_TMP/err.$i" 2>/dev/null | sed 's/^/    | /' >&2
done <"$T_TMP/commands"
ok "README has a tour" [ "$n" -ge 8 ]
ok "the tour builds first" grep -q '^make' "$T_TMP/commands"
ok "the tour puts bin/ on PATH" grep -q '^export PATH=.*bin' "$T_TMP/commands"
# out_of PATTERN: the output file of the first command that matches PATTERN (by content, not position).
out_of() { echo "$T_TMP/out.$(grep -n -e "$1" "$T_TMP/commands" | head -1 | cut -d: -f1)"; }
cd "$C/tour" 2>/dev/null || t_fail "the tour works in tour/"
# The versions by the mode their manifests name: the two offline runs and the replay are offline;
# q-train --online publishes at its stop, and every --publish-interval before it while the tour waits.
modes=$(for v in models/[0-9]*; do jq -r .mode "$v/manifest.json"; done | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')
eq "models: two offline and one replayed" "$(ls -d models/[0-9]* | wc -l | tr -d ' ')" "$(( $(echo "$modes" | sed -n 's/.*online=\([0-9]*\).*/\1/p') + 3 ))"
ok "models: q-train --online published (at its stop at least)" sh -c "echo '$modes' | grep -q 'online=[1-9]'"
ok "models: three offline (two runs, one replay)" sh -c "echo '$modes' | grep -q 'offline=3'"
eq "kcat saw a thousand events from the log-collect workers" "$(tr -d ' ' <"$(out_of '^kcat -C .* -t events')")" 1000
ok "the workers stopped cleanly" sh -c "! grep -v '^0\$' workers/*.exit"
ok "the scored request ranked 3 items" sh -c "jq -e '.items | length == 3' '$(out_of '| q-score -m models$')' >/dev/null"
# The model's held-out return beside popular's on the same users: a baseline to read it against.
ok "the tour runs popular on the held-out users" grep -q -e 'user-set heldout.* -p popular' "$T_TMP/commands"
ok "the README calls 200 sessions a smoke test" grep -q 'smoke test' "$TOP/README"
ok "the README says how to read a page before make install" grep -q 'man -l man/' "$TOP/README"
eq "the tour leaves the work tree clean" "$(cd "$C" && git status --porcelain)" ""
t_done
