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
ok "make uninstall removes the tools" sh -c "make -C '$TOP' --no-print-directory B=$B uninstall DESTDIR='$dest' PREFIX=/usr >/dev/null 2>&1 && [ -z \"\$(ls '$dest/usr/bin')\" ]"
t_done
