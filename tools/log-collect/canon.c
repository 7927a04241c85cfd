/* canon.c: log-collect's validation and normalisation of one raw event line into its canonical event. */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "arena.h"
#include "collect.h"
#include "dedup.h"
#include "hash.h"
#include "jbuf.h"
#include "jsonx.h"

static const char *const type_names[3] = { "impression", "click", "pay" };

/* 1 when obj has no field key. A null value is present (and then rejected as mistyped). */
static int
absent(const json_t *obj, const char *key)
{
	return json_object_get(obj, key) == NULL;
}

/*
 * Appends ,"key":[…] for an array of at most maxn numbers that fit a
 * single-precision float. -1 with a reason in c->err.
 */
static int
put_numbers(struct collector *c, struct jbuf *b, const json_t *obj, const char *key, size_t maxn,
    const char *where)
{
	const json_t *a = json_object_get(obj, key);
	const json_t *x;
	size_t i;

	jbuf_put(b, ",", 1);
	jbuf_key(b, key);
	if (a == NULL) {
		jbuf_lit(b, "[]");
		return 0;
	}
	if (!json_is_array(a)) {
		snprintf(c->err, sizeof c->err, "%sfield '%s': expected an array of numbers", where, key);
		return -1;
	}
	if (json_array_size(a) > maxn) {
		snprintf(c->err, sizeof c->err, "%sfield '%s': more than %zu numbers", where, key, maxn);
		return -1;
	}
	jbuf_put(b, "[", 1);
	json_array_foreach(a, i, x) {
		double v;

		if (!json_is_number(x)) {
			snprintf(c->err, sizeof c->err, "%sfield '%s'[%zu]: expected a number", where, key, i);
			return -1;
		}
		v = json_number_value(x);
		if (!isfinite(v) || fabs(v) > FLT_MAX) {
			snprintf(c->err, sizeof c->err, "%sfield '%s'[%zu]: not a finite single-precision number",
			    where, key, i);
			return -1;
		}
		if (i > 0)
			jbuf_put(b, ",", 1);
		jbuf_num7(b, v);
	}
	jbuf_put(b, "]", 1);
	return 0;
}

/* Reads an id (a string, or an integer made a string) into id. -1 with a reason in c->err. */
static int
get_id(struct collector *c, const json_t *obj, const char *key, const char *where, char id[257])
{
	char e[256];

	if (jsonx_get_id(obj, key, id, e, sizeof e) == -1) {
		snprintf(c->err, sizeof c->err, "%s%s", where, e);
		return -1;
	}
	return 0;
}

/* Appends ,"key":"id" for a required id. -1 with a reason in c->err. */
static int
put_id(struct collector *c, struct jbuf *b, const json_t *obj, const char *key, char id[257])
{
	if (get_id(c, obj, key, "", id) == -1)
		return -1;
	jbuf_put(b, ",", 1);
	jbuf_key(b, key);
	jbuf_str(b, id, strlen(id));
	return 0;
}

/* Appends ,"key":value for every field of obj not named in known (a NULL-terminated list). */
static void
put_extras(struct jbuf *b, const json_t *obj, const char *const *known)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		const char *const *k;

		for (k = known; *k != NULL && strcmp(*k, key) != 0; k++)
			;
		if (*k != NULL)
			continue;
		jbuf_put(b, ",", 1);
		jbuf_key(b, key);
		jbuf_json(b, v);
	}
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Appends ,"items":[…] of an impression. -1 with a reason in c->err. */
static int
put_items(struct collector *c, struct jbuf *b, const json_t *ev)
{
	static const char *const known[] = { "item_id", "pos", "propensity", "features", NULL };
	const json_t *items = json_object_get(ev, "items"), *it;
	int64_t pos[MAX_ITEMS];
	char id[257], e[256], where[32];
	size_t i, n;

	if (!json_is_array(items) || (n = json_array_size(items)) == 0) {
		snprintf(c->err, sizeof c->err, "field 'items': %s",
		    items == NULL ? "missing" : "expected a non-empty array of objects");
		return -1;
	}
	if (n > MAX_ITEMS) {
		snprintf(c->err, sizeof c->err, "field 'items': more than %d items", MAX_ITEMS);
		return -1;
	}
	jbuf_lit(b, ",\"items\":[");
	json_array_foreach(items, i, it) {
		snprintf(where, sizeof where, "items[%zu]: ", i);
		if (!json_is_object(it)) {
			snprintf(c->err, sizeof c->err, "%sexpected an object", where);
			return -1;
		}
		if (get_id(c, it, "item_id", where, id) == -1)
			return -1;
		if (i > 0)
			jbuf_put(b, ",", 1);
		jbuf_lit(b, "{\"item_id\":");
		jbuf_str(b, id, strlen(id));
		if (jsonx_get_int(it, "pos", 0, MAX_POS, &pos[i], e, sizeof e) == -1) {
			snprintf(c->err, sizeof c->err, "%s%s", where, e);
			return -1;
		}
		jbuf_lit(b, ",\"pos\":");
		jbuf_i64(b, pos[i]);
		if (!absent(it, "propensity")) {
			double p = 0;

			if (jsonx_get_num(it, "propensity", 0, 1, &p, e, sizeof e) == -1 || p <= 0) {
				snprintf(c->err, sizeof c->err, "%sfield 'propensity': expected a number in (0, 1]",
				    where);
				return -1;
			}
			jbuf_lit(b, ",\"propensity\":");
			jbuf_num(b, p);
		}
		if (put_numbers(c, b, it, "features", MAX_FEATURES, where) == -1)
			return -1;
		put_extras(b, it, known);
		jbuf_put(b, "}", 1);
	}
	jbuf_put(b, "]", 1);
	qsort(pos, n, sizeof pos[0], cmp_i64);
	for (i = 1; i < n; i++)
		if (pos[i] == pos[i - 1]) {
			snprintf(c->err, sizeof c->err, "field 'items': position %" PRId64 " appears twice", pos[i]);
			return -1;
		}
	return 0;
}

/*
 * Builds the canonical event of ev into c->line and copies its user_id (the
 * Kafka key) into user. Returns 0, or -1 with a reason in c->err.
 */
static int
canon_event(struct collector *c, const json_t *ev, int64_t now, char user[257])
{
	static const char *const known[3][12] = {
		{ "event_id", "ingest_ts", "type", "ts", "request_id", "user_id", "session_id",
		  "page", "policy", "context", "items", NULL },
		{ "event_id", "ingest_ts", "type", "ts", "request_id", "user_id", "session_id",
		  "item_id", NULL },
		{ "event_id", "ingest_ts", "type", "ts", "request_id", "user_id", "session_id",
		  "item_id", "amount", NULL },
	};
	struct jbuf *b = &c->body, *l = &c->line;
	const char *type;
	char id[257], *event_id = c->event_id, e[256];
	int64_t ts, ingest, ts_max = now + c->max_future_ms;
	int t;

	b->len = 0;
	if (!json_is_object(ev)) {
		snprintf(c->err, sizeof c->err, "not a JSON object");
		return -1;
	}
	if (jsonx_get_str(ev, "type", 16, &type, e, sizeof e) == -1) {
		snprintf(c->err, sizeof c->err, "%s", e);
		return -1;
	}
	for (t = 0; t < 3 && strcmp(type, type_names[t]) != 0; t++)
		;
	if (t == 3) {
		snprintf(c->err, sizeof c->err, "field 'type': expected impression, click or pay");
		return -1;
	}
	c->type = t;
	if (jsonx_get_ts(ev, "ts", &ts, e, sizeof e) == -1) {
		snprintf(c->err, sizeof c->err, "%s", e);
		return -1;
	}
	if (ts < TS_MIN || ts > ts_max) {
		snprintf(c->err, sizeof c->err, "field 'ts': %" PRId64 " is %s", ts,
		    ts < TS_MIN ? "before the year 2000" : "too far in the future (see --max-future)");
		return -1;
	}
	jbuf_lit(b, "\"type\":");
	jbuf_str(b, type_names[t], strlen(type_names[t]));
	jbuf_lit(b, ",\"ts\":");
	jbuf_i64(b, ts);
	if (put_id(c, b, ev, "request_id", id) == -1 || put_id(c, b, ev, "user_id", user) == -1)
		return -1;
	if (!absent(ev, "session_id") && put_id(c, b, ev, "session_id", id) == -1)
		return -1;
	if (t == 0) {
		int64_t page;

		if (jsonx_get_int(ev, "page", 0, MAX_PAGE, &page, e, sizeof e) == -1) {
			snprintf(c->err, sizeof c->err, "%s", e);
			return -1;
		}
		jbuf_lit(b, ",\"page\":");
		jbuf_i64(b, page);
		if (!absent(ev, "policy") && put_id(c, b, ev, "policy", id) == -1)
			return -1;
		if (put_numbers(c, b, ev, "context", MAX_CONTEXT, "") == -1 || put_items(c, b, ev) == -1)
			return -1;
	} else {
		if (put_id(c, b, ev, "item_id", id) == -1)
			return -1;
		if (t == 2) {
			double amount;

			if (jsonx_get_num(ev, "amount", 0, MAX_AMOUNT, &amount, e, sizeof e) == -1) {
				snprintf(c->err, sizeof c->err, "%s", e);
				return -1;
			}
			jbuf_lit(b, ",\"amount\":");
			jbuf_num(b, amount);
		}
	}
	put_extras(b, ev, known[t]);

	if (absent(ev, "event_id"))
		hash_hex128(b->p, b->len, event_id);
	else if (get_id(c, ev, "event_id", "", event_id) == -1)
		return -1;
	if (absent(ev, "ingest_ts"))
		ingest = c->ingest_ts >= 0 ? c->ingest_ts : now;
	else if (jsonx_get_int(ev, "ingest_ts", TS_MIN, ts_max, &ingest, e, sizeof e) == -1) {
		snprintf(c->err, sizeof c->err, "%s", e);
		return -1;
	}
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

enum collect_verdict
collect_line(struct collector *c, const struct line *ln, int64_t now, char user[257])
{
	enum collect_verdict v;
	json_t *ev;
	size_t i;

	if (ln->too_long) {
		snprintf(c->err, sizeof c->err, "line of %zu bytes is longer than --max-line", ln->full_len);
		return COLLECT_REJECT;
	}
	for (i = 0; i < ln->len && (ln->buf[i] == ' ' || ln->buf[i] == '\t' || ln->buf[i] == '\r'); i++)
		;
	if (i == ln->len)
		return COLLECT_BLANK;
	arena_begin();
	ev = jsonx_parse(ln->buf, ln->len, c->err, sizeof c->err);
	arena_end();
	if (ev == NULL)
		return COLLECT_REJECT;
	if (canon_event(c, ev, now, user) == -1)
		v = COLLECT_REJECT;
	else if (c->dd != NULL && dedup_seen(c->dd, c->event_id, strlen(c->event_id)))
		v = COLLECT_DUP;
	else
		v = COLLECT_EVENT;
	json_decref(ev);
	return v;
}
