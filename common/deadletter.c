/* deadletter.c: rejected lines, with their reason and source, to a dead-letter endpoint or to stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "deadletter.h"
#include "diag.h"
#include "jsonx.h"
#include "lineio.h"
#include "stats.h"
#include "xalloc.h"

/* Without a dead-letter output, at most this many reasons a second reach stderr. */
#define STDERR_PER_SECOND 5
/* A too-long line keeps at most this prefix in its dead letter. */
#define RAW_KEEP (64 * 1024)

struct deadletter {
	struct line_writer *w;	/* NULL: reasons to stderr */
	uint64_t *rejected;
	uint64_t count;
	time_t second;
	int in_second;
	uint64_t suppressed;
	int error;
};

struct deadletter *
deadletter_open(const char *spec, const struct kafka_opts *kopts, struct stats *st)
{
	struct deadletter *d = xcalloc(1, sizeof *d);

	if (spec != NULL && (d->w = line_writer_open(spec, kopts)) == NULL) {
		free(d);
		return NULL;
	}
	d->rejected = stats_counter(st, "rejected");
	return d;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 when invalid. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) { len = 2; cp = p[0] & 0x1f; }
	else if ((p[0] & 0xf0) == 0xe0) { len = 3; cp = p[0] & 0x0f; }
	else if ((p[0] & 0xf8) == 0xf0) { len = 4; cp = p[0] & 0x07; }
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* The bytes as valid UTF-8 (invalid bytes become U+FFFD); *valid says whether any was replaced. */
static char *
utf8_clean(const char *s, size_t n, size_t *outlen, int *valid)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out = xmalloc(3 * n + 1);
	size_t i = 0, o = 0, k;

	*valid = 1;
	while (i < n) {
		k = utf8_seq(p + i, n - i);
		if (k == 0 || p[i] == 0) {
			if (k == 0)
				*valid = 0;
			if (p[i] == 0) {
				/* NUL cannot travel in a C string: keep it as U+FFFD too, and the exact bytes in base64. */
				*valid = 0;
			}
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, p + i, k);
		o += k;
		i += k;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

static char *
base64(const char *s, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)s;
	char *out = xmalloc(4 * ((n + 2) / 3) + 1), *o = out;
	size_t i;
	uint32_t v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = tab[v >> 18]; *o++ = tab[(v >> 12) & 63];
		*o++ = tab[(v >> 6) & 63]; *o++ = tab[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		*o++ = tab[v >> 18]; *o++ = tab[(v >> 12) & 63]; *o++ = '='; *o++ = '=';
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = tab[v >> 18]; *o++ = tab[(v >> 12) & 63]; *o++ = tab[(v >> 6) & 63]; *o++ = '=';
	}
	*o = '\0';
	return out;
}

static void
to_stderr(struct deadletter *d, const char *source, const char *reason)
{
	time_t now = time(NULL);

	if (now != d->second) {
		if (d->suppressed > 0)
			diag_warn("%llu more rejected lines not shown", (unsigned long long)d->suppressed);
		d->second = now;
		d->in_second = 0;
		d->suppressed = 0;
	}
	if (d->in_second++ < STDERR_PER_SECOND)
		diag_warn("%s: rejected: %s", source, reason);
	else
		d->suppressed++;
}

static int
vput(struct deadletter *d, const char *source, const char *raw, size_t rawlen, size_t full_len,
    const char *fmt, va_list ap)
{
	char reason[1024], *clean, *b64, *out;
	size_t cleanlen, outlen;
	int valid, rv = 0;
	json_t *o;

	vsnprintf(reason, sizeof reason, fmt, ap);
	d->count++;
	(*d->rejected)++;
	if (d->w == NULL) {
		to_stderr(d, source, reason);
		return 0;
	}
	o = json_object();
	/* A reason may quote the bad bytes (or vsnprintf may cut a character): keep it UTF-8. */
	clean = utf8_clean(reason, strlen(reason), &cleanlen, &valid);
	json_object_set_new(o, "reason", json_stringn(clean, cleanlen));
	free(clean);
	clean = utf8_clean(source, strlen(source), &cleanlen, &valid);	/* a file name may be any bytes */
	json_object_set_new(o, "source", json_stringn(clean, cleanlen));
	free(clean);
	json_object_set_new(o, "tool", json_string(diag_progname()));
	json_object_set_new(o, "ts", json_integer(now_ms()));
	if (raw != NULL) {
		if (rawlen > RAW_KEEP)
			rawlen = RAW_KEEP;
		clean = utf8_clean(raw, rawlen, &cleanlen, &valid);
		json_object_set_new(o, "raw", json_stringn(clean, cleanlen));
		free(clean);
		if (!valid) {
			b64 = base64(raw, rawlen);
			json_object_set_new(o, "raw_base64", json_string(b64));
			free(b64);
		}
		if (full_len > rawlen)
			json_object_set_new(o, "raw_len", json_integer((json_int_t)full_len));
	}
	out = jsonx_dump(o, &outlen);
	if (out == NULL || line_writer_put(d->w, NULL, 0, out, outlen) != 0) {
		d->error = 1;
		rv = -1;
	}
	free(out);
	json_decref(o);
	return rv;
}

int
deadletter_put(struct deadletter *d, const struct line *ln, const char *fmt, ...)
{
	va_list ap;
	int rv;

	va_start(ap, fmt);
	rv = vput(d, ln->source, ln->buf, ln->len, ln->full_len, fmt, ap);
	va_end(ap);
	return rv;
}

int
deadletter_put_raw(struct deadletter *d, const char *source, const char *raw, size_t rawlen,
    const char *fmt, ...)
{
	va_list ap;
	int rv;

	va_start(ap, fmt);
	rv = vput(d, source, raw, rawlen, rawlen, fmt, ap);
	va_end(ap);
	return rv;
}

uint64_t
deadletter_count(const struct deadletter *d)
{
	return d->count;
}

int
deadletter_flush(struct deadletter *d)
{
	if (d->w != NULL && line_writer_flush(d->w) != 0)
		d->error = 1;
	return d->error ? -1 : 0;
}

int
deadletter_reopen(struct deadletter *d)
{
	if (d->w != NULL && line_writer_reopen(d->w) != 0)
		d->error = 1;
	return d->error ? -1 : 0;
}

int
deadletter_close(struct deadletter *d)
{
	int rv;

	if (d == NULL)
		return 0;
	if (d->suppressed > 0)
		diag_warn("%llu more rejected lines not shown", (unsigned long long)d->suppressed);
	if (d->w != NULL && line_writer_close(d->w) != 0)
		d->error = 1;
	rv = d->error ? -1 : 0;
	free(d);
	return rv;
}
