/* toolopt.h: option values every tool reads the same way — counts, reals, durations, sizes — and one message for a bad one. */
#ifndef TOOLOPT_H
#define TOOLOPT_H
#include <stdint.h>

/*
 * Each parses the value arg of the option opt (its long name, "--max-open")
 * within [lo, hi]. On success it stores the value and returns 0; on a bad
 * value it says, in one shape for every tool,
 *
 *	TOOL: --max-open: 'x' is not a count between 1 and 1000000000
 *
 * and returns -1 (a usage error: exit 2). An unbounded end (LONG_MAX,
 * INFINITY, INT64_MAX; LONG_MIN, -INFINITY) is left out of the message.
 */
/* An integer in decimal. */
int tool_opt_count(const char *opt, const char *arg, long lo, long hi, long *out);
/* A finite real number. */
int tool_opt_real(const char *opt, const char *arg, double lo, double hi, double *out);
/* A duration: a number with ms, s, m (or min), h or d, or a bare number of seconds; stored in milliseconds. */
int tool_opt_duration(const char *opt, const char *arg, int64_t lo, int64_t hi, int64_t *out_ms);
/* A size in bytes or records: a number with k, M or G (powers of 1024; a trailing B allowed). */
int tool_opt_size(const char *opt, const char *arg, int64_t lo, int64_t hi, int64_t *out);
/* Says "TOOL: OPT: 'ARG' is not WHAT" for a value no parser above reads (a choice, a date); returns -1. */
int tool_opt_bad(const char *opt, const char *arg, const char *what, ...) __attribute__((format(printf, 3, 4)));

/*
 * -V, --version: prints "TOOL VERSION (model format N, build BUILD)" on the
 * standard output, the build being git describe of the tree it was built from
 * (the version outside a git tree), and exits 0 (1 when that cannot be written).
 */
_Noreturn void tool_version(const char *tool);

#endif
