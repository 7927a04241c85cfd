/* toolopt.c: option values every tool reads the same way, and one message for a bad one. */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "model.h"
#include "toolio.h"
#include "toolopt.h"

/* The Makefile gives both; a build without it says the version for both. */
#ifndef PAGETURN_VERSION
#define PAGETURN_VERSION "0.1"
#endif
#ifndef PAGETURN_BUILD
#define PAGETURN_BUILD PAGETURN_VERSION
#endif

int
tool_opt_bad(const char *opt, const char *arg, const char *what, ...)
{
	char buf[160];
	va_list ap;

	va_start(ap, what);
	vsnprintf(buf, sizeof buf, what, ap);
	va_end(ap);
	diag_warn("%s: '%s' is not %s", opt, arg, buf);
	return -1;
}

/* Says which values the option takes, with the bounds lo and hi already written out (NULL: unbounded). */
static int
bad_range(const char *opt, const char *arg, const char *kind, const char *lo, const char *hi)
{
	if (lo != NULL && hi != NULL)
		return tool_opt_bad(opt, arg, "%s between %s and %s", kind, lo, hi);
	if (lo != NULL)
		return tool_opt_bad(opt, arg, "%s of at least %s", kind, lo);
	if (hi != NULL)
		return tool_opt_bad(opt, arg, "%s of at most %s", kind, hi);
	return tool_opt_bad(opt, arg, "%s", kind);
}

int
tool_opt_count(const char *opt, const char *arg, long lo, long hi, long *out)
{
	char l[32], h[32];

	if (parse_long(arg, lo, hi, out) == 0)
		return 0;
	snprintf(l, sizeof l, "%ld", lo);
	snprintf(h, sizeof h, "%ld", hi);
	return bad_range(opt, arg, "a count", lo == LONG_MIN ? NULL : l, hi == LONG_MAX ? NULL : h);
}

int
tool_opt_real(const char *opt, const char *arg, double lo, double hi, double *out)
{
	char l[32], h[32];

	if (parse_double(arg, lo, hi, out) == 0)
		return 0;
	snprintf(l, sizeof l, "%g", lo);
	snprintf(h, sizeof h, "%g", hi);
	return bad_range(opt, arg, "a number", isinf(lo) ? NULL : l, isinf(hi) ? NULL : h);
}

/* Writes ms in its largest whole unit: 1500ms, 30s, 2h, 1d. */
static void
fmt_ms(char *buf, size_t sz, int64_t ms)
{
	static const struct { int64_t ms; const char *unit; } u[] = {
		{ 86400000, "d" }, { 3600000, "h" }, { 60000, "m" }, { 1000, "s" }
	};
	size_t i;

	for (i = 0; i < sizeof u / sizeof u[0]; i++)
		if (ms != 0 && ms % u[i].ms == 0) {
			snprintf(buf, sz, "%lld%s", (long long)(ms / u[i].ms), u[i].unit);
			return;
		}
	snprintf(buf, sz, "%lldms", (long long)ms);
}

int
tool_opt_duration(const char *opt, const char *arg, int64_t lo, int64_t hi, int64_t *out_ms)
{
	char l[32], h[32];
	int64_t v;

	if ((v = parse_duration_ms(arg)) >= 0 && v >= lo && v <= hi) {
		*out_ms = v;
		return 0;
	}
	fmt_ms(l, sizeof l, lo);
	fmt_ms(h, sizeof h, hi);
	return bad_range(opt, arg, "a duration", lo <= 0 ? NULL : l, hi == INT64_MAX ? NULL : h);
}

/* Writes n in its largest whole unit: 16, 64k, 2G. */
static void
fmt_size(char *buf, size_t sz, int64_t n)
{
	static const struct { int64_t n; const char *unit; } u[] = {
		{ 1LL << 30, "G" }, { 1LL << 20, "M" }, { 1LL << 10, "k" }
	};
	size_t i;

	for (i = 0; i < sizeof u / sizeof u[0]; i++)
		if (n != 0 && n % u[i].n == 0) {
			snprintf(buf, sz, "%lld%s", (long long)(n / u[i].n), u[i].unit);
			return;
		}
	snprintf(buf, sz, "%lld", (long long)n);
}

int
tool_opt_size(const char *opt, const char *arg, int64_t lo, int64_t hi, int64_t *out)
{
	char l[32], h[32];
	int64_t v;

	if ((v = parse_size(arg)) >= 0 && v >= lo && v <= hi) {
		*out = v;
		return 0;
	}
	fmt_size(l, sizeof l, lo);
	fmt_size(h, sizeof h, hi);
	return bad_range(opt, arg, "a size", lo <= 0 ? NULL : l, hi == INT64_MAX ? NULL : h);
}

void
tool_version(const char *tool)
{
	printf("%s %s (model format %d, build %s)\n", tool, PAGETURN_VERSION, MODEL_FORMAT_VERSION, PAGETURN_BUILD);
	exit(0);	/* standard output is checked at exit */
}
