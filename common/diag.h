/* diag.h: diagnostics shared by every tool — program name first, strerror on a trailing ':'. */
#ifndef DIAG_H
#define DIAG_H

#include <stddef.h>

/* Verbosity: 0 with -q (errors only), 1 by default, 2+ with each -v. */
extern int diag_verbosity;

/* Remembers the program name (basename of argv0) for every message. */
void diag_init(const char *argv0);
const char *diag_progname(void);

/*
 * Each prints "prog: message\n" to stderr; when fmt ends in ':' the text of
 * the errno current at the call is appended as ": <strerror>". Exactly one
 * newline is printed.
 */
void diag_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void diag_fatal(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Printed only when diag_verbosity >= level. */
void diag_info(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * For functions that report into a caller's buffer rather than to stderr:
 * formats the message into err (errlen bytes, none when err is NULL) and
 * returns -1, so that "return diag_errf(err, errlen, ...);" both says and fails.
 */
int diag_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
