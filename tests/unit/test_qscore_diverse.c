/* test_qscore_diverse.c: q-score's page-level ranking — the similarity penalty, exploration on the penalised scores, propensities. */
/* test-links: q-score */
#include <math.h>
#include <string.h>

#include "check.h"
#include "qscore.h"

int
main(void)
{
	/* two kinds: a (1,0) and b (0,1); the a's score higher */
	static const float va[2] = { 1, 0 }, vb[2] = { 0, 1 };
	float q[6] = { 1.0f, 0.95f, 0.9f, 0.5f, 0.45f, 0.4f };
	const float *vec[6] = { va, va, va, vb, vb, vb };
	struct qs_explore greedy = { QS_GREEDY, 0, 0 }, soft = { QS_SOFTMAX, 0.5, 0 }, eps = { QS_EPSILON, 0.3, 0 };
	struct qs_explore soft_sd = { QS_SOFTMAX, 0.5, 1 };
	struct qs_rank_ws ws;
	struct qs_diverse_ws dw;
	struct qs_rng rng;
	uint32_t order[6], plain[6];
	double prop[6], pplain[6];

	memset(&ws, 0, sizeof ws);
	memset(&dw, 0, sizeof dw);
	qs_rng_seed(&rng, 1);

	/* weight 0 is the plain greedy order */
	qs_rank_diverse(&greedy, 0, q, vec, 2, 6, 6, &rng, &dw, &ws, order, prop);
	qs_rank(&greedy, q, 6, 6, &rng, &ws, plain, pplain);
	CHECK(memcmp(order, plain, sizeof order) == 0, "weight 0 ranks as qs_rank");
	CHECK(prop[0] == 1 && prop[5] == 1, "greedy propensities are 1");

	/*
	 * The weight is in standard deviations of the scores (here 0.2566):
	 * at 1 an a placed above costs the others 0.26, and the second a
	 * (0.95 - 0.26) still beats the best b (0.5); at 2 it costs 0.51 and
	 * the best b comes second, then they alternate.
	 */
	qs_rank_diverse(&greedy, 1, q, vec, 2, 6, 2, &rng, &dw, &ws, order, prop);
	CHECK(order[0] == 0 && order[1] == 1, "weight 1: the second a follows the first: %u %u", order[0], order[1]);
	qs_rank_diverse(&greedy, 2, q, vec, 2, 6, 4, &rng, &dw, &ws, order, prop);
	CHECK(order[0] == 0 && order[1] == 3, "weight 2: the best b follows the best a: %u %u", order[0], order[1]);
	CHECK(order[2] == 1 && order[3] == 4, "then they alternate: %u %u", order[2], order[3]);

	/* the same page whatever the scale and offset of the scores (a model whose values grew) */
	{
		float q2[6];
		uint32_t order2[6];
		int same = 1;
		for (int i = 0; i < 6; i++)
			q2[i] = 3 + 10 * q[i];
		for (double w = 0.5; w <= 3; w += 0.25) {
			qs_rank_diverse(&greedy, w, q, vec, 2, 6, 6, &rng, &dw, &ws, order, prop);
			qs_rank_diverse(&greedy, w, q2, vec, 2, 6, 6, &rng, &dw, &ws, order2, prop);
			if (memcmp(order, order2, sizeof order) != 0)
				same = 0;
		}
		CHECK(same, "scores scaled by 10 and shifted by 3 give the same pages");
	}

	/* equal scores: the penalty alone orders the page (alternating kinds) */
	{
		float qe[6] = { 1, 1, 1, 1, 1, 1 };
		qs_rank_diverse(&greedy, 0.1, qe, vec, 2, 6, 4, &rng, &dw, &ws, order, prop);
		CHECK(order[0] == 0 && order[1] == 3 && order[2] == 1 && order[3] == 4,
		    "equal scores alternate the kinds: %u %u %u %u", order[0], order[1], order[2], order[3]);
	}

	/* a missing vector is similar to nothing */
	vec[1] = NULL;
	qs_rank_diverse(&greedy, 1, q, vec, 2, 6, 2, &rng, &dw, &ws, order, prop);
	CHECK(order[0] == 0 && order[1] == 1, "no vector, no penalty: %u %u", order[0], order[1]);
	vec[1] = va;

	/* softmax: the propensity of the first item is its softmax share of the scores */
	{
		double tot = 0;
		for (int i = 0; i < 6; i++)
			tot += exp((q[i] - q[0]) / 0.5);
		int ok = 1;
		for (int r = 0; r < 50; r++) {
			qs_rank_diverse(&soft, 1, q, vec, 2, 6, 3, &rng, &dw, &ws, order, prop);
			double want = exp((q[order[0]] - q[0]) / 0.5) / tot;
			if (fabs(prop[0] - want) > 1e-6)
				ok = 0;
			for (int j = 0; j < 3; j++)
				if (!(prop[j] > 0 && prop[j] <= 1))
					ok = 0;
			if (order[0] == order[1] || order[1] == order[2] || order[0] == order[2])
				ok = 0;
		}
		CHECK(ok, "softmax: first propensities are the softmax shares, lists have no repeats");
	}
	/*
	 * softmax:Tsd: the temperature is T standard deviations of the scores,
	 * so the draws and propensities are the same for scores scaled by 10 and
	 * shifted by 3, drawn from the same generator state
	 */
	{
		float q2[6];
		uint32_t order2[6];
		double prop2[6], sd = qs_score_spread(q, 6);
		struct qs_rng r1, r2;
		int same = 1, first = 1;
		for (int i = 0; i < 6; i++)
			q2[i] = 3 + 10 * q[i];
		qs_rng_seed(&r1, 9);
		qs_rng_seed(&r2, 9);
		for (int r = 0; r < 200; r++) {
			qs_rank_diverse(&soft_sd, 1, q, vec, 2, 6, 4, &r1, &dw, &ws, order, prop);
			qs_rank_diverse(&soft_sd, 1, q2, vec, 2, 6, 4, &r2, &dw, &ws, order2, prop2);
			if (memcmp(order, order2, 4 * sizeof *order) != 0)
				same = 0;
			for (int j = 0; j < 4; j++)
				if (fabs(prop[j] - prop2[j]) > 1e-6)
					same = 0;
			if (fabs(prop[0] - exp((q[order[0]] - q[0]) / (0.5 * sd)) /
			    (exp(0) + exp((q[1] - q[0]) / (0.5 * sd)) + exp((q[2] - q[0]) / (0.5 * sd)) +
			    exp((q[3] - q[0]) / (0.5 * sd)) + exp((q[4] - q[0]) / (0.5 * sd)) +
			    exp((q[5] - q[0]) / (0.5 * sd)))) > 1e-6)
				first = 0;
		}
		CHECK(same, "softmax:0.5sd: the same draws and propensities for scores scaled by 10 and shifted by 3");
		CHECK(first, "softmax:0.5sd: the first propensity is the softmax share at 0.5 standard deviations");
	}
	/* epsilon: the greedy (penalised) choice carries 1 - E + E/n */
	{
		int ok = 1;
		for (int r = 0; r < 50; r++) {
			qs_rank_diverse(&eps, 1, q, vec, 2, 6, 2, &rng, &dw, &ws, order, prop);
			double want0 = order[0] == 0 ? 0.7 + 0.3 / 6 : 0.3 / 6;
			if (fabs(prop[0] - want0) > 1e-9)
				ok = 0;
		}
		CHECK(ok, "epsilon: propensities of the first position");
	}
	qs_diverse_ws_free(&dw);
	qs_rank_ws_free(&ws);
	return check_done();
}
