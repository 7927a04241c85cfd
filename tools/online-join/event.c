/* event.c: online-join's view of a canonical event — read by a fast scanner, or from a jansson object when it cannot. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "jsonx.h"
#include "xalloc.h"

#define MAX_KEYS	64	/* keys of one object the fast path handles */
#define MAX_DEPTH	16	/* arrays nested in a skipped value */

struct jev_reader {
	struct jev_item *items;
	float *floats;
	size_t cap_floats;
	char ids[6][257];	/* the jansson path's top-level ids */
	char *item_ids;		/* and its item ids, 257 bytes each */
};

/* The scanner over one line. */
struct scan {
	const char *p, *end;
};

struct jev_reader *
jev_reader_new(void)
{
	struct jev_reader *r = xcalloc(1, sizeof *r);

	r->items = xreallocarray(NULL, JEV_MAX_ITEMS, sizeof *r->items);
	r->cap_floats = JEV_MAX_CONTEXT + JEV_MAX_FEATURES;
	r->floats = xreallocarray(NULL, r->cap_floats, sizeof *r->floats);
	r->item_ids = xmalloc((size_t)JEV_MAX_ITEMS * 257);
	return r;
}

void
jev_reader_free(struct jev_reader *r)
{
	if (r == NULL)
		return;
	free(r->items);
	free(r->floats);
	free(r->item_ids);
	free(r);
}

/* Makes room for n more floats after used. */
static void
floats_need(struct jev_reader *r, size_t used, size_t n)
{
	if (used + n <= r->cap_floats)
		return;
	r->cap_floats = (used + n) * 2;
	r->floats = xreallocarray(r->floats, r->cap_floats, sizeof *r->floats);
}

/* ---- the fast path ---- */

static void
ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int
expect(struct scan *s, char c)
{
	ws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return 1;
	}
	return 0;
}

/* A string of printable ASCII without escapes; 0 for anything else. */
static int
scan_str(struct scan *s, struct jstr *out)
{
	const char *q;

	ws(s);
	if (s->p >= s->end || *s->p != '"')
		return 0;
	for (q = ++s->p; q < s->end && *q != '"'; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f || *q == '\\')
			return 0;
	if (q >= s->end)
		return 0;
	out->p = s->p;
	out->n = (size_t)(q - s->p);
	s->p = q + 1;
	return 1;
}

/* An id: a string of 1 to 256 bytes. */
static int
scan_id(struct scan *s, struct jstr *out)
{
	return scan_str(s, out) && out->n > 0 && out->n <= 256;
}

static const double pow10_exact[] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

/*
 * A JSON number, as a double rounded exactly as strtod() would (the exact
 * fast path when the digits fit, else strtod). *is_int says whether it had
 * neither fraction nor exponent. 0 when it is not a number.
 */
static int
scan_num(struct scan *s, double *out, int *is_int)
{
	const char *p, *start;
	uint64_t m = 0;
	int neg = 0, digits = 0, e10 = 0, esign = 1, ev = 0;

	ws(s);
	p = start = s->p;
	if (p < s->end && *p == '-') {
		neg = 1;
		p++;
	}
	if (p >= s->end || *p < '0' || *p > '9')
		return 0;
	if (*p == '0')
		p++;
	else
		for (; p < s->end && *p >= '0' && *p <= '9'; p++) {
			if (digits < 19)
				m = m * 10 + (uint64_t)(*p - '0');
			else
				e10++;
			digits += digits > 0 || *p != '0';
		}
	*is_int = 1;
	if (p < s->end && *p == '.') {
		*is_int = 0;
		if (++p >= s->end || *p < '0' || *p > '9')
			return 0;
		for (; p < s->end && *p >= '0' && *p <= '9'; p++) {
			if (digits < 19) {
				m = m * 10 + (uint64_t)(*p - '0');
				e10--;
			}
			digits += digits > 0 || *p != '0';
		}
	}
	if (p < s->end && (*p == 'e' || *p == 'E')) {
		*is_int = 0;
		p++;
		if (p < s->end && (*p == '+' || *p == '-'))
			esign = *p++ == '-' ? -1 : 1;
		if (p >= s->end || *p < '0' || *p > '9')
			return 0;
		for (; p < s->end && *p >= '0' && *p <= '9'; p++)
			if (ev < 100000)
				ev = ev * 10 + (*p - '0');
		e10 += esign * ev;
	}
	s->p = p;
	if (*is_int && digits > 18)	/* beyond what jansson takes as an integer */
		return 0;
	if (digits <= 19 && m <= (1ULL << 53) && e10 >= -22 && e10 <= 22) {
		double d = (double)m;

		d = e10 >= 0 ? d * pow10_exact[e10] : d / pow10_exact[-e10];
		*out = neg ? -d : d;
		return 1;
	}
	{
		char tmp[64];
		size_t n = (size_t)(p - start);

		if (n >= sizeof tmp)
			return 0;
		memcpy(tmp, start, n);
		tmp[n] = '\0';
		*out = strtod(tmp, NULL);
		return isfinite(*out);
	}
}

/* An integer in [lo, hi] without fraction or exponent. */
static int
scan_int(struct scan *s, int64_t lo, int64_t hi, int64_t *out)
{
	double d;
	int is_int;

	if (!scan_num(s, &d, &is_int) || !is_int || d < (double)lo || d > (double)hi ||
	    fabs(d) > 9007199254740992.0)
		return 0;
	*out = (int64_t)d;
	return 1;
}

/* An array of at most maxn numbers that fit a float, appended to r->floats at *used. */
static int
scan_floats(struct jev_reader *r, struct scan *s, size_t maxn, size_t *used, size_t *n)
{
	double d;
	int is_int;

	*n = 0;
	if (!expect(s, '['))
		return 0;
	if (expect(s, ']'))
		return 1;
	floats_need(r, *used, maxn);
	do {
		if (*n == maxn || !scan_num(s, &d, &is_int) || fabs(d) > 3.4e38)
			return 0;
		r->floats[(*used)++] = (float)d;
		(*n)++;
	} while (expect(s, ','));
	return expect(s, ']');
}

/* Skips a value made of strings, numbers, literals and arrays (an object: 0, left to jansson). */
static int
skip_value(struct scan *s, int depth)
{
	struct jstr str;
	double d;
	int is_int;

	ws(s);
	if (s->p >= s->end)
		return 0;
	switch (*s->p) {
	case '"':
		return scan_str(s, &str);
	case '[':
		if (depth >= MAX_DEPTH)
			return 0;
		s->p++;
		if (expect(s, ']'))
			return 1;
		do {
			if (!skip_value(s, depth + 1))
				return 0;
		} while (expect(s, ','));
		return expect(s, ']');
	case 't':
		if (s->end - s->p >= 4 && memcmp(s->p, "true", 4) == 0) {
			s->p += 4;
			return 1;
		}
		return 0;
	case 'f':
		if (s->end - s->p >= 5 && memcmp(s->p, "false", 5) == 0) {
			s->p += 5;
			return 1;
		}
		return 0;
	case 'n':
		if (s->end - s->p >= 4 && memcmp(s->p, "null", 4) == 0) {
			s->p += 4;
			return 1;
		}
		return 0;
	default:
		return scan_num(s, &d, &is_int);
	}
}

/* Reads a key and the colon after it, refusing a key seen before in this object. */
static int
scan_key(struct scan *s, struct jstr *keys, size_t *nkeys, struct jstr *key)
{
	size_t i;

	if (*nkeys == MAX_KEYS || !scan_str(s, key) || !expect(s, ':'))
		return 0;
	for (i = 0; i < *nkeys; i++)
		if (keys[i].n == key->n && memcmp(keys[i].p, key->p, key->n) == 0)
			return 0;
	keys[(*nkeys)++] = *key;
	return 1;
}

#define KEY_IS(k, lit) ((k).n == sizeof(lit) - 1 && memcmp((k).p, (lit), sizeof(lit) - 1) == 0)

static int
scan_item(struct jev_reader *r, struct scan *s, struct jev_item *it, size_t *used)
{
	struct jstr keys[MAX_KEYS], k;
	size_t nkeys = 0, n;
	int64_t pos = -1;
	double prop;
	int is_int;

	it->id.p = NULL;
	it->prop = NAN;
	it->nfeat = 0;
	it->feat_off = (uint32_t)*used;
	if (!expect(s, '{'))
		return 0;
	if (expect(s, '}'))
		return 0;
	do {
		if (!scan_key(s, keys, &nkeys, &k))
			return 0;
		if (KEY_IS(k, "item_id")) {
			if (!scan_id(s, &it->id))
				return 0;
		} else if (KEY_IS(k, "pos")) {
			if (!scan_int(s, 0, INT32_MAX, &pos))
				return 0;
		} else if (KEY_IS(k, "propensity")) {
			if (!scan_num(s, &prop, &is_int) || prop < 0 || prop > 1)
				return 0;
			it->prop = (float)prop;
		} else if (KEY_IS(k, "features")) {
			it->feat_off = (uint32_t)*used;
			if (!scan_floats(r, s, JEV_MAX_FEATURES, used, &n))
				return 0;
			it->nfeat = (uint16_t)n;
		} else if (!skip_value(s, 0))
			return 0;
	} while (expect(s, ','));
	if (!expect(s, '}') || it->id.p == NULL || pos < 0)
		return 0;
	it->pos = (int32_t)pos;
	return 1;
}

int
jev_parse(struct jev_reader *r, const char *buf, size_t len, struct jev *ev)
{
	struct scan s = { buf, buf + len };
	struct jstr keys[MAX_KEYS], k, type = { NULL, 0 };
	size_t nkeys = 0, used = 0, n, ctx_off = 0;
	int64_t page = -1, ts = 0;
	int have_ts = 0, have_items = 0, have_ctx = 0;

	memset(ev, 0, sizeof *ev);
	ev->items = r->items;
	if (!expect(&s, '{') || expect(&s, '}'))
		return 0;
	do {
		if (!scan_key(&s, keys, &nkeys, &k))
			return 0;
		if (KEY_IS(k, "type")) {
			if (!scan_str(&s, &type))
				return 0;
		} else if (KEY_IS(k, "ts")) {
			if (!scan_int(&s, INT64_MIN / 2, INT64_MAX / 2, &ts))
				return 0;
			have_ts = 1;
		} else if (KEY_IS(k, "request_id")) {
			if (!scan_id(&s, &ev->rid))
				return 0;
		} else if (KEY_IS(k, "user_id")) {
			if (!scan_id(&s, &ev->uid))
				return 0;
		} else if (KEY_IS(k, "session_id")) {
			if (!scan_id(&s, &ev->sid))
				return 0;
		} else if (KEY_IS(k, "policy")) {
			if (!scan_id(&s, &ev->pol))
				return 0;
		} else if (KEY_IS(k, "item_id")) {
			if (!scan_id(&s, &ev->item))
				return 0;
		} else if (KEY_IS(k, "event_id")) {
			if (!scan_id(&s, &ev->eid))
				return 0;
		} else if (KEY_IS(k, "page")) {
			if (!scan_int(&s, 0, INT32_MAX, &page))
				return 0;
		} else if (KEY_IS(k, "context")) {
			ctx_off = used;
			if (!scan_floats(r, &s, JEV_MAX_CONTEXT, &used, &n))
				return 0;
			ev->nctx = n;
			have_ctx = 1;
		} else if (KEY_IS(k, "items")) {
			if (!expect(&s, '[') || expect(&s, ']'))
				return 0;
			do {
				if (ev->nitems == JEV_MAX_ITEMS ||
				    !scan_item(r, &s, &r->items[ev->nitems], &used))
					return 0;
				ev->nitems++;
			} while (expect(&s, ','));
			if (!expect(&s, ']'))
				return 0;
			have_items = 1;
		} else if (!skip_value(&s, 0))
			return 0;
	} while (expect(&s, ','));
	if (!expect(&s, '}'))
		return 0;
	ws(&s);
	if (s.p != s.end || type.p == NULL || !have_ts || ev->rid.p == NULL || ev->uid.p == NULL)
		return 0;
	if (KEY_IS(type, "impression")) {
		if (page < 0 || !have_items)
			return 0;
		ev->type = JEV_IMPRESSION;
		ev->page = (int32_t)page;
		ev->ctx_off = have_ctx ? ctx_off : 0;
	} else if (KEY_IS(type, "click") || KEY_IS(type, "pay")) {
		if (ev->item.p == NULL)
			return 0;
		ev->type = KEY_IS(type, "click") ? JEV_CLICK : JEV_PAY;
	} else
		return 0;
	ev->ts = ts;
	ev->floats = r->floats;
	return 1;
}

/* ---- the full path ---- */

static int
fail(char *err, size_t errlen, const char *what, const char *reason)
{
	snprintf(err, errlen, "%s%s", what, reason);
	return -1;
}

/* An optional id into buf: absent leaves *out absent. */
static int
json_id(const json_t *obj, const char *key, int required, char buf[257], struct jstr *out,
    const char *where, char *err, size_t errlen)
{
	char e[256];

	out->p = NULL;
	out->n = 0;
	if (!required && json_object_get(obj, key) == NULL)
		return 0;
	if (jsonx_get_id(obj, key, buf, e, sizeof e) == -1)
		return fail(err, errlen, where, e);
	out->p = buf;
	out->n = strlen(buf);
	return 0;
}

int
jev_from_json(struct jev_reader *r, const json_t *obj, struct jev *ev, char *err, size_t errlen)
{
	const json_t *items, *x;
	const char *type;
	char e[256];
	size_t used = 0, n, i;
	int64_t v;
	double prop;

	memset(ev, 0, sizeof *ev);
	ev->items = r->items;
	ev->floats = r->floats;
	if ((type = json_string_value(json_object_get(obj, "type"))) == NULL)
		return fail(err, errlen, "", "field 'type': expected impression, click or pay");
	if (strcmp(type, "impression") == 0)
		ev->type = JEV_IMPRESSION;
	else if (strcmp(type, "click") == 0)
		ev->type = JEV_CLICK;
	else if (strcmp(type, "pay") == 0)
		ev->type = JEV_PAY;
	else
		return fail(err, errlen, "", "field 'type': expected impression, click or pay");
	if (jsonx_get_ts(obj, "ts", &ev->ts, e, sizeof e) == -1)
		return fail(err, errlen, "", e);
	/* The fast path's range: beyond it, ts plus a window would overflow. */
	if (ev->ts < INT64_MIN / 2 || ev->ts > INT64_MAX / 2)
		return fail(err, errlen, "", "field 'ts': out of range");
	if (json_id(obj, "request_id", 1, r->ids[0], &ev->rid, "", err, errlen) == -1 ||
	    json_id(obj, "user_id", 1, r->ids[1], &ev->uid, "", err, errlen) == -1)
		return -1;
	if (ev->type != JEV_IMPRESSION)
		return json_id(obj, "item_id", 1, r->ids[2], &ev->item, "", err, errlen) == -1 ||
		    json_id(obj, "event_id", 0, r->ids[3], &ev->eid, "", err, errlen) == -1 ? -1 : 0;

	if (jsonx_get_int(obj, "page", 0, INT32_MAX, &v, e, sizeof e) == -1)
		return fail(err, errlen, "", e);
	ev->page = (int32_t)v;
	if (json_id(obj, "session_id", 0, r->ids[4], &ev->sid, "", err, errlen) == -1 ||
	    json_id(obj, "policy", 0, r->ids[5], &ev->pol, "", err, errlen) == -1)
		return -1;
	if (json_object_get(obj, "context") != NULL) {
		if (jsonx_get_floats(obj, "context", JEV_MAX_CONTEXT, r->floats, &ev->nctx, e, sizeof e) == -1)
			return fail(err, errlen, "", e);
		used = ev->nctx;
	}
	items = json_object_get(obj, "items");
	if (!json_is_array(items) || (ev->nitems = json_array_size(items)) == 0)
		return fail(err, errlen, "field 'items': ",
		    items == NULL ? "missing" : "expected a non-empty array of objects");
	if (ev->nitems > JEV_MAX_ITEMS)
		return fail(err, errlen, "field 'items': ", "more than 1000 items");
	for (i = 0; i < ev->nitems; i++) {
		struct jev_item *it = &r->items[i];

		x = json_array_get(items, i);
		if (!json_is_object(x))
			return fail(err, errlen, "field 'items': ", "expected an array of objects");
		if (json_id(x, "item_id", 1, r->item_ids + i * 257, &it->id, "items: ", err, errlen) == -1)
			return -1;
		if (jsonx_get_int(x, "pos", 0, INT32_MAX, &v, e, sizeof e) == -1)
			return fail(err, errlen, "items: ", e);
		it->pos = (int32_t)v;
		it->prop = NAN;
		if (json_object_get(x, "propensity") != NULL) {
			if (jsonx_get_num(x, "propensity", 0, 1, &prop, e, sizeof e) == -1)
				return fail(err, errlen, "items: ", e);
			it->prop = (float)prop;
		}
		floats_need(r, used, JEV_MAX_FEATURES);
		ev->floats = r->floats;
		n = 0;
		if (json_object_get(x, "features") != NULL &&
		    jsonx_get_floats(x, "features", JEV_MAX_FEATURES, r->floats + used, &n, e, sizeof e) == -1)
			return fail(err, errlen, "items: ", e);
		it->feat_off = (uint32_t)used;
		it->nfeat = (uint16_t)n;
		used += n;
	}
	return 0;
}
