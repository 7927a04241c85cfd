/* rank.h: rankings as q-score serves them — greedy, epsilon-greedy and Plackett–Luce softmax over scores — as the probabilities of a given list and as draws. */
#ifndef RANK_H
#define RANK_H
#include <stddef.h>
#include <stdint.h>

/*
 * The definitions are q-score's (tools/q-score/explore.c, qs_rank): the
 * greedy order is by decreasing score, ties by increasing index;
 * epsilon-greedy places, slot after slot, the best remaining candidate with
 * probability 1 − E + E/m and any other of the m remaining with E/m;
 * softmax places a remaining candidate with probability proportional to
 * exp((q − max q)/T), T in score units or (Tsd) in standard deviations of
 * the n scores.
 */

enum qe_explore_kind { QE_GREEDY, QE_EPSILON, QE_SOFTMAX };

struct qe_explore {
	enum qe_explore_kind kind;
	double param;		/* epsilon:E -> E in [0,1]; softmax:T -> T > 0 */
	int in_sd;		/* softmax:Tsd */
};

/* Parses "greedy", "epsilon:E", "softmax:T" or "softmax:Tsd", as q-score's --explore. 0, or -1 when invalid. */
int qe_explore_parse(const char *s, struct qe_explore *ex);

/* xoshiro256** seeded through splitmix64, as q-score's generator. */
struct qe_rng {
	uint64_t s[4];
};
void qe_rng_seed(struct qe_rng *r, uint64_t seed);
uint64_t qe_rng_next(struct qe_rng *r);
/* A uniform double in [0, 1). */
double qe_rng_uniform(struct qe_rng *r);

/* Scratch of the functions below, for up to cap candidates; zero-initialise, free with qe_rank_ws_free(). */
struct qe_rank_ws {
	size_t cap;
	uint32_t *greedy;	/* every index by decreasing score */
	unsigned char *taken;
	double *w;		/* softmax weights */
	double *row;		/* one slot's distribution */
};
void qe_rank_ws_free(struct qe_rank_ws *ws);

/*
 * The ranking's distributions along a given list: for each slot j < k, row
 * j of cond (n doubles each) receives the probability of every candidate at
 * slot j given that above[0 .. j) hold slots 0 .. j − 1 (0 for those). q
 * holds n finite scores; above holds k − 1 distinct indices (may be NULL
 * when k is 1). k <= n.
 */
void qe_rank_cond(const struct qe_explore *ex, const double *q, size_t n, const uint32_t *above, size_t k,
    struct qe_rank_ws *ws, double *cond);

/*
 * The probability of each candidate at slots 0 .. k − 1 (k rows of n):
 * exact for greedy and for slot 0, else the frequencies of draws lists drawn
 * with rng (at least 1). k <= n.
 */
void qe_rank_marginals(const struct qe_explore *ex, const double *q, size_t n, size_t k, size_t draws,
    struct qe_rng *rng, struct qe_rank_ws *ws, double *marg);

#endif
