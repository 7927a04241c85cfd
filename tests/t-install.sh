#!/bin/sh
# t-install.sh: make install puts every tool and man page under DESTDIR/PREFIX; the man pages
# render without warnings (groff, mandoc -Tlint) and each has the sections the project's style asks for.
. "$(dirname "$0")/lib.sh"

dest="$T_TMP/root"
ok "make install DESTDIR=... PREFIX=/usr" sh -c "make -C '$TOP' --no-print-directory B=$B install DESTDIR='$dest' PREFIX=/usr >'$T_TMP/install.log' 2>&1"
for t in $(ls "$TOP/$B/bin"); do
	ok "installed bin/$t" [ -x "$dest/usr/bin/$t" ]
	ok "$t has a man page" [ -f "$TOP/man/$t.1" ]
done
for m in "$TOP"/man/*; do	# every page, whatever its section, must be installed
	n=$(basename "$m"); s=${n##*.}
	ok "installed man$s/$n" [ -f "$dest/usr/share/man/man$s/$n" ]
	warn=$(groff -k -mandoc -ww -z "$m" 2>&1 | head -3)
	eq "$n renders without warnings" "$warn" ""
	eq "$n: mandoc -Tlint finds no error or warning" "$(mandoc -Tlint -Wwarning "$m" 2>&1)" ""
	for sec in NAME DESCRIPTION "SEE ALSO"; do
		ok "$n has $sec" grep -q "^\.Sh $sec" "$m"
	done
	if [ "$s" = 1 ]; then
		for sec in SYNOPSIS "EXIT STATUS" EXAMPLES; do
			ok "$n has $sec" grep -q "^\.Sh $sec" "$m"
		done
	fi
done
# The cron replay and the systemd units: pageturn-replay.service runs PREFIX/share/pageturn/pipelines/replay
# from that directory, with the installed tools on its PATH.
share="$dest/usr/share/pageturn"
ok "installed pipelines/replay" [ -x "$share/pipelines/replay" ]
for u in "$TOP"/pipelines/systemd/*; do
	ok "installed systemd/$(basename "$u")" [ -f "$share/systemd/$(basename "$u")" ]
	ok "pageturn(7) names $(basename "$u") in FILES" \
	    sh -c "sed -n '/^\.Sh FILES/,/^\.Sh/p' '$TOP/man/pageturn.7' | grep -q '^\.Pa $(basename "$u")'"
done
eq "the replay unit runs the installed replay" \
    "$(sed -n 's|^ExecStart=/usr/local/share/pageturn/\([^ ]*\) .*|\1|p' "$share/systemd/pageturn-replay.service")" \
    pipelines/replay
mkdir -p "$T_TMP/r"
(cd "$T_TMP/r" && feed-sim -q -n 30 -s 4 | log-collect -q --ingest-ts 1732341700000 |
    online-join -q -a archive >/dev/null)
(cd "$share" && PATH="$dest/usr/bin:/usr/bin:/bin" pipelines/replay -a "$T_TMP/r/archive" -m "$T_TMP/r/models" \
    -d 2024-11-23 -H 00 -- --epochs 1 --head-epochs 1 >"$T_TMP/r/out" 2>"$T_TMP/r/err")
eq "the installed replay, from its directory with the installed tools, publishes a version" \
    "$(cat "$T_TMP/r/out")" "$T_TMP/r/models/0000000001"
ok "make uninstall removes the tools" sh -c "make -C '$TOP' --no-print-directory B=$B uninstall DESTDIR='$dest' PREFIX=/usr >/dev/null 2>&1 && [ -z \"\$(ls '$dest/usr/bin')\" ] && [ ! -e '$share' ]"
t_done
