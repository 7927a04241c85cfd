/* parse.c: q-score's request parser — a strict JSON reader that fills a score request in place, without building a tree. */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qscore.h"
#include "xalloc.h"

#define MAX_DEPTH 64

struct parser {
	const char *start, *p, *end;
	struct qs_worker *w;
	char *err;
	size_t errlen;
	int failed;
	int depth0;		/* the depth of the value read: 1 for an element of a batch */
};

static int
bad(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ps->failed)
		return -1;
	ps->failed = 1;
	n = snprintf(ps->err, ps->errlen, "bad JSON at column %zu: ", (size_t)(ps->p - ps->start) + 1);
	if (n > 0 && (size_t)n < ps->errlen) {
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* A field that is valid JSON but not what a score request wants. */
static int
wrong(struct parser *ps, const char *fmt, ...)
{
	va_list ap;

	if (ps->failed)
		return -1;
	ps->failed = 1;
	va_start(ap, fmt);
	vsnprintf(ps->err, ps->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Skips white space; a byte above ' ', the usual next one, ends it at the first test. */
static inline void
ws(struct parser *ps)
{
	const char *p = ps->p, *end = ps->end;

	while (p < end && (unsigned char)*p <= ' ' && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	ps->p = p;
}

static inline int
eat(struct parser *ps, char c)
{
	ws(ps);
	if (ps->p < ps->end && *ps->p == c) {
		ps->p++;
		return 1;
	}
	return 0;
}

static int
hex4(const char *s, unsigned *out)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = s[i];
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

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 when invalid. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len, i;
	unsigned cp;

	if (c < 0x80)
		return 1;
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
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/*
 * Reads a string at ps->p (the opening quote). With out != NULL the
 * unescaped bytes are written there (room for the raw length is the
 * caller's) and their count into *outlen.
 */
/* Bytes that a string holds as they are: printable ASCII but for '"' and '\\'. */
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

/* The bytes of an id taken as they are: those of plain[] but DEL, a control character in an id. */
static const unsigned char idplain[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
	R16(0), R16(0),
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	R16(1), R16(1),
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
	R16(1),
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,		/* 0x70: DEL is 0x7f */
	R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0)
#undef R16
};

static int
string(struct parser *ps, char *out, size_t *outlen)
{
	const char *p = ps->p + 1, *end = ps->end;
	size_t n = 0, l;
	unsigned u, lo;

	for (;;) {
		const char *run = p;
		while (p < end && plain[(unsigned char)*p])
			p++;
		if (out && p > run) {
			memcpy(out + n, run, (size_t)(p - run));
		}
		n += (size_t)(p - run);
		if (p >= end) {
			ps->p = p;
			return bad(ps, "unterminated string");
		}
		if (*p == '"')
			break;
		if ((unsigned char)*p < 0x20) {
			ps->p = p;
			return bad(ps, "control character in string");
		}
		if ((unsigned char)*p >= 0x80) {
			if ((l = utf8_len((const unsigned char *)p, (size_t)(end - p))) == 0) {
				ps->p = p;
				return bad(ps, "invalid UTF-8");
			}
			if (out)
				memcpy(out + n, p, l);
			n += l;
			p += l;
			continue;
		}
		/* an escape */
		if (p + 1 >= end) {
			ps->p = p;
			return bad(ps, "unterminated string");
		}
		switch (p[1]) {
		case '"': case '\\': case '/':
			if (out)
				out[n] = p[1];
			n++;
			p += 2;
			continue;
		case 'b': if (out) out[n] = '\b'; n++; p += 2; continue;
		case 'f': if (out) out[n] = '\f'; n++; p += 2; continue;
		case 'n': if (out) out[n] = '\n'; n++; p += 2; continue;
		case 'r': if (out) out[n] = '\r'; n++; p += 2; continue;
		case 't': if (out) out[n] = '\t'; n++; p += 2; continue;
		case 'u':
			break;
		default:
			ps->p = p;
			return bad(ps, "invalid escape");
		}
		if (end - p < 6 || hex4(p + 2, &u) != 0) {
			ps->p = p;
			return bad(ps, "invalid \\u escape");
		}
		p += 6;
		if (u >= 0xd800 && u <= 0xdbff) {
			if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff) {
				ps->p = p;
				return bad(ps, "unpaired surrogate");
			}
			p += 6;
			u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
		} else if (u >= 0xdc00 && u <= 0xdfff) {
			ps->p = p;
			return bad(ps, "unpaired surrogate");
		}
		if (u == 0) {
			ps->p = p;
			return bad(ps, "\\u0000 in string");
		}
		if (out) {
			if (u < 0x80)
				out[n] = (char)u;
			else if (u < 0x800) {
				out[n] = (char)(0xc0 | (u >> 6));
				out[n + 1] = (char)(0x80 | (u & 0x3f));
			} else if (u < 0x10000) {
				out[n] = (char)(0xe0 | (u >> 12));
				out[n + 1] = (char)(0x80 | ((u >> 6) & 0x3f));
				out[n + 2] = (char)(0x80 | (u & 0x3f));
			} else {
				out[n] = (char)(0xf0 | (u >> 18));
				out[n + 1] = (char)(0x80 | ((u >> 12) & 0x3f));
				out[n + 2] = (char)(0x80 | ((u >> 6) & 0x3f));
				out[n + 3] = (char)(0x80 | (u & 0x3f));
			}
		}
		n += u < 0x80 ? 1 : u < 0x800 ? 2 : u < 0x10000 ? 3 : 4;
	}
	ps->p = p + 1;
	if (outlen)
		*outlen = n;
	return 0;
}

static const double pow10_tab[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

/*
 * Reads a number. *is_int says whether it was written as an integer (no
 * fraction, no exponent) and then *iv holds it when it fits in int64.
 */
static int number_slow(struct parser *ps, double *out, int *is_int, int64_t *iv);

/*
 * The common case, "-?D+(.D+)?" with at most 18 digits and a separator
 * after it, read in one pass; anything else goes to number_slow().
 */
static inline int
number(struct parser *ps, double *out, int *is_int, int64_t *iv)
{
	const char *p = ps->p, *end = ps->end;
	uint64_t m = 0;
	int neg = 0, nd = 0, frac = 0;

	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	if (p >= end || *p < '0' || *p > '9' || (*p == '0' && p + 1 < end && p[1] >= '0' && p[1] <= '9'))
		return number_slow(ps, out, is_int, iv);
	while (p < end && *p >= '0' && *p <= '9') {
		m = m * 10 + (uint64_t)(*p++ - '0');
		nd++;
	}
	if (p < end && *p == '.') {
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return number_slow(ps, out, is_int, iv);
		while (p < end && *p >= '0' && *p <= '9') {
			m = m * 10 + (uint64_t)(*p++ - '0');
			nd++;
			frac++;
		}
	}
	if (nd > 18 || frac > 22 || (p < end && (*p == 'e' || *p == 'E')))
		return number_slow(ps, out, is_int, iv);
	*out = frac ? (double)m / pow10_tab[frac] : (double)m;
	if (neg)
		*out = -*out;
	*is_int = frac == 0 && p[-1] != '.';
	*iv = neg ? -(int64_t)m : (int64_t)m;
	ps->p = p;
	return 0;
}

/* Checks a number's syntax, with number()'s errors, and steps over it without reading its value. */
static int
number_skip(struct parser *ps)
{
	const char *p = ps->p, *end = ps->end;

	if (p < end && *p == '-')
		p++;
	if (p >= end || *p < '0' || *p > '9')
		return bad(ps, "invalid value");
	if (*p == '0') {
		p++;
		if (p < end && *p >= '0' && *p <= '9')
			return bad(ps, "leading zero in number");
	} else
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	if (p < end && *p == '.') {
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return bad(ps, "digit expected after '.'");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return bad(ps, "digit expected in exponent");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	ps->p = p;
	return 0;
}

static int
number_slow(struct parser *ps, double *out, int *is_int, int64_t *iv)
{
	const char *p = ps->p, *s = p, *end;
	uint64_t m = 0;
	int neg = 0, digits = 0, dropped = 0, frac = 0, e = 0, eneg = 0, integral = 1, ovf = 0;
	double v;

	/* the syntax first: what follows reads a well-formed number ending at end */
	if (number_skip(ps) != 0)
		return -1;
	end = ps->p;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (*p == '0')
		p++;
	else
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			if (digits < 19) {
				m = m * 10 + (uint64_t)(*p - '0');
				digits += m > 0;
			} else {
				dropped++;
				ovf = 1;
			}
		}
	if (p < end && *p == '.') {
		integral = 0;
		for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
			if (digits < 19) {
				m = m * 10 + (uint64_t)(*p - '0');
				digits += m > 0;
				frac++;
			}
		}
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		integral = 0;
		p++;
		if (*p == '+' || *p == '-')
			eneg = *p++ == '-';
		for (; p < end && *p >= '0' && *p <= '9'; p++)
			if (e < 100000)
				e = e * 10 + (*p - '0');
	}
	e = (eneg ? -e : e) + dropped - frac;
	if (m == 0)
		v = 0;
	else if (m < (1ULL << 53) && e >= -22 && e <= 22)
		v = e >= 0 ? (double)m * pow10_tab[e] : (double)m / pow10_tab[-e];
	else {
		char tmp[64];
		size_t n = (size_t)(p - s);
		if (n < sizeof tmp) {
			memcpy(tmp, s, n);
			tmp[n] = '\0';
			v = strtod(tmp, NULL);
		} else {
			char *t = xstrndup(s, n);
			v = strtod(t, NULL);
			free(t);
		}
		v = fabs(v);
	}
	*out = neg ? -v : v;
	*is_int = integral && !ovf && m <= (uint64_t)INT64_MAX;
	if (*is_int)
		*iv = neg ? -(int64_t)m : (int64_t)m;
	return 0;
}

static int
literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return bad(ps, "invalid value");
	ps->p += n;
	return 0;
}

/* Where a value sits, for error messages: fmt with one %zu (the index) or none. Formatted only on error. */
struct where {
	const char *fmt;
	size_t i;
};

static const char *
where_str(const struct where *wh, char *buf, size_t n)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
	snprintf(buf, n, wh->fmt, wh->i);
#pragma GCC diagnostic pop
	return buf;
}

/* Skips any value, checking its syntax. */
static int
skip(struct parser *ps, int depth)
{
	ws(ps);
	if (ps->p >= ps->end)
		return bad(ps, "value expected");
	if (depth + ps->depth0 > MAX_DEPTH)
		return bad(ps, "nested deeper than %d", MAX_DEPTH);
	switch (*ps->p) {
	case '"':
		return string(ps, NULL, NULL);
	case '{':
		ps->p++;
		if (eat(ps, '}'))
			return 0;
		do {
			ws(ps);
			if (ps->p >= ps->end || *ps->p != '"')
				return bad(ps, "string key expected");
			if (string(ps, NULL, NULL) != 0)
				return -1;
			if (!eat(ps, ':'))
				return bad(ps, "':' expected");
			if (skip(ps, depth + 1) != 0)
				return -1;
		} while (eat(ps, ','));
		return eat(ps, '}') ? 0 : bad(ps, "',' or '}' expected");
	case '[':
		ps->p++;
		if (eat(ps, ']'))
			return 0;
		do
			if (skip(ps, depth + 1) != 0)
				return -1;
		while (eat(ps, ','));
		return eat(ps, ']') ? 0 : bad(ps, "',' or ']' expected");
	case 't':
		return literal(ps, "true");
	case 'f':
		return literal(ps, "false");
	case 'n':
		return literal(ps, "null");
	default:
		return number_skip(ps);
	}
}

/* Reserves room for n more string bytes in w->sbuf; returns the write offset. */
static size_t
sreserve(struct qs_worker *w, size_t n)
{
	if (w->slen + n + 1 > w->scap) {
		w->scap = (w->slen + n + 1) * 2;
		w->sbuf = xrealloc(w->sbuf, w->scap);
	}
	return w->slen;
}

/* Appends the n bytes at src and a NUL to w->sbuf; returns their offset. */
static size_t
sput(struct qs_worker *w, const char *src, size_t n)
{
	size_t o = sreserve(w, n);

	memcpy(w->sbuf + o, src, n);
	w->sbuf[o + n] = '\0';
	w->slen = o + n + 1;
	return o;
}

/* Appends v to w->fbuf. */
static inline void
fput(struct qs_worker *w, float v)
{
	if (w->flen == w->fcap) {
		w->fcap = w->fcap ? 2 * w->fcap : 1024;
		w->fbuf = xreallocarray(w->fbuf, w->fcap, sizeof *w->fbuf);
	}
	w->fbuf[w->flen++] = v;
}

/*
 * Reads an id (a string of 1..EMB_ID_MAX bytes without control
 * characters, or an integer) into w->sbuf; *off and *len locate it. what
 * names the field for the error.
 */
static int
id(struct parser *ps, size_t *off, size_t *len, struct where wh)
{
	struct qs_worker *w = ps->w;
	size_t o, n, i;
	double d;
	int64_t iv;
	int isint;
	char what[96];

	ws(ps);
	if (ps->p >= ps->end)
		return bad(ps, "value expected");
	if (*ps->p == '"') {
		const char *q = ps->p + 1;
		while (q < ps->end && idplain[(unsigned char)*q])
			q++;
		if (q < ps->end && *q == '"' && q - ps->p - 1 <= EMB_ID_MAX && q > ps->p + 1) {
			/* the common case: no escapes, no UTF-8 or control character to check, the bytes as they are */
			n = (size_t)(q - ps->p - 1);
			*off = sput(w, ps->p + 1, n);
			*len = n;
			ps->p = q + 1;
			return 0;
		}
		o = sreserve(w, (size_t)(ps->end - ps->p));
		if (string(ps, w->sbuf + o, &n) != 0)
			return -1;
		if (n == 0)
			return wrong(ps, "%s: empty id", where_str(&wh, what, sizeof what));
		if (n > EMB_ID_MAX)
			return wrong(ps, "%s: id longer than %d bytes", where_str(&wh, what, sizeof what), EMB_ID_MAX);
		for (i = 0; i < n; i++)
			if ((unsigned char)w->sbuf[o + i] < 0x20 || w->sbuf[o + i] == 0x7f)
				return wrong(ps, "%s: control character in id", where_str(&wh, what, sizeof what));
	} else if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) {
		if (number(ps, &d, &isint, &iv) != 0)
			return -1;
		if (!isint)
			return wrong(ps, "%s: expected a string or integer id", where_str(&wh, what, sizeof what));
		o = sreserve(w, 24);
		n = (size_t)snprintf(w->sbuf + o, 24, "%lld", (long long)iv);
	} else {
		if (skip(ps, 1) != 0)
			return -1;
		return wrong(ps, "%s: expected a string or integer id", where_str(&wh, what, sizeof what));
	}
	w->sbuf[o + n] = '\0';
	w->slen = o + n + 1;
	*off = o;
	*len = n;
	return 0;
}

/*
 * The numbers of a request's arrays are nearly all "-?D+(.D+)?" of at most
 * 18 digits with ',' or ']' right after: such a number is read here in one
 * pass, to the same value as number() reads it, and *next set after it.
 * Returns 0, reading nothing, for anything else (number() then reads it or
 * says what is wrong).
 */
static inline int
plain_number(const char *p, const char *end, double *out, const char **next)
{
	const char *s, *f;
	uint64_t m = 0;
	int neg = 0;
	long nd, frac = 0;

	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	s = p;
	while (p < end && (unsigned)(*p - '0') < 10)
		m = m * 10 + (uint64_t)(*p++ - '0');
	nd = p - s;
	if (nd == 0 || (nd > 1 && *s == '0'))
		return 0;
	if (p < end && *p == '.') {
		f = ++p;
		while (p < end && (unsigned)(*p - '0') < 10)
			m = m * 10 + (uint64_t)(*p++ - '0');
		frac = p - f;
		if (frac == 0)
			return 0;
	}
	if (nd + frac > 18 || p >= end || (*p != ',' && *p != ']'))
		return 0;
	*out = frac ? (double)m / pow10_tab[frac] : (double)m;
	if (neg)
		*out = -*out;
	*next = p;
	return 1;
}

/*
 * Steps into the array the field wh holds: 0 after its '[', or -1 when the
 * value is not an array (checked for syntax, then refused: "WH: expected
 * WANT").
 */
static int
array_open(struct parser *ps, struct where wh, const char *want)
{
	char what[96];

	ws(ps);
	if (ps->p < ps->end && *ps->p == '[') {
		ps->p++;
		return 0;
	}
	if (skip(ps, 1) != 0)
		return -1;
	return wrong(ps, "%s: expected %s", where_str(&wh, what, sizeof what), want);
}

/* Reads an array of finite numbers into w->fbuf; *off and *n locate them. */
static int
floats(struct parser *ps, size_t *off, size_t *n, struct where wh)
{
	struct qs_worker *w = ps->w;
	double d;
	int64_t iv;
	int isint;
	char what[96];

	*off = w->flen;
	*n = 0;
	if (array_open(ps, wh, "an array of numbers") != 0)
		return -1;
	if (eat(ps, ']'))
		return 0;
	for (;;) {
		const char *next;
		ws(ps);
		if (plain_number(ps->p, ps->end, &d, &next)) {
			/* at most 18 digits: finite and within a float's range; next is at the ',' or ']' */
			fput(w, (float)d);
			(*n)++;
			ps->p = next + 1;
			if (*next == ']')
				return 0;
			continue;
		}
		if (ps->p < ps->end && (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))) {
			if (number(ps, &d, &isint, &iv) != 0)
				return -1;
		} else {
			if (skip(ps, 1) != 0)
				return -1;
			return wrong(ps, "%s[%zu]: expected a number", where_str(&wh, what, sizeof what), *n);
		}
		if (!isfinite(d) || fabs(d) > FLT_MAX)
			return wrong(ps, "%s[%zu]: not a finite float", where_str(&wh, what, sizeof what), *n);
		fput(w, (float)d);
		(*n)++;
		if (!eat(ps, ','))
			break;
	}
	return eat(ps, ']') ? 0 : bad(ps, "',' or ']' expected");
}

/* Reads a key (into buf, truncated to bufsize-1 bytes) and the ':' after it. */
static int
key(struct parser *ps, char *buf, size_t bufsize)
{
	const char *s;
	size_t n;

	ws(ps);
	if (ps->p >= ps->end || *ps->p != '"')
		return bad(ps, "string key expected");
	s = ps->p + 1;
	if (string(ps, NULL, NULL) != 0)
		return -1;
	n = (size_t)(ps->p - 1 - s);	/* raw bytes: keys we know have no escapes */
	if (n >= bufsize)
		n = 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (!eat(ps, ':'))
		return bad(ps, "':' expected");
	return 0;
}

/*
 * Whether the next key is the one written qword (with its quotes, n bytes,
 * no escapes): then it and its ':' are read. Else nothing is, and key()
 * reads the key (and reports what is wrong with it) as for any other.
 */
static inline int
key_is(struct parser *ps, const char *qword, size_t n)
{
	const char *save;

	ws(ps);
	if ((size_t)(ps->end - ps->p) <= n || memcmp(ps->p, qword, n) != 0)
		return 0;
	save = ps->p;
	ps->p += n;
	if (eat(ps, ':'))
		return 1;
	ps->p = save;
	return 0;
}

static void
cand_reserve(struct qs_worker *w, size_t n)
{
	if (n <= w->ccap)
		return;
	w->ccap = n * 2;
	w->coff = xreallocarray(w->coff, w->ccap, sizeof *w->coff);
	w->clen = xreallocarray(w->clen, w->ccap, sizeof *w->clen);
	w->cfoff = xreallocarray(w->cfoff, w->ccap, sizeof *w->cfoff);
	w->cfn = xreallocarray(w->cfn, w->ccap, sizeof *w->cfn);
}

static void
hist_reserve(struct qs_worker *w, size_t n)
{
	if (n <= w->hcap2)
		return;
	w->hcap2 = n * 2;
	w->hoff = xreallocarray(w->hoff, w->hcap2, sizeof *w->hoff);
	w->hlen2 = xreallocarray(w->hlen2, w->hcap2, sizeof *w->hlen2);
}

/*
 * Nearly every candidate is written {"item_id":"ID","features":[N,...]}:
 * no white space, an id without escapes, numbers plain_number() reads. Such
 * a candidate i is read here in one pass, to what candidate() reads from it.
 * Returns 0, having read nothing, for anything else (candidate() then reads
 * it, or says what is wrong).
 */
static int
candidate_fast(struct parser *ps, size_t i)
{
	static const char k1[] = "{\"item_id\":\"", k2[] = ",\"features\":[";
	struct qs_worker *w = ps->w;
	const char *p = ps->p, *end = ps->end, *s, *next;
	size_t n, flen = w->flen, nf = 0;
	double d;

	if ((size_t)(end - p) < sizeof k1 + sizeof k2 || memcmp(p, k1, sizeof k1 - 1) != 0)
		return 0;
	s = p += sizeof k1 - 1;
	while (p < end && idplain[(unsigned char)*p])
		p++;
	n = (size_t)(p - s);
	/* the id's closing quote, then k2 */
	if (n == 0 || n > EMB_ID_MAX || (size_t)(end - p) < sizeof k2 + 1 || *p != '"' ||
	    memcmp(p + 1, k2, sizeof k2 - 1) != 0)
		return 0;
	p += sizeof k2;
	if (*p == ']')
		p++;
	else
		for (;;) {
			if (!plain_number(p, end, &d, &next)) {
				w->flen = flen;
				return 0;
			}
			fput(w, (float)d);
			nf++;
			p = next + 1;
			if (*next == ']')
				break;
		}
	if (p >= end || *p != '}') {
		w->flen = flen;
		return 0;
	}
	w->coff[i] = sput(w, s, n);
	w->clen[i] = n;
	w->cfoff[i] = flen;
	w->cfn[i] = nf;
	ps->p = p + 1;
	return 1;
}

static int
candidate(struct parser *ps, size_t i, size_t max_cands)
{
	struct qs_worker *w = ps->w;
	char k[16];
	int have_id = 0, have_f = 0;

	if (i >= max_cands) {
		if (skip(ps, 2) != 0)
			return -1;
		return wrong(ps, "field 'candidates': more than %zu candidates", max_cands);
	}
	ws(ps);
	cand_reserve(w, i + 1);
	if (candidate_fast(ps, i))
		return 0;
	if (ps->p >= ps->end || *ps->p != '{') {
		if (skip(ps, 2) != 0)
			return -1;
		return wrong(ps, "candidates[%zu]: not an object", i);
	}
	ps->p++;
	w->cfn[i] = 0;
	w->cfoff[i] = SIZE_MAX;
	if (!eat(ps, '}')) {
		do {
			int f = 0;
			if (key_is(ps, "\"item_id\"", 9))
				f = 1;
			else if (key_is(ps, "\"features\"", 10))
				f = 2;
			else if (key(ps, k, sizeof k) != 0)
				return -1;
			else
				f = strcmp(k, "item_id") == 0 ? 1 : strcmp(k, "features") == 0 ? 2 : 0;
			if (f == 1) {
				if (have_id++)
					return wrong(ps, "candidates[%zu]: field 'item_id': given twice", i);
				if (id(ps, &w->coff[i], &w->clen[i], (struct where){ "candidates[%zu]: field 'item_id'", i }) != 0)
					return -1;
			} else if (f == 2) {
				if (have_f++)
					return wrong(ps, "candidates[%zu]: field 'features': given twice", i);
				if (floats(ps, &w->cfoff[i], &w->cfn[i], (struct where){ "candidates[%zu]: field 'features'", i }) != 0)
					return -1;
			} else if (skip(ps, 3) != 0)
				return -1;
		} while (eat(ps, ','));
		if (!eat(ps, '}'))
			return bad(ps, "',' or '}' expected");
	}
	if (!have_id)
		return wrong(ps, "candidates[%zu]: missing field 'item_id'", i);
	return 0;
}

/*
 * The fields of a request object, from after its '{' to after its '}', into
 * rq and the worker's buffers; *seen_id tells whether it had a request_id.
 */
static int
fields(struct parser *ps, size_t max_cands, struct qs_req *rq, int *seen_id)
{
	struct qs_worker *w = ps->w;
	char k[16];
	size_t off, n;
	double d;
	int64_t iv;
	int isint, seen_user = 0, seen_k = 0;

	*seen_id = 0;
	if (eat(ps, '}'))
		return 0;
	do {
		if (key(ps, k, sizeof k) != 0)
			return -1;
		if (strcmp(k, "request_id") == 0) {
			if ((*seen_id)++)
				return wrong(ps, "field 'request_id': given twice");
			if (id(ps, &off, &n, (struct where){ "field 'request_id'", 0 }) != 0)
				return -1;
			memcpy(rq->request_id, w->sbuf + off, n + 1);
		} else if (strcmp(k, "user_id") == 0) {
			if (seen_user++)
				return wrong(ps, "field 'user_id': given twice");
			if (id(ps, &off, &n, (struct where){ "field 'user_id'", 0 }) != 0)
				return -1;
			memcpy(rq->user_id, w->sbuf + off, n + 1);
			rq->has_user = 1;
		} else if (strcmp(k, "hist") == 0) {
			if (rq->has_hist++)
				return wrong(ps, "field 'hist': given twice");
			if (array_open(ps, (struct where){ "field 'hist'", 0 }, "an array of ids") != 0)
				return -1;
			if (!eat(ps, ']')) {
				do {
					hist_reserve(w, rq->nhist + 1);
					if (id(ps, &w->hoff[rq->nhist], &w->hlen2[rq->nhist],
					    (struct where){ "field 'hist'[%zu]", rq->nhist }) != 0)
						return -1;
					rq->nhist++;
				} while (eat(ps, ','));
				if (!eat(ps, ']'))
					return bad(ps, "',' or ']' expected");
			}
		} else if (strcmp(k, "context") == 0) {
			if (rq->has_ctx++)
				return wrong(ps, "field 'context': given twice");
			if (floats(ps, &rq->ctx_off, &rq->nctx, (struct where){ "field 'context'", 0 }) != 0)
				return -1;
		} else if (strcmp(k, "candidates") == 0) {
			if (rq->has_cands++)
				return wrong(ps, "field 'candidates': given twice");
			if (array_open(ps, (struct where){ "field 'candidates'", 0 }, "an array") != 0)
				return -1;
			if (!eat(ps, ']')) {
				do {
					if (candidate(ps, rq->ncand, max_cands) != 0)
						return -1;
					rq->ncand++;
				} while (eat(ps, ','));
				if (!eat(ps, ']'))
					return bad(ps, "',' or ']' expected");
			}
		} else if (strcmp(k, "k") == 0) {
			if (seen_k++)
				return wrong(ps, "field 'k': given twice");
			ws(ps);
			if (ps->p < ps->end && (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))) {
				if (number(ps, &d, &isint, &iv) != 0)
					return -1;
				if (!isint && d == floor(d) && fabs(d) < 9e18) {
					isint = 1;
					iv = (int64_t)d;
				}
			} else {
				if (skip(ps, 1) != 0)
					return -1;
				isint = 0;
			}
			if (!isint || iv < 0 || iv > 1000000000)
				return wrong(ps, "field 'k': expected an integer in [0, 1000000000] (0: every candidate)");
			rq->k = iv == 0 ? QS_K_ALL : (size_t)iv;
		} else if (skip(ps, 1) != 0)
			return -1;
	} while (eat(ps, ','));
	if (!eat(ps, '}'))
		return bad(ps, "',' or '}' expected");
	return 0;
}

/* Empties rq and the worker's parse buffers for the next request. */
static void
parse_reset(struct qs_worker *w, struct qs_req *rq)
{
	memset(rq, 0, sizeof *rq);
	w->slen = 0;
	w->flen = 0;
}

int
qs_parse(struct qs_worker *w, const char *buf, size_t len, size_t max_cands, struct qs_req *rq,
    char *err, size_t errlen)
{
	struct parser ps = { buf, buf, buf + len, w, err, errlen, 0, 0 };
	int seen_id;

	parse_reset(w, rq);
	if (!eat(&ps, '{')) {
		ws(&ps);
		if (ps.p < ps.end && skip(&ps, 0) == 0 && (ws(&ps), ps.p == ps.end))
			return wrong(&ps, "not a JSON object");
		return bad(&ps, "'{' expected");
	}
	if (fields(&ps, max_cands, rq, &seen_id) != 0)
		return -1;
	ws(&ps);
	if (ps.p != ps.end)
		return bad(&ps, "trailing characters after the object");
	if (!seen_id)
		return wrong(&ps, "missing field 'request_id'");
	if (!rq->has_cands)
		return wrong(&ps, "missing field 'candidates'");
	return 0;
}

/*
 * A batch body, walked once: each element is read as a request as it is
 * reached (the parser then stops at its '}', and scanning it again to find
 * its end is not needed). Only an element that is not a well-formed request
 * is read a second time, by skip(), which checks its syntax and finds its
 * end; the messages and the nesting limit are those of a lone request.
 */
int
qs_batch_open(struct qs_batch *b, const char *buf, size_t len, char *err, size_t errlen)
{
	struct parser ps = { buf, buf, buf + len, NULL, err, errlen, 0, 0 };

	b->buf = buf;
	b->len = len;
	b->pos = 0;
	b->n = 0;
	b->err = err;
	b->errlen = errlen;
	if (!eat(&ps, '['))
		return bad(&ps, "'[' expected");
	b->pos = (size_t)(ps.p - buf);
	return 0;
}

int
qs_batch_next(struct qs_batch *b, struct qs_worker *w, size_t max_cands, struct qs_req *rq, size_t *start,
    size_t *end, int *parsed)
{
	struct parser ps = { b->buf, b->buf + b->pos, b->buf + b->len, NULL, b->err, b->errlen, 0, 0 };
	char scratch[8];
	int seen_id;

	*parsed = 0;
	if (b->n == 0 ? eat(&ps, ']') : !eat(&ps, ',')) {
		if (b->n > 0 && !eat(&ps, ']'))
			return bad(&ps, "',' or ']' expected");
		ws(&ps);
		if (ps.p != ps.end)
			return bad(&ps, "trailing characters after the array");
		return 0;	/* pos stays before the end: called again, it says 0 again */
	}
	ws(&ps);
	*start = (size_t)(ps.p - b->buf);
	if (w != NULL) {
		struct parser el = { b->buf, ps.p, ps.end, w, scratch, sizeof scratch, 0, 1 };

		parse_reset(w, rq);
		if (eat(&el, '{') && fields(&el, max_cands, rq, &seen_id) == 0 && seen_id && rq->has_cands) {
			ps.p = el.p;
			*parsed = 1;
		}
	}
	if (!*parsed && skip(&ps, 1) != 0)
		return -1;
	*end = (size_t)(ps.p - b->buf);
	b->pos = *end;
	b->n++;
	return 1;
}
