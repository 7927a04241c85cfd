/* canon.c: log-collect's validation and normalisation of one raw event line into its canonical event. */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "collect.h"
#include "dedup.h"
#include "hash.h"
#include "jbuf.h"
#include "jsonx.h"
#include "xalloc.h"

static const char *const type_names[3] = { "impression", "click", "pay" };

/* The names a record reader looks for, in the order of enum field. */
static const char *const field_names[NFIELDS] = {
	"event_id", "ingest_ts", "type", "ts", "request_id", "user_id", "session_id", "page", "policy",
	"context", "items", "item_id", "amount", "pos", "propensity", "features"
};

#define BIT(f) (1u << (f))
#define COMMON_FIELDS (BIT(F_EVENT_ID) | BIT(F_INGEST_TS) | BIT(F_TYPE) | BIT(F_TS) | BIT(F_REQUEST_ID) | \
    BIT(F_USER_ID) | BIT(F_SESSION_ID))
/* The fields each event type reads; the others are carried over as they are. */
static const unsigned known_fields[3] = {
	COMMON_FIELDS | BIT(F_PAGE) | BIT(F_POLICY) | BIT(F_CONTEXT) | BIT(F_ITEMS),
	COMMON_FIELDS | BIT(F_ITEM_ID),
	COMMON_FIELDS | BIT(F_ITEM_ID) | BIT(F_AMOUNT),
};
static const unsigned known_item_fields = BIT(F_ITEM_ID) | BIT(F_POS) | BIT(F_PROPENSITY) | BIT(F_FEATURES);

void
collect_free(struct collector *c)
{
	jscan_free(&c->js);
	jscan_free(&c->sub);
	jscan_free(&c->val);
	free(c->top.m);
	free(c->item.m);
	free(c->scratch);
	free(c->body.p);
	free(c->line.p);
}

/* Writes a reason into c->err; returns -1. */
static int __attribute__((format(printf, 2, 3)))
reason(struct collector *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
	return -1;
}

/* A number the JSON reader cannot hold (an integer beyond int64, a real beyond double): the parser's reason replaces this one. */
static int
too_big(struct collector *c)
{
	c->too_big = 1;
	return reason(c, "bad JSON: number out of range");
}

/* Room for n bytes and a NUL in c->scratch. */
static char *
scratch(struct collector *c, size_t n)
{
	if (n + 1 > c->cap_scratch) {
		c->cap_scratch = (n + 1) * 2;
		c->scratch = xrealloc(c->scratch, c->cap_scratch);
	}
	return c->scratch;
}

/* The decoded bytes of a string span, NUL-terminated (in c->scratch when escaped); their count into *n. */
static const char *
decode(struct collector *c, const struct jspan *sp, size_t *n)
{
	char *s;

	if (!sp->esc) {
		*n = sp->n;
		return sp->p;
	}
	s = scratch(c, sp->n);
	*n = jscan_unescape(sp, s);
	s[*n] = '\0';
	return s;
}

/* Which of field_names the key is, or F_NONE. */
static int
field_of(const struct jspan *key)
{
	static const unsigned char len[NFIELDS] = { 8, 9, 4, 2, 10, 7, 10, 4, 6, 7, 5, 7, 6, 3, 10, 8 };
	int f;

	if (!key->esc) {
		for (f = 0; f < NFIELDS; f++)
			if (key->n == len[f] && memcmp(key->p, field_names[f], key->n) == 0)
				return f;
		return F_NONE;
	}
	for (f = 0; f < NFIELDS; f++)
		if (jscan_eq(key, field_names[f], len[f]))
			return f;
	return F_NONE;
}

/* Reads the object at s's position into o: each member's key, id and value span, in order. */
static int
read_object(struct jscan *s, struct object *o)
{
	struct member *m;
	int r;

	memset(o->at, 0, sizeof o->at);
	o->n = 0;
	if (jscan_object(s) != 0)
		return -1;
	for (;;) {
		if (o->n == o->cap) {
			o->cap = o->cap ? 2 * o->cap : 32;
			o->m = xreallocarray(o->m, o->cap, sizeof *o->m);
		}
		m = &o->m[o->n];
		if ((r = jscan_member(s, &m->key)) != 1)
			return r;
		m->type = jscan_peek(s);
		/* An array or object is checked when it is read, or written out again. */
		if ((m->type == JSCAN_STRING ? jscan_string(s, &m->val) :
		    m->type == JSCAN_ARRAY || m->type == JSCAN_OBJECT ? jscan_span(s, &m->val) :
		    jscan_skip(s, &m->val)) != 0)
			return -1;
		m->id = field_of(&m->key);
		if (m->id != F_NONE)
			o->at[m->id] = (int)++o->n;
		else
			o->n++;
	}
}

/* Starts s on the value of m, a member of o, checked as part of the line. */
static void
rescan(struct collector *c, struct jscan *s, const struct object *o, const struct member *m)
{
	jscan_init(s, m->val.p, m->val.n);
	jscan_nest(s, c->js.start, o->outer);
}

static const struct member *
get(const struct object *o, int f)
{
	return o->at[f] ? &o->m[o->at[f] - 1] : NULL;
}

/* The number of m (of type JSCAN_NUMBER). */
static int
num_of(struct collector *c, const struct member *m, struct jscan_num *v)
{
	jscan_init(&c->val, m->val.p, m->val.n);
	if (jscan_number(&c->val, v) != 0)
		return reason(c, "%s", c->val.err);
	return 0;
}

/* An id: a string of 1 to 256 bytes without control characters, or an integer made a string. */
static int
get_id(struct collector *c, const struct object *o, int f, const char *where, char id[257])
{
	const struct member *m = get(o, f);
	struct jscan_num v;
	const char *s;
	size_t n, i;

	if (m == NULL)
		return reason(c, "%smissing field '%s'", where, field_names[f]);
	if (m->type == JSCAN_NUMBER) {
		if (num_of(c, m, &v) != 0)
			return -1;
		if (v.int_syntax && !v.is_int)
			return too_big(c);
		if (v.int_syntax) {
			snprintf(id, 257, "%lld", (long long)v.i);
			return 0;
		}
	}
	if (m->type != JSCAN_STRING)
		return reason(c, "%sfield '%s': expected string or integer id", where, field_names[f]);
	s = decode(c, &m->val, &n);
	if (n == 0)
		return reason(c, "%sfield '%s': empty id", where, field_names[f]);
	if (n > 256)
		return reason(c, "%sfield '%s': id longer than 256 bytes", where, field_names[f]);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return reason(c, "%sfield '%s': control character in id", where, field_names[f]);
	memcpy(id, s, n);
	id[n] = '\0';
	return 0;
}

/* An integer in [lo, hi] (a real with an integral value counts as one). */
static int
get_int(struct collector *c, const struct object *o, int f, const char *where, int64_t lo, int64_t hi,
    int64_t *out)
{
	const struct member *m = get(o, f);
	struct jscan_num v;
	int64_t i;

	if (m == NULL)
		return reason(c, "%smissing field '%s'", where, field_names[f]);
	if (m->type != JSCAN_NUMBER)
		return reason(c, "%sfield '%s': expected integer", where, field_names[f]);
	if (num_of(c, m, &v) != 0)
		return -1;
	if (v.int_syntax) {
		if (!v.is_int)
			return too_big(c);
		i = v.i;
	} else {
		if (!isfinite(v.d))
			return too_big(c);
		if (v.d != floor(v.d) || v.d < -9.2e18 || v.d > 9.2e18)
			return reason(c, "%sfield '%s': expected integer", where, field_names[f]);
		i = (int64_t)v.d;
	}
	if (i < lo || i > hi)
		return reason(c, "%sfield '%s': %lld out of range [%lld, %lld]", where, field_names[f],
		    (long long)i, (long long)lo, (long long)hi);
	*out = i;
	return 0;
}

/* A finite number in [lo, hi]. */
static int
get_num(struct collector *c, const struct object *o, int f, const char *where, double lo, double hi,
    double *out)
{
	const struct member *m = get(o, f);
	struct jscan_num v;

	if (m == NULL)
		return reason(c, "%smissing field '%s'", where, field_names[f]);
	if (m->type != JSCAN_NUMBER)
		return reason(c, "%sfield '%s': expected number", where, field_names[f]);
	if (num_of(c, m, &v) != 0)
		return -1;
	if ((v.int_syntax && !v.is_int) || !isfinite(v.d))
		return too_big(c);
	if (v.d < lo || v.d > hi)
		return reason(c, "%sfield '%s': %g out of range [%g, %g]", where, field_names[f], v.d, lo, hi);
	*out = v.d;
	return 0;
}

/* The event time: integer ms (or an integral real), or an RFC 3339 string. */
static int
get_ts(struct collector *c, const struct object *o, int f, int64_t *ms)
{
	const struct member *m = get(o, f);
	char *s;

	if (m == NULL)
		return reason(c, "missing field '%s'", field_names[f]);
	if (m->type == JSCAN_STRING) {
		s = scratch(c, m->val.n);
		s[jscan_unescape(&m->val, s)] = '\0';
		if (parse_rfc3339_ms(s, ms) != 0)
			return reason(c, "field '%s': not an RFC 3339 time", field_names[f]);
		return 0;
	}
	if (m->type == JSCAN_NUMBER && get_int(c, o, f, "", INT64_MIN, INT64_MAX, ms) == 0)
		return 0;
	if (c->too_big)
		return -1;
	return reason(c, "field '%s': expected integer ms or RFC 3339 string", field_names[f]);
}

/* Appends a string span as a JSON string. */
static void
put_str(struct collector *c, struct jbuf *b, const struct jspan *sp)
{
	const char *s;
	size_t n;

	s = decode(c, sp, &n);
	jbuf_str(b, s, n);
}

/* Appends the value at c->val's position compactly: strings re-escaped, integers as integers, reals in their shortest form. */
static int
put_value(struct collector *c, struct jbuf *b)
{
	struct jscan *s = &c->val;
	struct jscan_num v;
	struct jspan sp;
	int r, first = 1;

	switch (jscan_peek(s)) {
	case JSCAN_OBJECT:
		jscan_object(s);
		jbuf_put(b, "{", 1);
		while ((r = jscan_member(s, &sp)) == 1) {
			if (!first)
				jbuf_put(b, ",", 1);
			first = 0;
			put_str(c, b, &sp);
			jbuf_put(b, ":", 1);
			if (put_value(c, b) != 0)
				return -1;
		}
		jbuf_put(b, "}", 1);
		return r;
	case JSCAN_ARRAY:
		jscan_array(s);
		jbuf_put(b, "[", 1);
		while ((r = jscan_element(s)) == 1) {
			if (!first)
				jbuf_put(b, ",", 1);
			first = 0;
			if (put_value(c, b) != 0)
				return -1;
		}
		jbuf_put(b, "]", 1);
		return r;
	case JSCAN_STRING:
		if (jscan_string(s, &sp) != 0)
			return -1;
		put_str(c, b, &sp);
		return 0;
	case JSCAN_NUMBER:
		if (jscan_number(s, &v) != 0)
			return -1;
		if (v.int_syntax ? !v.is_int : !isfinite(v.d))
			return too_big(c);
		if (v.int_syntax)
			jbuf_i64(b, v.i);
		else
			jbuf_num(b, v.d);
		return 0;
	case JSCAN_TRUE:
		jbuf_lit(b, "true");
		return jscan_skip(s, NULL);
	case JSCAN_FALSE:
		jbuf_lit(b, "false");
		return jscan_skip(s, NULL);
	case JSCAN_NULL:
		jbuf_lit(b, "null");
		return jscan_skip(s, NULL);
	default:
		return jscan_skip(s, NULL);
	}
}

/* Appends ,"key":value for every member of o whose field is not in known (a set of field bits). */
static int
put_extras(struct collector *c, struct jbuf *b, const struct object *o, unsigned known)
{
	const struct member *m;
	size_t i;

	for (i = 0; i < o->n; i++) {
		m = &o->m[i];
		if (m->id != F_NONE && (known & BIT(m->id)))
			continue;
		jbuf_put(b, ",", 1);
		put_str(c, b, &m->key);
		jbuf_put(b, ":", 1);
		if (m->type == JSCAN_STRING)
			put_str(c, b, &m->val);
		else {
			rescan(c, &c->val, o, m);
			if (put_value(c, b) != 0 || jscan_finish(&c->val) != 0)
				return c->val.failed ? reason(c, "%s", c->val.err) : -1;
		}
	}
	return 0;
}

/*
 * Appends ,"key":[…] for an array of at most maxn numbers that fit a
 * single-precision float. -1 with a reason in c->err: a count beyond maxn
 * is reported before a bad element.
 */
static int
put_numbers(struct collector *c, struct jbuf *b, const struct object *o, int f, size_t maxn, const char *where)
{
	const struct member *m = get(o, f);
	struct jscan *s = &c->val;
	struct jscan_num v;
	struct jspan sp;
	size_t i = 0;
	int bad = 0, r;

	jbuf_put(b, ",", 1);
	jbuf_key(b, field_names[f]);
	if (m == NULL) {
		jbuf_lit(b, "[]");
		return 0;
	}
	if (m->type != JSCAN_ARRAY)
		return reason(c, "%sfield '%s': expected an array of numbers", where, field_names[f]);
	rescan(c, s, o, m);
	if (jscan_array(s) != 0)
		return reason(c, "%s", s->err);
	jbuf_put(b, "[", 1);
	while ((r = jscan_element(s)) == 1) {
		if (i == maxn)
			return reason(c, "%sfield '%s': more than %zu numbers", where, field_names[f], maxn);
		if (bad || jscan_peek(s) != JSCAN_NUMBER) {
			if (!bad)
				reason(c, "%sfield '%s'[%zu]: expected a number", where, field_names[f], i);
			bad = 1;
			if (jscan_skip(s, NULL) != 0)
				return reason(c, "%s", s->err);
		} else {
			if (jscan_skip(s, &sp) != 0)
				return reason(c, "%s", s->err);
			if (i > 0)
				jbuf_put(b, ",", 1);
			/* A short decimal (finite, within a float) is written from its text. */
			if (jbuf_num7_text(b, sp.p, sp.n)) {
				i++;
				continue;
			}
			if (i > 0)
				b->len--;
			jscan_parse_number(sp.p, sp.n, &v);
			if (v.int_syntax && !v.is_int) {
				bad = too_big(c);
			} else if (!isfinite(v.d) || fabs(v.d) > FLT_MAX) {
				bad = isfinite(v.d) ? reason(c, "%sfield '%s'[%zu]: not a finite single-precision number",
				    where, field_names[f], i) : too_big(c);
			} else {
				if (i > 0)
					jbuf_put(b, ",", 1);
				jbuf_num7(b, v.d);
			}
		}
		i++;
	}
	if (r != 0 || jscan_finish(s) != 0)
		return reason(c, "%s", s->err);
	if (bad)
		return -1;
	jbuf_put(b, "]", 1);
	return 0;
}

/* Appends ,"id":"…" for a required id. */
static int
put_id(struct collector *c, struct jbuf *b, const struct object *o, int f, char id[257])
{
	if (get_id(c, o, f, "", id) == -1)
		return -1;
	jbuf_put(b, ",", 1);
	jbuf_key(b, field_names[f]);
	jbuf_str(b, id, strlen(id));
	return 0;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* "items[i]: ", the prefix of an item's reasons, into where[32] (without printf: it is written for every item). */
static void
item_where(size_t i, char where[32])
{
	char d[20];
	int n = 0;

	do
		d[n++] = (char)('0' + i % 10);
	while ((i /= 10) != 0 && n < 20);
	memcpy(where, "items[", 6);
	for (int k = 0; k < n; k++)
		where[6 + k] = d[n - 1 - k];
	memcpy(where + 6 + n, "]: ", 4);
}

/* Appends the item c->item (the i-th) of an impression; its position into *pos. */
static int
put_item(struct collector *c, struct jbuf *b, size_t i, int64_t *pos)
{
	const struct object *it = &c->item;
	char id[257], where[32];

	item_where(i, where);
	if (get_id(c, it, F_ITEM_ID, where, id) == -1)
		return -1;
	if (i > 0)
		jbuf_put(b, ",", 1);
	jbuf_lit(b, "{\"item_id\":");
	jbuf_str(b, id, strlen(id));
	if (get_int(c, it, F_POS, where, 0, MAX_POS, pos) == -1)
		return -1;
	jbuf_lit(b, ",\"pos\":");
	jbuf_i64(b, *pos);
	if (get(it, F_PROPENSITY) != NULL) {
		double p = 0;

		if (get_num(c, it, F_PROPENSITY, where, 0, 1, &p) == -1 && c->too_big)
			return -1;
		if (p <= 0)
			return reason(c, "%sfield 'propensity': expected a number in (0, 1]", where);
		jbuf_lit(b, ",\"propensity\":");
		jbuf_num(b, p);
	}
	if (put_numbers(c, b, it, F_FEATURES, MAX_FEATURES, where) == -1)
		return -1;
	if (put_extras(c, b, it, known_item_fields) == -1)
		return -1;
	jbuf_put(b, "}", 1);
	return 0;
}

/*
 * Appends ,"items":[…] of an impression. -1 with a reason in c->err: an
 * empty or too long array is reported before a bad item.
 */
static int
put_items(struct collector *c, struct jbuf *b)
{
	const struct member *m = get(&c->top, F_ITEMS);
	struct jscan *s = &c->sub;
	int64_t pos[MAX_ITEMS];
	size_t i = 0, n;
	int bad = 0, r;

	if (m == NULL || m->type != JSCAN_ARRAY)
		goto not_items;
	rescan(c, s, &c->top, m);
	if (jscan_array(s) != 0)
		return reason(c, "%s", s->err);
	c->item.outer = 3;
	jbuf_lit(b, ",\"items\":[");
	while ((r = jscan_element(s)) == 1) {
		if (i == MAX_ITEMS)
			return reason(c, "field 'items': more than %d items", MAX_ITEMS);
		if (bad)
			r = jscan_skip(s, NULL);
		else if (jscan_peek(s) != JSCAN_OBJECT) {
			bad = reason(c, "items[%zu]: expected an object", i);
			r = jscan_skip(s, NULL);
		} else if ((r = read_object(s, &c->item)) == 0)
			bad = put_item(c, b, i, &pos[i]);
		if (r != 0)
			return reason(c, "%s", s->err);
		i++;
	}
	if (r != 0 || jscan_finish(s) != 0)
		return reason(c, "%s", s->err);
	if (i == 0)
		goto not_items;
	if (bad)
		return -1;
	jbuf_put(b, "]", 1);
	n = i;
	qsort(pos, n, sizeof pos[0], cmp_i64);
	for (i = 1; i < n; i++)
		if (pos[i] == pos[i - 1])
			return reason(c, "field 'items': position %" PRId64 " appears twice", pos[i]);
	return 0;
not_items:
	return reason(c, "field 'items': %s", m == NULL ? "missing" : "expected a non-empty array of objects");
}

/* The type of the record: an index of type_names. */
static int
get_type(struct collector *c)
{
	const struct member *m = get(&c->top, F_TYPE);
	const char *s;
	size_t n;
	int t;

	if (m == NULL)
		return reason(c, "missing field 'type'");
	if (m->type != JSCAN_STRING)
		return reason(c, "field 'type': expected string");
	s = decode(c, &m->val, &n);
	if (n > 16)
		return reason(c, "field 'type': longer than 16 bytes");
	for (t = 0; t < 3; t++)
		if (n == strlen(type_names[t]) && memcmp(s, type_names[t], n) == 0)
			return t;
	return reason(c, "field 'type': expected impression, click or pay");
}

/* Appends the fields of an impression after its ids. */
static int
put_impression(struct collector *c, struct jbuf *b)
{
	char id[257];
	int64_t page;

	if (get_int(c, &c->top, F_PAGE, "", 0, MAX_PAGE, &page) == -1)
		return -1;
	jbuf_lit(b, ",\"page\":");
	jbuf_i64(b, page);
	if (get(&c->top, F_POLICY) != NULL && put_id(c, b, &c->top, F_POLICY, id) == -1)
		return -1;
	if (put_numbers(c, b, &c->top, F_CONTEXT, MAX_CONTEXT, "") == -1 || put_items(c, b) == -1)
		return -1;
	return 0;
}

/*
 * Builds the canonical event of the record read into c->top into c->line
 * and copies its user_id (the Kafka key) into user. Returns 0, or -1 with
 * a reason in c->err.
 */
static int
canon_event(struct collector *c, int64_t now, char user[257])
{
	const struct object *o = &c->top;
	struct jbuf *b = &c->body, *l = &c->line;
	char id[257], *event_id = c->event_id;
	int64_t ts, ingest, ts_max = now + c->max_future_ms;
	int t;

	b->len = 0;
	if ((t = get_type(c)) == -1)
		return -1;
	c->type = t;
	if (get_ts(c, o, F_TS, &ts) == -1)
		return -1;
	if (ts < TS_MIN || ts > ts_max)
		return reason(c, "field 'ts': %" PRId64 " is %s", ts,
		    ts < TS_MIN ? "before the year 2000" : "too far in the future (see --max-future)");
	jbuf_lit(b, "\"type\":");
	jbuf_str(b, type_names[t], strlen(type_names[t]));
	jbuf_lit(b, ",\"ts\":");
	jbuf_i64(b, ts);
	if (put_id(c, b, o, F_REQUEST_ID, id) == -1 || put_id(c, b, o, F_USER_ID, user) == -1)
		return -1;
	if (get(o, F_SESSION_ID) != NULL && put_id(c, b, o, F_SESSION_ID, id) == -1)
		return -1;
	if (t == 0) {
		if (put_impression(c, b) == -1)
			return -1;
	} else {
		if (put_id(c, b, o, F_ITEM_ID, id) == -1)
			return -1;
		if (t == 2) {
			double amount;

			if (get_num(c, o, F_AMOUNT, "", 0, MAX_AMOUNT, &amount) == -1)
				return -1;
			jbuf_lit(b, ",\"amount\":");
			jbuf_num(b, amount);
		}
	}
	if (put_extras(c, b, o, known_fields[t]) == -1)
		return -1;

	if (get(o, F_EVENT_ID) == NULL)
		hash_hex128(b->p, b->len, event_id);
	else if (get_id(c, o, F_EVENT_ID, "", event_id) == -1)
		return -1;
	if (get(o, F_INGEST_TS) == NULL)
		ingest = c->ingest_ts >= 0 ? c->ingest_ts : now;
	else if (get_int(c, o, F_INGEST_TS, "", TS_MIN, ts_max, &ingest) == -1)
		return -1;
	l->len = 0;
	jbuf_lit(l, "{\"event_id\":");
	jbuf_str(l, event_id, strlen(event_id));
	jbuf_put(l, ",", 1);
	jbuf_put(l, b->p, b->len);
	jbuf_lit(l, ",\"ingest_ts\":");
	jbuf_i64(l, ingest);
	jbuf_put(l, "}", 1);
	return 0;
}

/* Reads the line's top-level object into c->top, checking the whole line. */
static int
read_record(struct collector *c, const struct line *ln)
{
	c->too_big = 0;
	c->top.outer = 1;
	jscan_init(&c->js, ln->buf, ln->len);
	if (jscan_peek(&c->js) != JSCAN_OBJECT)
		return reason(c, "not a JSON object");
	if (read_object(&c->js, &c->top) != 0 || jscan_finish(&c->js) != 0)
		return reason(c, "%s", c->js.err);
	return 0;
}

/*
 * The reason for a rejected line that is not valid JSON is jscan's first
 * fault in the whole line (the reason every tool gives for that text); for
 * a number beyond what a double or an int64 holds it is jansson's; else the
 * field's.
 */
static void
explain(struct collector *c, const struct line *ln)
{
	char e[sizeof c->err];
	json_t *j;

	if (jscan_check(&c->js, ln->buf, ln->len) != 0) {
		snprintf(c->err, sizeof c->err, "%s", c->js.err);
		return;
	}
	jscan_init(&c->js, ln->buf, ln->len);
	if (jscan_peek(&c->js) != JSCAN_OBJECT)
		return;
	if ((j = jsonx_parse(ln->buf, ln->len, e, sizeof e)) == NULL)
		memcpy(c->err, e, sizeof e);
	else
		json_decref(j);
}

enum collect_verdict
collect_line(struct collector *c, const struct line *ln, int64_t now, char user[257])
{
	size_t i;

	if (ln->too_long) {
		snprintf(c->err, sizeof c->err, "line of %zu bytes is longer than --max-line", ln->full_len);
		return COLLECT_REJECT;
	}
	for (i = 0; i < ln->len && (ln->buf[i] == ' ' || ln->buf[i] == '\t' || ln->buf[i] == '\r'); i++)
		;
	if (i == ln->len)
		return COLLECT_BLANK;
	if (read_record(c, ln) == -1 || canon_event(c, now, user) == -1) {
		explain(c, ln);
		return COLLECT_REJECT;
	}
	if (c->dd != NULL && dedup_seen(c->dd, c->event_id, strlen(c->event_id)))
		return COLLECT_DUP;
	return COLLECT_EVENT;
}
