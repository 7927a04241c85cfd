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
eq "the replay unit runs the installed replay, under PREFIX" \
    "$(sed -n 's|^ExecStart=/usr/share/pageturn/\([^ ]*\) .*|\1|p' "$share/systemd/pageturn-replay.service")" \
    pipelines/replay
eq "no installed unit names another prefix" "$(grep -l /usr/local "$share"/systemd/* 2>/dev/null)" ""
for u in "$share"/systemd/*.service; do
	ok "$(basename "$u") runs a tool under PREFIX" grep -q '^ExecStart=/usr/\(bin\|share/pageturn\)/' "$u"
done
for u in "$share"/systemd/pageturn-*@.service; do
	ok "$(basename "$u") reads the Kafka properties with -F, not from its command line" \
	    grep -q '^ExecStart=.* -F /etc/pageturn/kafka.properties ' "$u"
done
ok "the pageturn user is declared for systemd-sysusers" \
    grep -q '^u pageturn ' "$dest/usr/lib/sysusers.d/pageturn.conf"
mkdir -p "$T_TMP/r"
(cd "$T_TMP/r" && feed-sim -q -n 30 -s 4 | log-collect -q --ingest-ts 1732341700000 |
    online-join -q -a archive >/dev/null)
(cd "$share" && PATH="$dest/usr/bin:/usr/bin:/bin" pipelines/replay -a "$T_TMP/r/archive" -m "$T_TMP/r/models" \
    -d 2024-11-23 -H 00 -- --epochs 1 --head-epochs 1 >"$T_TMP/r/out" 2>"$T_TMP/r/err")
eq "the installed replay, from its directory with the installed tools, publishes a version" \
    "$(cat "$T_TMP/r/out")" "$T_TMP/r/models/0000000001"
# Under cron, PATH is /usr/bin:/bin and the directory is the home: the installed replay finds the
# tools under the PREFIX it was installed with.
p="$T_TMP/prefix"
make -C "$TOP" --no-print-directory B=$B install PREFIX="$p" >"$T_TMP/install2.log" 2>&1
mkdir -p "$T_TMP/home"
(cd "$T_TMP/home" && env -i HOME="$T_TMP/home" PATH=/usr/bin:/bin SHELL=/bin/sh "$p/share/pageturn/pipelines/replay" \
    -a "$T_TMP/r/archive" -m "$T_TMP/r/cron-models" -d 2024-11-23 -H 00 -- --epochs 1 --head-epochs 1 \
    >"$T_TMP/r/cron.out" 2>"$T_TMP/r/cron.err")
eq "the installed replay under cron's PATH: exit 0" "$?" 0
eq "the installed replay under cron's PATH publishes a version" \
    "$(cat "$T_TMP/r/cron.out")" "$T_TMP/r/cron-models/0000000001"
# make install builds and installs the tools without what only the tests use.
mkdir "$T_TMP/path"
for d in /usr/local/bin /usr/bin /bin; do
	for f in "$d"/*; do
		case ${f##*/} in kcat|jq|mandoc|groff|curl|time) continue ;; esac
		[ -e "$T_TMP/path/${f##*/}" ] || ln -s "$f" "$T_TMP/path/${f##*/}"
	done
done
ok "make install without kcat, jq, mandoc, groff, time or curl" \
    sh -c "PATH='$T_TMP/path' make -C '$TOP' --no-print-directory B=$B install DESTDIR='$T_TMP/root3' PREFIX=/usr >'$T_TMP/install3.log' 2>&1"
[ -s "$T_TMP/root3/usr/bin/q-score" ] || tail -3 "$T_TMP/install3.log" | sed 's/^/    | /' >&2
ok "make uninstall removes the tools" sh -c "make -C '$TOP' --no-print-directory B=$B uninstall DESTDIR='$dest' PREFIX=/usr >/dev/null 2>&1 && [ -z \"\$(ls '$dest/usr/bin')\" ] && [ ! -e '$share' ]"
t_done
