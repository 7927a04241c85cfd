/* event.c: online-join's view of a canonical event — read with common/jscan, or from a jansson object when it cannot. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "jscan.h"
#include "jsonx.h"
#include "xalloc.h"

struct jev_reader {
	struct jev_item *items;
	float *floats;
	size_t cap_floats;
	char ids[6][257];	/* the jansson path's top-level ids */
	char *item_ids;		/* and its item ids, 257 bytes each */
	struct jscan js;	/* the fast path's scanner */
};

/* What the fast path gathers of an event's top-level members before it decides. */
struct ev_fields {
	struct jstr type;
	int64_t ts, page;
	size_t used, ctx_off;	/* floats used; where the context starts */
	int have_ts, have_items, have_ctx;
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
	jscan_free(&r->js);
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

/* A span (a key without escapes: an escaped key is left to jansson) that is lit. */
#define SPAN_IS(k, lit) ((k).n == sizeof(lit) - 1 && memcmp((k).p, (lit), sizeof(lit) - 1) == 0)

/* A string without escapes (any other: 0, left to jansson). */
static int
read_str(struct jscan *s, struct jstr *out)
{
	struct jspan sp;

	if (jscan_string(s, &sp) != 0 || sp.esc)
		return 0;
	out->p = sp.p;
	out->n = sp.n;
	return 1;
}

/* An id: a string of 1 to 256 bytes, no DEL in it (jansson's path words that refusal). */
static int
read_id(struct jscan *s, struct jstr *out)
{
	return read_str(s, out) && out->n > 0 && out->n <= 256 && memchr(out->p, 0x7f, out->n) == NULL;
}

/*
 * A number jansson would hold too: an integer within int64 or a finite
 * real (jansson refuses the rest, and its path words why).
 */
static int
read_num(struct jscan *s, struct jscan_num *v)
{
	if (jscan_number(s, v) != 0)
		return 0;
	return v->int_syntax ? v->is_int : isfinite(v->d);
}

/* An integer in [lo, hi] without fraction or exponent. */
static int
read_int(struct jscan *s, int64_t lo, int64_t hi, int64_t *out)
{
	struct jscan_num v;

	if (!read_num(s, &v) || !v.int_syntax || v.i < lo || v.i > hi)
		return 0;
	*out = v.i;
	return 1;
}

/* An array of at most maxn numbers that fit a float, appended to r->floats at *used. */
static int
read_floats(struct jev_reader *r, struct jscan *s, size_t maxn, size_t *used, size_t *n)
{
	struct jscan_num v;
	int more;

	*n = 0;
	if (jscan_array(s) != 0)
		return 0;
	floats_need(r, *used, maxn);
	while ((more = jscan_element(s)) == 1) {
		if (*n == maxn || !read_num(s, &v) || fabs(v.d) > 3.4e38)
			return 0;
		r->floats[(*used)++] = (float)v.d;
		(*n)++;
	}
	return more == 0;
}

/* Steps over any value, refusing the numbers jansson cannot hold. */
static int
skip_value(struct jscan *s)
{
	struct jscan_num v;
	struct jspan k;
	int more;

	switch (jscan_peek(s)) {
	case JSCAN_NUMBER:
		return read_num(s, &v);
	case JSCAN_ARRAY:
		if (jscan_array(s) != 0)
			return 0;
		while ((more = jscan_element(s)) == 1)
			if (!skip_value(s))
				return 0;
		return more == 0;
	case JSCAN_OBJECT:
		if (jscan_object(s) != 0)
			return 0;
		while ((more = jscan_member(s, &k)) == 1)
			if (!skip_value(s))
				return 0;
		return more == 0;
	default:
		return jscan_skip(s, NULL) == 0;
	}
}

static int
read_item(struct jev_reader *r, struct jscan *s, struct jev_item *it, size_t *used)
{
	struct jspan k;
	struct jscan_num v;
	size_t n;
	int64_t pos = -1;
	int more;

	it->id.p = NULL;
	it->prop = NAN;
	it->nfeat = 0;
	it->feat_off = (uint32_t)*used;
	if (jscan_object(s) != 0)
		return 0;
	while ((more = jscan_member(s, &k)) == 1) {
		if (k.esc)
			return 0;
		if (SPAN_IS(k, "item_id")) {
			if (!read_id(s, &it->id))
				return 0;
		} else if (SPAN_IS(k, "pos")) {
			if (!read_int(s, 0, INT32_MAX, &pos))
				return 0;
		} else if (SPAN_IS(k, "propensity")) {
			if (!read_num(s, &v) || v.d < 0 || v.d > 1)
				return 0;
			it->prop = (float)v.d;
		} else if (SPAN_IS(k, "features")) {
			it->feat_off = (uint32_t)*used;
			if (!read_floats(r, s, JEV_MAX_FEATURES, used, &n))
				return 0;
			it->nfeat = (uint16_t)n;
		} else if (!skip_value(s))
			return 0;
	}
	if (more != 0 || it->id.p == NULL || pos < 0)
		return 0;
	it->pos = (int32_t)pos;
	return 1;
}

/* The items of an impression: a non-empty array of items. */
static int
read_items(struct jev_reader *r, struct jscan *s, struct jev *ev, size_t *used)
{
	int more;

	if (jscan_array(s) != 0)
		return 0;
	while ((more = jscan_element(s)) == 1) {
		if (ev->nitems == JEV_MAX_ITEMS || !read_item(r, s, &r->items[ev->nitems], used))
			return 0;
		ev->nitems++;
	}
	return more == 0 && ev->nitems > 0;
}

/* One top-level member of an event, its key k; 0 when the fast path cannot take it. */
static int
read_member(struct jev_reader *r, struct jscan *s, const struct jspan *k, struct ev_fields *f,
    struct jev *ev)
{
	size_t n;

	if (k->esc)
		return 0;
	if (SPAN_IS(*k, "type"))
		return read_str(s, &f->type);
	if (SPAN_IS(*k, "ts"))
		return (f->have_ts = read_int(s, INT64_MIN / 2, INT64_MAX / 2, &f->ts));
	if (SPAN_IS(*k, "request_id"))
		return read_id(s, &ev->rid);
	if (SPAN_IS(*k, "user_id"))
		return read_id(s, &ev->uid);
	if (SPAN_IS(*k, "session_id"))
		return read_id(s, &ev->sid);
	if (SPAN_IS(*k, "policy"))
		return read_id(s, &ev->pol);
	if (SPAN_IS(*k, "item_id"))
		return read_id(s, &ev->item);
	if (SPAN_IS(*k, "event_id"))
		return read_id(s, &ev->eid);
	if (SPAN_IS(*k, "page"))
		return read_int(s, 0, INT32_MAX, &f->page);
	if (SPAN_IS(*k, "context")) {
		f->ctx_off = f->used;
		if (!read_floats(r, s, JEV_MAX_CONTEXT, &f->used, &n))
			return 0;
		ev->nctx = n;
		return (f->have_ctx = 1);
	}
	if (SPAN_IS(*k, "items"))
		return (f->have_items = read_items(r, s, ev, &f->used));
	return skip_value(s);
}

int
jev_parse(struct jev_reader *r, const char *buf, size_t len, struct jev *ev)
{
	struct jscan *s = &r->js;
	struct ev_fields f;
	struct jspan k;
	int more;

	memset(ev, 0, sizeof *ev);
	memset(&f, 0, sizeof f);
	f.page = -1;
	ev->items = r->items;
	jscan_init(s, buf, len);
	if (jscan_object(s) != 0)
		return 0;
	while ((more = jscan_member(s, &k)) == 1)
		if (!read_member(r, s, &k, &f, ev))
			return 0;
	if (more != 0 || jscan_finish(s) != 0 || f.type.p == NULL || !f.have_ts ||
	    ev->rid.p == NULL || ev->uid.p == NULL)
		return 0;
	if (SPAN_IS(f.type, "impression")) {
		if (f.page < 0 || !f.have_items)
			return 0;
		ev->type = JEV_IMPRESSION;
		ev->page = (int32_t)f.page;
		ev->ctx_off = f.have_ctx ? f.ctx_off : 0;
	} else if (SPAN_IS(f.type, "click") || SPAN_IS(f.type, "pay")) {
		if (ev->item.p == NULL)
			return 0;
		ev->type = SPAN_IS(f.type, "click") ? JEV_CLICK : JEV_PAY;
	} else
		return 0;
	ev->ts = f.ts;
	ev->floats = r->floats;
	return 1;
}

const char *
jev_check(struct jev_reader *r, const char *buf, size_t len)
{
	if (jscan_check(&r->js, buf, len) != 0)
		return r->js.err;
	jscan_init(&r->js, buf, len);
	return jscan_peek(&r->js) == JSCAN_OBJECT ? NULL : "not a JSON object";
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
