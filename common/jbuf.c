/* jbuf.c: a growable byte buffer for writing JSON records fast, by hand, without building jansson trees. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jbuf.h"
#include "xalloc.h"

/* Makes room for n more bytes and the terminating NUL. */
void
jbuf_need(struct jbuf *b, size_t n)
{
	if (b->cap - b->len > n)
		return;
	while (b->cap - b->len <= n)
		b->cap = b->cap ? b->cap * 2 : 4096;
	b->p = xrealloc(b->p, b->cap);
}


/* Writes the decimal digits of v (no NUL) into d[20]; returns their count. */
static int
u64_dec(uint64_t v, char d[20])
{
	char t[20];
	int n = 0;

	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	for (int i = 0; i < n; i++)
		d[i] = t[n - 1 - i];
	return n;
}

void
jbuf_i64(struct jbuf *b, int64_t v)
{
	char t[21];
	int n = 0;

	if (v < 0)
		t[n++] = '-';
	n += u64_dec(v < 0 ? -(uint64_t)v : (uint64_t)v, t + n);
	jbuf_put(b, t, (size_t)n);
}

/* Appends s as a JSON string: quotes, and escapes for '"', '\\' and control characters. */
void
jbuf_str(struct jbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *o;

	jbuf_need(b, n * 6 + 2);
	o = b->p + b->len;
	*o++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\') {
			*o++ = (char)c;
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '\b': *o++ = 'b'; break;
		case '\f': *o++ = 'f'; break;
		case '\n': *o++ = 'n'; break;
		case '\r': *o++ = 'r'; break;
		case '\t': *o++ = 't'; break;
		default:
			*o++ = 'u'; *o++ = '0'; *o++ = '0';
			*o++ = hex[c >> 4]; *o++ = hex[c & 15];
		}
	}
	*o++ = '"';
	*o = '\0';
	b->len = (size_t)(o - b->p);
}

void
jbuf_strz(struct jbuf *b, const char *s)
{
	jbuf_str(b, s, strlen(s));
}

void
jbuf_key(struct jbuf *b, const char *key)
{
	jbuf_strz(b, key);
	jbuf_put(b, ":", 1);
}

/*
 * round(a * 10^k) for a finite a in [1e-4, 1e7) and k in [0, 10], rounded
 * as printf rounds the exact binary value: half to even. a = M * 2^E
 * exactly, M below 2^53 and E negative here, so that a * 10^k is the 128-bit
 * integer M * 10^k shifted right by -E, and the bits shifted out decide.
 */
static uint64_t
round_scaled(double a, int k)
{
	static const uint64_t p10[] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
	    1000000000, 10000000000ULL };
	unsigned __int128 n, q, r, half;
	double y = a * (double)p10[k], f;
	uint64_t bits;
	int s;

	/*
	 * The product in double is off by at most 2^-53 of it (below 1e7 here):
	 * unless it lies within 1e-8 of a half, it rounds as the exact value does.
	 */
	f = y - floor(y);
	if (fabs(f - 0.5) > 1e-8)
		return (uint64_t)y + (f > 0.5);
	memcpy(&bits, &a, sizeof bits);
	n = (unsigned __int128)((bits & ((1ULL << 52) - 1)) | (1ULL << 52)) * p10[k];
	s = 1075 - (int)((bits >> 52) & 0x7ff);
	q = n >> s;
	r = n - (q << s);
	half = (unsigned __int128)1 << (s - 1);
	if (r > half || (r == half && (q & 1)))
		q++;
	return (uint64_t)q;
}

/*
 * Appends a finite number rounded to 7 significant digits (the precision of
 * the single-precision floats the learner uses), exactly as printf's "%.7g"
 * writes it (the exact binary value rounded half to even), but -0 as 0.
 * Numbers from 1e-4 to 1e7 take a fast path in integer arithmetic; reading
 * the text back and writing it again yields the same text.
 */
void
jbuf_num7(struct jbuf *b, double v)
{
	static const double p10[] = { 1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6 };
	double a = fabs(v);
	char t[32], d[7], *o = t;
	uint64_t m;
	int e, nd, n, i;

	if (v == 0) {
		jbuf_put(b, "0", 1);
		return;
	}
	if (!(a >= 1e-4 && a < 1e7)) {
		n = snprintf(t, sizeof t, "%.7g", v);
		jbuf_put(b, t, (size_t)n);
		return;
	}
	/* e: the decimal exponent, first guessed, then set right by the rounded digits. */
	for (e = 6; e > -4 && a < p10[e + 4]; e--)
		;
	m = round_scaled(a, 6 - e);
	while (m < 1000000 && e > -4)
		m = round_scaled(a, 6 - --e);
	while (m >= 10000000) {
		if (e == 6) {
			n = snprintf(t, sizeof t, "%.7g", v);
			jbuf_put(b, t, (size_t)n);
			return;
		}
		m = round_scaled(a, 6 - ++e);
	}
	for (i = 6; i >= 0; i--, m /= 10)
		d[i] = (char)('0' + m % 10);
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
	jbuf_put(b, t, (size_t)(o - t));
}

int
jbuf_num7_text(struct jbuf *b, const char *t, size_t n)
{
	const char *p = t, *end = t + n, *ip, *ie, *fp = NULL, *fe = NULL, *q;
	char o[24], *w = o;
	int sig = 0, lead = 0, seen = 0;

	/*
	 * Plain decimal text of at most 7 significant digits, whose value lies in
	 * [1e-4, 1e7): "%.7g" of its double gives back the same digits, in the
	 * fixed form, trailing zeros dropped.
	 */
	if (p < end && *p == '-')
		p++;
	for (ip = p; p < end && *p >= '0' && *p <= '9'; p++)
		;
	ie = p;
	if (p < end && *p == '.') {
		for (fp = ++p; p < end && *p >= '0' && *p <= '9'; p++)
			;
		fe = p;
	}
	if (p != end || ie == ip || (ie - ip > 1 && *ip == '0') || (fp != NULL && fe == fp))
		goto slow;
	for (q = ip; q < ie; q++) {
		seen |= *q != '0';
		sig += seen;
	}
	if (ie - ip > 7)
		goto slow;
	if (fp != NULL) {
		for (q = fe; q > fp && q[-1] == '0'; q--)
			;
		fe = q;
		for (q = fp; q < fe; q++) {
			if (!seen && *q == '0')
				lead++;
			seen |= *q != '0';
			sig += seen;
		}
	}
	if (!seen) {
		jbuf_put(b, "0", 1);
		return 1;
	}
	if (sig > 7 || (*ip == '0' && lead > 3))
		goto slow;
	if (t[0] == '-')
		*w++ = '-';
	memcpy(w, ip, (size_t)(ie - ip));
	w += ie - ip;
	if (fp != NULL && fe > fp) {
		*w++ = '.';
		memcpy(w, fp, (size_t)(fe - fp));
		w += fe - fp;
	}
	jbuf_put(b, o, (size_t)(w - o));
	return 1;
slow:
	return 0;
}

/* Appends a finite number in the shortest form that reads back as the same double. */
void
jbuf_num(struct jbuf *b, double v)
{
	char t[32];
	int n = 0;

	if (v == 0) {
		jbuf_put(b, "0", 1);
		return;
	}
	if (v == nearbyint(v) && fabs(v) < 9007199254740992.0) {
		jbuf_i64(b, (int64_t)v);
		return;
	}
	if (fabs(v) >= 1e-5 && fabs(v) < 1e15) {
		/*
		 * The fewest decimals k for which m = v·10^k is a whole number below
		 * 2^53 and m / 10^k gives v back: both operands exact, so reading
		 * the decimal text back rounds to the same double (Clinger's fast path).
		 */
		static const double p10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
		    1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
		double a = fabs(v), m;

		for (int k = 1; k <= 22; k++) {
			m = nearbyint(a * p10[k]);
			if (m >= 9007199254740992.0)
				break;
			if (m / p10[k] == a) {
				char d[24], *o = t;
				int nd = u64_dec((uint64_t)m, d);

				if (v < 0)
					*o++ = '-';
				if (nd > k) {
					memcpy(o, d, (size_t)(nd - k));
					o += nd - k;
					*o++ = '.';
					memcpy(o, d + nd - k, (size_t)k);
				} else {
					*o++ = '0';
					*o++ = '.';
					memset(o, '0', (size_t)(k - nd));
					o += k - nd;
					memcpy(o, d, (size_t)nd);
				}
				o += nd > k ? k : nd;
				jbuf_put(b, t, (size_t)(o - t));
				return;
			}
		}
	}
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(t, sizeof t, "%.*g", prec, v);
		if (strtod(t, NULL) == v)
			break;
	}
	jbuf_put(b, t, (size_t)n);
}

/* Appends any JSON value compactly, keys in their order; numbers as jbuf_num(). */
void
jbuf_json(struct jbuf *b, const json_t *v)
{
	const char *key;
	json_t *x;
	size_t i;
	int first = 1;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		jbuf_put(b, "{", 1);
		json_object_foreach((json_t *)v, key, x) {
			if (!first)
				jbuf_put(b, ",", 1);
			first = 0;
			jbuf_key(b, key);
			jbuf_json(b, x);
		}
		jbuf_put(b, "}", 1);
		break;
	case JSON_ARRAY:
		jbuf_put(b, "[", 1);
		json_array_foreach(v, i, x) {
			if (i > 0)
				jbuf_put(b, ",", 1);
			jbuf_json(b, x);
		}
		jbuf_put(b, "]", 1);
		break;
	case JSON_STRING:
		jbuf_str(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		jbuf_i64(b, json_integer_value(v));
		break;
	case JSON_REAL:
		jbuf_num(b, json_real_value(v));
		break;
	case JSON_TRUE:
		jbuf_lit(b, "true");
		break;
	case JSON_FALSE:
		jbuf_lit(b, "false");
		break;
	case JSON_NULL:
		jbuf_lit(b, "null");
		break;
	}
}

void
jbuf_puts(struct jbuf *b, const char *s)
{
	jbuf_put(b, s, strlen(s));
}

void
jbuf_printf(struct jbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	jbuf_need(b, 64);
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		jbuf_need(b, (size_t)n + 1);
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void
jbuf_floats(struct jbuf *b, const float *v, size_t n)
{
	size_t i;

	jbuf_put(b, "[", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			jbuf_put(b, ",", 1);
		jbuf_num7(b, v[i]);
	}
	jbuf_put(b, "]", 1);
}

void
jbuf_reset(struct jbuf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

void
jbuf_free(struct jbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
