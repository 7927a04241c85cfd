/* logging.h: what q-eval knows of the logging policy — its declared kind, the checks a page's propensities must pass, and its position marginals. */
#ifndef LOGGING_H
#define LOGGING_H
#include <stddef.h>
#include <stdint.h>

enum qe_logkind {
	QE_LOG_PL,		/* q-score's rankings: greedy, epsilon-greedy or softmax (Plackett–Luce) */
	QE_LOG_EPSILON,		/* q-score's epsilon-greedy with a known epsilon */
	QE_LOG_UNIFORM		/* uniformly at random without replacement */
};

struct qe_logging {
	enum qe_logkind kind;
	double eps;		/* QE_LOG_EPSILON */
	int marginal;		/* propensities are position marginals, not conditionals given the items above */
};

/* Parses --logging: "pl", "epsilon:E" (0 <= E <= 1) or "uniform", leaving marginal as it was. 0, or -1 when invalid. */
int qe_logging_parse(const char *s, struct qe_logging *lg);

/*
 * Checks that the propensities of one page can come from the declared
 * policy: k items at increasing positions pos[] with propensities prop[]
 * (each in (0, 1]), out of ncand candidates (0 when unknown). With
 * conditional propensities the item at pos p was chosen from the ncand − p
 * candidates not placed above it. On success returns 0 and sets *n to the
 * number of candidates, known or implied by the propensities (0 when
 * neither); -1 with the reason in err.
 */
int qe_logging_check(const struct qe_logging *lg, const uint32_t *pos, const double *prop, size_t k,
    size_t ncand, size_t *n, char *err, size_t errlen);

/*
 * The logging policy's probability of showing the item at pos with
 * propensity prop anywhere in the logs at that position (its marginal), out
 * of n candidates (0 when unknown), or NAN when it cannot be known: it is the
 * propensity itself when propensities are marginals or when pos is 0, and
 * 1/n for uniform logging.
 */
double qe_logging_marginal(const struct qe_logging *lg, uint32_t pos, double prop, size_t n);

/*
 * The logging policy's probability of the item at pos given the items above
 * it: the propensity itself when propensities are conditionals, 1/(n − pos)
 * for uniform logging over n candidates, else NAN.
 */
double qe_logging_conditional(const struct qe_logging *lg, uint32_t pos, double prop, size_t n);

#endif
