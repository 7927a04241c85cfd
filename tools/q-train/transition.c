/* transition.c: q-train's transition reader — one JSON line into a dataset's pools, or a reason for refusing it. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "diag.h"
#include "hash.h"
#include "jscan.h"
#include "jsonx.h"
#include "model.h"
#include "qnet.h"
#include "sig.h"
#include "stats.h"
#include "toolio.h"
#include "xalloc.h"
#include "transition.h"

static int perr(struct parse_ctx *pc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int
perr(struct parse_ctx *pc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pc->err, pc->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Reads hist into the id pool. */
static int
parse_hist(struct parse_ctx *pc, json_t *st, const char *where, uint32_t *off, uint32_t *n)
{
	struct dataset *ds = pc->ds;
	json_t *h = json_object_get(st, "hist");
	if (!json_is_array(h))
		return perr(pc, "%s.hist: expected an array", where);
	size_t nh = json_array_size(h);
	if (nh > MAX_HIST)
		return perr(pc, "%s.hist: more than %d entries", where, MAX_HIST);
	GROW(ds->ids, ds->nids, ds->capids, nh);
	*off = (uint32_t)ds->nids;
	*n = (uint32_t)nh;
	for (size_t i = 0; i < nh; i++) {
		json_t *v = json_array_get(h, i);
		char buf[64];
		const char *s;
		size_t len;
		if (json_is_string(v)) {
			s = json_string_value(v);
			len = json_string_length(v);
		} else if (json_is_integer(v)) {
			len = (size_t)snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			s = buf;
		} else {
			return perr(pc, "%s.hist[%zu]: expected an id", where, i);
		}
		if (len == 0 || len > EMB_ID_MAX)
			return perr(pc, "%s.hist[%zu]: empty or too long id", where, i);
		ds->ids[ds->nids] = pc->map(pc->arg, s, len);
		if (ds->ids[ds->nids++] == 0 && pc->unknown)
			(*pc->unknown)++;
	}
	return 0;
}

/*
 * Reads an array of numbers into the float pool; the first one read fixes
 * its dimension *dim. A number beyond pc->max_feature is refused.
 */
static int
parse_floats(struct parse_ctx *pc, json_t *o, const char *key, const char *where, uint32_t *dim,
    int *known, uint32_t *off)
{
	struct dataset *ds = pc->ds;
	char e[160];
	size_t n;
	GROW(ds->fl, ds->nfl, ds->capfl, QNET_MAX_DIM);
	if (jsonx_get_floats(o, key, QNET_MAX_DIM, ds->fl + ds->nfl, &n, e, sizeof e) < 0)
		return perr(pc, "%s: %s", where, e);
	double bound = pc->max_feature > 0 ? pc->max_feature : MAX_FEATURE;
	for (size_t i = 0; i < n; i++)
		if (!(fabsf(ds->fl[ds->nfl + i]) <= bound))
			return perr(pc, "%s.%s[%zu]: %g out of range (|x| <= %g)", where, key, i,
			    (double)ds->fl[ds->nfl + i], bound);
	if (!*known) {
		*dim = (uint32_t)n;
		*known = 1;
	} else if (n != *dim) {
		return perr(pc, "%s.%s: %zu numbers, want %u", where, key, n, *dim);
	}
	*off = (uint32_t)ds->nfl;
	ds->nfl += n;
	return 0;
}

/* Reads an action array into the item pool. labels: read click and pay. */
static int
parse_items(struct parse_ctx *pc, json_t *arr, const char *where, int labels, uint32_t *off, uint32_t *n)
{
	struct dataset *ds = pc->ds;
	char e[160], id[257], w[64];
	size_t na = json_array_size(arr);
	if (na > MAX_ITEMS)
		return perr(pc, "%s: more than %d items", where, MAX_ITEMS);
	GROW(ds->it, ds->nit, ds->capit, na);
	*off = (uint32_t)ds->nit;
	*n = (uint32_t)na;
	for (size_t i = 0; i < na; i++) {
		json_t *a = json_array_get(arr, i);
		struct item *it = &ds->it[ds->nit];
		snprintf(w, sizeof w, "%s[%zu]", where, i);
		if (!json_is_object(a))
			return perr(pc, "%s: expected an object", w);
		if (jsonx_get_id(a, "item_id", id, e, sizeof e) < 0)
			return perr(pc, "%s: %s", w, e);
		if (parse_floats(pc, a, "features", w, &ds->X, &ds->X_set, &it->feat) < 0)
			return -1;
		int click = 0, pay = 0;
		if (labels) {
			if (jsonx_get_flag(a, "click", &click, e, sizeof e) < 0)
				return perr(pc, "%s: %s", w, e);
			json_t *p = json_object_get(a, "pay");
			if (p && jsonx_get_flag(a, "pay", &pay, e, sizeof e) < 0)
				return perr(pc, "%s: %s", w, e);
		}
		it->click = (uint8_t)(click || pay);
		int64_t pos = (int64_t)i;
		if (labels && json_object_get(a, "pos") &&
		    jsonx_get_int(a, "pos", 0, 1000000, &pos, e, sizeof e) < 0)
			return perr(pc, "%s: %s", w, e);
		it->pos = (uint8_t)(pos < MAX_POS ? pos : MAX_POS - 1);
		it->r = (float)(pc->w_click * click + pc->w_pay * pay);
		it->id = pc->map(pc->arg, id, strlen(id));
		it->frow = NO_NEXT;
		if (it->id == 0 && pc->frow_d > 0) {
			GROW(ds->fl, ds->nfl, ds->capfl, pc->frow_d);
			if (emb_feature_row(ds->fl + ds->nfl, pc->frow_d, ds->fl + it->feat, ds->X) == 0) {
				it->frow = (uint32_t)ds->nfl;
				ds->nfl += pc->frow_d;
			}
		}
		if (it->frow != NO_NEXT && pc->feature_rows)
			(*pc->feature_rows)++;
		else if (it->id == 0 && pc->unknown)
			(*pc->unknown)++;
		ds->nit++;
	}
	return 0;
}

/*
 * jscan checks the line before jansson reads it, so that a line that is not
 * valid JSON gets the reason every tool gives for that text (and nesting
 * deeper than 64 is refused), a value other than an object "not a JSON
 * object"; jansson then builds the tree the fields are read from. 0, or -1
 * with the reason in pc->err.
 */
static int
check_line(struct parse_ctx *pc, const char *buf, size_t len)
{
	struct jscan js = { 0 };
	int rc = 0;

	if (jscan_check(&js, buf, len) != 0)
		rc = perr(pc, "%s", js.err);
	else {
		jscan_init(&js, buf, len);
		if (jscan_peek(&js) != JSCAN_OBJECT)
			rc = perr(pc, "not a JSON object");
	}
	jscan_free(&js);
	return rc;
}

/*
 * Parses one transition into ds. 0, or -1 with the reason in pc->err (ds
 * is left as it was).
 */
int
parse_transition(struct parse_ctx *pc, const char *buf, size_t len)
{
	struct dataset *ds = pc->ds;
	size_t s_ids = ds->nids, s_fl = ds->nfl, s_it = ds->nit;
	int s_cset = ds->C_set, s_xset = ds->X_set;
	uint32_t s_C = ds->C, s_X = ds->X;
	struct trans t;
	char e[200], mdp[257];
	memset(&t, 0, sizeof t);
	if (check_line(pc, buf, len) != 0)
		return -1;
	json_t *o = jsonx_parse(buf, len, e, sizeof e);
	if (!o)
		return perr(pc, "%s", e);
	int rc = -1;
	if (!json_is_object(o)) {
		perr(pc, "expected an object");
		goto out;
	}
	if (jsonx_get_id(o, "mdp_id", mdp, e, sizeof e) < 0) {
		perr(pc, "%s", e);
		goto out;
	}
	t.key = hash64(mdp, strlen(mdp), pc->seed);
	{
		json_t *sq = json_object_get(o, "seq");
		t.seq = json_is_integer(sq) && json_integer_value(sq) >= 0 && json_integer_value(sq) <= UINT32_MAX ?
		    (uint32_t)json_integer_value(sq) : 0;
	}
	t.ts = -1;
	if (json_object_get(o, "ts") && jsonx_get_ts(o, "ts", &t.ts, e, sizeof e) < 0) {
		perr(pc, "%s", e);
		goto out;
	}
	json_t *st = json_object_get(o, "state");
	if (!json_is_object(st)) {
		perr(pc, "field 'state': expected an object");
		goto out;
	}
	if (parse_hist(pc, st, "state", &t.hist, &t.nhist) < 0 ||
	    parse_floats(pc, st, "context", "state", &ds->C, &ds->C_set, &t.ctx) < 0)
		goto out;
	json_t *act = json_object_get(o, "action");
	if (!json_is_array(act) || json_array_size(act) == 0) {
		perr(pc, "field 'action': expected a non-empty array");
		goto out;
	}
	if (parse_items(pc, act, "action", 1, &t.act, &t.nact) < 0)
		goto out;
	int done;
	if (jsonx_get_flag(o, "done", &done, e, sizeof e) < 0) {
		perr(pc, "%s", e);
		goto out;
	}
	t.done = (uint8_t)done;
	json_t *ns = json_object_get(o, "next_state");
	t.ctx2 = NO_NEXT;
	if (ns && json_is_object(ns)) {
		if (parse_hist(pc, ns, "next_state", &t.hist2, &t.nhist2) < 0 ||
		    parse_floats(pc, ns, "context", "next_state", &ds->C, &ds->C_set, &t.ctx2) < 0)
			goto out;
		json_t *na = json_object_get(o, "next_action");
		if (na && !json_is_array(na)) {
			perr(pc, "field 'next_action': expected an array");
			goto out;
		}
		if (na && parse_items(pc, na, "next_action", 0, &t.act2, &t.nact2) < 0)
			goto out;
	} else if (ns && !json_is_null(ns)) {
		perr(pc, "field 'next_state': expected an object or null");
		goto out;
	}
	if (done) {
		const char *end = NULL;
		json_t *je = json_object_get(o, "end");
		if (je && json_is_string(je))
			end = json_string_value(je);
		/* only a user who left ends the episode; other ends cut it short */
		if (!end || !strcmp(end, "session_gap"))
			t.terminal = 1;
		else
			t.truncated = 1;
	} else if (t.ctx2 == NO_NEXT) {
		perr(pc, "field 'next_state': missing while not done");
		goto out;
	}
	GROW(ds->t, ds->n, ds->cap, 1);
	ds->t[ds->n++] = t;
	rc = 0;
out:
	json_decref(o);
	if (rc < 0) {
		ds->nids = s_ids;
		ds->nfl = s_fl;
		ds->nit = s_it;
		ds->C_set = s_cset;
		ds->X_set = s_xset;
		ds->C = s_C;
		ds->X = s_X;
	}
	return rc;
}

void
dataset_free(struct dataset *ds)
{
	free(ds->t);
	free(ds->ids);
	free(ds->fl);
	free(ds->it);
	memset(ds, 0, sizeof *ds);
}

uint32_t
vocab_map(void *arg, const char *id, size_t len)
{
	struct vocab *v = arg;
	uint32_t r = emb_add(v->dict, id, len);
	if (r >= v->cap) {
		size_t old = v->cap;
		v->cap = v->cap ? v->cap * 2 : 1024;
		while (r >= v->cap)
			v->cap *= 2;
		v->count = xreallocarray(v->count, v->cap, sizeof *v->count);
		memset(v->count + old, 0, (v->cap - old) * sizeof *v->count);
	}
	return r;
}

/* Maps an id to its row of the frozen table, 0 (the unknown row) when absent. */
uint32_t
model_map(void *arg, const char *id, size_t len)
{
	int64_t r = emb_find(arg, id, len);
	return r < 0 ? 0 : (uint32_t)r;
}
