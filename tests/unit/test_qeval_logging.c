/* test_qeval_logging.c: the checks a page's propensities must pass to belong to the declared logging policy, as a table of cases, and the logging marginals. */
/* test-links: q-eval */
#include <math.h>
#include <string.h>

#include "check.h"
#include "logging.h"

struct lcase {
	const char *logging;
	int marginal;
	size_t ncand;		/* 0: unknown */
	size_t k;
	uint32_t pos[4];
	double prop[4];
	int ok;
	size_t n;		/* the candidates known or implied, when ok */
	const char *reason;	/* a part of the reason, when not ok */
};

static const struct lcase cases[] = {
	/* Plackett–Luce (softmax, greedy, epsilon of unknown size): any propensity in (0, 1]... */
	{ "pl", 0, 0, 3, { 0, 1, 2 }, { 0.2, 0.9, 1 }, 1, 0, NULL },
	{ "pl", 0, 10, 3, { 0, 1, 2 }, { 1, 1, 1 }, 1, 10, NULL },
	/* ...but 0 and above 1 are not, and the last candidate left is taken for sure */
	{ "pl", 0, 0, 2, { 0, 1 }, { 0.2, 0 }, 0, 0, "outside (0, 1]" },
	{ "pl", 0, 0, 2, { 0, 1 }, { 1.2, 0.5 }, 0, 0, "outside (0, 1]" },
	{ "pl", 0, 3, 3, { 0, 1, 2 }, { 0.5, 0.5, 0.5 }, 0, 0, "the last of 3 candidates" },
	{ "pl", 0, 2, 3, { 0, 1, 2 }, { 0.5, 1, 1 }, 0, 0, "beyond the 2 candidates" },
	/* uniform: 1/(n − pos), n known or implied by the first */
	{ "uniform", 0, 0, 3, { 0, 1, 2 }, { 0.1, 1.0 / 9, 0.125 }, 1, 10, NULL },
	{ "uniform", 0, 10, 2, { 0, 1 }, { 0.1, 1.0 / 9 }, 1, 10, NULL },
	{ "uniform", 0, 10, 2, { 0, 1 }, { 0.1, 0.1 }, 0, 0, "uniform logging over 10 candidates gives 0.1111111" },
	{ "uniform", 0, 0, 1, { 0 }, { 0.3 }, 0, 0, "not 1/m" },
	{ "uniform", 0, 0, 1, { 2 }, { 1.0 / 32 }, 1, 34, NULL },	/* OBD's random policy at the third slot */
	{ "uniform", 0, 0, 2, { 0, 1 }, { 0.1000001, 0.1111112 }, 1, 10, NULL },	/* written with 7 digits */
	/* uniform marginals: 1/n everywhere */
	{ "uniform", 1, 0, 1, { 2 }, { 1.0 / 34 }, 1, 34, NULL },
	{ "uniform", 1, 0, 2, { 0, 1 }, { 1.0 / 34, 1.0 / 33 }, 0, 0, "gives 0.02941176" },
	{ "uniform", 1, 34, 1, { 1 }, { 1.0 / 33 }, 0, 0, "uniform logging over 34" },
	/* epsilon-greedy: ε/m or ε/m + 1 − ε, m = n − pos */
	{ "epsilon:0.2", 0, 0, 3, { 0, 1, 2 }, { 0.82, 0.2 / 9, 0.825 }, 1, 10, NULL },
	{ "epsilon:0.2", 0, 10, 3, { 0, 1, 2 }, { 0.02, 0.2 / 9 + 0.8, 0.025 }, 1, 10, NULL },
	{ "epsilon:0.2", 0, 0, 3, { 0, 1, 2 }, { 0.02, 0.2 / 9 + 0.8, 0.025 }, 1, 10, NULL },
	{ "epsilon:0.2", 0, 10, 2, { 0, 1 }, { 0.02, 0.5 }, 0, 0, "gives 0.02222222 or 0.8222222" },
	{ "epsilon:0.2", 0, 0, 1, { 0 }, { 0.5 }, 0, 0, "neither epsilon/m nor" },
	{ "epsilon:0.2", 0, 0, 2, { 0, 1 }, { 0.02, 0.03 }, 0, 0, "does not follow epsilon-greedy" },
	{ "epsilon:0", 0, 0, 2, { 0, 1 }, { 1, 1 }, 1, 0, NULL },
	{ "epsilon:0", 0, 0, 2, { 0, 1 }, { 1, 0.5 }, 0, 0, "does not follow" },
	{ "epsilon:1", 0, 0, 2, { 0, 1 }, { 0.25, 1.0 / 3 }, 1, 4, NULL },
	/* marginal propensities of any policy but uniform: the range alone */
	{ "pl", 1, 0, 2, { 0, 1 }, { 0.7, 0.9 }, 1, 0, NULL },
	{ "epsilon:0.2", 1, 0, 2, { 0, 1 }, { 0.7, 0.9 }, 1, 0, NULL },
};

int
main(void)
{
	struct qe_logging lg;
	char err[512];
	size_t i, n;
	int r;

	CHECK(qe_logging_parse("pl", &lg) == 0 && lg.kind == QE_LOG_PL, "pl");
	CHECK(qe_logging_parse("epsilon:0.3", &lg) == 0 && lg.kind == QE_LOG_EPSILON && lg.eps == 0.3, "epsilon");
	CHECK(qe_logging_parse("epsilon:1.3", &lg) != 0 && qe_logging_parse("softmax", &lg) != 0 &&
	    qe_logging_parse("epsilon:", &lg) != 0, "bad declarations refused");
	for (i = 0; i < sizeof cases / sizeof *cases; i++) {
		const struct lcase *c = &cases[i];

		qe_logging_parse(c->logging, &lg);
		lg.marginal = c->marginal;
		err[0] = '\0';
		r = qe_logging_check(&lg, c->pos, c->prop, c->k, c->ncand, &n, err, sizeof err);
		CHECK((r == 0) == c->ok, "case %zu (%s): %s, want %s (%s)", i, c->logging, r == 0 ? "accepted" :
		    "refused", c->ok ? "accepted" : "refused", err);
		if (r == 0 && c->ok)
			CHECK(n == c->n, "case %zu: %zu candidates, want %zu", i, n, c->n);
		if (r != 0 && !c->ok)
			CHECK(strstr(err, c->reason) != NULL, "case %zu: reason '%s' lacks '%s'", i, err, c->reason);
	}
	/* Marginals: the propensity at the top or when marginal, 1/n under uniform logging, else unknown. */
	qe_logging_parse("pl", &lg);
	lg.marginal = 0;	/* --logging leaves --propensities as it was */
	CHECK(qe_logging_marginal(&lg, 0, 0.3, 0) == 0.3 && isnan(qe_logging_marginal(&lg, 1, 0.3, 10)), "pl marginals");
	qe_logging_parse("uniform", &lg);
	CHECK(qe_logging_marginal(&lg, 3, 1.0 / 7, 10) == 0.1, "uniform marginal 1/n");
	CHECK(qe_logging_conditional(&lg, 3, 1.0 / 7, 10) == 1.0 / 7, "conditionals as given");
	lg.marginal = 1;
	CHECK(qe_logging_conditional(&lg, 3, 0.1, 10) == 1.0 / 7, "uniform conditionals from marginals");
	qe_logging_parse("pl", &lg);
	lg.marginal = 1;
	CHECK(qe_logging_marginal(&lg, 3, 0.2, 0) == 0.2 && isnan(qe_logging_conditional(&lg, 3, 0.2, 10)),
	    "marginals as given; their conditionals unknown");
	return check_done();
}
