/* rank.c: the rankings q-score serves — greedy, epsilon-greedy and Plackett–Luce softmax, with a similarity penalty — drawn with per-position propensities, and the probabilities of a given list (slot by slot, and marginals). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rank.h"
#include "xalloc.h"

int
rank_explore_parse(const char *s, struct rank_explore *ex)
{
	char *end;
	double v;

	ex->in_sd = 0;
	if (strcmp(s, "greedy") == 0) {
		ex->policy = RANK_GREEDY;
		ex->param = 0;
		return 0;
	}
	if (strncmp(s, "epsilon:", 8) == 0) {
		ex->policy = RANK_EPSILON;
		s += 8;
	} else if (strncmp(s, "softmax:", 8) == 0) {
		ex->policy = RANK_SOFTMAX;
		s += 8;
	} else
		return -1;
	v = strtod(s, &end);
	if (ex->policy == RANK_SOFTMAX && end > s && strcmp(end, "sd") == 0) {
		ex->in_sd = 1;
		end += 2;
	}
	if (end == s || *end != '\0' || !isfinite(v))
		return -1;
	if (ex->policy == RANK_EPSILON && (v < 0 || v > 1))
		return -1;
	if (ex->policy == RANK_SOFTMAX && !(v > 0))
		return -1;
	ex->param = v;
	return 0;
}

double
rank_spread(const float *q, size_t n)
{
	double mean = 0, ss = 0;
	size_t i;

	if (n == 0)
		return 1;
	for (i = 0; i < n; i++)
		mean += q[i];
	mean /= (double)n;
	for (i = 0; i < n; i++)
		ss += ((double)q[i] - mean) * ((double)q[i] - mean);
	return ss > 0 ? sqrt(ss / (double)n) : 1;
}

double
rank_softmax_temp(const struct rank_explore *ex, const float *q, size_t n)
{
	return ex->in_sd ? ex->param * rank_spread(q, n) : ex->param;
}

void
rank_ws_reserve(struct rank_ws *ws, size_t n)
{
	if (n <= ws->cap)
		return;
	ws->greedy = xreallocarray(ws->greedy, n, sizeof *ws->greedy);
	ws->rem = xreallocarray(ws->rem, n, sizeof *ws->rem);
	ws->pos = xreallocarray(ws->pos, n, sizeof *ws->pos);
	ws->taken = xrealloc(ws->taken, n);
	ws->w = xreallocarray(ws->w, n, sizeof *ws->w);
	ws->row = xreallocarray(ws->row, n, sizeof *ws->row);
	ws->cap = n;
}

void
rank_ws_free(struct rank_ws *ws)
{
	free(ws->greedy);
	free(ws->rem);
	free(ws->pos);
	free(ws->taken);
	free(ws->w);
	free(ws->row);
	memset(ws, 0, sizeof *ws);
}

/* Before: a higher q, then a lower index. */
static inline int
before(const float *q, uint32_t a, uint32_t b)
{
	return q[a] > q[b] || (q[a] == q[b] && a < b);
}

/* Sorts idx[0..n) by before(): insertion sort for short runs, else a merge via tmp. */
static void
sort_greedy(const float *q, uint32_t *idx, uint32_t *tmp, size_t n)
{
	size_t i, j, w, lo, mid, hi, a, b;

	for (lo = 0; lo < n; lo += 16) {
		hi = lo + 16 < n ? lo + 16 : n;
		for (i = lo + 1; i < hi; i++) {
			uint32_t x = idx[i];
			for (j = i; j > lo && before(q, x, idx[j - 1]); j--)
				idx[j] = idx[j - 1];
			idx[j] = x;
		}
	}
	for (w = 16; w < n; w *= 2) {
		for (lo = 0; lo + w < n; lo += 2 * w) {
			mid = lo + w;
			hi = lo + 2 * w < n ? lo + 2 * w : n;
			a = lo, b = mid, i = lo;
			while (a < mid && b < hi)
				tmp[i++] = before(q, idx[b], idx[a]) ? idx[b++] : idx[a++];
			while (a < mid)
				tmp[i++] = idx[a++];
			while (b < hi)
				tmp[i++] = idx[b++];
			memcpy(idx + lo, tmp + lo, (hi - lo) * sizeof *idx);
		}
	}
}

/*
 * The first k of the greedy order into idx[0..k): an insertion into a sorted
 * prefix, O(n + k·insertions). Candidate i comes after every one already
 * held (a higher index), so it goes before exactly those of a lower q: a
 * compare of scores alone, and most candidates are turned away by the first.
 */
static void
top_greedy(const float *q, uint32_t *idx, size_t n, size_t k)
{
	size_t i, j, m = 0;
	float v;

	for (i = 0; i < n; i++) {
		v = q[i];
		if (m == k) {
			if (!(v > q[idx[k - 1]]))
				continue;
			j = k - 1;	/* the last one held drops out */
		} else
			j = m++;
		while (j > 0 && v > q[idx[j - 1]]) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = (uint32_t)i;
	}
}

static void
take(struct rank_ws *ws, size_t *nrem, uint32_t c)
{
	uint32_t p = ws->pos[c], last = ws->rem[*nrem - 1];

	ws->rem[p] = last;
	ws->pos[last] = p;
	(*nrem)--;
	ws->taken[c] = 1;
}

static void
rank_epsilon(double eps, size_t n, size_t k, struct rng *rng, struct rank_ws *ws,
    uint32_t *order, double *prop)
{
	size_t j, nrem = n, bi = 0;
	uint32_t c, best;

	for (j = 0; j < n; j++) {
		ws->rem[j] = (uint32_t)j;
		ws->pos[j] = (uint32_t)j;
		ws->taken[j] = 0;
	}
	for (j = 0; j < k; j++) {
		while (ws->taken[ws->greedy[bi]])
			bi++;
		best = ws->greedy[bi];
		if (eps > 0 && rng_uniform(rng) < eps)
			c = ws->rem[(size_t)(rng_uniform(rng) * (double)nrem)];
		else
			c = best;
		order[j] = c;
		prop[j] = eps / (double)nrem + (c == best ? 1 - eps : 0);
		take(ws, &nrem, c);
	}
}

static void
rank_softmax(const float *q, double temp, size_t n, size_t k, struct rng *rng,
    struct rank_ws *ws, uint32_t *order, double *prop)
{
	size_t i, j, nrem = n;
	double total, u, acc, m;
	uint32_t c;

	m = q[ws->greedy[0]];
	for (i = 0; i < n; i++) {
		ws->rem[i] = (uint32_t)i;
		ws->pos[i] = (uint32_t)i;
		ws->taken[i] = 0;
		ws->w[i] = exp(((double)q[i] - m) / temp);
	}
	for (j = 0; j < k; j++) {
		total = 0;
		for (i = 0; i < nrem; i++)
			total += ws->w[ws->rem[i]];
		if (!(total > 1e-280)) {
			/* Every remaining weight underflowed: rescale against the remaining maximum. */
			m = -INFINITY;
			for (i = 0; i < nrem; i++)
				if (q[ws->rem[i]] > m)
					m = q[ws->rem[i]];
			total = 0;
			for (i = 0; i < nrem; i++) {
				ws->w[ws->rem[i]] = exp(((double)q[ws->rem[i]] - m) / temp);
				total += ws->w[ws->rem[i]];
			}
		}
		u = rng_uniform(rng) * total;
		acc = 0;
		c = ws->rem[nrem - 1];
		for (i = 0; i < nrem; i++) {
			acc += ws->w[ws->rem[i]];
			if (u < acc && ws->w[ws->rem[i]] > 0) {
				c = ws->rem[i];
				break;
			}
		}
		if (!(ws->w[c] > 0))	/* u fell past the sum by rounding: the last positive weight */
			for (i = nrem; i-- > 0;)
				if (ws->w[ws->rem[i]] > 0) {
					c = ws->rem[i];
					break;
				}
		order[j] = c;
		prop[j] = ws->w[c] / total;
		take(ws, &nrem, c);
	}
}

void
rank_draw(const struct rank_explore *ex, const float *q, size_t n, size_t k, struct rng *rng,
    struct rank_ws *ws, uint32_t *order, double *prop)
{
	size_t i;

	if (k > n)
		k = n;
	if (n == 0)
		return;
	rank_ws_reserve(ws, n);
	/*
	 * Only the greedy order's first k entries are ever read: at position j
	 * at most j are taken, so the best remaining is among the first j+1.
	 */
	if (k * 4 <= n)
		top_greedy(q, ws->greedy, n, k);
	else {
		for (i = 0; i < n; i++)
			ws->greedy[i] = (uint32_t)i;
		sort_greedy(q, ws->greedy, ws->rem, n);
	}
	switch (ex->policy) {
	case RANK_EPSILON:
		rank_epsilon(ex->param, n, k, rng, ws, order, prop);
		break;
	case RANK_SOFTMAX:
		rank_softmax(q, rank_softmax_temp(ex, q, n), n, k, rng, ws, order, prop);
		break;
	default:
		for (i = 0; i < k; i++) {
			order[i] = ws->greedy[i];
			prop[i] = 1;
		}
		break;
	}
}

void
rank_diverse_ws_free(struct rank_diverse_ws *dw)
{
	free(dw->unit);
	free(dw->pen);
	free(dw->adj);
	memset(dw, 0, sizeof *dw);
}

void
rank_draw_diverse(const struct rank_explore *ex, double lambda, const float *q, const float *const *vec, size_t dim,
    size_t n, size_t k, struct rng *rng, struct rank_diverse_ws *dw, struct rank_ws *ws, uint32_t *order,
    double *prop)
{
	size_t i, j, c, nrem = n;
	double total, u, acc, m, temp;

	if (k > n)
		k = n;
	if (n == 0)
		return;
	rank_ws_reserve(ws, n);
	/*
	 * The penalty is in standard deviations of the scores: the trade-off
	 * between a candidate's value and its likeness to the items above then
	 * stays the same when a model's values grow or shrink as a whole (an
	 * online version learning the returns of a better policy than the one
	 * its parent learned from).
	 */
	lambda *= rank_spread(q, n);
	temp = ex->policy == RANK_SOFTMAX ? rank_softmax_temp(ex, q, n) : 1;
	if (n > dw->cap || dim > dw->dim) {
		dw->cap = n > dw->cap ? n : dw->cap;
		dw->dim = dim > dw->dim ? dim : dw->dim;
		dw->unit = xreallocarray(dw->unit, dw->cap * (dw->dim ? dw->dim : 1), sizeof *dw->unit);
		dw->pen = xreallocarray(dw->pen, dw->cap, sizeof *dw->pen);
		dw->adj = xreallocarray(dw->adj, dw->cap, sizeof *dw->adj);
	}
	/* unit vectors (a zero or missing vector stays zero: similar to nothing) */
	for (i = 0; i < n; i++) {
		float *o = dw->unit + i * dim;
		double s = 0;
		if (vec[i] == NULL) {
			memset(o, 0, dim * sizeof *o);
		} else {
			for (j = 0; j < dim; j++)
				s += (double)vec[i][j] * vec[i][j];
			s = s > 0 ? 1 / sqrt(s) : 0;
			for (j = 0; j < dim; j++)
				o[j] = (float)(vec[i][j] * s);
		}
		dw->pen[i] = 0;
		ws->rem[i] = (uint32_t)i;
		ws->pos[i] = (uint32_t)i;
	}
	for (j = 0; j < k; j++) {
		/* the scores of this position, and its greedy choice */
		size_t best = ws->rem[0];
		for (i = 0; i < nrem; i++) {
			c = ws->rem[i];
			dw->adj[c] = (double)q[c] - lambda * dw->pen[c];
			if (dw->adj[c] > dw->adj[best] || (dw->adj[c] == dw->adj[best] && c < best))
				best = c;
		}
		c = best;
		prop[j] = 1;
		if (ex->policy == RANK_EPSILON) {
			if (ex->param > 0 && rng_uniform(rng) < ex->param)
				c = ws->rem[(size_t)(rng_uniform(rng) * (double)nrem)];
			prop[j] = ex->param / (double)nrem + (c == best ? 1 - ex->param : 0);
		} else if (ex->policy == RANK_SOFTMAX) {
			m = dw->adj[best];
			total = 0;
			for (i = 0; i < nrem; i++)
				total += ws->w[ws->rem[i]] = exp((dw->adj[ws->rem[i]] - m) / temp);
			u = rng_uniform(rng) * total;
			acc = 0;
			c = best;
			for (i = 0; i < nrem; i++) {
				acc += ws->w[ws->rem[i]];
				if (u < acc && ws->w[ws->rem[i]] > 0) {
					c = ws->rem[i];
					break;
				}
			}
			prop[j] = ws->w[c] / total;
		}
		order[j] = (uint32_t)c;
		/* take c out of the remaining ones, then add its similarity to their penalties */
		{
			uint32_t p = ws->pos[c], last = ws->rem[nrem - 1];
			ws->rem[p] = last;
			ws->pos[last] = p;
			nrem--;
		}
		const float *uc = dw->unit + c * dim;
		for (i = 0; i < nrem; i++) {
			size_t o = ws->rem[i];
			const float *uo = dw->unit + o * dim;
			float s = 0;
			for (size_t t = 0; t < dim; t++)
				s += uc[t] * uo[t];
			dw->pen[o] += s > 0 ? s : 0;
		}
	}
}

/* ---- the probabilities of a given list ---- */

static const double *sort_q;

static int
cmp_greedy(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	if (sort_q[x] != sort_q[y])
		return sort_q[x] > sort_q[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* ws->greedy: every index by decreasing score, ties by increasing index. */
static void
greedy_order(const double *q, size_t n, struct rank_ws *ws)
{
	size_t i;

	for (i = 0; i < n; i++)
		ws->greedy[i] = (uint32_t)i;
	sort_q = q;
	qsort(ws->greedy, n, sizeof *ws->greedy, cmp_greedy);
}

/* The standard deviation of the n scores, 1 when they are all equal (rank_spread() of doubles). */
static double
spread_d(const double *q, size_t n)
{
	double mean = 0, ss = 0;
	size_t i;

	for (i = 0; i < n; i++)
		mean += q[i];
	mean /= (double)n;
	for (i = 0; i < n; i++)
		ss += (q[i] - mean) * (q[i] - mean);
	return ss > 0 ? sqrt(ss / (double)n) : 1;
}

/* Softmax weights against the largest score, as q-score starts its draws. */
static void
softmax_weights(const struct rank_explore *ex, const double *q, size_t n, struct rank_ws *ws)
{
	double temp = ex->in_sd ? ex->param * spread_d(q, n) : ex->param, m = q[ws->greedy[0]];
	size_t i;

	for (i = 0; i < n; i++)
		ws->w[i] = exp((q[i] - m) / temp);
}

/*
 * One slot's distribution over the candidates not taken (nrem of them) into
 * row. Softmax weights that all underflowed are rescaled against the
 * remaining maximum, in ws->w, as q-score does.
 */
static void
slot_row(const struct rank_explore *ex, const double *q, size_t n, size_t nrem, struct rank_ws *ws, double *row)
{
	double total = 0, m, temp, eps = ex->param;
	size_t i, bi;

	for (bi = 0; ws->taken[ws->greedy[bi]]; bi++)
		;
	switch (ex->policy) {
	case RANK_SOFTMAX:
		for (i = 0; i < n; i++)
			if (!ws->taken[i])
				total += ws->w[i];
		if (!(total > 1e-280)) {
			temp = ex->in_sd ? ex->param * spread_d(q, n) : ex->param;
			m = q[ws->greedy[bi]];
			total = 0;
			for (i = 0; i < n; i++)
				if (!ws->taken[i]) {
					ws->w[i] = exp((q[i] - m) / temp);
					total += ws->w[i];
				}
		}
		for (i = 0; i < n; i++)
			row[i] = ws->taken[i] ? 0 : ws->w[i] / total;
		break;
	case RANK_EPSILON:
		for (i = 0; i < n; i++)
			row[i] = ws->taken[i] ? 0 : eps / (double)nrem;
		row[ws->greedy[bi]] += 1 - eps;
		break;
	default:
		memset(row, 0, n * sizeof *row);
		row[ws->greedy[bi]] = 1;
		break;
	}
}

void
rank_cond(const struct rank_explore *ex, const double *q, size_t n, const uint32_t *above, size_t k,
    struct rank_ws *ws, double *cond)
{
	size_t j;

	if (n == 0)
		return;
	rank_ws_reserve(ws, n);
	greedy_order(q, n, ws);
	memset(ws->taken, 0, n);
	if (ex->policy == RANK_SOFTMAX)
		softmax_weights(ex, q, n, ws);
	for (j = 0; j < k; j++) {
		slot_row(ex, q, n, n - j, ws, cond + j * n);
		if (j + 1 < k)
			ws->taken[above[j]] = 1;
	}
}

/* Draws the candidate of one slot from its distribution. */
static uint32_t
draw(const double *row, size_t n, struct rng *rng)
{
	double u = rng_uniform(rng), acc = 0;
	size_t i, last = n;

	for (i = 0; i < n; i++) {
		if (row[i] <= 0)
			continue;
		last = i;
		acc += row[i];
		if (u < acc)
			return (uint32_t)i;
	}
	return (uint32_t)last;	/* u past the sum by rounding: the last positive */
}

void
rank_marginals(const struct rank_explore *ex, const double *q, size_t n, size_t k, size_t draws,
    struct rng *rng, struct rank_ws *ws, double *marg)
{
	size_t d, j;
	uint32_t c;

	if (n == 0 || k == 0)
		return;
	rank_ws_reserve(ws, n);
	greedy_order(q, n, ws);
	memset(marg, 0, k * n * sizeof *marg);
	if (ex->policy == RANK_GREEDY) {
		for (j = 0; j < k; j++)
			marg[j * n + ws->greedy[j]] = 1;
		return;
	}
	if (draws == 0)
		draws = 1;
	for (d = 0; d < draws; d++) {
		memset(ws->taken, 0, n);
		if (ex->policy == RANK_SOFTMAX)
			softmax_weights(ex, q, n, ws);
		for (j = 0; j < k; j++) {
			slot_row(ex, q, n, n - j, ws, ws->row);
			if (j == 0 && d == 0)
				memcpy(marg, ws->row, n * sizeof *marg);
			c = draw(ws->row, n, rng);
			if (j > 0)
				marg[j * n + c] += 1.0 / (double)draws;
			ws->taken[c] = 1;
		}
	}
}
