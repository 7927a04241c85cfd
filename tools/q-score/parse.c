/* parse.c: q-score's request parser — reads a score request with common/jscan and fills it in place, without building a tree. */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jscan.h"
#include "qscore.h"
#include "xalloc.h"

/*
 * The request's own shapes (an object of known fields, arrays of numbers,
 * the usual candidate) are read here in one pass; every other value, and
 * every string with an escape or a number out of the usual, is read by
 * common/jscan from where the parser stands, so that what is refused and
 * the reason are those of every other reader.
 */
struct parser {
	const char *start, *p, *end;
	struct qs_worker *w;
	char *err;
	size_t errlen;
	int failed;
	int depth0;		/* the depth of the value read: 1 for an element of a batch */
	struct jscan js;	/* over the rest of the buffer, for what the parser leaves to it */
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

/* Starts the scanner at ps->p, a value inside depth containers of the document. */
static struct jscan *
sub(struct parser *ps, int depth)
{
	jscan_init(&ps->js, ps->p, (size_t)(ps->end - ps->p));
	jscan_nest(&ps->js, ps->start, ps->depth0 + depth);
	return &ps->js;
}

/* After a read by the scanner r: the parser goes on after it, or takes its reason. */
static int
sub_end(struct parser *ps, int r)
{
	if (r != 0) {
		if (!ps->failed) {
			ps->failed = 1;
			snprintf(ps->err, ps->errlen, "%s", ps->js.err);
		}
		return -1;
	}
	ps->p = ps->js.p;
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
static int
number_slow(struct parser *ps, double *out, int *is_int, int64_t *iv)
{
	struct jscan_num v;

	if (sub_end(ps, jscan_number(sub(ps, 0), &v)) != 0)
		return -1;
	*out = v.d;
	*is_int = v.is_int;
	*iv = v.i;
	return 0;
}

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

/* Skips any value, checking it as jscan does; depth: the containers around it. */
static int
skip(struct parser *ps, int depth)
{
	return sub_end(ps, jscan_skip(sub(ps, depth), NULL));
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
	struct jspan sp;
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
		if (sub_end(ps, jscan_string(sub(ps, 1), &sp)) != 0)
			return -1;
		o = sreserve(w, sp.n);
		n = jscan_unescape(&sp, w->sbuf + o);
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
	struct jspan sp;
	size_t n;

	ws(ps);
	if (ps->p >= ps->end || *ps->p != '"')
		return bad(ps, "string key expected");
	if (sub_end(ps, jscan_string(sub(ps, 1), &sp)) != 0)
		return -1;
	n = sp.n;	/* raw bytes: keys we know have no escapes */
	if (n >= bufsize)
		n = 0;
	memcpy(buf, sp.p, n);
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

/* A request object and nothing after it: 0, or -1 at the first fault met. */
static int
request(struct parser *ps, size_t max_cands, struct qs_req *rq)
{
	int seen_id;

	if (!eat(ps, '{')) {
		ws(ps);
		if (ps->p < ps->end && skip(ps, 0) == 0 && (ws(ps), ps->p == ps->end))
			return wrong(ps, "not a JSON object");
		return bad(ps, "'{' expected");
	}
	if (fields(ps, max_cands, rq, &seen_id) != 0)
		return -1;
	ws(ps);
	if (ps->p != ps->end)
		return bad(ps, "trailing characters after the object");
	if (!seen_id)
		return wrong(ps, "missing field 'request_id'");
	if (!rq->has_cands)
		return wrong(ps, "missing field 'candidates'");
	return 0;
}

/*
 * A refused request is checked whole by jscan: when it is not valid JSON,
 * the reason is jscan's first fault, the one every reader gives for that
 * text, and not a field error met before it.
 */
int
qs_parse(struct qs_worker *w, const char *buf, size_t len, size_t max_cands, struct qs_req *rq,
    char *err, size_t errlen)
{
	struct parser ps = { .start = buf, .p = buf, .end = buf + len, .w = w, .err = err, .errlen = errlen };
	int r;

	parse_reset(w, rq);
	if ((r = request(&ps, max_cands, rq)) != 0 && jscan_check(&ps.js, buf, len) != 0)
		snprintf(err, errlen, "%s", ps.js.err);
	jscan_free(&ps.js);
	return r;
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
	struct parser ps = { .start = buf, .p = buf, .end = buf + len, .err = err, .errlen = errlen };

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

/* The next element of the batch b, ps standing after the last one read; see qs_batch_next(). */
static int
batch_next(struct qs_batch *b, struct parser *ps, struct qs_worker *w, size_t max_cands, struct qs_req *rq,
    size_t *start, size_t *end, int *parsed)
{
	char scratch[8];
	int seen_id, r;

	*parsed = 0;
	if (b->n == 0 ? eat(ps, ']') : !eat(ps, ',')) {
		if (b->n > 0 && !eat(ps, ']'))
			return bad(ps, "',' or ']' expected");
		ws(ps);
		if (ps->p != ps->end)
			return bad(ps, "trailing characters after the array");
		return 0;	/* pos stays before the end: called again, it says 0 again */
	}
	ws(ps);
	*start = (size_t)(ps->p - b->buf);
	if (w != NULL) {
		struct parser el = { .start = b->buf, .p = ps->p, .end = ps->end, .w = w, .err = scratch,
		    .errlen = sizeof scratch, .depth0 = 1 };

		parse_reset(w, rq);
		r = eat(&el, '{') && fields(&el, max_cands, rq, &seen_id) == 0 && seen_id && rq->has_cands;
		jscan_free(&el.js);
		if (r) {
			ps->p = el.p;
			*parsed = 1;
		}
	}
	if (!*parsed && skip(ps, 1) != 0)
		return -1;
	*end = (size_t)(ps->p - b->buf);
	b->pos = *end;
	b->n++;
	return 1;
}

int
qs_batch_next(struct qs_batch *b, struct qs_worker *w, size_t max_cands, struct qs_req *rq, size_t *start,
    size_t *end, int *parsed)
{
	struct parser ps = { .start = b->buf, .p = b->buf + b->pos, .end = b->buf + b->len, .err = b->err,
	    .errlen = b->errlen };
	int r;

	r = batch_next(b, &ps, w, max_cands, rq, start, end, parsed);
	jscan_free(&ps.js);
	return r;
}
