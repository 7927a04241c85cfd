/* eval.c: a target policy judged page by page — importance weights, direct terms and their sums for every estimator. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval.h"
#include "rng.h"
#include "xalloc.h"

/* Scratch of one policy's pass. */
struct scratch {
	uint32_t *map;			/* item number -> index among the current candidates, QE_NOID */
	size_t nmap;
	const uint32_t *mapped;		/* the candidate set the map holds */
	size_t nmapped;
	uint32_t lidx[QE_MAX_ITEMS];
	double *cond, *marg;
	size_t cap;
	double w[QE_MAX_ITEMS], m[QE_MAX_ITEMS], r[QE_MAX_ITEMS], qh[QE_MAX_ITEMS];
	double dc[QE_MAX_ITEMS], dmg[QE_MAX_ITEMS];
};

double
qe_pi_weight(size_t n, size_t k, double A, double B)
{
	double dn = (double)n, dk = (double)k, w = 1 + (dn - 1) * (B - A / dk);

	if (n > k)
		w += dn * (dn - 1) / (dn - dk) * (A / dk - dk / dn);
	return w;
}

static void
wstat_add(struct qe_wstat *s, double w, double clip)
{
	s->n++;
	if (w > s->max || s->n == 1)
		s->max = w;
	if (w > clip) {
		s->over += w - clip;
		s->nclipped++;
		w = clip;
	}
	s->sum += w;
	s->sum2 += w * w;
}

static void
exclude(struct qe_judged *out, enum qe_family f, const char *why)
{
	if (out->excluded[f]++ == 0)
		out->why[f] = why;
}

/* Points s->lidx at each logged item's place among the n candidates cand. */
static void
map_candidates(struct scratch *s, const struct qe_log *log, const struct qe_item *items, size_t k,
    const uint32_t *cand, size_t n)
{
	size_t j, need = qe_ids_count(log->items);

	if (need > s->nmap) {
		s->map = xreallocarray(s->map, need, sizeof *s->map);
		for (j = s->nmap; j < need; j++)
			s->map[j] = QE_NOID;
		s->nmap = need;
	}
	if (s->mapped != cand || s->nmapped != n) {
		for (j = 0; j < s->nmapped; j++)
			s->map[s->mapped[j]] = QE_NOID;
		for (j = 0; j < n; j++)
			s->map[cand[j]] = (uint32_t)j;
		s->mapped = cand;
		s->nmapped = n;
	}
	for (j = 0; j < k; j++)
		s->lidx[j] = s->map[items[j].item];
}

/* Σ_c row[c] · r(c, pos): the expected model reward of a slot's distribution. */
static double
expect(const double *row, const uint32_t *cand, size_t n, uint32_t pos, const struct qe_rmodel *rm,
    const double *qhat)
{
	double s = 0;
	size_t c;

	for (c = 0; c < n; c++)
		if (row[c] != 0)
			s += row[c] * (qhat != NULL ? qhat[c] : qe_rmodel_r(rm, cand[c], pos));
	return s;
}

/* The per-item quantities of a judged page into s: rewards, model rewards, ratios, direct terms. */
static void
item_terms(struct scratch *s, const struct qe_view *v, const struct qe_dist *d, const struct qe_rmodel *rm)
{
	const struct qe_item *it = v->items;
	size_t j, k = v->page->n, n = v->ncand;
	uint32_t li;

	for (j = 0; j < k; j++) {
		li = s->lidx[j];
		s->r[j] = it[j].r;
		s->qh[j] = d->qhat != NULL && li != QE_NOID ? d->qhat[j * n + li] : qe_rmodel_r(rm, it[j].item, it[j].pos);
		if (d->logged) {
			s->w[j] = it[j].prop;	/* the target's conditional: the logged propensity itself */
			s->m[j] = NAN;
			s->dc[j] = s->dmg[j] = s->qh[j];
			continue;
		}
		s->w[j] = d->cond == NULL ? NAN : li == QE_NOID ? 0 : d->cond[j * n + li];
		s->m[j] = d->marg == NULL ? NAN : li == QE_NOID ? 0 : d->marg[j * n + li];
		s->dc[j] = d->cond == NULL ? NAN : expect(d->cond + j * n, v->cand, n, it[j].pos, rm,
		    d->qhat != NULL ? d->qhat + j * n : NULL);
		s->dmg[j] = d->marg == NULL ? NAN : expect(d->marg + j * n, v->cand, n, it[j].pos, rm,
		    d->qhat != NULL ? d->qhat + j * n : NULL);
	}
}

static int
all_finite(const double *x, size_t k)
{
	size_t j;

	for (j = 0; j < k; j++)
		if (!isfinite(x[j]))
			return 0;
	return 1;
}

/*
 * The ratio of each item given the items above it (for the cascade and the
 * page's ratio): the target's conditional over the logging policy's. With
 * marginal propensities a page of one item is a bandit round, whose ratio is
 * the marginal one; a longer page needs the logging conditionals its
 * declaration gives (uniform logging), else it has none.
 */
static int
cond_ratios(const struct scratch *s, const struct qe_view *v, const struct qe_dist *d, double *cw)
{
	const struct qe_logging *lg = &v->log->opts.logging;
	const struct qe_item *it = v->items;
	size_t j, k = v->page->n;
	double b;

	for (j = 0; j < k; j++) {
		if (d->logged)
			cw[j] = 1;
		else if (lg->marginal && k == 1)
			cw[j] = s->m[j] / it[j].prop;
		else {
			b = qe_logging_conditional(lg, it[j].pos, it[j].prop, v->page->ncand);
			cw[j] = s->w[j] / b;
		}
	}
	return all_finite(cw, k);
}

/* The item-position terms. */
static void
item_level(struct scratch *s, const struct qe_view *v, const struct qe_dist *d, const struct qe_eval_opts *o,
    struct qe_pterm *pt, struct qe_judged *out)
{
	const struct qe_item *it = v->items;
	int marginal = v->log->opts.logging.marginal;
	size_t j, k = v->page->n;
	double w[QE_MAX_ITEMS], *dd = marginal ? s->dmg : s->dc, wc, lw;

	if (all_finite(dd, k)) {
		pt->flags |= QE_PF_DM;
		pt->t[QE_T_DM_N] = (double)k;
		for (j = 0; j < k; j++)
			pt->t[QE_T_DM] += dd[j];
	}
	if (v->page->flags & QE_PAGE_NOPROP)
		return;
	for (j = 0; j < k; j++)
		w[j] = d->logged ? 1 : (marginal ? s->m[j] : s->w[j]) / it[j].prop;
	if (!all_finite(w, k) || !all_finite(dd, k)) {
		exclude(out, QE_FAM_ITEM, marginal ? "the policy gives no position marginals" : !v->contiguous ?
		    "the logged positions are not 0, 1, ...: no probabilities given the items above" :
		    "the policy gives no probabilities given the items above (a table's are marginals)");
		return;
	}
	pt->flags |= QE_PF_ITEM;
	pt->t[QE_T_N] = (double)k;
	for (j = 0; j < k; j++) {
		wc = w[j] > o->clip ? o->clip : w[j];
		pt->t[QE_T_WR] += wc * s->r[j];
		pt->t[QE_T_W] += wc;
		pt->t[QE_T_WQ] += wc * s->qh[j];
		pt->t[QE_T_DMIS] += dd[j];
		if (w[j] <= o->switch_tau)
			pt->t[QE_T_SW] += w[j] * (s->r[j] - s->qh[j]);
		lw = isinf(o->dros_lambda) ? w[j] : o->dros_lambda * w[j] / (w[j] * w[j] + o->dros_lambda);
		pt->t[QE_T_OS] += lw * (s->r[j] - s->qh[j]);
		wstat_add(&out->w[QE_FAM_ITEM], w[j], o->clip);
	}
}

/* The cascade (RIPS) terms and the page's ratio, from the ratios given the items above. */
static void
cascade_level(struct scratch *s, const struct qe_view *v, const struct qe_dist *d, const struct qe_eval_opts *o,
    struct qe_pterm *pt, struct qe_judged *out)
{
	double cw[QE_MAX_ITEMS], cum = 1;
	size_t j, k = v->page->n;

	if (v->page->flags & QE_PAGE_NOPROP)
		return;
	if (!cond_ratios(s, v, d, cw)) {
		exclude(out, QE_FAM_RIPS, !v->contiguous ? "the logged positions are not 0, 1, ...: no probabilities "
		    "given the items above" : v->log->opts.logging.marginal ? "with marginal propensities a page of "
		    "several items has a known probability only under uniform logging (--logging uniform)" :
		    "the policy gives no probabilities given the items above (a table's are marginals)");
		return;
	}
	pt->flags |= QE_PF_RIPS | QE_PF_RHO;
	pt->t[QE_T_RIPS_N] = 1;
	for (j = 0; j < k; j++) {
		cum *= cw[j];
		pt->t[QE_T_RIPS] += (cum > o->clip ? o->clip : cum) * s->r[j];
		wstat_add(&out->w[QE_FAM_RIPS], cum, o->clip);
	}
	pt->rho = cum;
}

/* IIPS and the pseudo-inverse estimator, which weigh by position marginals. */
static void
page_level(struct scratch *s, const struct qe_view *v, const struct qe_dist *d, const struct qe_eval_opts *o,
    struct qe_pterm *pt, struct qe_judged *out)
{
	const struct qe_logging *lg = &v->log->opts.logging;
	const struct qe_item *it = v->items;
	const struct qe_page *pg = v->page;
	size_t j, l, k = pg->n, n = v->ncand;
	double ratio[QE_MAX_ITEMS], mu, A = 0, B = 0, wpi;

	if (pg->flags & QE_PAGE_NOPROP)
		return;
	for (j = 0; j < k; j++) {
		mu = qe_logging_marginal(lg, it[j].pos, it[j].prop, pg->ncand);
		ratio[j] = d->logged ? 1 : s->m[j] / mu;
		if (d->logged)
			continue;	/* its marginal is the logging policy's, whatever it is */
		if (isnan(mu)) {
			exclude(out, QE_FAM_IIPS, "the logging policy's position marginals are unknown (declare "
			    "--logging uniform, or marginal propensities)");
			break;
		}
		if (isnan(ratio[j])) {
			exclude(out, QE_FAM_IIPS, "the policy gives no position marginals");
			break;
		}
	}
	if (j == k) {
		pt->flags |= QE_PF_IIPS;
		pt->t[QE_T_IIPS_N] = 1;
		for (j = 0; j < k; j++) {
			pt->t[QE_T_IIPS] += (ratio[j] > o->clip ? o->clip : ratio[j]) * s->r[j];
			wstat_add(&out->w[QE_FAM_IIPS], ratio[j], o->clip);
		}
	}
	if (lg->kind != QE_LOG_UNIFORM || pg->ncand == 0) {
		exclude(out, QE_FAM_PI, "the pseudo-inverse estimator needs uniform logging (--logging uniform)");
		return;
	}
	if (!d->logged && (d->marg == NULL || n != pg->ncand)) {
		exclude(out, QE_FAM_PI, d->marg == NULL ? "the policy gives no position marginals" :
		    "the policy's candidates are not those the page was logged from");
		return;
	}
	if (d->logged)
		wpi = 1;
	else {
		for (j = 0; j < k; j++) {
			B += s->m[j];
			if (s->lidx[j] != QE_NOID)
				for (l = 0; l < k; l++)
					A += d->marg[l * n + s->lidx[j]];
		}
		wpi = qe_pi_weight(pg->ncand, k, A, B);
	}
	pt->flags |= QE_PF_PI;
	pt->t[QE_T_PI_N] = 1;
	for (j = 0; j < k; j++)
		pt->t[QE_T_PI] += wpi * s->r[j];
	wstat_add(&out->w[QE_FAM_PI], wpi, INFINITY);
}

/*
 * The policy's own values as the session estimators' direct part: of the
 * logged page, Σ_j vq(slot j, logged item j); of the policy's page in these
 * slots, Σ_j Σ_c marg(c at slot j)·vq(slot j, c). Left to the reward model
 * when a logged item is not a candidate.
 */
static void
own_values(const struct scratch *s, const struct qe_view *v, const struct qe_dist *d, struct qe_pterm *pt)
{
	size_t j, c, k = v->page->n, n = v->ncand;
	double q = 0, val = 0;

	for (j = 0; j < k; j++) {
		if (s->lidx[j] == QE_NOID)
			return;
		q += d->vq[j * n + s->lidx[j]];
		for (c = 0; c < n; c++)
			val += d->marg[j * n + c] * d->vq[j * n + c];
	}
	if (!isfinite(q) || !isfinite(val))
		return;
	pt->qhat = q;
	pt->vhat = val;
	pt->flags |= QE_PF_VHAT | QE_PF_OWNQ;
}

static void
page_terms(struct scratch *s, const struct qe_view *v, const struct qe_dist *d, const struct qe_rmodel *rm,
    const struct qe_eval_opts *o, struct qe_pterm *pt, struct qe_judged *out)
{
	size_t j, k = v->page->n;

	item_terms(s, v, d, rm);
	pt->flags = QE_PF_JUDGED;
	for (j = 0; j < k; j++) {
		pt->R += s->r[j];
		pt->qhat += s->qh[j];
	}
	if (all_finite(s->dmg, k)) {
		pt->flags |= QE_PF_VHAT;
		for (j = 0; j < k; j++)
			pt->vhat += s->dmg[j];
	}
	if (d->vq != NULL && d->marg != NULL)
		own_values(s, v, d, pt);
	item_level(s, v, d, o, pt, out);
	cascade_level(s, v, d, o, pt, out);
	page_level(s, v, d, o, pt, out);
}

static uint64_t
page_seed(uint64_t seed, size_t i)
{
	return rng_mix64(seed + RNG_GOLDEN * (i + 1));
}

void
qe_eval_policy(struct qe_policy *p, const struct qe_log *log, const struct qe_rmodel *rm,
    const struct qe_eval_opts *o, struct qe_judged *out)
{
	struct scratch s = { 0 };
	struct qe_view v = { 0 };
	struct qe_dist d;
	size_t i, j, k;
	enum qe_verdict vd;

	memset(out, 0, sizeof *out);
	out->pages = xcalloc(log->npages + 1, sizeof *out->pages);
	v.log = log;
	v.need = o->need;
	for (i = 0; i < log->npages; i++) {
		v.page = &log->pages[i];
		v.items = log->it + v.page->first;
		k = v.page->n;
		if (p->own != NULL) {
			v.cand = p->own;
			v.ncand = p->nown;
		} else
			v.cand = qe_log_candidates(log, v.page, &v.ncand);
		map_candidates(&s, log, v.items, k, v.cand, v.ncand);
		v.lidx = s.lidx;
		v.depth = v.items[k - 1].pos + 1;
		v.contiguous = v.depth == k;
		v.seed = page_seed(o->seed, i);
		if (k * v.ncand > s.cap) {
			s.cap = k * v.ncand;
			s.cond = xreallocarray(s.cond, s.cap, sizeof *s.cond);
			s.marg = xreallocarray(s.marg, s.cap, sizeof *s.marg);
		}
		memset(&d, 0, sizeof d);
		d.cond = s.cond;
		d.marg = s.marg;
		if ((vd = p->ops->judge(p, &v, &d)) != QE_JUDGED) {
			if (out->refused++ == 0)
				out->why_refused = vd == QE_REFUSED_NO_CANDIDATES ? "the policy needs the pages' candidates "
				    "(--requests or --action-set)" : vd == QE_REFUSED_REQUEST ? "the policy's model needs the "
				    "page's request (--requests) with the context and features it was trained on" :
				    "the policy does not fill a logged position";
			continue;
		}
		if (!v.contiguous)
			d.cond = NULL;	/* "given the items above" needs every item above */
		page_terms(&s, &v, &d, rm, o, &out->pages[i], out);
	}
	for (j = 0; j < s.nmapped; j++)
		s.map[s.mapped[j]] = QE_NOID;
	free(s.map);
	free(s.cond);
	free(s.marg);
}

void
qe_judged_free(struct qe_judged *j)
{
	if (j == NULL)
		return;
	free(j->pages);
	j->pages = NULL;
}
