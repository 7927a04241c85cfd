/* diag.c: diagnostics shared by every tool — program name first, strerror on a trailing ':'. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "sig.h"

int diag_verbosity = 1;
static const char *progname = "pageturn";

/*
 * At exit, standard output is flushed and checked: a write that failed (a full disk,
 * --help >/dev/full) makes the exit status 1, said once; a pipe whose reader has gone
 * (tool | head -1) is no error and leaves the status as it was.
 */
static void
diag_check_stdout(void)
{
	int failed;

	failed = fflush(stdout) != 0;
	if (!failed && !ferror(stdout))
		return;
	if (sig_pipe || (failed && errno == EPIPE))
		return;
	if (failed)
		diag_warn("standard output: write error:");
	_exit(1);
}

void
diag_init(const char *argv0)
{
	const char *slash;

	atexit(diag_check_stdout);
	if (argv0 == NULL || *argv0 == '\0')
		return;
	slash = strrchr(argv0, '/');
	progname = slash ? slash + 1 : argv0;
}

const char *
diag_progname(void)
{
	return progname;
}

static void
vdiag(const char *fmt, va_list ap, int saved_errno)
{
	char buf[4096];
	size_t n;
	int len;

	len = vsnprintf(buf, sizeof buf, fmt, ap);
	if (len < 0)
		buf[0] = '\0';
	n = strlen(buf);
	if (n > 0 && fmt[strlen(fmt) - 1] == ':')
		fprintf(stderr, "%s: %s %s\n", progname, buf, strerror(saved_errno));
	else {
		while (n > 0 && buf[n - 1] == '\n')
			buf[--n] = '\0';
		fprintf(stderr, "%s: %s\n", progname, buf);
	}
}

void
diag_warn(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vdiag(fmt, ap, e);
	va_end(ap);
	errno = e;
}

void
diag_fatal(int status, const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vdiag(fmt, ap, e);
	va_end(ap);
	exit(status);
}

void
diag_info(int level, const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	if (diag_verbosity < level)
		return;
	va_start(ap, fmt);
	vdiag(fmt, ap, e);
	va_end(ap);
	errno = e;
}

int
diag_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}
