/* table.c: the table and thompson policies — a fixed action set's distribution over items at each position, by time window, and Bernoulli Thompson sampling's by integration. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "lineio.h"
#include "policy.h"
#include "reader.h"
#include "xalloc.h"

struct table {
	uint32_t *items;	/* the action set (item numbers of the log), in the order first read */
	size_t nitems;
	size_t npos;		/* positions 0 .. npos − 1 */
	unsigned char *has_pos;	/* which of them the table fills */
	int64_t *from;		/* window starts, increasing (INT64_MIN: from the start) */
	size_t nwin;
	double *prob;		/* [window][pos][item] */
};


/* The window in force at ts: the last one started by then (the first for an unknown or earlier ts). */
static size_t
window_at(const struct table *t, int64_t ts)
{
	size_t lo = 0, hi = t->nwin, mid;

	while (hi - lo > 1) {
		mid = (lo + hi) / 2;
		if (t->from[mid] <= ts)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static enum qe_verdict
table_judge(struct qe_policy *p, const struct qe_view *v, struct qe_dist *d)
{
	const struct table *t = p->state;
	size_t w = window_at(t, v->page->ts), j, k = v->page->n, pos;

	for (j = 0; j < k; j++)
		if (v->items[j].pos >= t->npos || !t->has_pos[v->items[j].pos])
			return QE_REFUSED_POSITION;
	d->cond = NULL;
	d->qhat = NULL;
	if (!(v->need & QE_NEED_MARG)) {
		d->marg = NULL;
		return QE_JUDGED;
	}
	for (j = 0; j < k; j++) {
		pos = v->items[j].pos;
		memcpy(d->marg + j * t->nitems, t->prob + (w * t->npos + pos) * t->nitems, t->nitems * sizeof *d->marg);
	}
	return QE_JUDGED;
}

static void
table_free(struct qe_policy *p)
{
	struct table *t = p->state;

	if (t == NULL)
		return;
	free(t->items);
	free(t->has_pos);
	free(t->from);
	free(t->prob);
	free(t);
}

static const struct qe_policy_ops table_ops = { table_judge, table_free };

/* A table's rows as read. */
struct rows {
	uint32_t *item;		/* index in the table's action set */
	uint32_t *pos;
	double *prob;
	int64_t *from;
	size_t n, cap;
};

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Reads a table file's rows; the action set grows with each new item. 0, or -1 with the reason. */
static int
read_rows(const char *path, struct qe_ids *items, struct qe_ids *local, struct table *t, struct rows *rw,
    char *err, size_t errlen)
{
	struct line_reader *lr = line_reader_open((char *const *)&path, 1, NULL, 0);
	struct qe_reader *rd = qe_reader_new();
	struct qe_rtable row;
	struct line ln;
	char e2[512];
	int r, st = -1, added;
	uint32_t li;

	while ((r = line_reader_next(lr, &ln)) == 1) {
		if (ln.len == 0)
			continue;
		if (qe_read_table(rd, ln.buf, ln.len, &row, e2, sizeof e2) != 0) {
			diag_errf(err, errlen, "%s: %s", ln.source, e2);
			goto out;
		}
		li = qe_ids_add(local, row.item.p, row.item.len, &added);
		if (added) {
			t->items = xreallocarray(t->items, t->nitems + 1, sizeof *t->items);
			t->items[t->nitems++] = qe_ids_add(items, row.item.p, row.item.len, NULL);
		}
		if (rw->n == rw->cap) {
			rw->cap = rw->cap ? rw->cap * 2 : 256;
			rw->item = xreallocarray(rw->item, rw->cap, sizeof *rw->item);
			rw->pos = xreallocarray(rw->pos, rw->cap, sizeof *rw->pos);
			rw->prob = xreallocarray(rw->prob, rw->cap, sizeof *rw->prob);
			rw->from = xreallocarray(rw->from, rw->cap, sizeof *rw->from);
		}
		rw->item[rw->n] = li;
		rw->pos[rw->n] = row.pos;
		rw->prob[rw->n] = row.prob;
		rw->from[rw->n++] = row.from;
	}
	if (r != 0 || line_reader_failed(lr))
		diag_errf(err, errlen, "%s: cannot be read", path);
	else if (rw->n == 0)
		diag_errf(err, errlen, "%s: no rows", path);
	else
		st = 0;
out:
	qe_reader_free(rd);
	line_reader_close(lr);
	return st;
}

/* Lays the rows out by window, position and item, and checks each window's rows are distributions. */
static int
build_table(struct table *t, const struct rows *rw, const char *path, char *err, size_t errlen)
{
	size_t i, w, pos, a, nw = 0;
	double *cell, sum;

	t->from = xmalloc(rw->n * sizeof *t->from);
	memcpy(t->from, rw->from, rw->n * sizeof *t->from);
	qsort(t->from, rw->n, sizeof *t->from, cmp_i64);
	for (i = 0; i < rw->n; i++)
		if (i == 0 || t->from[i] != t->from[nw - 1])
			t->from[nw++] = t->from[i];
	t->nwin = nw;
	for (i = 0; i < rw->n; i++)
		if (rw->pos[i] + 1 > t->npos)
			t->npos = rw->pos[i] + 1;
	t->has_pos = xcalloc(t->npos, 1);
	t->prob = xcalloc(nw * t->npos * t->nitems, sizeof *t->prob);
	for (i = 0; i < rw->n; i++) {
		w = window_at(t, rw->from[i]);
		t->has_pos[rw->pos[i]] = 1;
		cell = &t->prob[(w * t->npos + rw->pos[i]) * t->nitems + rw->item[i]];
		if (*cell != 0)
			return diag_errf(err, errlen, "%s: item %zu of the table at pos %u twice in one window", path,
			    (size_t)rw->item[i], rw->pos[i]);
		*cell = rw->prob[i] > 0 ? rw->prob[i] : 1e-300;	/* a row of 0 is there, if empty */
	}
	for (w = 0; w < nw; w++)
		for (pos = 0; pos < t->npos; pos++) {
			if (!t->has_pos[pos])
				continue;
			sum = 0;
			for (a = 0; a < t->nitems; a++) {
				cell = &t->prob[(w * t->npos + pos) * t->nitems + a];
				if (*cell == 1e-300)
					*cell = 0;
				sum += *cell;
			}
			if (fabs(sum - 1) > 1e-6)
				return diag_errf(err, errlen, "%s: window %zu, pos %zu: the probabilities sum to %.9g, not 1", path,
				    w, pos, sum);
		}
	return 0;
}

int
qe_table_load(struct qe_policy *p, const char *path, struct qe_ids *items, char *err, size_t errlen)
{
	struct table *t = xcalloc(1, sizeof *t);
	struct qe_ids *local = qe_ids_new();
	struct rows rw = { 0 };
	int st = -1;

	p->ops = &table_ops;
	p->state = t;
	if (read_rows(path, items, local, t, &rw, err, errlen) == 0 && build_table(t, &rw, path, err, errlen) == 0) {
		p->own = t->items;
		p->nown = t->nitems;
		st = 0;
	}
	free(rw.item);
	free(rw.pos);
	free(rw.prob);
	free(rw.from);
	qe_ids_free(local);
	return st;
}

/* ---- thompson ---- */

/*
 * P(arm a has the r-th largest draw) = ∫ f_a(x) e_r(x) dx, where e_r(x) is
 * the probability that exactly r of the other arms draw above x: the
 * coefficient of z^r in Π_{b≠a} (F_b(x) + z (1 − F_b(x))). The integral runs
 * over a grid of GRID steps from 0 to beyond every arm's mass (its mean plus
 * 40 standard deviations), by the trapezoid rule; F_b is accumulated along
 * the same grid from the exact density.
 */
#define GRID 200000
#define KMAX 64

static double
log_beta_pdf(double x, double a, double b, double lnorm)
{
	if (x <= 0)
		return a == 1 ? -lnorm : a < 1 ? INFINITY : -INFINITY;
	if (x >= 1)
		return b == 1 ? -lnorm : b < 1 ? INFINITY : -INFINITY;
	return (a - 1) * log(x) + (b - 1) * log1p(-x) - lnorm;
}

/* poly (k coefficients) *= (f + z (1 − f)), truncated. */
static void
poly_mul(double *poly, size_t k, double f)
{
	size_t r;

	for (r = k; r-- > 0;)
		poly[r] = poly[r] * f + (r > 0 ? poly[r - 1] * (1 - f) : 0);
}

/* For each arm a at this x: out[r*n + a] += wgt * f_a * coefficient r of the product over b != a. */
static void
rank_terms(const double *F, const double *f, size_t n, size_t k, double wgt, double *pre, double *suf,
    double *out)
{
	double prod[KMAX];
	size_t a, r, s;

	for (r = 0; r < k; r++)
		pre[r] = r == 0;
	for (a = 0; a < n; a++) {
		memcpy(pre + (a + 1) * k, pre + a * k, k * sizeof *pre);
		poly_mul(pre + (a + 1) * k, k, F[a]);
	}
	for (r = 0; r < k; r++)
		suf[n * k + r] = r == 0;
	for (a = n; a-- > 0;) {
		memcpy(suf + a * k, suf + (a + 1) * k, k * sizeof *suf);
		poly_mul(suf + a * k, k, F[a]);
	}
	for (a = 0; a < n; a++) {
		if (f[a] == 0)
			continue;
		for (r = 0; r < k; r++) {
			prod[r] = 0;
			for (s = 0; s <= r; s++)
				prod[r] += pre[a * k + s] * suf[(a + 1) * k + r - s];
			out[r * n + a] += wgt * f[a] * prod[r];
		}
	}
}

int
qe_thompson_table(const double *alpha, const double *beta, size_t n, size_t k, double *out)
{
	double *lnorm, *F, *f, *fprev, *pre, *suf, hi = 0, h, x, m, sd;
	size_t a, i;

	if (n == 0 || k == 0 || k > KMAX || k > n)
		return -1;
	for (a = 0; a < n; a++) {
		if (!(alpha[a] > 0 && beta[a] > 0) || !isfinite(alpha[a]) || !isfinite(beta[a]))
			return -1;
		m = alpha[a] / (alpha[a] + beta[a]);
		sd = sqrt(m * (1 - m) / (alpha[a] + beta[a] + 1));
		if (m + 40 * sd > hi)
			hi = m + 40 * sd;
	}
	if (hi > 1)
		hi = 1;
	h = hi / GRID;
	lnorm = xmalloc(n * sizeof *lnorm);
	F = xcalloc(n, sizeof *F);
	f = xmalloc(n * sizeof *f);
	fprev = xmalloc(n * sizeof *fprev);
	pre = xmalloc((n + 1) * k * sizeof *pre);
	suf = xmalloc((n + 1) * k * sizeof *suf);
	memset(out, 0, k * n * sizeof *out);
	for (a = 0; a < n; a++) {
		lnorm[a] = lgamma(alpha[a]) + lgamma(beta[a]) - lgamma(alpha[a] + beta[a]);
		fprev[a] = exp(log_beta_pdf(0, alpha[a], beta[a], lnorm[a]));
		if (!isfinite(fprev[a]))
			fprev[a] = 0;	/* an integrable singularity at 0: its mass enters with the next step */
	}
	rank_terms(F, fprev, n, k, h / 2, pre, suf, out);
	for (i = 1; i <= GRID; i++) {
		x = h * (double)i;
		for (a = 0; a < n; a++) {
			f[a] = exp(log_beta_pdf(x, alpha[a], beta[a], lnorm[a]));
			if (!isfinite(f[a]))
				f[a] = 0;
			F[a] += h * (fprev[a] + f[a]) / 2;
			if (F[a] > 1)
				F[a] = 1;
			fprev[a] = f[a];
		}
		rank_terms(F, f, n, k, i == GRID ? h / 2 : h, pre, suf, out);
	}
	free(lnorm);
	free(F);
	free(f);
	free(fprev);
	free(pre);
	free(suf);
	return 0;
}

int
qe_thompson_load(struct qe_policy *p, const char *path, size_t k, struct qe_ids *items, char *err, size_t errlen)
{
	struct line_reader *lr = line_reader_open((char *const *)&path, 1, NULL, 0);
	struct qe_reader *rd = qe_reader_new();
	struct table *t = xcalloc(1, sizeof *t);
	struct qe_ids *local = qe_ids_new();
	double *alpha = NULL, *beta = NULL;
	struct qe_rprior row;
	struct line ln;
	char e2[512];
	int r, st = -1, added;

	p->ops = &table_ops;
	p->state = t;
	while ((r = line_reader_next(lr, &ln)) == 1) {
		if (ln.len == 0)
			continue;
		if (qe_read_prior(rd, ln.buf, ln.len, &row, e2, sizeof e2) != 0) {
			diag_errf(err, errlen, "%s: %s", ln.source, e2);
			goto out;
		}
		qe_ids_add(local, row.item.p, row.item.len, &added);
		if (!added) {
			diag_errf(err, errlen, "%s: item %s twice", ln.source, row.item.p);
			goto out;
		}
		t->items = xreallocarray(t->items, t->nitems + 1, sizeof *t->items);
		alpha = xreallocarray(alpha, t->nitems + 1, sizeof *alpha);
		beta = xreallocarray(beta, t->nitems + 1, sizeof *beta);
		alpha[t->nitems] = row.alpha;
		beta[t->nitems] = row.beta;
		t->items[t->nitems++] = qe_ids_add(items, row.item.p, row.item.len, NULL);
	}
	if (r != 0 || line_reader_failed(lr)) {
		diag_errf(err, errlen, "%s: cannot be read", path);
		goto out;
	}
	if (k > t->nitems || k > KMAX) {
		diag_errf(err, errlen, "%s: %zu items cannot fill %zu positions", path, t->nitems, k);
		goto out;
	}
	t->nwin = 1;
	t->from = xmalloc(sizeof *t->from);
	t->from[0] = INT64_MIN;
	t->npos = k;
	t->has_pos = xmalloc(k);
	memset(t->has_pos, 1, k);
	t->prob = xmalloc(k * t->nitems * sizeof *t->prob);
	if (qe_thompson_table(alpha, beta, t->nitems, k, t->prob) != 0) {
		diag_errf(err, errlen, "%s: parameters out of range", path);
		goto out;
	}
	p->own = t->items;
	p->nown = t->nitems;
	st = 0;
out:
	free(alpha);
	free(beta);
	qe_ids_free(local);
	qe_reader_free(rd);
	line_reader_close(lr);
	return st;
}
