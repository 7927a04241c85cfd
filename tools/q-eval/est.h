/* est.h: the estimators — their values from per-page terms summed over sessions, and intervals by resampling sessions. */
#ifndef EST_H
#define EST_H
#include <stddef.h>
#include <stdint.h>

#include "eval.h"
#include "log.h"
#include "rank.h"

enum qe_est {
	QE_E_DM, QE_E_IPS, QE_E_SNIPS, QE_E_DR, QE_E_SNDR, QE_E_SWITCH, QE_E_DROS,	/* item-position */
	QE_E_IIPS, QE_E_RIPS, QE_E_PI,						/* page */
	QE_E_PDIS, QE_E_WPDIS, QE_E_SDR,					/* session */
	QE_E_COUNT
};

/* "DM", "IPS", ... as q-eval(1) names them; the level: "item", "page" or "session". */
const char *qe_est_name(enum qe_est e);
const char *qe_est_level(enum qe_est e);
/* The family whose weights an estimator uses (QE_FAM_COUNT: none, or the session's). */
enum qe_family qe_est_family(enum qe_est e);
/*
 * Parses a comma-separated list of estimator names (any case), "item",
 * "page", "session" or "all" into a bit mask of 1 << QE_E_*. 0, or -1 with
 * the bad name in err.
 */
int qe_est_parse(const char *s, unsigned *mask, char *err, size_t errlen);

/* The per-session sums of the page terms, then the session estimators' own. */
enum {
	QE_SV_SESS = QE_T_COUNT,	/* 1 when the session has every page's ratio (PDIS, WPDIS) */
	QE_SV_PDIS,			/* Σ_t γ^t P̃_t R_t */
	QE_SV_SDR_N,			/* 1 when it also has every page's direct terms (sequential DR) */
	QE_SV_SDR,			/* Σ_t γ^t [P̃_t (R_t − Q̂_t) + P̃_{t−1} V̂_t] */
	QE_SV_COUNT
};

/* One policy's (or one of a compared pair's) sessions. */
struct qe_sessions {
	size_t ns;
	double *v;		/* ns rows of QE_SV_COUNT */
	size_t *off;		/* WPDIS: session s's pages at cw/gr[off[s] .. off[s] + len[s]) (len 0: not usable) */
	uint32_t *len;
	double *cw;		/* P̃_t: the clipped cumulative ratio */
	double *gr;		/* γ^t R_t */
	size_t tmax;		/* the longest usable session */
	struct qe_wstat w;	/* the cumulative ratio P_t of every page of every usable session */
};

/*
 * The direct method's continuation: Ĝ_t, for t = 0 .. (the longest
 * session), the mean over the sessions that reached page t − 1 of their
 * discounted return from page t on (0 for those that ended). Returns an
 * array of (*n) values (free it).
 */
double *qe_continuation(const struct qe_log *log, double gamma, size_t *n);

/*
 * Sums a's page terms per session. With b, a page counts for an estimator
 * only where both a and b have its terms (a compared pair, on the same
 * pages). G from qe_continuation().
 */
void qe_sessions_build(struct qe_sessions *S, const struct qe_log *log, const struct qe_judged *a,
    const struct qe_judged *b, double gamma, double clip, const double *G, size_t nG);
void qe_sessions_free(struct qe_sessions *S);

/*
 * The estimates of every estimator in mask (others NAN) into est[QE_E_COUNT],
 * with each session counted cnt[s] times (cnt NULL: once). NAN where an
 * estimator has no unit. units[QE_E_COUNT] (may be NULL) receives the units
 * each one averaged.
 */
void qe_estimate(const struct qe_sessions *S, const double *cnt, unsigned mask, double *est,
    double *units);

/* Resampling sessions: replicate after replicate, each session's count in a sample of ns drawn with replacement. */
struct qe_boot {
	size_t ns;
	double *cnt;
	struct rng rng;
};
void qe_boot_init(struct qe_boot *b, size_t ns, uint64_t seed);
/* The counts of the next replicate in b->cnt. */
void qe_boot_next(struct qe_boot *b);
void qe_boot_free(struct qe_boot *b);

/* The q-quantile of the finite values among x[0 .. n) (reorders x); NAN when none. */
double qe_quantile(double *x, size_t n, double q);

#endif
