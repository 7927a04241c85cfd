/* jscan.c: a strict JSON scanner (RFC 8259) over one buffer, for record readers that build no tree. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jscan.h"
#include "xalloc.h"

/* Objects of more keys than this are checked for a repeated key by sorting them, not pair by pair. */
#define DUP_PAIRWISE 16

/* Bytes a string holds as they are: printable ASCII and DEL, but for '"' and '\\'. */
static const unsigned char plain[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
	R16(0), R16(0),
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,		/* 0x20: '"' is 0x22 */
	R16(1), R16(1),
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,		/* 0x50: '\\' is 0x5c */
	R16(1), R16(1),
	R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0)
#undef R16
};

/* The bytes jscan_span() stops at: '"', '[', ']', '{', '}'. */
static const unsigned char span_stop[256] = {
	['"'] = 1, ['['] = 1, [']'] = 1, ['{'] = 1, ['}'] = 1
};

static const double pow10_exact[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

void
jscan_init(struct jscan *s, const char *buf, size_t len)
{
	s->start = s->p = buf;
	s->end = buf + len;
	s->depth = 0;
	s->depth0 = 0;
	if (s->max_depth <= 0 || s->max_depth > JSCAN_MAX_DEPTH)
		s->max_depth = JSCAN_MAX_DEPTH;
	s->failed = 0;
	s->reason_at = 0;
	s->nkeys = 0;
	s->err[0] = '\0';
}

void
jscan_free(struct jscan *s)
{
	free(s->keys);
	s->keys = NULL;
	s->nkeys = s->cap_keys = 0;
}

void
jscan_set_depth(struct jscan *s, int depth)
{
	s->max_depth = depth < 1 ? 1 : depth > JSCAN_MAX_DEPTH ? JSCAN_MAX_DEPTH : depth;
}

void
jscan_nest(struct jscan *s, const char *doc, int outer)
{
	s->start = doc;
	s->depth0 = outer;
}

/* Records the reason at p (not s->p when the fault lies inside a token); returns -1. */
static int
vfail_at(struct jscan *s, const char *p, const char *fmt, va_list ap)
{
	int n;

	if (s->failed)
		return -1;
	s->failed = 1;
	n = snprintf(s->err, sizeof s->err, "bad JSON at column %zu: ", (size_t)(p - s->start) + 1);
	if (n < 0 || (size_t)n >= sizeof s->err)
		n = 0;
	s->reason_at = n;
	vsnprintf(s->err + n, sizeof s->err - (size_t)n, fmt, ap);
	return -1;
}

static int __attribute__((format(printf, 3, 4)))
fail_at(struct jscan *s, const char *p, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail_at(s, p, fmt, ap);
	va_end(ap);
	return r;
}

int
jscan_fail(struct jscan *s, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail_at(s, s->p, fmt, ap);
	va_end(ap);
	return r;
}

const char *
jscan_reason(const struct jscan *s)
{
	return s->err + s->reason_at;
}

static inline void
ws(struct jscan *s)
{
	const char *p = s->p, *end = s->end;

	while (p < end && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
		p++;
	s->p = p;
}

enum jscan_type
jscan_peek(struct jscan *s)
{
	if (s->failed)
		return JSCAN_END;
	ws(s);
	if (s->p >= s->end)
		return JSCAN_END;
	switch (*s->p) {
	case '{':
		return JSCAN_OBJECT;
	case '[':
		return JSCAN_ARRAY;
	case '"':
		return JSCAN_STRING;
	case 't':
		return JSCAN_TRUE;
	case 'f':
		return JSCAN_FALSE;
	case 'n':
		return JSCAN_NULL;
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return JSCAN_NUMBER;
	default:
		return JSCAN_BAD;
	}
}

int
jscan_finish(struct jscan *s)
{
	if (s->failed)
		return -1;
	ws(s);
	return s->p == s->end ? 0 : jscan_fail(s, "trailing data after the value");
}

/* ---- strings ---- */

static int
hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* The length of the valid UTF-8 sequence at p (n bytes available, p[0] >= 0x80); 0 when invalid. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0], cp;
	size_t len, i;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

int
jscan_string(struct jscan *s, struct jspan *out)
{
	const char *p, *end = s->end, *q;
	unsigned u, lo;
	size_t l;
	int esc = 0;

	if (s->failed)
		return -1;
	ws(s);
	if (s->p >= end || *s->p != '"')
		return jscan_fail(s, "string expected");
	p = q = s->p + 1;
	for (;;) {
		while (p < end && plain[(unsigned char)*p])
			p++;
		if (p >= end)
			return fail_at(s, p, "unterminated string");
		if (*p == '"')
			break;
		if ((unsigned char)*p < 0x20)
			return fail_at(s, p, "control character in a string");
		if ((unsigned char)*p >= 0x80) {
			if ((l = utf8_len((const unsigned char *)p, (size_t)(end - p))) == 0)
				return fail_at(s, p, "invalid UTF-8 in a string");
			p += l;
			continue;
		}
		esc = 1;
		if (end - p < 2)
			return fail_at(s, p, "unterminated string");
		switch (p[1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
			p += 2;
			continue;
		case 'u':
			break;
		default:
			return fail_at(s, p, "invalid escape in a string");
		}
		if (end - p < 6 || hex4(p + 2, &u) != 0)
			return fail_at(s, p, "invalid \\u escape in a string");
		if (u == 0)
			return fail_at(s, p, "\\u0000 in a string (not allowed: strings are C strings here)");
		if (u >= 0xdc00 && u <= 0xdfff)
			return fail_at(s, p, "lone surrogate \\u%04x in a string", u);
		if (u >= 0xd800 && u <= 0xdbff) {
			if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || hex4(p + 8, &lo) != 0 ||
			    lo < 0xdc00 || lo > 0xdfff)
				return fail_at(s, p, "lone surrogate \\u%04x in a string", u);
			p += 6;
		}
		p += 6;
	}
	out->p = q;
	out->n = (size_t)(p - q);
	out->esc = esc;
	s->p = p + 1;
	return 0;
}

/*
 * Decodes the unit of a valid string span at *pp (one byte, one escape or an
 * escaped surrogate pair) into o; returns its byte count.
 */
static size_t
unit(const char **pp, char o[4])
{
	const char *p = *pp;
	unsigned u, lo;

	if (*p != '\\') {
		o[0] = *p;
		*pp = p + 1;
		return 1;
	}
	*pp = p + 2;
	switch (p[1]) {
	case 'b': o[0] = '\b'; return 1;
	case 'f': o[0] = '\f'; return 1;
	case 'n': o[0] = '\n'; return 1;
	case 'r': o[0] = '\r'; return 1;
	case 't': o[0] = '\t'; return 1;
	case 'u': break;
	default: o[0] = p[1]; return 1;
	}
	hex4(p + 2, &u);
	*pp = p + 6;
	if (u >= 0xd800 && u <= 0xdbff) {
		hex4(p + 8, &lo);
		u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
		*pp = p + 12;
	}
	if (u < 0x80) {
		o[0] = (char)u;
		return 1;
	}
	if (u < 0x800) {
		o[0] = (char)(0xc0 | (u >> 6));
		o[1] = (char)(0x80 | (u & 0x3f));
		return 2;
	}
	if (u < 0x10000) {
		o[0] = (char)(0xe0 | (u >> 12));
		o[1] = (char)(0x80 | ((u >> 6) & 0x3f));
		o[2] = (char)(0x80 | (u & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (u >> 18));
	o[1] = (char)(0x80 | ((u >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((u >> 6) & 0x3f));
	o[3] = (char)(0x80 | (u & 0x3f));
	return 4;
}

size_t
jscan_unescape(const struct jspan *sp, char *out)
{
	const char *p = sp->p, *end = sp->p + sp->n, *run;
	size_t n = 0;

	if (!sp->esc) {
		memcpy(out, sp->p, sp->n);
		return sp->n;
	}
	while (p < end) {
		for (run = p; p < end && *p != '\\'; p++)
			;
		memcpy(out + n, run, (size_t)(p - run));
		n += (size_t)(p - run);
		if (p < end)
			n += unit(&p, out + n);
	}
	return n;
}

/* A decoded string read byte by byte (a span without escapes as it is). */
struct ustream {
	const char *p, *end;
	int esc;
	char u[4];
	size_t un, ui;
};

static int
ustream_next(struct ustream *st)
{
	if (st->ui < st->un)
		return (unsigned char)st->u[st->ui++];
	if (st->p >= st->end)
		return -1;
	if (!st->esc)
		return (unsigned char)*st->p++;
	st->un = unit(&st->p, st->u);
	st->ui = 1;
	return (unsigned char)st->u[0];
}

/* Orders two string spans by their decoded bytes. */
static int
span_cmp(const struct jspan *a, const struct jspan *b)
{
	struct ustream x = { a->p, a->p + a->n, a->esc, { 0 }, 0, 0 }, y = { b->p, b->p + b->n, b->esc, { 0 }, 0, 0 };
	int cx, cy;

	if (!a->esc && !b->esc) {
		int c = memcmp(a->p, b->p, a->n < b->n ? a->n : b->n);

		return c != 0 ? c : (a->n > b->n) - (a->n < b->n);
	}
	do {
		cx = ustream_next(&x);
		cy = ustream_next(&y);
	} while (cx == cy && cx != -1);
	return cx - cy;
}

int
jscan_eq(const struct jspan *sp, const char *lit, size_t n)
{
	struct jspan l = { lit, n, 0 };

	if (!sp->esc)
		return sp->n == n && memcmp(sp->p, lit, n) == 0;
	return span_cmp(sp, &l) == 0;
}

/* ---- numbers ---- */

static inline int
digit(const char *p, const char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

/*
 * Reads the number at *pp (its first byte '-' or a digit) up to end. With
 * out, its value too. NULL and *pp past it, or the reason with *pp at the
 * fault.
 */
static const char *number_general(const char **pp, const char *end, struct jscan_num *out);

/*
 * The usual shape, -?D+(.D+)? of at most 19 digits and no exponent, in one
 * pass; anything else (and every fault) goes to number_general().
 */
static inline const char *
number(const char **pp, const char *end, struct jscan_num *out)
{
	const char *p = *pp, *start = *pp, *d;
	uint64_t m = 0;
	int neg = 0, frac = 0, nd;

	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	d = p;
	if (p >= end || *p < '1' || *p > '9') {
		if (p >= end || *p != '0' || (p + 1 < end && p[1] >= '0' && p[1] <= '9'))
			return number_general(pp, end, out);
		p++;
	} else
		while (p < end && (unsigned)(*p - '0') < 10)
			m = m * 10 + (uint64_t)(*p++ - '0');
	nd = (int)(p - d);
	if (p < end && *p == '.') {
		if (++p >= end || (unsigned)(*p - '0') >= 10)
			return number_general(pp, end, out);
		d = p;
		while (p < end && (unsigned)(*p - '0') < 10)
			m = m * 10 + (uint64_t)(*p++ - '0');
		frac = (int)(p - d);
	}
	if (nd + frac > 19 || (p < end && (*p == 'e' || *p == 'E')))
		return number_general(pp, end, out);
	*pp = p;
	if (out != NULL) {
		double v;

		if (m > (1ULL << 53))
			return number_general(&start, end, out);
		v = frac ? (double)m / pow10_exact[frac] : (double)m;
		out->d = neg ? -v : v;
		out->int_syntax = frac == 0;
		out->is_int = frac == 0;
		out->i = neg ? -(int64_t)m : (int64_t)m;
	}
	return NULL;
}

static const char *
number_general(const char **pp, const char *end, struct jscan_num *out)
{
	const char *p = *pp, *start = *pp, *ip, *ie, *fp = NULL, *fe = NULL, *q;
	uint64_t m = 0;
	int neg = 0, nd = 0, dropped = 0, inexact = 0, frac = 0, e = 0, eneg = 0;

	/* The grammar first, noting where the integer and fraction digits lie. */
	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	ip = p;
	if (!digit(p, end)) {
		*pp = p;
		return "digit expected in a number";
	}
	if (*p == '0') {
		p++;
		if (digit(p, end)) {
			*pp = p;
			return "leading zero in a number";
		}
	} else
		while (digit(p, end))
			p++;
	ie = p;
	if (p < end && *p == '.') {
		fp = ++p;
		if (!digit(p, end)) {
			*pp = p;
			return "digit expected after '.' in a number";
		}
		while (digit(p, end))
			p++;
		fe = p;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		if (!digit(p, end)) {
			*pp = p;
			return "digit expected in a number's exponent";
		}
		for (; digit(p, end); p++)
			if (e < 100000)
				e = e * 10 + (*p - '0');
		if (fp == NULL)
			fp = fe = ie;
	}
	*pp = p;
	if (out == NULL)
		return NULL;

	/* Then the value: up to 19 significant digits in m, the rest counted. */
	for (q = ip; q < ie; q++)
		if (nd < 19) {
			m = m * 10 + (uint64_t)(*q - '0');
			nd += m != 0;
		} else
			dropped++;
	for (q = fp; q != NULL && q < fe; q++)
		if (nd < 19) {
			m = m * 10 + (uint64_t)(*q - '0');
			nd += m != 0;
			frac++;
		} else
			inexact |= *q != '0';
	out->int_syntax = fp == NULL;
	out->is_int = fp == NULL && dropped == 0 && (neg ? m <= (uint64_t)INT64_MAX + 1 : m <= (uint64_t)INT64_MAX);
	out->i = out->is_int ? (neg ? (int64_t)(0 - m) : (int64_t)m) : 0;
	e = (eneg ? -e : e) - frac + dropped;
	if (dropped == 0 && !inexact && m <= (1ULL << 53) && e >= -22 && e <= 22) {
		double d = (double)m;

		d = e >= 0 ? d * pow10_exact[e] : d / pow10_exact[-e];
		out->d = neg ? -d : d;
	} else if (m == 0) {
		out->d = neg ? -0.0 : 0.0;
	} else {
		char tmp[128], *t = tmp;
		size_t n = (size_t)(p - start);

		if (n >= sizeof tmp)
			t = xmalloc(n + 1);
		memcpy(t, start, n);
		t[n] = '\0';
		out->d = strtod(t, NULL);
		if (t != tmp)
			free(t);
	}
	return NULL;
}

int
jscan_number(struct jscan *s, struct jscan_num *out)
{
	const char *why;

	if (s->failed)
		return -1;
	ws(s);
	if ((why = number(&s->p, s->end, out)) != NULL)
		return jscan_fail(s, "%s", why);
	return 0;
}

int
jscan_parse_number(const char *p, size_t n, struct jscan_num *out)
{
	const char *q = p;

	if (number(&q, p + n, out) != NULL || q != p + n)
		return -1;
	return 0;
}

/* ---- literals ---- */

static int
literal(struct jscan *s, const char *word, size_t n)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return jscan_fail(s, "invalid literal (expected %s)", word);
	s->p += n;
	return 0;
}

int
jscan_bool(struct jscan *s, int *out)
{
	switch (jscan_peek(s)) {
	case JSCAN_TRUE:
		*out = 1;
		return literal(s, "true", 4);
	case JSCAN_FALSE:
		*out = 0;
		return literal(s, "false", 5);
	default:
		return jscan_fail(s, "true or false expected");
	}
}

int
jscan_null(struct jscan *s)
{
	if (jscan_peek(s) != JSCAN_NULL)
		return jscan_fail(s, "null expected");
	return literal(s, "null", 4);
}

/* ---- objects and arrays ---- */

static int
open_nest(struct jscan *s, char c)
{
	struct jscan_frame *f;

	if (s->failed)
		return -1;
	ws(s);
	if (s->p >= s->end || *s->p != c)
		return jscan_fail(s, "'%c' expected", c);
	if (s->depth0 + s->depth >= s->max_depth)
		return jscan_fail(s, "nested deeper than %d", s->max_depth);
	s->p++;
	f = &s->frame[++s->depth];
	f->base = s->nkeys;
	f->count = 0;
	return 0;
}

int
jscan_object(struct jscan *s)
{
	return open_nest(s, '{');
}

int
jscan_array(struct jscan *s)
{
	return open_nest(s, '[');
}

static int
cmp_keys(const void *a, const void *b)
{
	return span_cmp(a, b);
}

/* Checks the keys of the object being closed for one written twice; -1 with the reason. */
static int
dup_check(struct jscan *s, const char *close)
{
	struct jspan *k = s->keys + s->frame[s->depth].base;
	size_t n = s->nkeys - s->frame[s->depth].base, i, j;

	if (n <= DUP_PAIRWISE) {
		for (i = 1; i < n; i++)
			for (j = 0; j < i; j++)
				if (((k[i].n == k[j].n && k[i].p[0] == k[j].p[0]) || k[i].esc || k[j].esc) &&
				    span_cmp(&k[i], &k[j]) == 0)
					return fail_at(s, k[i].p - 1, "duplicate key \"%.*s\"",
					    (int)(k[i].n > 64 ? 64 : k[i].n), k[i].p);
		return 0;
	}
	qsort(k, n, sizeof *k, cmp_keys);
	for (i = 1; i < n; i++)
		if (span_cmp(&k[i], &k[i - 1]) == 0)
			return fail_at(s, close, "duplicate key \"%.*s\"", (int)(k[i].n > 64 ? 64 : k[i].n),
			    k[i].p);
	return 0;
}

int
jscan_member(struct jscan *s, struct jspan *key)
{
	struct jscan_frame *f = &s->frame[s->depth];

	if (s->failed)
		return -1;
	ws(s);
	if (s->p < s->end && *s->p == '}' && f->count == 0)
		goto close;
	if (f->count > 0) {
		if (s->p < s->end && *s->p == '}')
			goto close;
		if (s->p >= s->end || *s->p != ',')
			return jscan_fail(s, "',' or '}' expected");
		s->p++;
		ws(s);
	}
	if (s->p >= s->end || *s->p != '"')
		return jscan_fail(s, "string key expected");
	if (jscan_string(s, key) != 0)
		return -1;
	ws(s);
	if (s->p >= s->end || *s->p != ':')
		return jscan_fail(s, "':' expected");
	s->p++;
	if (s->nkeys == s->cap_keys) {
		s->cap_keys = s->cap_keys ? 2 * s->cap_keys : 64;
		s->keys = xreallocarray(s->keys, s->cap_keys, sizeof *s->keys);
	}
	s->keys[s->nkeys++] = *key;
	f->count++;
	return 1;
close:
	if (f->count > 1 && dup_check(s, s->p) != 0)
		return -1;
	s->p++;
	s->nkeys = f->base;
	s->depth--;
	return 0;
}

int
jscan_element(struct jscan *s)
{
	struct jscan_frame *f = &s->frame[s->depth];

	if (s->failed)
		return -1;
	ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		s->depth--;
		return 0;
	}
	if (f->count > 0) {
		if (s->p >= s->end || *s->p != ',')
			return jscan_fail(s, "',' or ']' expected");
		s->p++;
	}
	f->count++;
	return 1;
}

int
jscan_skip(struct jscan *s, struct jspan *out)
{
	struct jspan k;
	const char *start, *why;
	int r;

	switch (jscan_peek(s)) {
	case JSCAN_END:
		return s->failed ? -1 : jscan_fail(s, "value expected");
	case JSCAN_BAD:
		return jscan_fail(s, "invalid value");
	default:
		break;
	}
	start = s->p;
	switch (*s->p) {
	case '"':
		r = jscan_string(s, &k);
		break;
	case '{':
		if ((r = jscan_object(s)) != 0)
			break;
		while ((r = jscan_member(s, &k)) == 1)
			if (jscan_skip(s, NULL) != 0)
				return -1;
		break;
	case '[':
		if ((r = jscan_array(s)) != 0)
			break;
		while ((r = jscan_element(s)) == 1) {
			/* A number, the usual element, without the call. */
			ws(s);
			if (s->p < s->end && (*s->p == '-' || (unsigned)(*s->p - '0') < 10)) {
				if ((why = number(&s->p, s->end, NULL)) != NULL)
					return jscan_fail(s, "%s", why);
			} else if (jscan_skip(s, NULL) != 0)
				return -1;
		}
		break;
	case 't':
		r = literal(s, "true", 4);
		break;
	case 'f':
		r = literal(s, "false", 5);
		break;
	case 'n':
		r = literal(s, "null", 4);
		break;
	default:
		r = (why = number(&s->p, s->end, NULL)) == NULL ? 0 : jscan_fail(s, "%s", why);
		break;
	}
	if (r != 0)
		return -1;
	if (out != NULL) {
		out->p = start;
		out->n = (size_t)(s->p - start);
		out->esc = 0;
	}
	return 0;
}

int
jscan_check(struct jscan *s, const char *buf, size_t len)
{
	jscan_init(s, buf, len);
	if (jscan_skip(s, NULL) != 0)
		return -1;
	return jscan_finish(s);
}

int
jscan_span(struct jscan *s, struct jspan *out)
{
	const char *p, *end = s->end, *start;
	size_t depth = 0;

	switch (jscan_peek(s)) {
	case JSCAN_OBJECT:
	case JSCAN_ARRAY:
		break;
	default:
		return jscan_skip(s, out);
	}
	for (start = p = s->p; p < end; p++) {
		while (end - p >= 4 && !span_stop[(unsigned char)p[0]] && !span_stop[(unsigned char)p[1]] &&
		    !span_stop[(unsigned char)p[2]] && !span_stop[(unsigned char)p[3]])
			p += 4;
		while (p < end && !span_stop[(unsigned char)*p])
			p++;
		if (p >= end)
			break;
		switch (*p) {
		case '"':
			for (p++; p < end; p++) {
				while (end - p >= 4 && plain[(unsigned char)p[0]] && plain[(unsigned char)p[1]] &&
				    plain[(unsigned char)p[2]] && plain[(unsigned char)p[3]])
					p += 4;
				if (p >= end || *p == '"')
					break;
				if (*p == '\\' && ++p == end)
					break;
			}
			if (p >= end)
				return fail_at(s, start, "unterminated string");
			break;
		case '[':
		case '{':
			depth++;
			break;
		case ']':
		case '}':
			if (--depth == 0) {
				s->p = p + 1;
				out->p = start;
				out->n = (size_t)(s->p - start);
				out->esc = 0;
				return 0;
			}
			break;
		}
	}
	return fail_at(s, start, "unterminated %s", *start == '[' ? "array" : "object");
}
