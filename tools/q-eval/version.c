/* version.c: a model version as a target — each logged request scored by the forward pass q-score serves with, ranked by the same exploration, and the model's own Q as the direct part. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "model.h"
#include "policy.h"
#include "rank.h"
#include "score.h"
#include "xalloc.h"

struct version {
	struct model *m;
	struct rank_explore ex;
	size_t draws;
	struct score_ws sw;
	struct rank_ws rw;
	struct qe_reqstate st;
	const char **cid;
	size_t *clen;
	float *qf;
	double *qd;
	double *vq;		/* k rows of the candidates' own values */
	double *m0;		/* depth rows of marginals */
	size_t cap, vqcap, mcap;
};


static void
reserve(struct version *s, size_t n, size_t k, size_t depth)
{
	if (n > s->cap) {
		s->cap = n * 2;
		s->cid = xreallocarray(s->cid, s->cap, sizeof *s->cid);
		s->clen = xreallocarray(s->clen, s->cap, sizeof *s->clen);
		s->qf = xreallocarray(s->qf, s->cap, sizeof *s->qf);
		s->qd = xreallocarray(s->qd, s->cap, sizeof *s->qd);
	}
	if (k * n > s->vqcap) {
		s->vqcap = k * n * 2;
		s->vq = xreallocarray(s->vq, s->vqcap, sizeof *s->vq);
	}
	if (depth * n > s->mcap) {
		s->mcap = depth * n * 2;
		s->m0 = xreallocarray(s->m0, s->mcap, sizeof *s->m0);
	}
}

/*
 * Whether the request fits the model as q-score requires (a context of C
 * numbers, X features for every candidate), and its history's last L.
 */
static int
fits(const struct qnet_dims *dm, struct qe_reqstate *st, size_t n)
{
	size_t i;

	if (st->ctx != NULL ? st->nctx != dm->C : dm->C > 0)
		return 0;
	for (i = 0; i < n; i++)
		if (st->feat[i] != NULL ? st->nfeat[i] != dm->X : dm->X > 0)
			return 0;
	if (st->nhist > dm->L) {
		st->hist += st->nhist - dm->L;
		st->hlen += st->nhist - dm->L;
		st->nhist = dm->L;
	}
	return 1;
}

int
qe_version_score(struct qe_policy *p, const struct qe_log *log, uint32_t req, float *q, size_t n, float *v)
{
	struct version *s = p->state;
	const struct qnet_dims *dm = &s->m->net->dm;
	const char **hist0;
	size_t *hlen0, i;
	struct score_req sr;
	struct score_counts c;
	char err[160];
	int rc;

	if (req == QE_NOID || qe_log_request_state(log, req, &s->st) != 0 || n != log->req.n[req])
		return -1;
	reserve(s, n, 1, 1);
	hist0 = s->st.hist;
	hlen0 = s->st.hlen;
	if (!fits(dm, &s->st, n))
		rc = -1;
	else {
		for (i = 0; i < n; i++) {
			s->cid[i] = qe_ids_name(log->items, log->req.cand[log->req.first[req] + i]);
			s->clen[i] = strlen(s->cid[i]);
		}
		sr = (struct score_req){ .hist = s->st.hist, .hlen = s->st.hlen, .nhist = s->st.nhist, .ctx = s->st.ctx,
		    .cand = s->cid, .clen = s->clen, .feat = s->st.feat, .ncand = n };
		rc = score_q(&s->sw, s->m, &sr, q, &c, err, sizeof err);
		if (rc == 0 && v != NULL)
			*v = s->sw.ws->v;
	}
	s->st.hist = hist0;
	s->st.hlen = hlen0;
	return rc;
}

static enum qe_verdict
version_judge(struct qe_policy *p, const struct qe_view *v, struct qe_dist *d)
{
	struct version *s = p->state;
	size_t n = v->ncand, k = v->page->n, i, j;
	uint32_t above[QE_MAX_ITEMS];
	struct rng rng;
	float V;
	double share;

	if (v->cand == NULL || n == 0)
		return QE_REFUSED_NO_CANDIDATES;
	if (v->page->req == QE_NOID)
		return QE_REFUSED_REQUEST;
	if (v->depth > n)
		return QE_REFUSED_POSITION;
	reserve(s, n, k, v->depth);
	if (qe_version_score(p, v->log, v->page->req, s->qf, n, &V) != 0)
		return QE_REFUSED_REQUEST;
	for (i = 0; i < n; i++)
		s->qd[i] = s->qf[i];
	if ((v->need & QE_NEED_COND) && v->contiguous) {
		for (j = 0; j + 1 < k; j++)
			above[j] = v->lidx[j];
		rank_cond(&s->ex, s->qd, n, above, k, &s->rw, d->cond);
	} else
		d->cond = NULL;
	if (v->need & QE_NEED_MARG) {
		rng_seed(&rng, v->seed);
		rank_marginals(&s->ex, s->qd, n, v->depth, s->draws, &rng, &s->rw, s->m0);
		for (j = 0; j < k; j++)
			memcpy(d->marg + j * n, s->m0 + v->items[j].pos * n, n * sizeof *d->marg);
	} else
		d->marg = NULL;
	/*
	 * The page's own value: the state's V once and each shown item's
	 * Q − V (under the slate target, P(click)·A: the value of a click on
	 * it), so that a page of k items is worth Σ Q − (k − 1)·V. Each slot's
	 * candidate carries Q − V·(k − 1)/k.
	 */
	share = (double)V * (double)(k - 1) / (double)k;
	for (j = 0; j < k; j++)
		for (i = 0; i < n; i++)
			s->vq[j * n + i] = s->qd[i] - share;
	d->vq = s->vq;
	d->qhat = NULL;
	return QE_JUDGED;
}

static void
version_free(struct qe_policy *p)
{
	struct version *s = p->state;

	if (s == NULL)
		return;
	model_free(s->m);
	score_ws_free(&s->sw);
	rank_ws_free(&s->rw);
	qe_reqstate_free(&s->st);
	free(s->cid);
	free(s->clen);
	free(s->qf);
	free(s->qd);
	free(s->vq);
	free(s->m0);
	free(s);
}

static const struct qe_policy_ops version_ops = { version_judge, version_free };

int
qe_version_load(struct qe_policy *p, const char *dir, uint32_t version, const char *explore, size_t draws,
    char *err, size_t errlen)
{
	struct version *s = xcalloc(1, sizeof *s);
	char why[400];

	p->ops = &version_ops;
	p->state = s;
	s->draws = draws;
	if (rank_explore_parse(explore, &s->ex) != 0)
		return diag_errf(err, errlen, "--explore %s: not an exploration setting (greedy, epsilon:E, softmax:T or "
		    "softmax:Tsd)", explore);
	if ((s->m = model_load(dir, version, why, sizeof why)) == NULL)
		return diag_errf(err, errlen, "model:%s: %s", dir, why);
	return 0;
}
