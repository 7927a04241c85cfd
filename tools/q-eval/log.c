/* log.c: the in-memory store of logged pages — grouping samples into pages and pages into sessions, with the checks of each page. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "jbuf.h"
#include "log.h"
#include "xalloc.h"


/* The requests' history ids, contexts and features, in pools; per request and per candidate offsets. */
struct qe_reqstate_store {
	char *spool;			/* history ids, NUL-terminated */
	size_t slen, scap;
	size_t *hid;			/* offsets of history ids in spool */
	size_t nhid, hidcap;
	float *fpool;			/* contexts and features */
	size_t flen, fcap;
	size_t *hfirst, *ctx;		/* per request: its first in hid; its context in fpool (SIZE_MAX: none) */
	uint32_t *nh, *nctx;
	size_t rcap;
	size_t *foff;			/* per candidate (parallel to the requests' cand): features in fpool, or SIZE_MAX */
	uint32_t *fn;
	size_t focap;
	struct qe_ids *tnames;		/* the recorded targets' names */
	size_t *tfirst;			/* per request: its first entry in tsel */
	uint32_t *ntg;			/* and how many targets it recorded */
	uint32_t *tsel;			/* per target: name, ncond, nlist, cond items, list items */
	size_t ntsel, tselcap;
};

static void
reqstate_store_free(struct qe_reqstate_store *S)
{
	if (S == NULL)
		return;
	free(S->spool);
	free(S->hid);
	free(S->fpool);
	free(S->hfirst);
	free(S->ctx);
	free(S->nh);
	free(S->nctx);
	free(S->foff);
	free(S->fn);
	qe_ids_free(S->tnames);
	free(S->tfirst);
	free(S->ntg);
	free(S->tsel);
	free(S);
}

struct qe_log *
qe_log_new(const struct qe_log_opts *o)
{
	struct qe_log *log = xcalloc(1, sizeof *log);

	log->opts = *o;
	log->items = qe_ids_new();
	log->pagekeys = qe_ids_new();
	log->samplekeys = qe_ids_new();
	log->sessionkeys = qe_ids_new();
	log->req.ids = qe_ids_new();
	log->kind = -1;
	return log;
}

void
qe_log_free(struct qe_log *log)
{
	size_t i;

	if (log == NULL)
		return;
	for (i = 0; i < log->npages; i++)
		free(log->pages[i].source);
	qe_ids_free(log->items);
	qe_ids_free(log->pagekeys);
	qe_ids_free(log->samplekeys);
	qe_ids_free(log->sessionkeys);
	qe_ids_free(log->req.ids);
	free(log->req.first);
	free(log->req.n);
	free(log->req.cand);
	reqstate_store_free(log->req.state);
	free(log->it);
	free(log->pages);
	free(log->sessions);
	free(log->aset);
	free(log);
}

static size_t
put_floats(struct qe_reqstate_store *S, const float *x, size_t n)
{
	size_t off = S->flen;

	if (S->flen + n > S->fcap) {
		S->fcap = (S->flen + n) * 2;
		S->fpool = xreallocarray(S->fpool, S->fcap, sizeof *S->fpool);
	}
	memcpy(S->fpool + S->flen, x, n * sizeof *x);
	S->flen += n;
	return off;
}

/* Keeps request k's history, context and features; its candidates start at first in the requests' cand. */
static void
keep_state(struct qe_log *log, uint32_t k, size_t first, const struct qe_rrequest *rq)
{
	struct qe_reqstate_store *S = log->req.state;
	size_t i, c;

	if (S == NULL) {
		S = log->req.state = xcalloc(1, sizeof *S);
		S->tnames = qe_ids_new();
	}
	if (k >= S->rcap) {
		S->rcap = (k + 1) * 2;
		S->tfirst = xreallocarray(S->tfirst, S->rcap, sizeof *S->tfirst);
		S->ntg = xreallocarray(S->ntg, S->rcap, sizeof *S->ntg);
		S->hfirst = xreallocarray(S->hfirst, S->rcap, sizeof *S->hfirst);
		S->ctx = xreallocarray(S->ctx, S->rcap, sizeof *S->ctx);
		S->nh = xreallocarray(S->nh, S->rcap, sizeof *S->nh);
		S->nctx = xreallocarray(S->nctx, S->rcap, sizeof *S->nctx);
	}
	if (S->nhid + rq->nhist > S->hidcap) {
		S->hidcap = (S->nhid + rq->nhist) * 2;
		S->hid = xreallocarray(S->hid, S->hidcap, sizeof *S->hid);
	}
	S->hfirst[k] = S->nhid;
	S->nh[k] = (uint32_t)rq->nhist;
	for (i = 0; i < rq->nhist; i++) {
		if (S->slen + rq->hist[i].len + 1 > S->scap) {
			S->scap = (S->slen + rq->hist[i].len + 1) * 2;
			S->spool = xrealloc(S->spool, S->scap);
		}
		memcpy(S->spool + S->slen, rq->hist[i].p, rq->hist[i].len + 1);
		S->hid[S->nhid++] = S->slen;
		S->slen += rq->hist[i].len + 1;
	}
	S->ctx[k] = rq->ctx == NULL ? SIZE_MAX : put_floats(S, rq->ctx, rq->nctx);
	S->nctx[k] = (uint32_t)rq->nctx;
	if (first + rq->ncands > S->focap) {
		S->focap = (first + rq->ncands) * 2;
		S->foff = xreallocarray(S->foff, S->focap, sizeof *S->foff);
		S->fn = xreallocarray(S->fn, S->focap, sizeof *S->fn);
	}
	for (i = 0; i < rq->ncands; i++) {
		c = first + i;
		S->foff[c] = rq->feat[i] == NULL ? SIZE_MAX : put_floats(S, rq->feat[i], rq->nfeat[i]);
		S->fn[c] = (uint32_t)rq->nfeat[i];
	}
	S->tfirst[k] = S->ntsel;
	S->ntg[k] = (uint32_t)rq->ntargets;
	for (i = 0; i < rq->ntargets; i++) {
		const struct qe_rtarget *g = &rq->targets[i];
		size_t j, need = 3 + g->ncond + g->nlist;

		if (S->ntsel + need > S->tselcap) {
			S->tselcap = (S->ntsel + need) * 2;
			S->tsel = xreallocarray(S->tsel, S->tselcap, sizeof *S->tsel);
		}
		S->tsel[S->ntsel++] = qe_ids_add(S->tnames, g->name.p, g->name.len, NULL);
		S->tsel[S->ntsel++] = (uint32_t)g->ncond;
		S->tsel[S->ntsel++] = (uint32_t)g->nlist;
		for (j = 0; j < g->ncond; j++)
			S->tsel[S->ntsel++] = qe_ids_add(log->items, g->cond[j].p, g->cond[j].len, NULL);
		for (j = 0; j < g->nlist; j++)
			S->tsel[S->ntsel++] = qe_ids_add(log->items, g->list[j].p, g->list[j].len, NULL);
	}
}

int
qe_log_request_target(const struct qe_log *log, uint32_t req, const char *name, const uint32_t **cond,
    size_t *ncond, const uint32_t **list, size_t *nlist)
{
	const struct qe_reqstate_store *S = log->req.state;
	const uint32_t *e;
	uint32_t t, id;

	if (S == NULL || req >= S->rcap || req >= qe_ids_count(log->req.ids) ||
	    (id = qe_ids_find(S->tnames, name, strlen(name))) == QE_NOID)
		return -1;
	e = S->tsel + S->tfirst[req];
	for (t = 0; t < S->ntg[req]; t++) {
		if (e[0] == id) {
			*ncond = e[1];
			*nlist = e[2];
			*cond = e + 3;
			*list = e + 3 + e[1];
			return 0;
		}
		e += 3 + e[1] + e[2];
	}
	return -1;
}

int
qe_log_request_state(const struct qe_log *log, uint32_t req, struct qe_reqstate *st)
{
	const struct qe_reqstate_store *S = log->req.state;
	size_t i, n, first;

	if (S == NULL || req >= qe_ids_count(log->req.ids) || req >= S->rcap)
		return -1;
	n = S->nh[req] > log->req.n[req] ? S->nh[req] : log->req.n[req];
	if (n > st->hcap || n > st->fcap) {
		st->hcap = st->fcap = n * 2;
		st->hist = xreallocarray(st->hist, st->hcap, sizeof *st->hist);
		st->hlen = xreallocarray(st->hlen, st->hcap, sizeof *st->hlen);
		st->feat = xreallocarray(st->feat, st->fcap, sizeof *st->feat);
		st->nfeat = xreallocarray(st->nfeat, st->fcap, sizeof *st->nfeat);
	}
	st->nhist = S->nh[req];
	for (i = 0; i < st->nhist; i++) {
		st->hist[i] = S->spool + S->hid[S->hfirst[req] + i];
		st->hlen[i] = strlen(st->hist[i]);
	}
	st->ctx = S->ctx[req] == SIZE_MAX ? NULL : S->fpool + S->ctx[req];
	st->nctx = S->nctx[req];
	first = log->req.first[req];
	for (i = 0; i < log->req.n[req]; i++) {
		st->feat[i] = S->foff[first + i] == SIZE_MAX ? NULL : S->fpool + S->foff[first + i];
		st->nfeat[i] = S->fn[first + i];
	}
	return 0;
}

void
qe_reqstate_free(struct qe_reqstate *st)
{
	free(st->hist);
	free(st->hlen);
	free(st->feat);
	free(st->nfeat);
	memset(st, 0, sizeof *st);
}

int
qe_log_add_request(struct qe_log *log, const struct qe_rrequest *rq, char *err, size_t errlen)
{
	struct qe_requests *R = &log->req;
	uint32_t k, c;
	size_t i, j;
	int added;

	k = qe_ids_add(R->ids, rq->request.p, rq->request.len, &added);
	if (!added)
		return diag_errf(err, errlen, "request %s: a second request with this id", rq->request.p);
	if (k >= R->cap) {
		R->cap = R->cap ? R->cap * 2 : 1024;
		R->first = xreallocarray(R->first, R->cap, sizeof *R->first);
		R->n = xreallocarray(R->n, R->cap, sizeof *R->n);
	}
	if (R->ncand + rq->ncands > R->ccap) {
		R->ccap = (R->ncand + rq->ncands) * 2;
		R->cand = xreallocarray(R->cand, R->ccap, sizeof *R->cand);
	}
	R->first[k] = R->ncand;
	R->n[k] = (uint32_t)rq->ncands;
	for (i = 0; i < rq->ncands; i++) {
		c = qe_ids_add(log->items, rq->cands[i].p, rq->cands[i].len, NULL);
		for (j = 0; j < i; j++)
			if (R->cand[R->first[k] + j] == c) {
				R->n[k] = 0;
				return diag_errf(err, errlen, "request %s: candidate %s twice", rq->request.p, rq->cands[i].p);
			}
		R->cand[R->ncand + i] = c;
	}
	if (log->opts.request_state)
		keep_state(log, k, R->ncand, rq);
	R->ncand += rq->ncands;
	return 0;
}

int
qe_log_add_action(struct qe_log *log, const struct qe_str *item, char *err, size_t errlen)
{
	uint32_t c = qe_ids_add(log->items, item->p, item->len, NULL);
	size_t i;

	for (i = 0; i < log->naset; i++)
		if (log->aset[i] == c)
			return diag_errf(err, errlen, "item %s: twice in the action set", item->p);
	log->aset = xreallocarray(log->aset, log->naset + 1, sizeof *log->aset);
	log->aset[log->naset++] = c;
	return 0;
}

/* The request of request_id, QE_NOID when none. */
static uint32_t
page_request(const struct qe_log *log, const struct qe_str *rid)
{
	if (qe_ids_count(log->req.ids) == 0 || rid->len == 0)
		return QE_NOID;
	return qe_ids_find(log->req.ids, rid->p, rid->len);
}

/* 0 when every item of rec is among the candidates (n of them), else -1 with the reason. */
static int
check_candidates(struct qe_log *log, const struct qe_record *rec, const uint32_t *cand, size_t n,
    const char *whose, char *err, size_t errlen)
{
	uint32_t c;
	size_t i, j;

	for (i = 0; i < rec->nitems; i++) {
		c = qe_ids_find(log->items, rec->items[i].item.p, rec->items[i].item.len);
		for (j = 0; j < n && cand[j] != c; j++)
			;
		if (c == QE_NOID || j == n)
			return diag_errf(err, errlen, "item %s at pos %u: not among the candidates of %s", rec->items[i].item.p,
			    rec->items[i].pos, whose);
	}
	return 0;
}

static struct qe_page *
new_page(struct qe_log *log, const struct qe_record *rec, uint32_t req)
{
	struct qe_page *p;

	if (log->npages == log->pcap) {
		log->pcap = log->pcap ? log->pcap * 2 : 1024;
		log->pages = xreallocarray(log->pages, log->pcap, sizeof *log->pages);
	}
	p = &log->pages[log->npages++];
	memset(p, 0, sizeof *p);
	p->session = qe_ids_add(log->sessionkeys, rec->session.p, rec->session.len, NULL);
	p->order = rec->order;
	p->ts = rec->ts;
	p->req = req;
	if (req == QE_NOID && qe_ids_count(log->req.ids) != 0)
		log->n_no_request++;
	return p;
}

static void
add_item(struct qe_log *log, const struct qe_ritem *ri, uint32_t page)
{
	struct qe_item *it;

	if (log->nit == log->itcap) {
		log->itcap = log->itcap ? log->itcap * 2 : 4096;
		log->it = xreallocarray(log->it, log->itcap, sizeof *log->it);
	}
	it = &log->it[log->nit++];
	it->item = qe_ids_add(log->items, ri->item.p, ri->item.len, NULL);
	it->pos = ri->pos;
	it->page = page;
	it->click = (uint8_t)ri->click;
	it->pay = (uint8_t)ri->pay;
	it->prop = ri->prop;
	it->r = log->opts.w_click * ri->click + log->opts.w_pay * ri->pay;
	if (ri->pos > log->max_pos)
		log->max_pos = ri->pos;
}

/* The candidates a record's page was logged from: its request's, the action set, or none. */
static int
record_candidates(struct qe_log *log, const struct qe_record *rec, uint32_t req, size_t *ncand, char *err,
    size_t errlen)
{
	char whose[300];

	*ncand = 0;
	if (req != QE_NOID) {
		snprintf(whose, sizeof whose, "request %s", rec->request.p);
		*ncand = log->req.n[req];
		return check_candidates(log, rec, log->req.cand + log->req.first[req], log->req.n[req], whose, err,
		    errlen);
	}
	if (log->aset != NULL) {
		*ncand = log->naset;
		return check_candidates(log, rec, log->aset, log->naset, "the action set", err, errlen);
	}
	return 0;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int
add_transition(struct qe_log *log, const struct qe_record *rec, char *err, size_t errlen)
{
	uint32_t pos[QE_MAX_ITEMS], spos[QE_MAX_ITEMS], req;
	double prop[QE_MAX_ITEMS];
	char key[600];
	size_t i, j, k = rec->nitems, ncand, n;
	int added, noprop = 0;
	struct qe_page *p;
	uint32_t pg;

	memcpy(key, rec->session.p, rec->session.len);
	n = rec->session.len + 1 + (size_t)snprintf(key + rec->session.len + 1, 30, "%" PRId64, rec->order);
	key[rec->session.len] = '\0';
	if (qe_ids_find(log->pagekeys, key, n) != QE_NOID)
		return diag_errf(err, errlen, "a second transition %s seq %" PRId64, rec->session.p, rec->order);
	for (i = 0; i < k; i++)
		spos[i] = rec->items[i].pos;
	qsort(spos, k, sizeof *spos, cmp_u32);
	for (i = 1; i < k; i++)
		if (spos[i] == spos[i - 1])
			return diag_errf(err, errlen, "pos %u: two items", spos[i]);
	req = page_request(log, &rec->request);
	if (record_candidates(log, rec, req, &ncand, err, errlen) != 0)
		return -1;
	/* The propensities in position order, as the logging policy placed them. */
	for (i = 0; i < k; i++) {
		for (j = 0; rec->items[j].pos != spos[i]; j++)
			;
		pos[i] = spos[i];
		prop[i] = rec->items[j].prop;
		noprop |= isnan(prop[i]);
	}
	if (!noprop && qe_logging_check(&log->opts.logging, pos, prop, k, ncand, &ncand, err, errlen) != 0)
		return QE_READ_BADPROP;
	pg = qe_ids_add(log->pagekeys, key, n, &added);
	p = new_page(log, rec, req);
	p->ncand = ncand;
	if (noprop) {
		p->flags |= QE_PAGE_NOPROP;
		log->n_noprop_pages++;
	}
	for (i = 0; i < k; i++) {
		add_item(log, &rec->items[i], pg);
		log->n_noprop_items += isnan(rec->items[i].prop);
	}
	return 0;
}

static int
add_sample(struct qe_log *log, const struct qe_record *rec, const char *source, char *err, size_t errlen)
{
	char key[300];
	size_t n, ncand;
	struct qe_page *p;
	uint32_t pg, sess, req;
	int added;

	memcpy(key, rec->request.p, rec->request.len);
	key[rec->request.len] = '\0';
	n = rec->request.len + 1 + (size_t)snprintf(key + rec->request.len + 1, 20, "%u", rec->items[0].pos);
	if (qe_ids_find(log->samplekeys, key, n) != QE_NOID)
		return diag_errf(err, errlen, "a second sample of request %s at pos %u", rec->request.p, rec->items[0].pos);
	pg = qe_ids_find(log->pagekeys, rec->request.p, rec->request.len);
	if (pg != QE_NOID) {
		p = &log->pages[pg];
		sess = qe_ids_find(log->sessionkeys, rec->session.p, rec->session.len);
		if (sess != p->session || rec->order != p->order)
			return diag_errf(err, errlen, "request %s: its samples disagree on the session or the page number",
			    rec->request.p);
		req = p->req;
	} else
		req = page_request(log, &rec->request);
	if (record_candidates(log, rec, req, &ncand, err, errlen) != 0)
		return -1;
	if (pg == QE_NOID) {
		pg = qe_ids_add(log->pagekeys, rec->request.p, rec->request.len, &added);
		p = new_page(log, rec, req);
		p->ncand = ncand;
		p->source = xstrdup(source != NULL ? source : "");
	}
	qe_ids_add(log->samplekeys, key, n, NULL);
	add_item(log, &rec->items[0], pg);
	return 0;
}

int
qe_log_add(struct qe_log *log, const struct qe_record *rec, const char *source, char *err, size_t errlen)
{
	if (log->kind < 0)
		log->kind = (int)rec->kind;
	if ((int)rec->kind != log->kind)
		return diag_errf(err, errlen, "a %s among %ss: one kind a run",
		    rec->kind == QE_REC_SAMPLE ? "sample" : "transition", log->kind == QE_REC_SAMPLE ? "sample" :
		    "transition");
	if (rec->kind == QE_REC_TRANSITION)
		return add_transition(log, rec, err, errlen);
	if (rec->request.len == 0)
		return diag_errf(err, errlen, "a sample without request_id");
	return add_sample(log, rec, source, err, errlen);
}

static const struct qe_log *sort_log;

/* Items by page, then position. */
static int
cmp_item(const void *a, const void *b)
{
	const struct qe_item *x = a, *y = b;

	if (x->page != y->page)
		return x->page < y->page ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Page numbers by session, then order, then time, then number. */
static int
cmp_page(const void *a, const void *b)
{
	const struct qe_page *x = &sort_log->pages[*(const uint32_t *)a], *y = &sort_log->pages[*(const uint32_t *)b];

	if (x->session != y->session)
		return x->session < y->session ? -1 : 1;
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

/* A page built from samples, checked as a transition is when it is read. */
static void
check_sample_page(struct qe_log *log, struct qe_page *p, qe_log_drop_fn *drop, void *arg)
{
	uint32_t pos[QE_MAX_ITEMS];
	double prop[QE_MAX_ITEMS];
	struct jbuf raw = { 0 };
	char err[512];
	size_t j, k = p->n < QE_MAX_ITEMS ? p->n : QE_MAX_ITEMS;
	const struct qe_item *it = log->it + p->first;

	for (j = 0; j < k; j++) {
		pos[j] = it[j].pos;
		prop[j] = it[j].prop;
		if (isnan(prop[j])) {
			p->flags |= QE_PAGE_NOPROP;
			log->n_noprop_items++;
		}
	}
	if (p->flags & QE_PAGE_NOPROP) {
		log->n_noprop_pages++;
		return;
	}
	if (p->n > QE_MAX_ITEMS)
		snprintf(err, sizeof err, "%u items on one page, at most %d", p->n, QE_MAX_ITEMS);
	else if (qe_logging_check(&log->opts.logging, pos, prop, k, p->ncand, &p->ncand, err, sizeof err) == 0)
		return;
	p->flags |= QE_PAGE_DROPPED;
	log->n_dropped++;
	/* The page as grouped: its request and items. */
	jbuf_lit(&raw, "{\"request_id\":");
	jbuf_strz(&raw, qe_ids_name(log->pagekeys, it[0].page));
	jbuf_lit(&raw, ",\"items\":[");
	for (j = 0; j < p->n; j++) {
		jbuf_puts(&raw, j ? ",{\"item_id\":" : "{\"item_id\":");
		jbuf_strz(&raw, qe_ids_name(log->items, it[j].item));
		jbuf_printf(&raw, ",\"pos\":%u,\"propensity\":", it[j].pos);
		jbuf_num7(&raw, it[j].prop);
		jbuf_lit(&raw, "}");
	}
	jbuf_lit(&raw, "]}");
	drop(arg, p->source, raw.p, raw.len, err);
	jbuf_free(&raw);
}

/* Sorts the items by page and position and sets each page's first and n. */
static void
group_items(struct qe_log *log)
{
	size_t i;

	if (log->nit > 0)
		qsort(log->it, log->nit, sizeof *log->it, cmp_item);
	for (i = 0; i < log->npages; i++)
		log->pages[i].n = 0;
	for (i = log->nit; i-- > 0;) {
		log->pages[log->it[i].page].first = i;
		log->pages[log->it[i].page].n++;
	}
}

void
qe_log_finish(struct qe_log *log, qe_log_drop_fn *drop, void *arg)
{
	struct qe_page *np;
	struct qe_item *nit;
	uint32_t *ord, *newno;
	size_t i, j, m = 0, ni = 0, sess;

	group_items(log);
	if (log->kind == QE_REC_SAMPLE)
		for (i = 0; i < log->npages; i++)
			check_sample_page(log, &log->pages[i], drop, arg);
	/* The pages kept, by session and order; their items follow them. */
	ord = xmalloc((log->npages + 1) * sizeof *ord);
	newno = xmalloc((log->npages + 1) * sizeof *newno);
	for (i = 0; i < log->npages; i++)
		if (!(log->pages[i].flags & QE_PAGE_DROPPED))
			ord[m++] = (uint32_t)i;
	sort_log = log;
	qsort(ord, m, sizeof *ord, cmp_page);
	np = xmalloc((m + 1) * sizeof *np);
	nit = xmalloc((log->nit + 1) * sizeof *nit);
	for (i = 0; i < m; i++) {
		struct qe_page *p = &log->pages[ord[i]];

		np[i] = *p;
		np[i].first = ni;
		for (j = 0; j < p->n; j++) {
			nit[ni] = log->it[p->first + j];
			nit[ni++].page = (uint32_t)i;
		}
		newno[ord[i]] = (uint32_t)i;
	}
	for (i = 0; i < log->npages; i++)
		if (log->pages[i].flags & QE_PAGE_DROPPED)
			free(log->pages[i].source);
	free(log->pages);
	free(log->it);
	log->pages = np;
	log->npages = m;
	log->pcap = m + 1;
	log->it = nit;
	log->nit = ni;
	log->itcap = log->nit + 1;
	/* Sessions, numbered in page order. */
	log->sessions = xmalloc((m + 1) * sizeof *log->sessions);
	log->nsessions = 0;
	for (i = 0; i < m; i = j) {
		sess = log->pages[i].session;
		for (j = i; j < m && log->pages[j].session == sess; j++) {
			log->pages[j].session = (uint32_t)log->nsessions;
			log->pages[j].t = (uint32_t)(j - i);
		}
		log->sessions[log->nsessions].first = (uint32_t)i;
		log->sessions[log->nsessions++].n = (uint32_t)(j - i);
	}
	free(ord);
	free(newno);
	log->finished = 1;
}

const uint32_t *
qe_log_candidates(const struct qe_log *log, const struct qe_page *p, size_t *n)
{
	if (p->req != QE_NOID) {
		*n = log->req.n[p->req];
		return log->req.cand + log->req.first[p->req];
	}
	if (log->aset != NULL) {
		*n = log->naset;
		return log->aset;
	}
	*n = 0;
	return NULL;
}
