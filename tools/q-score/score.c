/* score.c: q-score's request path — parse a score request, gather its history, score every candidate by Q, rank, answer. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag.h"
#include "qscore.h"
#include "xalloc.h"

void
qs_error_response(struct jbuf *out, const char *id, const char *reason)
{
	jbuf_puts(out, "{\"request_id\":");
	if (id && *id)
		jbuf_str(out, id, strlen(id));
	else
		jbuf_puts(out, "null");
	jbuf_puts(out, ",\"error\":");
	jbuf_str(out, reason, strlen(reason));
	jbuf_puts(out, "}");
}

/* ---- worker ---- */

struct qs_worker *
qs_worker_new(uint64_t seed, uint64_t index)
{
	struct qs_worker *w = xcalloc(1, sizeof *w);

	rng_seed(&w->rng, seed * RNG_GOLDEN + index);
	return w;
}

void
qs_worker_free(struct qs_worker *w)
{
	if (w == NULL)
		return;
	score_ws_free(&w->sc);
	rank_ws_free(&w->rank);
	rank_diverse_ws_free(&w->div);
	free(w->fvec);
	free(w->sbuf);
	free(w->fbuf);
	free(w->coff);
	free(w->clen);
	free(w->cfoff);
	free(w->cfn);
	free(w->hoff);
	free(w->hlen2);
	free(w->q);
	free(w->order);
	free(w->prop);
	free(w->cid);
	free(w->hid);
	free(w->hidlen);
	free(w->histbuf);
	jbuf_free(&w->out);
	free(w);
}

static void
worker_reserve(struct qs_worker *w, size_t ncand, size_t L)
{
	if (ncand > w->cap) {
		w->q = xreallocarray(w->q, ncand, sizeof *w->q);
		w->order = xreallocarray(w->order, ncand, sizeof *w->order);
		w->prop = xreallocarray(w->prop, ncand, sizeof *w->prop);
		w->cid = xreallocarray(w->cid, ncand, sizeof *w->cid);
		w->fvec = xreallocarray(w->fvec, ncand, sizeof *w->fvec);
		w->cap = ncand;
	}
	if (L > w->hrcap) {
		w->hid = xreallocarray(w->hid, L, sizeof *w->hid);
		w->hidlen = xreallocarray(w->hidlen, L, sizeof *w->hidlen);
		w->histcap = L * (EMB_ID_MAX + 1);
		w->histbuf = xrealloc(w->histbuf, w->histcap);
		w->hrcap = L;
	}
}


/* Adds the worker's tally to the shared counters and empties it. */
static void
tally_flush(struct qs_worker *w, const struct qs_config *cf)
{
	struct qs_tally *t = &w->tally;

	if (t->unknown_items)
		atomic_fetch_add(&cf->counters->unknown_items, t->unknown_items);
	if (t->feature_rows)
		atomic_fetch_add(&cf->counters->feature_rows, t->feature_rows);
	if (t->unknown_hist)
		atomic_fetch_add(&cf->counters->unknown_hist, t->unknown_hist);
	if (t->hist_from_store)
		atomic_fetch_add(&cf->counters->hist_from_store, t->hist_from_store);
	if (t->no_model)
		atomic_fetch_add(&cf->counters->no_model, t->no_model);
	memset(t, 0, sizeof *t);
}

/*
 * Scores the parsed request rq with model m and appends the response object
 * to out. Returns 0; or -1 with a reason in err, out untouched, when the
 * request does not fit the model. m may be NULL: an error ("no model
 * loaded"). What it counts waits in w->tally.
 */
static int
score(struct qs_worker *w, const struct qs_config *cf, const struct model *m, const struct qs_req *rq,
    struct jbuf *out, char *err, size_t errlen)
{
	const struct qnet *net;
	const struct qnet_dims *dm;
	const float *ctx = NULL;
	size_t i, nh = 0, ncand = rq->ncand, k, first;
	long got;
	struct score_req sr;
	struct score_counts sc;
	struct timespec t0, t1;
	int rc;

	if (m == NULL) {
		w->tally.no_model += 1;
		return diag_errf(err, errlen, "no model loaded");
	}
	net = m->net;
	dm = &net->dm;
	if (rq->has_ctx) {
		if (rq->nctx != dm->C)
			return diag_errf(err, errlen, "field 'context': %zu numbers, the model wants %u", rq->nctx, dm->C);
		ctx = w->fbuf + rq->ctx_off;
	} else if (dm->C > 0)
		return diag_errf(err, errlen, "missing field 'context' (the model wants %u numbers)", dm->C);
	for (i = 0; i < ncand; i++) {
		if (w->cfoff[i] == SIZE_MAX) {
			if (dm->X > 0)
				return diag_errf(err, errlen, "candidates[%zu]: missing field 'features' (the model wants %u numbers)",
				    i, dm->X);
		} else if (w->cfn[i] != dm->X)
			return diag_errf(err, errlen, "candidates[%zu]: field 'features': %zu numbers, the model wants %u",
			    i, w->cfn[i], dm->X);
	}
	k = rq->k ? rq->k : cf->default_k;
	if (k == 0 || k > ncand)
		k = ncand;
	worker_reserve(w, ncand ? ncand : 1, dm->L ? dm->L : 1);

	/* history: the request's own wins; else the event stream's */
	if (rq->has_hist) {
		first = rq->nhist > dm->L ? rq->nhist - dm->L : 0;
		for (i = first; i < rq->nhist; i++, nh++) {
			w->hid[nh] = w->sbuf + w->hoff[i];
			w->hidlen[nh] = w->hlen2[i];
		}
	} else if (rq->has_user && cf->history != NULL) {
		/* a store that does not answer in time leaves the history empty (it counts that) */
		got = cf->history->ops->get(cf->history->st, rq->user_id, w->histbuf, w->histcap, w->hid, dm->L);
		nh = got > 0 ? (size_t)got : 0;
		for (i = 0; i < nh; i++)
			w->hidlen[i] = strlen(w->hid[i]);
		if (got >= 0)
			w->tally.hist_from_store += 1;
	}

	/* the forward pass */
	for (i = 0; i < ncand; i++) {
		w->cid[i] = w->sbuf + w->coff[i];
		w->fvec[i] = w->cfoff[i] == SIZE_MAX ? NULL : w->fbuf + w->cfoff[i];
	}
	sr = (struct score_req){ .hist = w->hid, .hlen = w->hidlen, .nhist = nh, .ctx = ctx, .cand = w->cid,
	    .clen = w->clen, .feat = w->fvec, .ncand = ncand };
	/* fwd_ns times from here to the last Q: what the bare-scoring reference of the benchmark times */
	if (w->fwd_clock)
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	rc = score_q(&w->sc, m, &sr, w->q, &sc, err, errlen);
	if (sc.unknown_hist)
		w->tally.unknown_hist += sc.unknown_hist;
	if (rc != 0)
		return -1;
	if (w->fwd_clock) {
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
		w->fwd_ns += (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
	}
	if (sc.unknown_items)
		w->tally.unknown_items += sc.unknown_items;
	if (sc.feature_rows)
		w->tally.feature_rows += sc.feature_rows;
	if (cf->diversity > 0 && dm->X > 0)
		rank_draw_diverse(&cf->explore, cf->diversity, w->q, w->fvec, dm->X, ncand, k, &w->rng, &w->div,
		    &w->rank, w->order, w->prop);
	else
		rank_draw(&cf->explore, w->q, ncand, k, &w->rng, &w->rank, w->order, w->prop);

	/* the answer */
	jbuf_need(out, 64 + k * 96);
	jbuf_puts(out, "{\"request_id\":");
	jbuf_str(out, rq->request_id, strlen(rq->request_id));
	jbuf_puts(out, ",\"model_version\":");
	jbuf_i64(out, (int64_t)m->version);
	jbuf_puts(out, ",\"items\":[");
	for (i = 0; i < k; i++) {
		uint32_t j = w->order[i];
		jbuf_puts(out, i ? ",{\"item_id\":" : "{\"item_id\":");
		jbuf_str(out, w->sbuf + w->coff[j], w->clen[j]);
		jbuf_puts(out, ",\"q\":");
		jbuf_num7(out, w->q[j]);
		jbuf_puts(out, ",\"propensity\":");
		jbuf_num7(out, w->prop[i]);
		jbuf_puts(out, "}");
	}
	jbuf_puts(out, "]}");
	return 0;
}

int
qs_score_text(struct qs_worker *w, const struct qs_config *cf, const struct model *m, const char *buf,
    size_t len, struct jbuf *out, char id[257], char *err, size_t errlen)
{
	struct qs_req rq;
	int rc;

	rc = qs_parse(w, buf, len, cf->max_candidates, &rq, err, errlen);
	memcpy(id, rq.request_id, sizeof rq.request_id);
	if (rc == 0)
		rc = score(w, cf, m, &rq, out, err, errlen);
	tally_flush(w, cf);
	return rc;
}

int
qs_score_batch(struct qs_worker *w, const struct qs_config *cf, const struct model *m, const char *buf, size_t len,
    size_t max, struct jbuf *out, size_t *n, size_t *nerr, char *err, size_t errlen)
{
	struct qs_batch b;
	struct qs_req rq;
	struct rng rng0 = w->rng;
	size_t out0 = out->len, start, end;
	char why[320];
	int parsed, r, rc;

	*n = *nerr = 0;
	if (qs_batch_open(&b, buf, len, err, errlen) != 0)
		return -1;
	jbuf_puts(out, "[");
	/* past max elements, the rest are only checked and counted for the refusal */
	while ((r = qs_batch_next(&b, *n < max ? w : NULL, cf->max_candidates, &rq, &start, &end, &parsed)) == 1) {
		if ((*n)++ >= max)
			continue;
		if (*n > 1)
			jbuf_puts(out, ",");
		/* an element that is not a well-formed request: parsed alone, for the reason */
		rc = parsed ? 0 : qs_parse(w, buf + start, end - start, cf->max_candidates, &rq, why, sizeof why);
		if (rc == 0)
			rc = score(w, cf, m, &rq, out, why, sizeof why);
		if (rc != 0) {
			(*nerr)++;
			qs_error_response(out, rq.request_id, why);
		}
	}
	if (r < 0 || *n > max) {
		/* refused whole: as if it had not been scored */
		out->len = out0;
		w->rng = rng0;
		memset(&w->tally, 0, sizeof w->tally);
		if (r < 0)
			return -1;
		snprintf(err, errlen, "batch of %zu requests, at most %zu", *n, max);
		return -2;
	}
	jbuf_puts(out, "]");
	tally_flush(w, cf);
	return 0;
}
