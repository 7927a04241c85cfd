/* logging.c: the checks a page's propensities must pass to belong to the declared logging policy, and its marginals. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "logging.h"

/*
 * Propensities are written with 6 or 7 significant digits: two values agree
 * when they differ by less than this share of the larger.
 */
#define REL_TOL 2e-5


static int
close_to(double a, double b)
{
	return fabs(a - b) <= REL_TOL * fmax(fabs(a), fabs(b)) + 1e-12;
}

int
qe_logging_parse(const char *s, struct qe_logging *lg)
{
	char *end;

	lg->eps = 0;
	if (strcmp(s, "pl") == 0) {
		lg->kind = QE_LOG_PL;
		return 0;
	}
	if (strcmp(s, "uniform") == 0) {
		lg->kind = QE_LOG_UNIFORM;
		return 0;
	}
	if (strncmp(s, "epsilon:", 8) == 0) {
		lg->kind = QE_LOG_EPSILON;
		lg->eps = strtod(s + 8, &end);
		if (end == s + 8 || *end != '\0' || !(lg->eps >= 0 && lg->eps <= 1))
			return -1;
		return 0;
	}
	return -1;
}

/* x when it is within REL_TOL of a whole number >= lo, else 0. */
static size_t
whole(double x, size_t lo)
{
	double r = floor(x + 0.5);

	if (!isfinite(x) || r < (double)lo || r > 1e9 || !close_to(x, r))
		return 0;
	return (size_t)r;
}

/* Uniform: each conditional is 1/(n − pos), each marginal 1/n. */
static int
check_uniform(const struct qe_logging *lg, const uint32_t *pos, const double *prop, size_t k, size_t *n,
    char *err, size_t errlen)
{
	size_t j, m;
	double want;

	if (*n == 0) {
		m = whole(1 / prop[0], 1);
		if (m == 0)
			return diag_errf(err, errlen, "pos %u: propensity %.7g is not 1/m for a whole number m of candidates",
			    pos[0], prop[0]);
		*n = lg->marginal ? m : m + pos[0];
	}
	for (j = 0; j < k; j++) {
		if (pos[j] >= *n)
			return diag_errf(err, errlen, "pos %u: beyond the %zu candidates", pos[j], *n);
		want = lg->marginal ? 1.0 / (double)*n : 1.0 / (double)(*n - pos[j]);
		if (!close_to(prop[j], want))
			return diag_errf(err, errlen, "pos %u: propensity %.7g, but uniform logging over %zu candidates gives %.7g",
			    pos[j], prop[j], *n, want);
	}
	return 0;
}

/* Epsilon-greedy over n candidates: the item at pos is eps/m, or eps/m + 1 − eps for the greedy one (m = n − pos). */
static int
epsilon_fits(double eps, const uint32_t *pos, const double *prop, size_t k, size_t n, size_t *bad)
{
	double m;
	size_t j;

	for (j = 0; j < k; j++) {
		if (pos[j] >= n) {
			*bad = j;
			return 0;
		}
		m = (double)(n - pos[j]);
		if (!close_to(prop[j], eps / m) && !close_to(prop[j], eps / m + 1 - eps)) {
			*bad = j;
			return 0;
		}
	}
	return 1;
}

static int
check_epsilon(const struct qe_logging *lg, const uint32_t *pos, const double *prop, size_t k, size_t *n,
    char *err, size_t errlen)
{
	double eps = lg->eps;
	size_t m1, m2, bad = 0;

	if (*n == 0) {
		/* The first item is either an exploring pick (eps/m) or the greedy one (eps/m + 1 − eps). */
		m1 = eps > 0 ? whole(eps / prop[0], 1) : 0;
		m2 = eps > 0 && prop[0] > 1 - eps ? whole(eps / (prop[0] - 1 + eps), 1) : 0;
		if (m1 != 0 && epsilon_fits(eps, pos, prop, k, m1 + pos[0], &bad)) {
			*n = m1 + pos[0];
			return 0;
		}
		if (m2 != 0 && epsilon_fits(eps, pos, prop, k, m2 + pos[0], &bad)) {
			*n = m2 + pos[0];
			return 0;
		}
		if (eps == 0 && epsilon_fits(eps, pos, prop, k, SIZE_MAX, &bad))
			return 0;
		if (m1 == 0 && m2 == 0 && eps > 0)
			return diag_errf(err, errlen, "pos %u: propensity %.7g is neither epsilon/m nor epsilon/m + 1 - epsilon "
			    "(epsilon %g) for a whole number m of candidates", pos[0], prop[0], eps);
		return diag_errf(err, errlen, "pos %u: propensity %.7g does not follow epsilon-greedy (epsilon %g) from the "
		    "candidate count its first item implies", pos[bad], prop[bad], eps);
	}
	if (!epsilon_fits(eps, pos, prop, k, *n, &bad)) {
		if (pos[bad] >= *n)
			return diag_errf(err, errlen, "pos %u: beyond the %zu candidates", pos[bad], *n);
		return diag_errf(err, errlen, "pos %u: propensity %.7g, but epsilon-greedy (epsilon %g) over the %zu "
		    "candidates left gives %.7g or %.7g", pos[bad], prop[bad], eps, *n - pos[bad],
		    eps / (double)(*n - pos[bad]), eps / (double)(*n - pos[bad]) + 1 - eps);
	}
	return 0;
}

/* Plackett–Luce: any propensity in (0, 1] fits, but the last candidate left is taken with probability 1. */
static int
check_pl(const uint32_t *pos, const double *prop, size_t k, size_t n, char *err, size_t errlen)
{
	size_t j;

	if (n == 0)
		return 0;
	for (j = 0; j < k; j++) {
		if (pos[j] >= n)
			return diag_errf(err, errlen, "pos %u: beyond the %zu candidates", pos[j], n);
		if (n - pos[j] == 1 && !close_to(prop[j], 1))
			return diag_errf(err, errlen, "pos %u: the last of %zu candidates has propensity %.7g, not 1", pos[j], n,
			    prop[j]);
	}
	return 0;
}

int
qe_logging_check(const struct qe_logging *lg, const uint32_t *pos, const double *prop, size_t k, size_t ncand,
    size_t *n, char *err, size_t errlen)
{
	size_t j;

	*n = ncand;
	for (j = 0; j < k; j++)
		if (!(prop[j] > 0 && prop[j] <= 1))
			return diag_errf(err, errlen, "pos %u: propensity %.7g outside (0, 1]", pos[j], prop[j]);
	if (k == 0)
		return 0;
	switch (lg->kind) {
	case QE_LOG_UNIFORM:
		return check_uniform(lg, pos, prop, k, n, err, errlen);
	case QE_LOG_EPSILON:
		if (lg->marginal)
			return 0;
		return check_epsilon(lg, pos, prop, k, n, err, errlen);
	default:
		if (lg->marginal)
			return 0;
		return check_pl(pos, prop, k, *n, err, errlen);
	}
}

double
qe_logging_marginal(const struct qe_logging *lg, uint32_t pos, double prop, size_t n)
{
	if (lg->marginal || pos == 0)
		return prop;
	if (lg->kind == QE_LOG_UNIFORM && n > 0)
		return 1.0 / (double)n;
	return NAN;
}

double
qe_logging_conditional(const struct qe_logging *lg, uint32_t pos, double prop, size_t n)
{
	if (!lg->marginal)
		return prop;
	if (lg->kind == QE_LOG_UNIFORM && n > pos)
		return 1.0 / (double)(n - pos);
	return NAN;
}
