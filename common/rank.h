/* rank.h: the rankings q-score serves — greedy, epsilon-greedy and Plackett–Luce softmax over scores, with a similarity penalty — as draws with their propensities, and as the probabilities of a given list. */
#ifndef RANK_H
#define RANK_H
#include <stddef.h>
#include <stdint.h>

#include "rng.h"

/*
 * The definitions: the greedy order is by decreasing score, ties by
 * increasing index; epsilon-greedy places, slot after slot, the best
 * remaining candidate with probability 1 − E + E/m and any other of the m
 * remaining with E/m; softmax (Plackett–Luce) places a remaining candidate
 * with probability proportional to exp((q − max q)/T), T in score units or
 * (Tsd) in standard deviations of the n scores. rank_draw() draws a list
 * and rank_cond() gives the probabilities of a given one: they agree to the
 * last bit on the propensity of every drawn item.
 */

enum rank_policy { RANK_GREEDY, RANK_EPSILON, RANK_SOFTMAX };

struct rank_explore {
	enum rank_policy policy;
	double param;		/* epsilon:E -> E in [0,1]; softmax:T -> T > 0 */
	int in_sd;		/* softmax:Tsd: T in standard deviations of each request's scores */
};

/* Parses "greedy", "epsilon:E", "softmax:T" or "softmax:Tsd". 0, or -1 when invalid. */
int rank_explore_parse(const char *s, struct rank_explore *ex);
/*
 * The standard deviation of the n scores (1 when they are all equal): the
 * unit of softmax:Tsd and of the diversity penalty, which then act alike
 * when a model's values grow or shrink as a whole.
 */
double rank_spread(const float *q, size_t n);
/* The softmax temperature for these n scores. */
double rank_softmax_temp(const struct rank_explore *ex, const float *q, size_t n);

/* Scratch arrays of the functions below for n candidates; zero-initialise, free with rank_ws_free(). */
struct rank_ws {
	size_t cap;
	uint32_t *greedy;	/* indices by decreasing q, ties by increasing index (the first k valid) */
	uint32_t *rem;		/* the candidates not yet chosen */
	uint32_t *pos;		/* position of each candidate in rem */
	unsigned char *taken;
	double *w;		/* softmax weights */
	double *row;		/* one slot's distribution */
};
void rank_ws_reserve(struct rank_ws *ws, size_t n);
void rank_ws_free(struct rank_ws *ws);

/*
 * Chooses k (<= n) of n candidates with scores q[]: their indices in
 * order[0..k) and, for each, prop[j] = the probability that the policy chose
 * order[j] at position j given order[0..j) (greedy: 1). rng is used by
 * epsilon and softmax only. q[] must be finite.
 */
void rank_draw(const struct rank_explore *ex, const float *q, size_t n, size_t k, struct rng *rng,
    struct rank_ws *ws, uint32_t *order, double *prop);

/* Scratch of rank_draw_diverse(). */
struct rank_diverse_ws {
	size_t cap, dim;
	float *unit;		/* cap × dim: the candidates' unit vectors */
	double *pen;		/* Σ over the items placed so far of max(0, cosine) */
	double *adj;		/* the scores of the position being filled */
};
void rank_diverse_ws_free(struct rank_diverse_ws *dw);

/*
 * As rank_draw(), but position by position over the scores q[i] − lambda ·
 * sd(q) · Σ_placed max(0, cos(vec[i], vec[placed])) (maximal marginal
 * relevance; sd(q) the standard deviation of the n scores, 1 when they are
 * all equal): a candidate like the items already placed above loses, as a
 * page of near-duplicates loses the user. vec[i] holds dim floats (NULL: similar
 * to nothing). The exploration acts on those scores, and prop[j] is the
 * probability of order[j] at position j given the items above it.
 */
void rank_draw_diverse(const struct rank_explore *ex, double lambda, const float *q, const float *const *vec,
    size_t dim, size_t n, size_t k, struct rng *rng, struct rank_diverse_ws *dw, struct rank_ws *ws,
    uint32_t *order, double *prop);

/*
 * The ranking's distributions along a given list: for each slot j < k, row
 * j of cond (n doubles each) receives the probability of every candidate at
 * slot j given that above[0 .. j) hold slots 0 .. j − 1 (0 for those). q
 * holds n finite scores (a float score read as a double gives rank_draw()'s
 * propensity exactly); above holds k − 1 distinct indices (may be NULL when
 * k is 1). k <= n.
 */
void rank_cond(const struct rank_explore *ex, const double *q, size_t n, const uint32_t *above, size_t k,
    struct rank_ws *ws, double *cond);

/*
 * The probability of each candidate at slots 0 .. k − 1 (k rows of n):
 * exact for greedy and for slot 0, else the frequencies of draws lists drawn
 * with rng (at least 1). k <= n.
 */
void rank_marginals(const struct rank_explore *ex, const double *q, size_t n, size_t k, size_t draws,
    struct rng *rng, struct rank_ws *ws, double *marg);

#endif
