/* test_rank.c: the ranking's probabilities of a given list against its draws — rank_cond() gives each drawn item exactly the propensity rank_draw() reported — the marginals against draws, and the parsing of the exploration setting. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "rank.h"

#define N 40
#define K 8

/*
 * For lists q-score draws, q-eval's distribution of each slot given the
 * items above must give the drawn item exactly the propensity q-score
 * reported. Scores come in float (q-score's) and are read as doubles.
 */
static void
check_parity(const char *spec, int ties, int huge)
{
	struct rank_explore qx;
	struct rank_explore ex;
	struct rank_ws qws = { 0 };
	struct rank_ws ews = { 0 };
	struct rng rng;
	float qf[N];
	double qd[N], prop[K], cond[K * N], worst = 0, sum;
	uint32_t order[K];
	int t, i, j, rows_ok = 1;

	CHECK(rank_explore_parse(spec, &qx) == 0 && rank_explore_parse(spec, &ex) == 0, "%s parses", spec);
	rng_seed(&rng, 3);
	for (t = 0; t < 300; t++) {
		for (i = 0; i < N; i++) {
			qf[i] = (float)(rng_uniform(&rng) * 4 - 2);
			if (ties)
				qf[i] = floorf(qf[i]);
			if (huge)
				qf[i] *= 400;	/* softmax weights far apart: underflows and their rescaling */
			qd[i] = qf[i];
		}
		rank_draw(&qx, qf, N, K, &rng, &qws, order, prop);
		rank_cond(&ex, qd, N, order, K, &ews, cond);
		for (j = 0; j < K; j++) {
			double d = fabs(cond[j * N + order[j]] - prop[j]);

			if (d > worst)
				worst = d;
			sum = 0;
			for (i = 0; i < N; i++)
				sum += cond[j * N + i];
			for (i = 0; i < j; i++)
				rows_ok &= cond[j * N + order[i]] == 0;
			rows_ok &= fabs(sum - 1) < 1e-9;
		}
	}
	CHECK(worst < 1e-12, "%s%s%s: q-eval's probability of q-score's draw differs by %g", spec, ties ? " (ties)" : "",
	    huge ? " (wide scores)" : "", worst);
	CHECK(rows_ok, "%s: each slot's row sums to 1 and gives the items above 0", spec);
	rank_ws_free(&qws);
	rank_ws_free(&ews);
}

/* Marginals: exact at slot 0 and for greedy, else draws; against q-score's own draws. */
static void
check_marginals(const char *spec)
{
	enum { n = 6, k = 3, DRAWS = 100000 };
	struct rank_explore qx;
	struct rank_explore ex;
	struct rank_ws qws = { 0 };
	struct rank_ws ews = { 0 };
	struct rng qr;
	struct rng er;
	float qf[n] = { 0.5f, 2.0f, 1.0f, 2.0f, -1.0f, 0.0f };
	double qd[n], marg[k * n], freq[k * n] = { 0 }, prop[k], worst = 0;
	uint32_t order[k];
	int i, d;

	for (i = 0; i < n; i++)
		qd[i] = qf[i];
	rank_explore_parse(spec, &qx);
	rank_explore_parse(spec, &ex);
	rng_seed(&er, 5);
	rank_marginals(&ex, qd, n, k, DRAWS, &er, &ews, marg);
	rng_seed(&qr, 6);
	for (d = 0; d < DRAWS; d++) {
		rank_draw(&qx, qf, n, k, &qr, &qws, order, prop);
		for (i = 0; i < k; i++)
			freq[i * n + order[i]] += 1.0 / DRAWS;
	}
	for (i = 0; i < k * n; i++)
		if (fabs(freq[i] - marg[i]) > worst)
			worst = fabs(freq[i] - marg[i]);
	CHECK(worst < 0.008, "%s: marginals off q-score's frequencies by %g", spec, worst);
	rank_ws_free(&qws);
	rank_ws_free(&ews);
}

int
main(void)
{
	static const char *good[] = { "greedy", "epsilon:0", "epsilon:0.2", "epsilon:1", "softmax:0.5", "softmax:0.3sd",
	    "softmax:2" };
	static const char *bad[] = { "", "greedy:1", "epsilon:", "epsilon:1.5", "epsilon:-0.1", "softmax:0", "softmax:-1",
	    "softmax:x", "softmax:1s", "softmax:nan", "uniform" };
	struct rank_explore ex;
	size_t i;

	for (i = 0; i < sizeof good / sizeof *good; i++)
		CHECK(rank_explore_parse(good[i], &ex) == 0, "%s: accepted", good[i]);
	for (i = 0; i < sizeof bad / sizeof *bad; i++)
		CHECK(rank_explore_parse(bad[i], &ex) != 0, "'%s': refused", bad[i]);
	for (i = 0; i < sizeof good / sizeof *good; i++) {
		check_parity(good[i], 0, 0);
		check_parity(good[i], 1, 0);
	}
	check_parity("softmax:0.5", 0, 1);
	check_parity("softmax:0.05sd", 0, 1);
	check_marginals("epsilon:0.3");
	check_marginals("softmax:0.7");
	check_marginals("softmax:0.5sd");
	check_marginals("greedy");
	return check_done();
}
