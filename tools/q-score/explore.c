/* explore.c: q-score's ranking — greedy, epsilon-greedy and Plackett–Luce softmax, with per-position propensities. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "qscore.h"
#include "xalloc.h"

int
qs_explore_parse(const char *s, struct qs_explore *ex)
{
	char *end;
	double v;

	ex->in_sd = 0;
	if (strcmp(s, "greedy") == 0) {
		ex->policy = QS_GREEDY;
		ex->param = 0;
		return 0;
	}
	if (strncmp(s, "epsilon:", 8) == 0) {
		ex->policy = QS_EPSILON;
		s += 8;
	} else if (strncmp(s, "softmax:", 8) == 0) {
		ex->policy = QS_SOFTMAX;
		s += 8;
	} else
		return -1;
	v = strtod(s, &end);
	if (ex->policy == QS_SOFTMAX && end > s && strcmp(end, "sd") == 0) {
		ex->in_sd = 1;
		end += 2;
	}
	if (end == s || *end != '\0' || !isfinite(v))
		return -1;
	if (ex->policy == QS_EPSILON && (v < 0 || v > 1))
		return -1;
	if (ex->policy == QS_SOFTMAX && !(v > 0))
		return -1;
	ex->param = v;
	return 0;
}

double
qs_score_spread(const float *q, size_t n)
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
qs_softmax_temp(const struct qs_explore *ex, const float *q, size_t n)
{
	return ex->in_sd ? ex->param * qs_score_spread(q, n) : ex->param;
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
qs_rng_seed(struct qs_rng *r, uint64_t seed)
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
qs_rng_next(struct qs_rng *r)
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
qs_rng_uniform(struct qs_rng *r)
{
	return (double)(qs_rng_next(r) >> 11) * 0x1.0p-53;
}

void
qs_rank_ws_reserve(struct qs_rank_ws *ws, size_t n)
{
	if (n <= ws->cap)
		return;
	ws->greedy = xreallocarray(ws->greedy, n, sizeof *ws->greedy);
	ws->rem = xreallocarray(ws->rem, n, sizeof *ws->rem);
	ws->pos = xreallocarray(ws->pos, n, sizeof *ws->pos);
	ws->taken = xrealloc(ws->taken, n);
	ws->w = xreallocarray(ws->w, n, sizeof *ws->w);
	ws->cap = n;
}

void
qs_rank_ws_free(struct qs_rank_ws *ws)
{
	free(ws->greedy);
	free(ws->rem);
	free(ws->pos);
	free(ws->taken);
	free(ws->w);
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
take(struct qs_rank_ws *ws, size_t *nrem, uint32_t c)
{
	uint32_t p = ws->pos[c], last = ws->rem[*nrem - 1];

	ws->rem[p] = last;
	ws->pos[last] = p;
	(*nrem)--;
	ws->taken[c] = 1;
}

static void
rank_epsilon(double eps, size_t n, size_t k, struct qs_rng *rng, struct qs_rank_ws *ws,
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
		if (eps > 0 && qs_rng_uniform(rng) < eps)
			c = ws->rem[(size_t)(qs_rng_uniform(rng) * (double)nrem)];
		else
			c = best;
		order[j] = c;
		prop[j] = eps / (double)nrem + (c == best ? 1 - eps : 0);
		take(ws, &nrem, c);
	}
}

static void
rank_softmax(const float *q, double temp, size_t n, size_t k, struct qs_rng *rng,
    struct qs_rank_ws *ws, uint32_t *order, double *prop)
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
		u = qs_rng_uniform(rng) * total;
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
qs_rank(const struct qs_explore *ex, const float *q, size_t n, size_t k, struct qs_rng *rng,
    struct qs_rank_ws *ws, uint32_t *order, double *prop)
{
	size_t i;

	if (k > n)
		k = n;
	if (n == 0)
		return;
	qs_rank_ws_reserve(ws, n);
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
	case QS_EPSILON:
		rank_epsilon(ex->param, n, k, rng, ws, order, prop);
		break;
	case QS_SOFTMAX:
		rank_softmax(q, qs_softmax_temp(ex, q, n), n, k, rng, ws, order, prop);
		break;
	default:
		for (i = 0; i < k; i++) {
			order[i] = ws->greedy[i];
			prop[i] = 1;
		}
		break;
	}
}
