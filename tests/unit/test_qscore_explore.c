/* test_qscore_explore.c: q-score's ranking — greedy order and ties, k, and sampled frequencies against the reported propensities. */
/* test-links: q-score */
#include <math.h>
#include <string.h>

#include "check.h"
#include "qscore.h"

#define N 6
#define DRAWS 200000

static const float qv[N] = { 0.5f, 2.0f, 1.0f, 2.0f, -1.0f, 0.0f };

/* Draws many rankings of k=3 and compares the frequency of each item at positions 0 and 1 (given position 0) with the propensities reported. */
static void
check_frequencies(const struct rank_explore *ex, const char *name)
{
	static unsigned first[N], second[N][N];
	static double p0[N], p1[N][N];
	struct rank_ws ws = { 0 };
	struct rng rng;
	uint32_t order[N];
	double prop[N], maxdev0 = 0, maxdev1 = 0, expect, sum;
	int i, j, t, consistent = 1;

	memset(first, 0, sizeof first);
	memset(second, 0, sizeof second);
	for (i = 0; i < N; i++)
		p0[i] = -1;
	for (i = 0; i < N; i++)
		for (j = 0; j < N; j++)
			p1[i][j] = -1;
	rng_seed(&rng, 42);
	for (t = 0; t < DRAWS; t++) {
		rank_draw(ex, qv, N, 3, &rng, &ws, order, prop);
		first[order[0]]++;
		second[order[0]][order[1]]++;
		if (p0[order[0]] < 0)
			p0[order[0]] = prop[0];
		else if (fabs(p0[order[0]] - prop[0]) > 1e-12)
			consistent = 0;
		if (p1[order[0]][order[1]] < 0)
			p1[order[0]][order[1]] = prop[1];
		else if (fabs(p1[order[0]][order[1]] - prop[1]) > 1e-12)
			consistent = 0;
		if (order[0] == order[1] || order[1] == order[2] || order[0] == order[2])
			consistent = 0;
	}
	CHECK(consistent, "%s: the same choice got different propensities, or an item twice", name);
	sum = 0;
	for (i = 0; i < N; i++) {
		if (p0[i] >= 0) {
			sum += p0[i];
			if (fabs((double)first[i] / DRAWS - p0[i]) > maxdev0)
				maxdev0 = fabs((double)first[i] / DRAWS - p0[i]);
		}
		for (j = 0; j < N; j++) {
			if (p1[i][j] < 0 || first[i] < 2000)
				continue;
			expect = p1[i][j];
			if (fabs((double)second[i][j] / first[i] - expect) > maxdev1)
				maxdev1 = fabs((double)second[i][j] / first[i] - expect);
		}
	}
	CHECK(fabs(sum - 1) < 1e-9, "%s: position-0 propensities sum to %g", name, sum);
	CHECK(maxdev0 < 0.005, "%s: position 0 frequency off its propensity by %g", name, maxdev0);
	CHECK(maxdev1 < 0.02, "%s: position 1 frequency off its propensity by %g", name, maxdev1);
	rank_ws_free(&ws);
}

int
main(void)
{
	struct rank_explore ex;
	struct rank_ws ws = { 0 };
	struct rng rng;
	uint32_t order[N], big_order[300];
	double prop[N], big_prop[300], z, p;
	float big[300];
	int i, sorted;

	CHECK(rank_explore_parse("greedy", &ex) == 0 && ex.policy == RANK_GREEDY, "greedy");
	CHECK(rank_explore_parse("epsilon:0.1", &ex) == 0 && ex.policy == RANK_EPSILON && ex.param == 0.1, "epsilon");
	CHECK(rank_explore_parse("softmax:0.5", &ex) == 0 && ex.policy == RANK_SOFTMAX && ex.param == 0.5, "softmax");
	CHECK(rank_explore_parse("epsilon:1.5", &ex) != 0, "epsilon above 1");
	CHECK(rank_explore_parse("softmax:0", &ex) != 0, "zero temperature");
	CHECK(rank_explore_parse("softmax:", &ex) != 0, "no temperature");
	CHECK(rank_explore_parse("random", &ex) != 0, "unknown policy");
	CHECK(rank_explore_parse("softmax:0.25sd", &ex) == 0 && ex.policy == RANK_SOFTMAX && ex.param == 0.25 && ex.in_sd,
	    "softmax in standard deviations");
	CHECK(rank_explore_parse("softmax:0.5", &ex) == 0 && !ex.in_sd, "softmax in score units again");
	CHECK(rank_explore_parse("softmax:sd", &ex) != 0, "sd without a temperature");
	CHECK(rank_explore_parse("softmax:0.5s", &ex) != 0, "a unit that is not sd");
	CHECK(rank_explore_parse("softmax:0.5sdx", &ex) != 0, "sd and more");
	CHECK(rank_explore_parse("softmax:0sd", &ex) != 0, "zero temperature in sd");
	CHECK(rank_explore_parse("epsilon:0.1sd", &ex) != 0, "epsilon has no unit");
	CHECK(rank_spread((const float[]){ 2, 2, 2 }, 3) == 1, "equal scores: a spread of 1");
	CHECK(fabs(rank_spread((const float[]){ 1, 3 }, 2) - 1) < 1e-12 &&
	    fabs(rank_spread((const float[]){ 0, 0, 0, 4 }, 4) - sqrt(3)) < 1e-9, "spread: population standard deviation");

	/* greedy: by q, ties by input order, k cuts */
	rank_explore_parse("greedy", &ex);
	rng_seed(&rng, 1);
	rank_draw(&ex, qv, N, N, &rng, &ws, order, prop);
	CHECK(order[0] == 1 && order[1] == 3 && order[2] == 2 && order[3] == 0 && order[4] == 5 && order[5] == 4,
	    "greedy order %u %u %u %u %u %u", order[0], order[1], order[2], order[3], order[4], order[5]);
	CHECK(prop[0] == 1 && prop[5] == 1, "greedy propensity 1");
	memset(order, 0xff, sizeof order);
	rank_draw(&ex, qv, N, 2, &rng, &ws, order, prop);
	CHECK(order[0] == 1 && order[1] == 3 && order[2] == 0xffffffffu, "k=2 writes two");

	/* a long list goes through the merge sort: stable by index among ties */
	for (i = 0; i < 300; i++)
		big[i] = (float)((i * 37) % 11);
	rank_draw(&ex, big, 300, 300, &rng, &ws, big_order, big_prop);
	sorted = 1;
	for (i = 1; i < 300; i++)
		if (!(big[big_order[i - 1]] > big[big_order[i]] ||
		    (big[big_order[i - 1]] == big[big_order[i]] && big_order[i - 1] < big_order[i])))
			sorted = 0;
	CHECK(sorted, "300 candidates sorted by q, ties by index");
	{
		uint32_t top[300];
		double tprop[300];
		rank_draw(&ex, big, 300, 10, &rng, &ws, top, tprop);
		CHECK(memcmp(top, big_order, 10 * sizeof *top) == 0, "the top 10 of 300 (partial selection) = the full sort's first 10");
		for (i = 0; i < 300; i++)
			big[i] = (float)(i % 7 == 3 ? 5 : i % 5);
		rank_draw(&ex, big, 300, 300, &rng, &ws, big_order, big_prop);
		rank_draw(&ex, big, 300, 50, &rng, &ws, top, tprop);
		CHECK(memcmp(top, big_order, 50 * sizeof *top) == 0, "the top 50 of 300 with many ties");
		/* random scores, few distinct values (ties) or many, k from 1 to a quarter of n */
		uint64_t x = 7;
		int same = 1;
		for (int t = 0; t < 500; t++) {
			size_t n = 4 + (size_t)t % 297, k = 1 + (size_t)t % (n / 4), levels = t % 2 ? 3 : 1000;
			for (i = 0; i < (int)n; i++) {
				x = x * 6364136223846793005ULL + 1442695040888963407ULL;
				big[i] = (float)((x >> 33) % levels) - 1.5f;
			}
			rank_draw(&ex, big, n, n, &rng, &ws, big_order, big_prop);
			rank_draw(&ex, big, n, k, &rng, &ws, top, tprop);
			if (memcmp(top, big_order, k * sizeof *top) != 0)
				same = 0;
		}
		CHECK(same, "the top k of random lists, with and without ties, = the full sort's first k");
	}

	/* epsilon: exact position-0 propensities */
	rank_explore_parse("epsilon:0.3", &ex);
	for (i = 0; i < 50; i++) {
		rank_draw(&ex, qv, N, 1, &rng, &ws, order, prop);
		p = order[0] == 1 ? 0.7 + 0.3 / N : 0.3 / N;
		if (fabs(prop[0] - p) > 1e-12)
			break;
	}
	CHECK(i == 50, "epsilon position-0 propensity = (1-E)[best] + E/n");
	check_frequencies(&ex, "epsilon:0.3");

	/* softmax: Plackett–Luce position-0 propensity = exp(q/T) / sum exp(q/T) */
	rank_explore_parse("softmax:0.7", &ex);
	for (z = 0, i = 0; i < N; i++)
		z += exp(qv[i] / 0.7);
	for (i = 0; i < 50; i++) {
		rank_draw(&ex, qv, N, 1, &rng, &ws, order, prop);
		if (fabs(prop[0] - exp(qv[order[0]] / 0.7) / z) > 1e-9)
			break;
	}
	CHECK(i == 50, "softmax position-0 propensity = exp(q/T)/sum");
	check_frequencies(&ex, "softmax:0.7");

	/* softmax:Tsd: Plackett–Luce at T times the scores' standard deviation */
	{
		double t = 0.4 * rank_spread(qv, N);
		rank_explore_parse("softmax:0.4sd", &ex);
		for (z = 0, i = 0; i < N; i++)
			z += exp(qv[i] / t);
		for (i = 0; i < 50; i++) {
			rank_draw(&ex, qv, N, 1, &rng, &ws, order, prop);
			if (fabs(prop[0] - exp(qv[order[0]] / t) / z) > 1e-9)
				break;
		}
		CHECK(i == 50, "softmax:0.4sd position-0 propensity = exp(q/(0.4 sd))/sum");
		check_frequencies(&ex, "softmax:0.4sd");
	}

	/* extreme scores: no NaN, no item twice, the huge one first */
	{
		float ext[4] = { -1e30f, 1e30f, 0, -1e30f };
		rank_explore_parse("softmax:0.01", &ex);
		rank_draw(&ex, ext, 4, 4, &rng, &ws, order, prop);
		CHECK(order[0] == 1 && prop[0] == 1, "dominant item first with propensity 1");
		CHECK(order[1] == 2, "then the next");
		for (i = 0; i < 4; i++)
			CHECK(isfinite(prop[i]) && prop[i] > 0 && prop[i] <= 1, "propensity %d = %g", i, prop[i]);
		CHECK(order[2] + order[3] == 3, "all four distinct");
	}
	rank_ws_free(&ws);
	return check_done();
}
