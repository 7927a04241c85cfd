/* fuzz.h: what the libFuzzer targets share — the input as a temporary file for parsers that read files. */
#ifndef FUZZ_H
#define FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

#include "lineio.h"

/* Writes data to a fresh temporary file and returns its path (static buffer), or NULL. */
static const char *
fuzz_file(const uint8_t *data, size_t size)
{
	static char path[64];
	static int made;
	FILE *fp;

	if (!made) {
		snprintf(path, sizeof path, "/tmp/pageturn-fuzz.%ld", (long)getpid());
		made = 1;
	}
	if ((fp = fopen(path, "wb")) == NULL)
		return NULL;
	if (size > 0 && fwrite(data, 1, size, fp) != size) {
		fclose(fp);
		return NULL;
	}
	if (fclose(fp) != 0)
		return NULL;
	return path;
}

/*
 * The next line of the input (*p, *left bytes, advanced past it) as a stream
 * tool gets it: a malloc'd copy of exactly len + 1 bytes (so that the
 * sanitizer sees any read past the end), NUL-terminated, without the newline.
 * Returns 0 at the end of the input. Free ln->buf after use.
 */
static int
fuzz_next_line(const uint8_t **p, size_t *left, struct line *ln, int64_t lineno)
{
	const uint8_t *nl;
	size_t n;

	if (*left == 0)
		return 0;
	nl = memchr(*p, '\n', *left);
	n = nl != NULL ? (size_t)(nl - *p) : *left;
	memset(ln, 0, sizeof *ln);
	ln->buf = malloc(n + 1);
	if (ln->buf == NULL)
		abort();
	memcpy(ln->buf, *p, n);
	ln->buf[n] = '\0';
	ln->len = ln->full_len = n;
	ln->source = "fuzz";
	ln->partition = -1;
	ln->offset = lineno;
	*p += n + (nl != NULL);
	*left -= n + (nl != NULL);
	return 1;
}

/*
 * Aborts (a finding) unless buf (len bytes) is one well-formed JSON object or
 * array, without duplicate keys: the check every record a tool writes must pass.
 */
static void
fuzz_want_json(const char *buf, size_t len, const char *what)
{
	json_error_t je;
	json_t *j;

	if ((j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		fprintf(stderr, "%s is not JSON (%s at column %d): %.*s\n", what, je.text, je.column,
		    (int)(len > 2000 ? 2000 : len), buf);
		abort();
	}
	json_decref(j);
}

struct tool_io;

/*
 * Stands in for tool_io_reject in the targets that compile a tool's source
 * (#define tool_io_reject fuzz_reject): a rejection without a reason is a finding.
 */
static void
fuzz_reject(struct tool_io *io, const struct line *ln, const char *fmt, ...)
{
	(void)io;
	(void)ln;
	if (fmt == NULL || fmt[0] == '\0')
		abort();
}
#endif
