/* rank.c: q-score's rankings as probabilities — slot-by-slot distributions along a given list, and marginals by exact order or by draws. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rank.h"
#include "xalloc.h"

int
qe_explore_parse(const char *s, struct qe_explore *ex)
{
	char *end;
	double v;

	ex->in_sd = 0;
	if (strcmp(s, "greedy") == 0) {
		ex->kind = QE_GREEDY;
		ex->param = 0;
		return 0;
	}
	if (strncmp(s, "epsilon:", 8) == 0) {
		ex->kind = QE_EPSILON;
		s += 8;
	} else if (strncmp(s, "softmax:", 8) == 0) {
		ex->kind = QE_SOFTMAX;
		s += 8;
	} else
		return -1;
	v = strtod(s, &end);
	if (ex->kind == QE_SOFTMAX && end > s && strcmp(end, "sd") == 0) {
		ex->in_sd = 1;
		end += 2;
	}
	if (end == s || *end != '\0' || !isfinite(v))
		return -1;
	if (ex->kind == QE_EPSILON && (v < 0 || v > 1))
		return -1;
	if (ex->kind == QE_SOFTMAX && !(v > 0))
		return -1;
	ex->param = v;
	return 0;
}

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void
qe_rng_seed(struct qe_rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t
qe_rng_next(struct qe_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

double
qe_rng_uniform(struct qe_rng *r)
{
	return (double)(qe_rng_next(r) >> 11) * 0x1.0p-53;
}

static void
ws_reserve(struct qe_rank_ws *ws, size_t n)
{
	if (n <= ws->cap)
		return;
	ws->greedy = xreallocarray(ws->greedy, n, sizeof *ws->greedy);
	ws->taken = xrealloc(ws->taken, n);
	ws->w = xreallocarray(ws->w, n, sizeof *ws->w);
	ws->row = xreallocarray(ws->row, n, sizeof *ws->row);
	ws->cap = n;
}

void
qe_rank_ws_free(struct qe_rank_ws *ws)
{
	free(ws->greedy);
	free(ws->taken);
	free(ws->w);
	free(ws->row);
	memset(ws, 0, sizeof *ws);
}

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
greedy_order(const double *q, size_t n, struct qe_rank_ws *ws)
{
	size_t i;

	for (i = 0; i < n; i++)
		ws->greedy[i] = (uint32_t)i;
	sort_q = q;
	qsort(ws->greedy, n, sizeof *ws->greedy, cmp_greedy);
}

/* The standard deviation of the n scores, 1 when they are all equal (q-score's qs_score_spread). */
static double
spread(const double *q, size_t n)
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
softmax_weights(const struct qe_explore *ex, const double *q, size_t n, struct qe_rank_ws *ws)
{
	double temp = ex->in_sd ? ex->param * spread(q, n) : ex->param, m = q[ws->greedy[0]];
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
slot_row(const struct qe_explore *ex, const double *q, size_t n, size_t nrem, struct qe_rank_ws *ws, double *row)
{
	double total = 0, m, temp, eps = ex->param;
	size_t i, bi;

	for (bi = 0; ws->taken[ws->greedy[bi]]; bi++)
		;
	switch (ex->kind) {
	case QE_SOFTMAX:
		for (i = 0; i < n; i++)
			if (!ws->taken[i])
				total += ws->w[i];
		if (!(total > 1e-280)) {
			temp = ex->in_sd ? ex->param * spread(q, n) : ex->param;
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
	case QE_EPSILON:
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
qe_rank_cond(const struct qe_explore *ex, const double *q, size_t n, const uint32_t *above, size_t k,
    struct qe_rank_ws *ws, double *cond)
{
	size_t j;

	if (n == 0)
		return;
	ws_reserve(ws, n);
	greedy_order(q, n, ws);
	memset(ws->taken, 0, n);
	if (ex->kind == QE_SOFTMAX)
		softmax_weights(ex, q, n, ws);
	for (j = 0; j < k; j++) {
		slot_row(ex, q, n, n - j, ws, cond + j * n);
		if (j + 1 < k)
			ws->taken[above[j]] = 1;
	}
}

/* Draws the candidate of one slot from its distribution. */
static uint32_t
draw(const double *row, size_t n, struct qe_rng *rng)
{
	double u = qe_rng_uniform(rng), acc = 0;
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
qe_rank_marginals(const struct qe_explore *ex, const double *q, size_t n, size_t k, size_t draws,
    struct qe_rng *rng, struct qe_rank_ws *ws, double *marg)
{
	size_t d, j;
	uint32_t c;

	if (n == 0 || k == 0)
		return;
	ws_reserve(ws, n);
	greedy_order(q, n, ws);
	memset(marg, 0, k * n * sizeof *marg);
	if (ex->kind == QE_GREEDY) {
		for (j = 0; j < k; j++)
			marg[j * n + ws->greedy[j]] = 1;
		return;
	}
	if (draws == 0)
		draws = 1;
	for (d = 0; d < draws; d++) {
		memset(ws->taken, 0, n);
		if (ex->kind == QE_SOFTMAX)
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
