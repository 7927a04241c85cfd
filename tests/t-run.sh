#!/bin/sh
# t-run.sh: the test runner itself — a failed case, a crash without a count line, and a sanitizer
# report from a process whose exit status the test never sees (to a log file, to the test's output,
# or to a file of the test) are each counted as failures.
. "$(dirname "$0")/lib.sh"
T_SAN_SCAN=0	# its scratch tree holds a sanitizer report on purpose

R="$T_TMP/tree"
mkdir -p "$R/tests" "$R/$B/tests"
cp "$TOP/tests/run" "$TOP/tests/lib.sh" "$R/tests/"
# probe NAME BODY: a shell test in the scratch tree.
probe() {
	printf '#!/bin/sh\n. "$(dirname "$0")/lib.sh"\n%s\nt_done\n' "$2" >"$R/tests/$1"
	chmod +x "$R/tests/$1"
}
probe t-good.sh 'ok "true" true'
probe t-bad.sh 'ok "false" false'
probe t-crash.sh 'kill -SEGV $$'
# A suite that skips what it cannot run has not shown that it passes.
probe t-skip.sh 'echo "skipped: the frobnicator case (no frobnicator)"; ok "true" true'
# A heap overflow in a sanitized program whose exit status is lost in a pipeline: the test's own
# count says 1 passed, 0 failed.
cat >"$T_TMP/overflow.c" <<'C'
#include <stdlib.h>
int main(int argc, char **argv) { int *p = malloc(4 * sizeof *p), v; p[argc + 3] = 1; v = p[0]; free(p); return v; }
C
# Undefined behaviour in a program built with ASan and UBSan, whose report goes to standard error
# (UBSan ignores its log_path then): into the test's own output, and into a file of its scratch
# directory (as a sanitizer build's t_done sees it).
cat >"$T_TMP/ub.c" <<'C'
#include <stdlib.h>
static int cmp(const void *a, const void *b) { return (a > b) - (a < b); }
int main(int argc, char **argv) { int *p = argc > 5 ? malloc(4) : NULL; qsort(p, 0, sizeof *p, cmp); free(p); return 0; }
C
if cc -fsanitize=address,undefined -o "$T_TMP/overflow" "$T_TMP/overflow.c" 2>/dev/null &&
    cc -fsanitize=address,undefined -fno-sanitize-recover=undefined -o "$T_TMP/ub" "$T_TMP/ub.c" 2>/dev/null; then
	probe t-asan.sh "'$T_TMP/overflow' | cat; ok \"the pipeline ended well\" true"
	probe t-ub-out.sh "'$T_TMP/ub' | cat; ok \"the pipeline ended well\" true"
	probe t-ub-file.sh "'$T_TMP/ub' 2>\"\$T_TMP/ub.err\"; B=probe-san; ok \"its status unseen\" true"
	have_asan=1
else
	echo "skipped: the sanitizer case (cc cannot build with -fsanitize=address)"
	have_asan=0
fi

# make SANITIZE=1 test runs the tests on build-san: the tools they find are the sanitizer build's.
case $B in
*-san)
	ok "the tools on PATH are those of $B" sh -c "command -v log-collect | grep -q '/$B/bin/log-collect\$'"
	ok "$B's tools are built with ASan" grep -q __asan_init "$(command -v log-collect)"
	ok "$B's unit tests are built with ASan" grep -q __asan_init "$TOP/$B/tests/test_common"
	;;
esac

B=$B "$R/tests/run" >"$T_TMP/all.out" 2>&1
eq "a failure anywhere: the runner exits non-zero" "$?" 1
eq "a passing test counts as passed" "$(grep '^t-good.sh' "$T_TMP/all.out" | awk '{ print $2, $3 }')" "1 passed"
ok "a failed case is a failure" grep -q '^t-bad.sh .* 1 failed' "$T_TMP/all.out"
ok "a crash without a count line is a failure" grep -q '^t-crash.sh .* 1 failed' "$T_TMP/all.out"
ok "a skip is a failure" grep -q '^t-skip.sh .* 1 passed .* 1 failed' "$T_TMP/all.out"
ok "... and what was skipped is shown" grep -q 'skipped: the frobnicator case' "$T_TMP/all.out"
if [ $have_asan = 1 ]; then
	ok "a sanitizer report is a failure" grep -q '^t-asan.sh .* 1 passed .* 1 failed' "$T_TMP/all.out"
	ok "... and the report is shown" grep -q 'AddressSanitizer: heap-buffer-overflow' "$T_TMP/all.out"
	ok "a UBSan report in the test's output is a failure" grep -q '^t-ub-out.sh .* 1 passed .* 1 failed' "$T_TMP/all.out"
	ok "a UBSan report in a file of the test is a failure" grep -q '^t-ub-file.sh .* 1 passed .* 1 failed' "$T_TMP/all.out"
	ok "... naming the file" grep -q 'a sanitizer report in .*/ub.err' "$T_TMP/all.out"
	eq "the totals" "$(tail -1 "$T_TMP/all.out")" "5 passed, 6 failed"
else
	eq "the totals" "$(tail -1 "$T_TMP/all.out")" "2 passed, 3 failed"
fi
B=$B "$R/tests/run" good >"$T_TMP/good.out" 2>&1
eq "all passing: the runner exits 0" "$?" 0
eq "a name selects its tests" "$(tail -1 "$T_TMP/good.out")" "1 passed, 0 failed"
t_done
