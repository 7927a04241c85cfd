/* buf.c: a growable byte buffer for building JSON records by hand (online-join). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "xalloc.h"

void
buf_need(struct buf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return;
	while (b->cap - b->len < n)
		b->cap = b->cap ? b->cap * 2 : 4096;
	b->p = xrealloc(b->p, b->cap);
}

void
buf_put(struct buf *b, const char *s, size_t n)
{
	buf_need(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

void
buf_i64(struct buf *b, int64_t v)
{
	char t[24], *o = t + sizeof t;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do {
		*--o = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--o = '-';
	buf_put(b, o, (size_t)(t + sizeof t - o));
}

void
buf_str(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *o;
	size_t i;

	buf_need(b, n * 6 + 2);
	o = b->p + b->len;
	*o++ = '"';
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\') {
			*o++ = (char)c;
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\n': *o++ = 'n'; break;
		case '\r': *o++ = 'r'; break;
		case '\t': *o++ = 't'; break;
		default:
			*o++ = 'u'; *o++ = '0'; *o++ = '0';
			*o++ = hex[c >> 4]; *o++ = hex[c & 15];
		}
	}
	*o++ = '"';
	b->len = (size_t)(o - b->p);
}

/* The slow, exact path: %.7g with a trailing exponent cleaned of nothing (already valid JSON). */
static void
buf_num7_slow(struct buf *b, double v)
{
	char t[32];
	int n = snprintf(t, sizeof t, "%.7g", v);

	buf_put(b, t, (size_t)n);
}

void
buf_num7(struct buf *b, double v)
{
	static const double p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10 };
	double a = fabs(v), m;
	char d[7], t[32], *o = t;
	long digits;
	int e, nd, i;

	if (v == 0) {
		buf_put(b, "0", 1);
		return;
	}
	if (!(a >= 1e-4 && a < 1e6)) {
		buf_num7_slow(b, v);
		return;
	}
	/* a = 0.d1d2… × 10^(e+1): find e with 10^e <= a < 10^(e+1). */
	for (e = 5; e > -4 && a < p10[e + 4] * 1e-4; e--)
		;
	m = nearbyint(a * p10[6 - e]);
	if (m >= 1e7) {		/* rounding carried into a new digit */
		e++;
		m = nearbyint(a * p10[6 - e]);
	}
	if (e >= 6 || m < 1e6) {
		buf_num7_slow(b, v);
		return;
	}
	digits = (long)m;
	for (i = 6; i >= 0; i--, digits /= 10)
		d[i] = (char)('0' + digits % 10);
	for (nd = 7; nd > 1 && d[nd - 1] == '0'; nd--)
		;
	if (v < 0)
		*o++ = '-';
	if (e >= 0) {
		for (i = 0; i <= e; i++)
			*o++ = d[i];
		if (nd > e + 1) {
			*o++ = '.';
			for (i = e + 1; i < nd; i++)
				*o++ = d[i];
		}
	} else {
		*o++ = '0';
		*o++ = '.';
		for (i = -1; i > e; i--)
			*o++ = '0';
		for (i = 0; i < nd; i++)
			*o++ = d[i];
	}
	buf_put(b, t, (size_t)(o - t));
}

void
buf_floats(struct buf *b, const float *v, size_t n)
{
	size_t i;

	buf_put(b, "[", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_put(b, ",", 1);
		buf_num7(b, v[i]);
	}
	buf_put(b, "]", 1);
}
