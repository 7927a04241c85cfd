/* eval.h: a target policy judged on every logged page — the per-page terms each estimator sums, and the weights' diagnostics. */
#ifndef EVAL_H
#define EVAL_H
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "policy.h"
#include "rmodel.h"

struct qe_eval_opts {
	double clip;		/* W: importance weights above it are cut to it (INFINITY: none) */
	double switch_tau;	/* Switch-DR: the direct method alone where a weight exceeds it */
	double dros_lambda;	/* DRos: weights shrunk to λw/(w² + λ) */
	int need;		/* QE_NEED_* the chosen estimators need */
	uint64_t seed;		/* the policies' draws */
};

/* The sums of one page's items (or of one page) that the item-position and page estimators add up. */
enum qe_term {
	QE_T_DM_N,	/* items the direct method covers */
	QE_T_DM,	/* Σ d: the target's expected model reward at each of them */
	QE_T_N,		/* items with an importance weight */
	QE_T_WR,	/* Σ w̃ r (w̃ the weight clipped at W) */
	QE_T_W,		/* Σ w̃ */
	QE_T_WQ,	/* Σ w̃ q̂ (q̂ the model's reward of the logged item) */
	QE_T_DMIS,	/* Σ d over the items with a weight */
	QE_T_SW,	/* Σ 1{w <= τ} w (r − q̂) */
	QE_T_OS,	/* Σ λw/(w² + λ) (r − q̂) */
	QE_T_IIPS_N,	/* 1 when the page has IIPS weights */
	QE_T_IIPS,	/* Σ_j min(m_j/μ_j, W) r_j */
	QE_T_RIPS_N,
	QE_T_RIPS,	/* Σ_j min(Π_{l<=j} w_l, W) r_j */
	QE_T_PI_N,
	QE_T_PI,	/* the pseudo-inverse weight times the page's reward */
	QE_T_COUNT
};

/* Which of a page's terms exist. */
#define QE_PF_JUDGED	0x01	/* the policy judged it (else refused) */
#define QE_PF_DM	0x02
#define QE_PF_ITEM	0x04	/* item-position importance weights */
#define QE_PF_IIPS	0x08
#define QE_PF_RIPS	0x10
#define QE_PF_PI	0x20
#define QE_PF_RHO	0x40	/* the page's ratio, for the session estimators */
#define QE_PF_VHAT	0x80	/* the target's expected model reward of the page, for sequential DR */
#define QE_PF_OWNQ	0x100	/* qhat and vhat are the policy's own values, returns from the page on */

/* One page under one policy. */
struct qe_pterm {
	uint32_t flags;
	double t[QE_T_COUNT];
	double rho;		/* Π over the page of the item ratios (unclipped) */
	double R;		/* the page's reward */
	double qhat;		/* the model's reward of the logged page (QE_PF_OWNQ: the policy's value of it) */
	double vhat;		/* the target's expected model reward of a page in these slots (QE_PF_OWNQ: its value) */
};

/* The diagnostics of one family of weights: item, iips, rips, pi. */
struct qe_wstat {
	double n, sum, sum2, max, over, nclipped;	/* over: Σ (w − W) where w > W */
};

enum qe_family { QE_FAM_ITEM, QE_FAM_IIPS, QE_FAM_RIPS, QE_FAM_PI, QE_FAM_COUNT };

/* A policy's judgement of the whole log. */
struct qe_judged {
	struct qe_pterm *pages;		/* one per log page */
	struct qe_wstat w[QE_FAM_COUNT];
	uint64_t refused;		/* pages it refused */
	uint64_t excluded[QE_FAM_COUNT];	/* pages with propensities that a family could not weigh */
	const char *why[QE_FAM_COUNT];	/* the reason of the first of them */
	const char *why_refused;
};

/*
 * Judges every page of log under p and fills out (its pages array
 * allocated; free with qe_judged_free()). rm is the direct method's model.
 */
void qe_eval_policy(struct qe_policy *p, const struct qe_log *log, const struct qe_rmodel *rm,
    const struct qe_eval_opts *o, struct qe_judged *out);
void qe_judged_free(struct qe_judged *j);

/*
 * The pseudo-inverse weight of a slate of k items out of n under uniform
 * logging without replacement: 1 + [n > k]·n(n−1)/(n−k)·(A/k − k/n) +
 * (n−1)(B − A/k), with A = Σ_j Θ(s_j) (Θ(a): the target's probability of
 * showing a in any of the k slots) and B = Σ_j θ(s_j at slot j).
 */
double qe_pi_weight(size_t n, size_t k, double A, double B);

#endif
