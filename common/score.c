/* score.c: a model's Q of a request's candidates — history rows, state, then each candidate's row and Q. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "score.h"
#include "xalloc.h"

void
score_ws_free(struct score_ws *sw)
{
	qnet_ws_free(sw->ws);
	free(sw->erow);
	free(sw->cfound);
	free(sw->frow);
	free(sw->hrow);
	free(sw->hfound);
	memset(sw, 0, sizeof *sw);
}

static void
reserve(struct score_ws *sw, const struct model *m, size_t ncand, size_t L)
{
	const struct qnet_dims *dm = &m->net->dm;

	if (sw->ws == NULL || memcmp(&sw->ws_dims, dm, sizeof *dm) != 0) {
		qnet_ws_free(sw->ws);
		sw->ws_dims = *dm;
		sw->ws = qnet_ws_new(&sw->ws_dims);
	}
	if (ncand > sw->cap) {
		sw->erow = xreallocarray(sw->erow, ncand, sizeof *sw->erow);
		sw->cfound = xreallocarray(sw->cfound, ncand, sizeof *sw->cfound);
		sw->cap = ncand;
	}
	if (m->feature_rows && ncand * dm->d > sw->frcap) {
		sw->frow = xreallocarray(sw->frow, ncand, dm->d * sizeof *sw->frow);
		sw->frcap = ncand * dm->d;
	}
	if (L > sw->hrcap) {
		sw->hrow = xreallocarray(sw->hrow, L, sizeof *sw->hrow);
		sw->hfound = xreallocarray(sw->hfound, L, sizeof *sw->hfound);
		sw->hrcap = L;
	}
}

int
score_q(struct score_ws *sw, const struct model *m, const struct score_req *rq, float *q,
    struct score_counts *c, char *err, size_t errlen)
{
	const struct qnet *net = m->net;
	const struct qnet_dims *dm = &net->dm;
	size_t i, nh = rq->nhist, ncand = rq->ncand, nfeat = 0;

	memset(c, 0, sizeof *c);
	reserve(sw, m, ncand ? ncand : 1, nh ? nh : 1);
	emb_find_many(m->emb, nh, rq->hist, rq->hlen, sw->hfound);
	for (i = 0; i < nh; i++) {
		sw->hrow[i] = emb_row(m->emb, sw->hfound[i] >= 0 ? (uint32_t)sw->hfound[i] : 0);
		c->unknown_hist += sw->hfound[i] < 0;
	}
	/*
	 * The candidates' rows are looked up at once (their probes interleaved)
	 * and their cache lines requested before the state is computed, so that
	 * the memory fetches of a large table overlap each other and that work
	 * instead of stalling each candidate in turn.
	 */
	emb_find_many(m->emb, ncand, rq->cand, rq->clen, sw->cfound);
	for (i = 0; i < ncand; i++) {
		const float *e;
		if (sw->cfound[i] >= 0) {
			e = emb_row(m->emb, (uint32_t)sw->cfound[i]);
		} else if (m->feature_rows && rq->feat[i] != NULL &&
		    emb_feature_row(sw->frow + nfeat * dm->d, dm->d, rq->feat[i], dm->X) == 0) {
			/* as q-train built the rows of the items it saw: from the features the request carries */
			e = sw->frow + nfeat++ * dm->d;
		} else {
			e = emb_row(m->emb, 0);
			c->unknown_items++;
		}
		sw->erow[i] = e;
		for (size_t b = 0; b < dm->d * sizeof(float); b += 64)
			__builtin_prefetch((const char *)e + b);
	}
	c->feature_rows = nfeat;
	qnet_state(net, sw->ws, sw->hrow, nh, rq->ctx);
	for (i = 0; i < ncand; i++) {
		q[i] = qnet_q(net, sw->ws, sw->erow[i], rq->feat[i]);
		if (!isfinite(q[i])) {
			snprintf(err, errlen, "candidates[%zu]: the model gave a non-finite score", i);
			return -1;
		}
	}
	return 0;
}
