/* reader.c: q-eval's input records checked with jscan and read with jansson — the one file of q-eval that knows JSON. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "diag.h"
#include "jscan.h"
#include "jsonx.h"
#include "reader.h"
#include "xalloc.h"

struct qe_reader {
	char *sbuf;			/* the strings of the last read, NUL-separated */
	size_t slen, scap;
	size_t *soff;			/* where each item's or candidate's id starts in sbuf */
	size_t socap;
	struct qe_ritem *items;
	size_t icap;
	struct qe_str *cands;
	size_t ccap;
	struct qe_str *hist;		/* a request's history */
	size_t hcap;
	size_t *hoff;
	float *fbuf;			/* a request's context and features */
	size_t flen, fcap;
	size_t *foff, *fn;		/* each candidate's features in fbuf (SIZE_MAX: none) */
	const float **feat;
	size_t fcandcap;
	size_t ctxoff, nctx;
	struct qe_rtarget *tg;		/* a request's targets */
	size_t *tgname, *tgcond, *tglist;	/* their name's offset in sbuf, their first id in tsoff */
	size_t tgcap;
	struct qe_str *tstr;		/* their ids */
	size_t *tsoff, tscap;
	size_t s1off, s2off;
	struct jscan js;		/* checks each line before jansson reads it */
};


/*
 * jscan checks the line before jansson reads it, so that a line that is not
 * valid JSON gets the reason every tool gives for that text (and nesting
 * deeper than 64 is refused), a value other than an object "not a JSON
 * object"; jansson then builds the tree the fields are read from. The tree,
 * or NULL with the reason in err.
 */
static json_t *
parse(struct qe_reader *r, const char *buf, size_t len, char *err, size_t errlen)
{
	if (jscan_check(&r->js, buf, len) != 0) {
		diag_errf(err, errlen, "%s", r->js.err);
		return NULL;
	}
	jscan_init(&r->js, buf, len);
	if (jscan_peek(&r->js) != JSCAN_OBJECT) {
		diag_errf(err, errlen, "not a JSON object");
		return NULL;
	}
	return jsonx_parse(buf, len, err, errlen);
}

struct qe_reader *
qe_reader_new(void)
{
	return xcalloc(1, sizeof(struct qe_reader));
}

void
qe_reader_free(struct qe_reader *r)
{
	if (r == NULL)
		return;
	jscan_free(&r->js);
	free(r->sbuf);
	free(r->soff);
	free(r->items);
	free(r->cands);
	free(r->hist);
	free(r->hoff);
	free(r->fbuf);
	free(r->foff);
	free(r->fn);
	free(r->feat);
	free(r->tg);
	free(r->tgname);
	free(r->tgcond);
	free(r->tglist);
	free(r->tstr);
	free(r->tsoff);
	free(r);
}

/* Appends s (n bytes and a NUL) to the string buffer; returns its offset. */
static size_t
put_str(struct qe_reader *r, const char *s, size_t n)
{
	size_t off = r->slen;

	if (r->slen + n + 1 > r->scap) {
		r->scap = (r->slen + n + 1) * 2;
		r->sbuf = xrealloc(r->sbuf, r->scap);
	}
	memcpy(r->sbuf + r->slen, s, n);
	r->sbuf[r->slen + n] = '\0';
	r->slen += n + 1;
	return off;
}

static void
reserve(struct qe_reader *r, size_t n)
{
	if (n > r->socap) {
		r->socap = n * 2;
		r->soff = xreallocarray(r->soff, r->socap, sizeof *r->soff);
	}
	if (n > r->icap) {
		r->icap = n * 2;
		r->items = xreallocarray(r->items, r->icap, sizeof *r->items);
	}
}

static struct qe_str
str_at(const struct qe_reader *r, size_t off)
{
	struct qe_str s = { r->sbuf + off, strlen(r->sbuf + off) };

	return s;
}

/*
 * The fields of a shown item: item_id, pos, propensity (optional), click,
 * pay (optional, 0). Its id goes to the string buffer. 0, -1, or
 * QE_READ_BADPROP.
 */
static int
read_item(struct qe_reader *r, const json_t *o, struct qe_ritem *it, size_t *idoff, char *err, size_t errlen)
{
	char id[257];
	int64_t pos;
	json_t *p;
	int pay = 0;

	if (jsonx_get_id(o, "item_id", id, err, errlen) != 0 ||
	    jsonx_get_int(o, "pos", 0, QE_MAX_POS - 1, &pos, err, errlen) != 0 ||
	    jsonx_get_flag(o, "click", &it->click, err, errlen) != 0)
		return -1;
	if (json_object_get(o, "pay") != NULL && jsonx_get_flag(o, "pay", &pay, err, errlen) != 0)
		return -1;
	it->pay = pay;
	it->pos = (uint32_t)pos;
	it->prop = NAN;
	if ((p = json_object_get(o, "propensity")) != NULL && !json_is_null(p)) {
		if (!json_is_number(p))
			return diag_errf(err, errlen, "field 'propensity': expected a number");
		it->prop = json_number_value(p);
		if (!(it->prop > 0 && it->prop <= 1)) {
			diag_errf(err, errlen, "propensity %.7g of item %s at pos %u: outside (0, 1]", it->prop, id, it->pos);
			return QE_READ_BADPROP;
		}
	}
	*idoff = put_str(r, id, strlen(id));
	return 0;
}

/* ts when present (ms or RFC 3339), else INT64_MIN. */
static int
read_ts(const json_t *obj, int64_t *ts, char *err, size_t errlen)
{
	*ts = INT64_MIN;
	if (json_object_get(obj, "ts") == NULL)
		return 0;
	return jsonx_get_ts(obj, "ts", ts, err, errlen);
}

static int
read_transition(struct qe_reader *r, const json_t *obj, struct qe_record *rec, char *err, size_t errlen)
{
	char id[257], e2[400];
	const json_t *act;
	int64_t seq;
	size_t i, n;
	int st;

	if (jsonx_get_id(obj, "mdp_id", id, err, errlen) != 0 ||
	    jsonx_get_int(obj, "seq", 0, INT64_MAX, &seq, err, errlen) != 0 ||
	    read_ts(obj, &rec->ts, err, errlen) != 0)
		return -1;
	r->s1off = put_str(r, id, strlen(id));
	r->s2off = SIZE_MAX;
	if (json_object_get(obj, "request_id") != NULL && !json_is_null(json_object_get(obj, "request_id"))) {
		if (jsonx_get_id(obj, "request_id", id, err, errlen) != 0)
			return -1;
		r->s2off = put_str(r, id, strlen(id));
	}
	act = json_object_get(obj, "action");
	if (!json_is_array(act))
		return diag_errf(err, errlen, "field 'action': expected an array");
	n = json_array_size(act);
	if (n == 0 || n > QE_MAX_ITEMS)
		return diag_errf(err, errlen, "field 'action': %zu items, expected 1 to %d", n, QE_MAX_ITEMS);
	reserve(r, n);
	for (i = 0; i < n; i++) {
		const json_t *o = json_array_get(act, i);

		if (!json_is_object(o))
			return diag_errf(err, errlen, "action[%zu]: expected an object", i);
		if ((st = read_item(r, o, &r->items[i], &r->soff[i], e2, sizeof e2)) != 0) {
			diag_errf(err, errlen, "action[%zu]: %s", i, e2);
			return st;
		}
	}
	rec->kind = QE_REC_TRANSITION;
	rec->order = seq;
	rec->nitems = n;
	return 0;
}

static int
read_sample(struct qe_reader *r, const json_t *obj, struct qe_record *rec, char *err, size_t errlen)
{
	char uid[257], sid[257], rid[257], sess[515];
	int64_t page;
	int st;

	if (jsonx_get_id(obj, "request_id", rid, err, errlen) != 0 ||
	    jsonx_get_id(obj, "user_id", uid, err, errlen) != 0 ||
	    jsonx_get_int(obj, "page", 0, INT64_MAX, &page, err, errlen) != 0 ||
	    read_ts(obj, &rec->ts, err, errlen) != 0)
		return -1;
	sid[0] = '\0';
	if (json_object_get(obj, "session_id") != NULL && jsonx_get_id(obj, "session_id", sid, err, errlen) != 0)
		return -1;
	reserve(r, 1);
	if ((st = read_item(r, obj, &r->items[0], &r->soff[0], err, errlen)) != 0)
		return st;
	r->s2off = put_str(r, rid, strlen(rid));
	snprintf(sess, sizeof sess, "%s%s%s", uid, sid[0] != '\0' ? "/" : "", sid);
	r->s1off = put_str(r, sess, strlen(sess));
	rec->kind = QE_REC_SAMPLE;
	rec->order = page;
	rec->nitems = 1;
	return 0;
}

int
qe_read_record(struct qe_reader *r, const char *buf, size_t len, struct qe_record *rec, char *err, size_t errlen)
{
	json_t *obj;
	size_t i;
	int st;

	r->slen = 0;
	if ((obj = parse(r, buf, len, err, errlen)) == NULL)
		return -1;
	if (json_object_get(obj, "action") != NULL)
		st = read_transition(r, obj, rec, err, errlen);
	else if (json_object_get(obj, "item_id") != NULL)
		st = read_sample(r, obj, rec, err, errlen);
	else
		st = diag_errf(err, errlen, "neither a transition (no 'action') nor a sample (no 'item_id')");
	json_decref(obj);
	if (st != 0)
		return st;
	/* The buffer may have moved while it grew: pointers are set last. */
	rec->session = str_at(r, r->s1off);
	if (r->s2off != SIZE_MAX)
		rec->request = str_at(r, r->s2off);
	else
		rec->request = (struct qe_str){ "", 0 };
	for (i = 0; i < rec->nitems; i++)
		r->items[i].item = str_at(r, r->soff[i]);
	rec->items = r->items;
	return 0;
}

/*
 * The numbers of obj's array field key, appended to r->fbuf: 0 with *off and
 * *n set (*off SIZE_MAX when the field is absent), or -1 with the reason.
 */
static int
put_floats(struct qe_reader *r, const json_t *obj, const char *key, const char *where, size_t *off, size_t *n,
    char *err, size_t errlen)
{
	const json_t *v = json_object_get(obj, key), *e;
	size_t i, len;
	double d;

	*off = SIZE_MAX;
	*n = 0;
	if (v == NULL)
		return 0;
	if (!json_is_array(v))
		return diag_errf(err, errlen, "%sfield '%s': expected an array of numbers", where, key);
	len = json_array_size(v);
	if (r->flen + len > r->fcap) {
		r->fcap = (r->flen + len) * 2;
		r->fbuf = xreallocarray(r->fbuf, r->fcap, sizeof *r->fbuf);
	}
	for (i = 0; i < len; i++) {
		e = json_array_get(v, i);
		if (!json_is_number(e))
			return diag_errf(err, errlen, "%sfield '%s'[%zu]: expected a number", where, key, i);
		d = json_number_value(e);
		if (!isfinite(d) || fabs(d) > 3.4e38)
			return diag_errf(err, errlen, "%sfield '%s'[%zu]: not a finite float", where, key, i);
		r->fbuf[r->flen + i] = (float)d;
	}
	*off = r->flen;
	*n = len;
	r->flen += len;
	return 0;
}

/* The request's "hist" ids into r->hoff (their offsets in sbuf). 0, or -1 with the reason. */
static int
put_hist(struct qe_reader *r, const json_t *obj, size_t *nhist, char *err, size_t errlen)
{
	const json_t *h = json_object_get(obj, "hist"), *e;
	char id[257];
	size_t i, n;

	*nhist = 0;
	if (h == NULL)
		return 0;
	if (!json_is_array(h))
		return diag_errf(err, errlen, "field 'hist': expected an array of ids");
	n = json_array_size(h);
	if (n > r->hcap) {
		r->hcap = n * 2;
		r->hist = xreallocarray(r->hist, r->hcap, sizeof *r->hist);
		r->hoff = xreallocarray(r->hoff, r->hcap, sizeof *r->hoff);
	}
	for (i = 0; i < n; i++) {
		e = json_array_get(h, i);
		if (json_is_string(e) && json_string_length(e) > 0 && json_string_length(e) <= 256)
			r->hoff[i] = put_str(r, json_string_value(e), json_string_length(e));
		else if (json_is_integer(e)) {
			snprintf(id, sizeof id, "%" PRId64, (int64_t)json_integer_value(e));
			r->hoff[i] = put_str(r, id, strlen(id));
		} else
			return diag_errf(err, errlen, "field 'hist'[%zu]: expected an id", i);
	}
	*nhist = n;
	return 0;
}

/* Appends the ids of array a (a target's field key) to r->tsoff; 0 or -1 with the reason. */
static int
put_target_ids(struct qe_reader *r, const json_t *a, const char *name, const char *key, size_t *nt, char *err,
    size_t errlen)
{
	const json_t *e;
	size_t i, n;

	if (!json_is_array(a))
		return diag_errf(err, errlen, "targets.%s.%s: expected an array of ids", name, key);
	n = json_array_size(a);
	if (*nt + n > r->tscap) {
		r->tscap = (*nt + n) * 2;
		r->tsoff = xreallocarray(r->tsoff, r->tscap, sizeof *r->tsoff);
		r->tstr = xreallocarray(r->tstr, r->tscap, sizeof *r->tstr);
	}
	for (i = 0; i < n; i++) {
		e = json_array_get(a, i);
		if (!json_is_string(e) || json_string_length(e) == 0 || json_string_length(e) > 256)
			return diag_errf(err, errlen, "targets.%s.%s[%zu]: expected an id", name, key, i);
		r->tsoff[(*nt)++] = put_str(r, json_string_value(e), json_string_length(e));
	}
	return 0;
}

/*
 * The request's "targets" ({"NAME":{"cond":[ids],"list":[ids]}, ...}): their
 * names and ids into the string buffer, counts into r->tg, where they start
 * into r->tgname, r->tgcond and r->tglist. 0, or -1 with the reason.
 */
static int
put_targets(struct qe_reader *r, const json_t *obj, size_t *ntg, char *err, size_t errlen)
{
	const json_t *t = json_object_get(obj, "targets"), *v;
	const char *name;
	size_t nt = 0, i = 0;

	*ntg = 0;
	if (t == NULL)
		return 0;
	if (!json_is_object(t))
		return diag_errf(err, errlen, "field 'targets': expected an object");
	if (json_object_size(t) > r->tgcap) {
		r->tgcap = json_object_size(t) * 2;
		r->tg = xreallocarray(r->tg, r->tgcap, sizeof *r->tg);
		r->tgname = xreallocarray(r->tgname, r->tgcap, sizeof *r->tgname);
		r->tgcond = xreallocarray(r->tgcond, r->tgcap, sizeof *r->tgcond);
		r->tglist = xreallocarray(r->tglist, r->tgcap, sizeof *r->tglist);
	}
	json_object_foreach((json_t *)t, name, v) {
		if (!json_is_object(v))
			return diag_errf(err, errlen, "targets.%s: expected an object", name);
		r->tgname[i] = put_str(r, name, strlen(name));
		r->tgcond[i] = nt;
		if (put_target_ids(r, json_object_get(v, "cond"), name, "cond", &nt, err, errlen) != 0)
			return -1;
		r->tg[i].ncond = nt - r->tgcond[i];
		r->tglist[i] = nt;
		if (put_target_ids(r, json_object_get(v, "list"), name, "list", &nt, err, errlen) != 0)
			return -1;
		r->tg[i].nlist = nt - r->tglist[i];
		i++;
	}
	*ntg = i;
	return 0;
}

/* The targets' strings, once every string of the request is in r->sbuf. */
static void
fix_targets(struct qe_reader *r, size_t ntg)
{
	size_t i, j;

	for (i = 0; i < ntg; i++) {
		struct qe_rtarget *g = &r->tg[i];

		g->name = str_at(r, r->tgname[i]);
		for (j = 0; j < g->ncond; j++)
			r->tstr[r->tgcond[i] + j] = str_at(r, r->tsoff[r->tgcond[i] + j]);
		for (j = 0; j < g->nlist; j++)
			r->tstr[r->tglist[i] + j] = str_at(r, r->tsoff[r->tglist[i] + j]);
		g->cond = r->tstr + r->tgcond[i];
		g->list = r->tstr + r->tglist[i];
	}
}

int
qe_read_request(struct qe_reader *r, const char *buf, size_t len, struct qe_rrequest *rq, char *err,
    size_t errlen)
{
	char id[257], e2[400];
	const json_t *cands;
	json_t *obj;
	size_t i, n, roff, nhist, ntg;

	r->slen = 0;
	r->flen = 0;
	if ((obj = parse(r, buf, len, err, errlen)) == NULL)
		return -1;
	if (jsonx_get_id(obj, "request_id", id, err, errlen) != 0)
		goto err;
	roff = put_str(r, id, strlen(id));
	if (put_hist(r, obj, &nhist, err, errlen) != 0 ||
	    put_floats(r, obj, "context", "", &r->ctxoff, &r->nctx, err, errlen) != 0 ||
	    put_targets(r, obj, &ntg, err, errlen) != 0)
		goto err;
	cands = json_object_get(obj, "candidates");
	if (!json_is_array(cands)) {
		diag_errf(err, errlen, "field 'candidates': expected an array");
		goto err;
	}
	n = json_array_size(cands);
	reserve(r, n);
	if (n > r->fcandcap) {
		r->fcandcap = n * 2;
		r->foff = xreallocarray(r->foff, r->fcandcap, sizeof *r->foff);
		r->fn = xreallocarray(r->fn, r->fcandcap, sizeof *r->fn);
		r->feat = xreallocarray(r->feat, r->fcandcap, sizeof *r->feat);
	}
	for (i = 0; i < n; i++) {
		const json_t *o = json_array_get(cands, i);

		if (!json_is_object(o) || jsonx_get_id(o, "item_id", id, e2, sizeof e2) != 0) {
			diag_errf(err, errlen, "candidates[%zu]: %s", i, json_is_object(o) ? e2 : "expected an object");
			goto err;
		}
		r->soff[i] = put_str(r, id, strlen(id));
		snprintf(e2, sizeof e2, "candidates[%zu]: ", i);
		if (put_floats(r, o, "features", e2, &r->foff[i], &r->fn[i], err, errlen) != 0)
			goto err;
	}
	json_decref(obj);
	if (n > r->ccap) {
		r->ccap = n * 2;
		r->cands = xreallocarray(r->cands, r->ccap, sizeof *r->cands);
	}
	for (i = 0; i < n; i++) {
		r->cands[i] = str_at(r, r->soff[i]);
		r->feat[i] = r->foff[i] == SIZE_MAX ? NULL : r->fbuf + r->foff[i];
	}
	for (i = 0; i < nhist; i++)
		r->hist[i] = str_at(r, r->hoff[i]);
	rq->request = str_at(r, roff);
	rq->cands = r->cands;
	rq->ncands = n;
	rq->hist = r->hist;
	rq->nhist = nhist;
	rq->ctx = r->ctxoff == SIZE_MAX ? NULL : r->fbuf + r->ctxoff;
	rq->nctx = r->nctx;
	rq->feat = r->feat;
	rq->nfeat = r->fn;
	fix_targets(r, ntg);
	rq->targets = r->tg;
	rq->ntargets = ntg;
	return 0;
err:
	json_decref(obj);
	return -1;
}

int
qe_read_item(struct qe_reader *r, const char *buf, size_t len, struct qe_str *item, char *err, size_t errlen)
{
	char id[257];
	json_t *obj;
	int st;

	r->slen = 0;
	if ((obj = parse(r, buf, len, err, errlen)) == NULL)
		return -1;
	st = jsonx_get_id(obj, "item_id", id, err, errlen);
	json_decref(obj);
	if (st != 0)
		return -1;
	*item = str_at(r, put_str(r, id, strlen(id)));
	return 0;
}

int
qe_read_table(struct qe_reader *r, const char *buf, size_t len, struct qe_rtable *row, char *err, size_t errlen)
{
	char id[257];
	int64_t pos;
	json_t *obj;
	int st = -1;

	r->slen = 0;
	if ((obj = parse(r, buf, len, err, errlen)) == NULL)
		return -1;
	row->from = INT64_MIN;
	if (jsonx_get_id(obj, "item_id", id, err, errlen) != 0 ||
	    jsonx_get_int(obj, "pos", 0, QE_MAX_POS - 1, &pos, err, errlen) != 0 ||
	    jsonx_get_num(obj, "prob", 0, 1, &row->prob, err, errlen) != 0)
		goto out;
	if (json_object_get(obj, "from") != NULL && jsonx_get_ts(obj, "from", &row->from, err, errlen) != 0)
		goto out;
	row->pos = (uint32_t)pos;
	row->item = str_at(r, put_str(r, id, strlen(id)));
	st = 0;
out:
	json_decref(obj);
	return st;
}

int
qe_read_prior(struct qe_reader *r, const char *buf, size_t len, struct qe_rprior *row, char *err, size_t errlen)
{
	char id[257];
	json_t *obj;
	int st = -1;

	r->slen = 0;
	if ((obj = parse(r, buf, len, err, errlen)) == NULL)
		return -1;
	if (jsonx_get_id(obj, "item_id", id, err, errlen) != 0 ||
	    jsonx_get_num(obj, "alpha", 1e-6, 1e12, &row->alpha, err, errlen) != 0 ||
	    jsonx_get_num(obj, "beta", 1e-6, 1e12, &row->beta, err, errlen) != 0)
		goto out;
	row->item = str_at(r, put_str(r, id, strlen(id)));
	st = 0;
out:
	json_decref(obj);
	return st;
}
