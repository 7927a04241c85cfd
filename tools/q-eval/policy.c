/* policy.c: the target policies random, popular and logged, and the making of every kind from its spec. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "policy.h"
#include "xalloc.h"


/* ---- random: uniform over the candidates, position by position, without replacement ---- */

static enum qe_verdict
random_judge(struct qe_policy *p, const struct qe_view *v, struct qe_dist *d)
{
	size_t n = v->ncand, k = v->page->n, i, j;
	double *row;

	if (v->cand == NULL || n == 0)
		return QE_REFUSED_NO_CANDIDATES;
	if (v->depth > n)
		return QE_REFUSED_POSITION;
	if ((v->need & QE_NEED_COND) && v->contiguous) {
		for (j = 0; j < k; j++) {
			row = d->cond + j * n;
			for (i = 0; i < n; i++)
				row[i] = 1.0 / (double)(n - j);
			for (i = 0; i < j; i++)
				row[v->lidx[i]] = 0;
		}
	} else
		d->cond = NULL;
	if (v->need & QE_NEED_MARG)
		for (i = 0; i < k * n; i++)
			d->marg[i] = 1.0 / (double)n;
	else
		d->marg = NULL;
	d->qhat = NULL;
	return QE_JUDGED;
}

static void
nothing_free(struct qe_policy *p)
{
}

static const struct qe_policy_ops random_ops = { random_judge, nothing_free };

/* ---- popular: the candidates ranked by their popularity in the logs, with q-score's exploration ---- */

struct popular {
	struct rank_explore ex;
	const double *pop;		/* per item number (items past npop: the average, 1) */
	size_t npop;
	size_t draws;
	double *q;			/* the candidates' scores */
	double *m;			/* depth rows of marginals */
	size_t cap, mcap;
	const uint32_t *mcand;		/* the candidate set whose marginals m holds (a fixed set is ranked once) */
	size_t mn, mdepth;
	struct rank_ws ws;
};

static enum qe_verdict
popular_judge(struct qe_policy *p, const struct qe_view *v, struct qe_dist *d)
{
	struct popular *s = p->state;
	size_t n = v->ncand, k = v->page->n, i, j;
	uint32_t above[QE_MAX_ITEMS];
	struct rng rng;

	if (v->cand == NULL || n == 0)
		return QE_REFUSED_NO_CANDIDATES;
	if (v->depth > n)
		return QE_REFUSED_POSITION;
	if (n > s->cap) {
		s->cap = n;
		s->q = xreallocarray(s->q, n, sizeof *s->q);
	}
	for (i = 0; i < n; i++)
		s->q[i] = v->cand[i] < s->npop ? s->pop[v->cand[i]] : 1;
	if ((v->need & QE_NEED_COND) && v->contiguous) {
		for (j = 0; j + 1 < k; j++)
			above[j] = v->lidx[j];
		rank_cond(&s->ex, s->q, n, above, k, &s->ws, d->cond);
	} else
		d->cond = NULL;
	if (v->need & QE_NEED_MARG) {
		/* A fixed candidate set is the same list for every page: its marginals are computed once. */
		if (s->mcand != v->cand || s->mn != n || s->mdepth < v->depth || v->log->aset != v->cand) {
			if (v->depth * n > s->mcap) {
				s->mcap = v->depth * n;
				s->m = xreallocarray(s->m, s->mcap, sizeof *s->m);
			}
			rng_seed(&rng, v->seed);
			/* Computed once, the draws' error would be the same on every page: a hundred times more. */
			rank_marginals(&s->ex, s->q, n, v->depth, v->log->aset == v->cand ? 100 * s->draws : s->draws,
			    &rng, &s->ws, s->m);
			s->mcand = v->cand;
			s->mn = n;
			s->mdepth = v->depth;
		}
		for (j = 0; j < k; j++)
			memcpy(d->marg + j * n, s->m + v->items[j].pos * n, n * sizeof *d->marg);
	} else
		d->marg = NULL;
	d->qhat = NULL;
	return QE_JUDGED;
}

static void
popular_free(struct qe_policy *p)
{
	struct popular *s = p->state;

	free(s->q);
	free(s->m);
	rank_ws_free(&s->ws);
	free(s);
}

static const struct qe_policy_ops popular_ops = { popular_judge, popular_free };

/* ---- logged: the logging policy itself ---- */

static enum qe_verdict
logged_judge(struct qe_policy *p, const struct qe_view *v, struct qe_dist *d)
{
	d->cond = NULL;
	d->marg = NULL;
	d->qhat = NULL;
	d->logged = 1;
	return QE_JUDGED;
}

static const struct qe_policy_ops logged_ops = { logged_judge, nothing_free };

/* ---- recorded: a deterministic policy whose choices each request recorded ---- */

/* The index of item among the n candidates, or QE_NOID. */
static uint32_t
cand_index(const uint32_t *cand, size_t n, uint32_t item)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (cand[i] == item)
			return (uint32_t)i;
	return QE_NOID;
}

static enum qe_verdict
recorded_judge(struct qe_policy *p, const struct qe_view *v, struct qe_dist *d)
{
	const uint32_t *cond, *list;
	size_t n = v->ncand, k = v->page->n, nc, nl, j;
	uint32_t c;

	if (v->cand == NULL || n == 0)
		return QE_REFUSED_NO_CANDIDATES;
	if (v->page->req == QE_NOID ||
	    qe_log_request_target(v->log, v->page->req, p->state, &cond, &nc, &list, &nl) != 0)
		return QE_REFUSED_REQUEST;
	if (v->depth > nl || (v->contiguous && k > nc))
		return QE_REFUSED_POSITION;
	if ((v->need & QE_NEED_COND) && v->contiguous) {
		memset(d->cond, 0, k * n * sizeof *d->cond);
		for (j = 0; j < k; j++) {
			if ((c = cand_index(v->cand, n, cond[j])) == QE_NOID)
				return QE_REFUSED_REQUEST;
			d->cond[j * n + c] = 1;
		}
	} else
		d->cond = NULL;
	if (v->need & QE_NEED_MARG) {
		memset(d->marg, 0, k * n * sizeof *d->marg);
		for (j = 0; j < k; j++) {
			if ((c = cand_index(v->cand, n, list[v->items[j].pos])) == QE_NOID)
				return QE_REFUSED_REQUEST;
			d->marg[j * n + c] = 1;
		}
	} else
		d->marg = NULL;
	d->qhat = NULL;
	return QE_JUDGED;
}

static void
recorded_free(struct qe_policy *p)
{
	free(p->state);
}

static const struct qe_policy_ops recorded_ops = { recorded_judge, recorded_free };

/* ---- making ---- */

struct qe_policy *
qe_policy_new(const char *spec, const struct qe_policy_env *env, char *err, size_t errlen)
{
	struct qe_policy *p = xcalloc(1, sizeof *p);
	struct popular *s;

	p->name = xstrdup(spec);
	if (strcmp(spec, "random") == 0)
		p->ops = &random_ops;
	else if (strcmp(spec, "logged") == 0)
		p->ops = &logged_ops;
	else if (strcmp(spec, "popular") == 0 || strncmp(spec, "popular:", 8) == 0) {
		s = xcalloc(1, sizeof *s);
		p->ops = &popular_ops;
		p->state = s;
		if (rank_explore_parse(spec[7] == ':' ? spec + 8 : "greedy", &s->ex) != 0) {
			diag_errf(err, errlen, "%s: not an exploration setting (greedy, epsilon:E, softmax:T or softmax:Tsd)",
			    spec + 8);
			goto err;
		}
		s->pop = env->popularity;
		s->npop = env->npopularity;
		s->draws = env->mc_draws;
	} else if (strncmp(spec, "recorded:", 9) == 0 && spec[9] != '\0') {
		p->ops = &recorded_ops;
		p->state = xstrdup(spec + 9);
	} else if (strncmp(spec, "model:", 6) == 0) {
		if (qe_version_load(p, spec + 6, env->version, env->explore ? env->explore : "greedy", env->mc_draws, err,
		    errlen) != 0)
			goto err;
	} else if (strncmp(spec, "table:", 6) == 0) {
		if (qe_table_load(p, spec + 6, env->log->items, err, errlen) != 0)
			goto err;
	} else if (strncmp(spec, "thompson:", 9) == 0) {
		if (qe_thompson_load(p, spec + 9, (size_t)env->log->max_pos + 1, env->log->items, err, errlen) != 0)
			goto err;
	} else {
		diag_errf(err, errlen, "%s: not a policy (random, popular[:EXPLORE], logged, model:DIR, recorded:NAME, "
		    "table:FILE, thompson:FILE)", spec);
		goto err;
	}
	return p;
err:
	qe_policy_free(p);
	return NULL;
}

void
qe_policy_free(struct qe_policy *p)
{
	if (p == NULL)
		return;
	if (p->ops != NULL)
		p->ops->free(p);
	free(p->name);
	free(p);
}
