/* test_toolopt.c: option values — counts, reals, durations, sizes — and the one message for a bad one. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "diag.h"
#include "toolopt.h"

static char said[512];

/* Runs the parse with standard error into a file and keeps what it said (without the newline). */
#define SAYS(call) do { \
	FILE *tf_ = tmpfile(); int fd_ = dup(2); size_t n_; \
	fflush(stderr); dup2(fileno(tf_), 2); (void)(call); fflush(stderr); dup2(fd_, 2); close(fd_); \
	rewind(tf_); n_ = fread(said, 1, sizeof said - 1, tf_); said[n_] = '\0'; \
	if (n_ > 0 && said[n_ - 1] == '\n') \
		said[n_ - 1] = '\0'; \
	fclose(tf_); \
} while (0)

int
main(void)
{
	long l = -7;
	double d = -7;
	int64_t v = -7;
	int rc = 0;

	diag_init("tool");

	/* Counts. */
	CHECK(tool_opt_count("--n", "42", 1, 4096, &l) == 0 && l == 42, "%ld", l);
	CHECK(tool_opt_count("--n", "1", 1, 4096, &l) == 0 && l == 1, "%ld", l);
	CHECK(tool_opt_count("--n", "4096", 1, 4096, &l) == 0 && l == 4096, "%ld", l);
	l = -7;
	SAYS(rc = tool_opt_count("--top-k", "x", 1, 4096, &l));
	CHECK(rc == -1 && l == -7, "%d %ld", rc, l);
	CHECK(strcmp(said, "tool: --top-k: 'x' is not a count between 1 and 4096") == 0, "%s", said);
	SAYS(rc = tool_opt_count("--n", "4097", 1, 4096, &l));
	CHECK(rc == -1 && strstr(said, "'4097' is not a count between 1 and 4096") != NULL, "%s", said);
	SAYS(rc = tool_opt_count("--n", "0", 1, 4096, &l));
	CHECK(rc == -1, "%d", rc);
	SAYS(rc = tool_opt_count("--n", "", 0, 10, &l));
	CHECK(rc == -1 && strcmp(said, "tool: --n: '' is not a count between 0 and 10") == 0, "%s", said);
	SAYS(rc = tool_opt_count("--n", "3k", 0, 10, &l));
	CHECK(rc == -1, "%d", rc);
	SAYS(rc = tool_opt_count("--n", "1.5", 0, 10, &l));
	CHECK(rc == -1, "%d", rc);
	SAYS(rc = tool_opt_count("--n", "99999999999999999999999", 0, LONG_MAX, &l));
	CHECK(rc == -1 && strcmp(said, "tool: --n: '99999999999999999999999' is not a count of at least 0") == 0,
	    "%s", said);

	/* Reals: finite, in range. */
	CHECK(tool_opt_real("--w", "0.25", 0, 1, &d) == 0 && d == 0.25, "%g", d);
	CHECK(tool_opt_real("--w", "-1e9", -1e9, 1e9, &d) == 0 && d == -1e9, "%g", d);
	SAYS(rc = tool_opt_real("--gamma", "1.5", 0, 1, &d));
	CHECK(rc == -1 && strcmp(said, "tool: --gamma: '1.5' is not a number between 0 and 1") == 0, "%s", said);
	SAYS(rc = tool_opt_real("--w", "nan", -INFINITY, INFINITY, &d));
	CHECK(rc == -1 && strcmp(said, "tool: --w: 'nan' is not a number") == 0, "%s", said);
	SAYS(rc = tool_opt_real("--w", "inf", -INFINITY, INFINITY, &d));
	CHECK(rc == -1, "%d", rc);
	SAYS(rc = tool_opt_real("--clip", "0", 1e-9, INFINITY, &d));
	CHECK(rc == -1 && strcmp(said, "tool: --clip: '0' is not a number of at least 1e-09") == 0, "%s", said);
	SAYS(rc = tool_opt_real("--w", "2x", 0, 10, &d));
	CHECK(rc == -1, "%d", rc);

	/* Durations, in milliseconds. */
	CHECK(tool_opt_duration("--d", "250ms", 0, INT64_MAX, &v) == 0 && v == 250, "%lld", (long long)v);
	CHECK(tool_opt_duration("--d", "30", 0, INT64_MAX, &v) == 0 && v == 30000, "%lld", (long long)v);
	CHECK(tool_opt_duration("--d", "30s", 0, INT64_MAX, &v) == 0 && v == 30000, "%lld", (long long)v);
	CHECK(tool_opt_duration("--d", "2m", 0, INT64_MAX, &v) == 0 && v == 120000, "%lld", (long long)v);
	CHECK(tool_opt_duration("--d", "1.5h", 0, INT64_MAX, &v) == 0 && v == 5400000, "%lld", (long long)v);
	CHECK(tool_opt_duration("--d", "1d", 0, INT64_MAX, &v) == 0 && v == 86400000, "%lld", (long long)v);
	SAYS(rc = tool_opt_duration("--window", "0", 1, INT64_MAX, &v));
	CHECK(rc == -1 && strcmp(said, "tool: --window: '0' is not a duration of at least 1ms") == 0, "%s", said);
	SAYS(rc = tool_opt_duration("--d", "soon", 0, INT64_MAX, &v));
	CHECK(rc == -1 && strcmp(said, "tool: --d: 'soon' is not a duration") == 0, "%s", said);
	SAYS(rc = tool_opt_duration("--d", "-1s", 0, INT64_MAX, &v));
	CHECK(rc == -1, "%d", rc);
	SAYS(rc = tool_opt_duration("--d", "2d", 1000, 86400000, &v));
	CHECK(rc == -1 && strcmp(said, "tool: --d: '2d' is not a duration between 1s and 1d") == 0, "%s", said);

	/* Sizes, powers of 1024. */
	CHECK(tool_opt_size("--s", "16", 16, 1LL << 31, &v) == 0 && v == 16, "%lld", (long long)v);
	CHECK(tool_opt_size("--s", "64k", 0, INT64_MAX, &v) == 0 && v == 65536, "%lld", (long long)v);
	CHECK(tool_opt_size("--s", "1M", 0, INT64_MAX, &v) == 0 && v == 1048576, "%lld", (long long)v);
	CHECK(tool_opt_size("--s", "2GB", 0, INT64_MAX, &v) == 0 && v == 2147483648LL, "%lld", (long long)v);
	SAYS(rc = tool_opt_size("--max-line", "8", 16, 1LL << 31, &v));
	CHECK(rc == -1 && strcmp(said, "tool: --max-line: '8' is not a size between 16 and 2G") == 0, "%s", said);
	SAYS(rc = tool_opt_size("--s", "3T", 1, INT64_MAX, &v));
	CHECK(rc == -1 && strcmp(said, "tool: --s: '3T' is not a size of at least 1") == 0, "%s", said);

	/* A value no parser reads. */
	SAYS(rc = tool_opt_bad("--emit", "soon", "one of %s", "early, on-close"));
	CHECK(rc == -1 && strcmp(said, "tool: --emit: 'soon' is not one of early, on-close") == 0, "%s", said);
	return check_done();
}
