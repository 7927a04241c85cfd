/* diverse.c: q-score's page-level ranking — each position's scores lowered by the candidates' similarity to the items placed above (MMR). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qscore.h"
#include "xalloc.h"

void
qs_diverse_ws_free(struct qs_diverse_ws *dw)
{
	free(dw->unit);
	free(dw->pen);
	free(dw->adj);
	memset(dw, 0, sizeof *dw);
}

void
qs_rank_diverse(const struct qs_explore *ex, double lambda, const float *q, const float *const *vec, size_t dim,
    size_t n, size_t k, struct qs_rng *rng, struct qs_diverse_ws *dw, struct qs_rank_ws *ws, uint32_t *order,
    double *prop)
{
	size_t i, j, c, nrem = n;
	double total, u, acc, m, temp;

	if (k > n)
		k = n;
	if (n == 0)
		return;
	qs_rank_ws_reserve(ws, n);
	/*
	 * The penalty is in standard deviations of the scores: the trade-off
	 * between a candidate's value and its likeness to the items above then
	 * stays the same when a model's values grow or shrink as a whole (an
	 * online version learning the returns of a better policy than the one
	 * its parent learned from).
	 */
	lambda *= qs_score_spread(q, n);
	temp = ex->policy == QS_SOFTMAX ? qs_softmax_temp(ex, q, n) : 1;
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
		if (ex->policy == QS_EPSILON) {
			if (ex->param > 0 && qs_rng_uniform(rng) < ex->param)
				c = ws->rem[(size_t)(qs_rng_uniform(rng) * (double)nrem)];
			prop[j] = ex->param / (double)nrem + (c == best ? 1 - ex->param : 0);
		} else if (ex->policy == QS_SOFTMAX) {
			m = dw->adj[best];
			total = 0;
			for (i = 0; i < nrem; i++)
				total += ws->w[ws->rem[i]] = exp((dw->adj[ws->rem[i]] - m) / temp);
			u = qs_rng_uniform(rng) * total;
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
